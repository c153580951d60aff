#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# An igb VF exchanges traffic with the host: QEMU runs in a network
# namespace of its own with a tap holding the host's address; the guest's
# igbvf pings it, before and after the VFs are disabled and enabled again.

. "$(dirname "$0")/lib.sh"

ns=nvigb-$$
tap=nvigb0
host_ip=169.254.77.1
vf_mac=52:54:00:12:34:aa

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    tap_skip "igb VF traffic through a tap" \
        "needs root and /dev/net/tun (run as root: $0)"
    tap_done
    exit 0
fi

neigh_log=$(mktemp)
mon_pid=
cleanup() {
    [ -n "$mon_pid" ] && kill "$mon_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -f "$neigh_log"
}
at_exit cleanup

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add "$host_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
tap_mac=$(ip -n "$ns" -o link show "$tap" |
          sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
# What the host learns about the guest; the entries go with the tap's
# carrier when QEMU exits, so record them as they come.
ip -n "$ns" monitor neigh > "$neigh_log" &
mon_pid=$!

# guest_boot runs netvirt/guest/run; run it inside the namespace
guest_run_in_ns() {
    local script=$1 rc=0
    shift
    cat "$top/tests/guest/guest-lib.sh" "$script" > "$tmp_script"
    guest_out=$(ip netns exec "$ns" "$top/netvirt/guest/run" "$tmp_script" \
                -- "$@") || rc=$?
    echo "$guest_out" | sed 's/^/# guest: /'
    if [ "$rc" -eq 0 ]; then
        tap_ok "guest script $(basename "$script") ran to completion"
    else
        tap_not_ok "guest script $(basename "$script") ran to completion" \
            "exit status $rc"
    fi
}

guest_run_in_ns "$top/tests/guest/igb-sriov-traffic.guest" \
    -device pcie-root-port,id=rp0,chassis=1 \
    -device igb,bus=rp0,netdev=n0 \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off"

expect_eq "igb PF is present" yes "$(fact pf_found)"
for r in 1 2; do
    expect_eq "round $r: VF 0 is bound to igbvf" igbvf "$(fact vf_driver_$r)"
    expect_eq "round $r: VF 0 took the MAC set through the PF" "$vf_mac" \
        "$(fact vf_mac_$r)"
    expect_eq "round $r: VF 0 has link" 1 "$(fact vf_carrier_$r)"
    expect_eq "round $r: VF 0 holds its address" 169.254.77.2 \
        "$(fact vf_addr_$r)"
    expect_match "round $r: the host answered VF 0's pings" '^[3-5]$' \
        "$(fact ping_received_$r)"
    expect_eq "round $r: VFs enabled without error" "" \
        "$(fact enable_error_$r)"
done
expect_eq "VFs disabled without error" "" "$(fact disable_error)"
expect_eq "no VF left bound after disabling" 0 "$(fact vf_count_disabled)"
kill "$mon_pid" 2>/dev/null
wait "$mon_pid" 2>/dev/null
mon_pid=
# The host learned the guest's address from frames the VF sent, and the
# VF learned the host's from frames it received
expect_match "the host saw the VF's MAC on the wire" \
    "169\.254\.77\.2 .*lladdr $vf_mac" "$(cat "$neigh_log")"
expect_eq "the VF saw the tap's MAC" "$tap_mac" "$(fact host_mac_2)"
expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"
tap_done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real guest gets RSS and hash reports through vhost-net: on our patched
# host kernel (netvirt/hostvm/run boots it), QEMU hands the guest's RSS
# configuration to the tap (rss-offload=kernel) and vhost-net moves the
# packets.  The host sends UDP flows over IPv4 and IPv6; Debian's
# virtio_net driver in the guest must receive each packet on the queue
# the reference model (tests/qtest/libqos/rss-ref.c, through
# rss-ref-predict) computes from the key and table the driver set, with
# the reference hash as skb->hash, and its ethtool -S per-queue counters
# must agree.
#
# The guest runs under TCG inside the TCG VM: it takes minutes to boot.

. "$(dirname "$0")/lib.sh"

flows4=32
flows6=32
per_flow=4
count=$(((flows4 + flows6) * per_flow))
tap=nvh0
guest_mac=52:54:00:77:00:02
predict=$top/build/qemu/tests/qtest/rss-ref-predict

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    tap_skip "virtio-net hash reports through vhost-net in a real guest" \
        "needs root and /dev/net/tun (run as root: $0)"
    tap_done
    exit 0
fi

if [ -z "${NETVIRT_HOSTVM:-}" ]; then
    # On the host: build what the VM cannot (its view of the host's files
    # is read-only), then rerun this script in the VM.
    [ -x "$predict" ] || die "no $predict; run make"
    src=$top/tests/guest/rxhash.c
    bindir=$NETVIRT_CACHE/guest-tools/$(sha256sum "$src" | cut -c1-16)
    if [ ! -x "$bindir/rxhash" ]; then
        mkdir -p "$bindir"
        cc -static -O2 -Wall -o "$bindir/rxhash.tmp" "$src" ||
            die "cannot build $src"
        mv "$bindir/rxhash.tmp" "$bindir/rxhash"
    fi
    "$top/netvirt/guest/build" > /dev/null || die "cannot build the test guest"
    exec "$top/netvirt/hostvm/run" --timeout 2400 -- \
        env NETVIRT_GUEST_TIMEOUT=2000 NVTEST_BINDIR="$bindir" \
        "$top/tests/guest/$(basename "$0")"
fi

# --- In the VM, on the patched kernel
if [ ! -c /dev/vhost-net ]; then
    tap_not_ok "the host kernel has vhost-net" "no /dev/vhost-net in the VM"
    tap_done
    exit 1
fi

snd_pid=
cleanup() {
    [ -n "$snd_pid" ] && kill "$snd_pid" 2>/dev/null
    ip link del "$tap" 2>/dev/null || true
}
at_exit cleanup

ip tuntap add dev "$tap" mode tap multi_queue
ip addr add 10.77.0.1/24 dev "$tap"
ip addr add fd77::1/64 dev "$tap" nodad
ip link set "$tap" up
# No neighbour discovery: the only packets to the guest are the test's
ip neigh replace 10.77.0.2 lladdr "$guest_mac" nud permanent dev "$tap"
ip neigh replace fd77::2 lladdr "$guest_mac" nud permanent dev "$tap"

flows() {
    local i
    for ((i = 0; i < flows4; i++)); do
        echo "10.77.0.1 10.77.0.2 $((20000 + i)) 7777"
    done
    for ((i = 0; i < flows6; i++)); do
        echo "fd77::1 fd77::2 $((30000 + i)) 7777"
    done
}

in_echos() {
    awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
                    else print $c["InEchos"] }' /proc/net/snmp
}

# The sender waits for the guest's echo request (sent once its receiver
# listens), notes whether QEMU drives the queues through vhost-net, then
# sends every flow's packets.
echos0=$(in_echos)
vhost_fds=$tmp_script.vhost
(
    while [ "$(in_echos)" = "$echos0" ]; do
        sleep 1
    done
    pid=$(pgrep -f "ifname=$tap" | head -n1)
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -c /dev/vhost-net > "$vhost_fds"
    flows | python3 -c '
import socket, sys
per_flow = int(sys.argv[1])
for line in sys.stdin:
    src, dst, sport, dport = line.split()
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, int(sport)))
    for _ in range(per_flow):
        s.sendto(b"netvirt", (dst, int(dport)))
    s.close()
' "$per_flow"
) &
snd_pid=$!
at_exit "rm -f '$vhost_fds'"

cat "$top/tests/guest/guest-lib.sh" "$top/tests/guest/virtio-net-hash-vhost.guest" \
    > "$tmp_script"
rc=0
guest_out=$("$top/netvirt/guest/run" --append "nvtest.count=$count" "$tmp_script" -- \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,queues=4,vhost=on" \
    -device "virtio-net-pci,netdev=n0,mac=$guest_mac,mq=on,rss=on,hash=on,vectors=10,rss-offload=kernel" \
    -virtfs "local,path=$NVTEST_BINDIR,mount_tag=nvbin,security_model=none,readonly=on") ||
    rc=$?
guest_report virtio-net-hash-vhost.guest "$rc"
wait "$snd_pid" 2>/dev/null
snd_pid=

expect_eq "QEMU moves the 4 queues through vhost-net" 4 \
    "$(cat "$vhost_fds" 2>/dev/null)"
expect_eq "virtio-net is in the guest" yes "$(fact virtio_found)"
expect_eq "VIRTIO_NET_F_MQ negotiated" 1 "$(fact f_mq)"
expect_eq "VIRTIO_NET_F_RSS negotiated" 1 "$(fact f_rss)"
expect_eq "VIRTIO_NET_F_HASH_REPORT negotiated over vhost-net" 1 \
    "$(fact f_hash_report)"
expect_eq "the guest enabled 4 queues" 4 "$(fact combined)"
expect_eq "receive hashing is on in the guest" on "$(fact rxhash)"
expect_match "the driver hashes UDP over IPv4 with ports" "L4 bytes 0 & 1" \
    "$(fact udp4_fields)"
expect_match "the driver hashes UDP over IPv6 with ports" "L4 bytes 0 & 1" \
    "$(fact udp6_fields)"

key=$(fact key)
read -r -a table <<< "$(fact table)"
expect_eq "the driver shows a 40-byte key" 80 "${#key}"
expect_eq "the driver shows a 128-entry indirection table" 128 "${#table[@]}"
expect_eq "the guest saw every packet" "done $count" \
    "$(echo "$guest_out" | grep '^done ' | tail -n1)"

# The reference's answer per flow: "SPORT HASH REPORT QUEUE"
types=0x3f    # IPv4, TCPv4, UDPv4, IPv6, TCPv6, UDPv6: the driver's choice
want=$(flows | "$predict" "$key" "$types" 4 "${table[@]}") ||
    tap_not_ok "rss-ref-predict ran" "$want"
declare -A want_q want_h
while read -r sport hash report queue; do
    want_q[$sport]=$queue
    want_h[$sport]=$hash
done <<< "$want"
expect_eq "the reference predicted all flows" $((flows4 + flows6)) "${#want_q[@]}"

declare -A used
bad_q=0 bad_h=0 seen=0
while read -r _ q fam sport hash; do
    seen=$((seen + 1))
    if [ "${want_q[$sport]:-x}" != "$q" ]; then
        bad_q=$((bad_q + 1))
        [ "$bad_q" -le 5 ] &&
            echo "# IPv$fam flow $sport: queue $q, reference ${want_q[$sport]:-?}"
    fi
    if [ "${want_h[$sport]:-x}" != "$hash" ]; then
        bad_h=$((bad_h + 1))
        [ "$bad_h" -le 5 ] &&
            echo "# IPv$fam flow $sport: hash $hash, reference ${want_h[$sport]:-?}"
    fi
    used[$q]=1
done < <(echo "$guest_out" | grep '^rx ')
expect_eq "packets recorded by the guest" "$count" "$seen"
expect_eq "packets on a queue other than the reference's" 0 "$bad_q"
expect_eq "packets whose skb hash is not the reference Toeplitz hash" 0 "$bad_h"
expect_eq "the flows spread over all 4 queues" 4 "${#used[@]}"

# The driver's own counters: each queue got at least the packets the
# reference sends it; little else (the echo reply, the odd control frame).
read -r -a before <<< "$(fact rx_before)"
read -r -a after <<< "$(fact rx_after)"
expected=(0 0 0 0)
while read -r _ _ _ queue; do
    expected[$queue]=$((expected[queue] + per_flow))
done <<< "$want"
extra=0 short=0
for q in 0 1 2 3; do
    delta=$((${after[q]:-0} - ${before[q]:-0}))
    echo "# ethtool -S rx_queue_${q}_packets: +$delta, reference ${expected[q]}"
    if [ "$delta" -lt "${expected[q]}" ]; then
        short=$((short + 1))
    fi
    extra=$((extra + delta - expected[q]))
done
expect_eq "ethtool -S: no queue got fewer packets than the reference" 0 "$short"
expect_match "ethtool -S: at most 4 packets beyond the test's" '^[0-4]$' "$extra"
expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"
tap_done

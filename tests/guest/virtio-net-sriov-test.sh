#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A composed virtio-net SR-IOV device (-device virtio-net-pci,sriov-pf=)
# under a Debian guest: the guest's virtio-pci driver enables the VFs with
# sriov_numvfs, each VF binds as a virtio-net of its own, and each carries
# traffic through its own tap.  QEMU and the taps live in a network
# namespace of the test's own, deleted on exit.

. "$(dirname "$0")/lib.sh"

nvfs=3

if [ "$(id -u)" -ne 0 ]; then
    tap_skip "virtio-net SR-IOV in a guest" \
        "needs root for a network namespace and taps; run as root"
    tap_done
    exit 0
fi

ns=nvsriov-$$
# Deleting the namespace takes the taps with it
at_exit 'ip netns del "$ns" 2>/dev/null'
trap 'exit 1' INT TERM
ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }

# Answer ARP only on the tap that holds the address, so a frame that came
# out of the wrong function gets no reply.
nsx sysctl -qw net.ipv4.conf.all.arp_ignore=1
nsx sysctl -qw net.ipv4.conf.all.rp_filter=1
nsx ip link set lo up

# Function K (PF = 0, VF i = i + 1) uses tap K and 10.99.K.0/24
args=(-device pcie-root-port,id=rp0,chassis=1)
for ((k = 0; k <= nvfs; k++)); do
    nsx ip tuntap add dev "tap$k" mode tap
    nsx ip addr add "10.99.$k.1/24" dev "tap$k"
    nsx ip link set "tap$k" up
    args+=(-netdev "tap,id=n$k,ifname=tap$k,script=no,downscript=no,vhost=off")
done
# VFs first: the PF, added last, collects them
for ((k = nvfs; k >= 1; k--)); do
    args+=(-device "virtio-net-pci,bus=rp0,addr=0.$k,netdev=n$k,sriov-pf=pf0,mac=52:54:00:00:01:0$k")
done
args+=(-device "virtio-net-pci,bus=rp0,addr=0.0,netdev=n0,id=pf0,mac=52:54:00:00:00:01")

rx_before=()
for ((k = 0; k <= nvfs; k++)); do
    rx_before[k]=$(nsx cat "/sys/class/net/tap$k/statistics/rx_packets")
done

guest_netns=$ns
guest_boot "$top/tests/guest/virtio-net-sriov.guest" "${args[@]}"

expect_eq "the virtio-net PF is present" yes "$(fact pf_found)"
expect_eq "virtio-pci binds the PF" virtio-pci "$(fact pf_driver)"
expect_eq "the PF offers $nvfs VFs" "$nvfs" "$(fact totalvfs)"
expect_eq "the PF pings the host through tap0" ok "$(fact pf_ping)"
expect_eq "sriov_numvfs=$nvfs sticks" "$nvfs" "$(fact numvfs)"
for ((i = 0; i < nvfs; i++)); do
    k=$((i + 1))
    expect_eq "VF $i has the virtio-net IDs" 0x1af4:0x1041 "$(fact vf${i}_ids)"
    expect_eq "VF $i is an Ethernet controller" 0x020000 "$(fact vf${i}_class)"
    expect_eq "VF $i is bound to virtio-pci" virtio-pci "$(fact vf${i}_driver)"
    expect_eq "VF $i belongs to the PF" 0000:01:00.0 "$(fact vf${i}_physfn)"
    expect_match "VF $i has a netdev" '^[a-z0-9]+$' "$(fact vf${i}_netdev)"
    expect_eq "VF $i's netdev is under virtioN/net" yes "$(fact vf${i}_nested)"
    expect_eq "VF $i has the MAC of its -device" "52:54:00:00:01:0$k" \
        "$(fact vf${i}_mac)"
    expect_eq "VF $i pings the host through tap$k" ok "$(fact vf${i}_ping)"
done
expect_eq "sriov_numvfs=0 removes the VFs" 0 "$(fact vfs_after_disable)"
expect_eq "the PF still pings after the VFs are gone" ok "$(fact pf_ping_after)"
expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"

# Host side: every tap saw the guest's frames
for ((k = 0; k <= nvfs; k++)); do
    rx=$(nsx cat "/sys/class/net/tap$k/statistics/rx_packets")
    expect_match "tap$k received frames from its function" '^[1-9]' \
        "$((rx - rx_before[k]))"
done
tap_done

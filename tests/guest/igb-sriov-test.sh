#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The real igb and igbvf drivers of a Debian guest on QEMU's igb: the PF
# binds, VFs come and go with sriov_numvfs, and the PF sets a VF's MAC.

. "$(dirname "$0")/lib.sh"

guest_boot "$top/tests/guest/igb-sriov.guest" \
    -device pcie-root-port,id=rp0,chassis=1 \
    -device igb,bus=rp0,netdev=n0 -netdev user,id=n0,restrict=on

expect_eq "igb PF is present" yes "$(fact pf_found)"
expect_eq "igb driver binds the PF" igb "$(fact pf_driver)"
expect_match "the PF has a netdev" '^[a-z0-9]+$' "$(fact pf_netdev)"
expect_eq "the PF offers 7 VFs (82576)" 7 "$(fact totalvfs)"
for n in 2 0 3; do
    expect_eq "sriov_numvfs=$n sticks" "$n" "$(fact numvfs_$n)"
    expect_eq "$n VF functions with the 82576 VF ID" "$n" "$(fact vf_count_$n)"
    for ((i = 0; i < n; i++)); do
        expect_eq "VF $i of $n is bound to igbvf" igbvf "$(fact vf${i}_driver_$n)"
        expect_match "VF $i of $n has a netdev" '^[a-z0-9]+$' "$(fact vf${i}_netdev_$n)"
    done
done
expect_eq "VF 0 took the MAC set through the PF" 52:54:00:12:34:aa "$(fact vf0_mac)"
expect_eq "the PF reports VF 0's MAC" 52:54:00:12:34:aa "$(fact pf_vf0_mac)"
expect_eq "the PF reports VF 0's VLAN" 100 "$(fact pf_vf0_vlan)"
expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"
tap_done

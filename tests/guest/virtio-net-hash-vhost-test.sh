#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real guest gets RSS and hash reports through vhost-net: on our patched
# host kernel (netvirt/hostvm/run boots it), QEMU hands the guest's RSS
# configuration to the tap (rss-offload=kernel) and vhost-net moves the
# packets; the tap computes every hash.  See virtio-net-hash.sh for what
# is checked.  The VM's kernel has KVM and the VM's TCG CPU implements
# AMD-V with nested paging, so the guest runs on KVM inside the VM, about
# as fast as a guest under TCG on the host (a guest under TCG inside the
# TCG VM took 12 minutes to boot).  Its TSC-deadline timer is off: with
# it, the nested guest's timers stalled for minutes (RCU stall reports).
#
# netvirt-timeout: 1200

. "$(dirname "$0")/lib.sh"
. "$top/tests/guest/virtio-net-hash.sh"

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    tap_skip "virtio-net hash reports through vhost-net in a real guest" \
        "needs root and /dev/net/tun (run as root: $0)"
    tap_done
    exit 0
fi

if [ -z "${NETVIRT_HOSTVM:-}" ]; then
    # On the host: build what the VM cannot (it sees the host's files
    # read-only), then rerun this script in the VM.
    bindir=$(hash_tools) || exit 1
    exec "$top/netvirt/hostvm/run" --timeout 1000 -- \
        env NETVIRT_GUEST_TIMEOUT=600 NVTEST_BINDIR="$bindir" \
        "$top/tests/guest/$(basename "$0")"
fi

if [ ! -c /dev/vhost-net ]; then
    tap_not_ok "the host kernel has vhost-net" "no /dev/vhost-net in the VM"
    tap_done
    exit 1
fi
if [ ! -c /dev/kvm ]; then
    tap_not_ok "KVM in the VM" "no /dev/kvm: the VM kernel needs CONFIG_KVM_AMD"
    tap_done
    exit 1
fi
export NETVIRT_GUEST_ACCEL=kvm
hash_test "$NVTEST_BINDIR" on kernel
tap_done

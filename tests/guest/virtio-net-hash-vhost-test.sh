#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real guest gets RSS and hash reports through vhost-net: on our patched
# host kernel (netvirt/hostvm/run boots it), QEMU hands the guest's RSS
# configuration to the tap (rss-offload=kernel) and vhost-net moves the
# packets; the tap computes every hash.  See virtio-net-hash.sh for what
# is checked.  The guest runs under TCG inside the TCG VM: it takes
# minutes to boot.
#
# netvirt-timeout: 2700
# netvirt-default: no
# (a guest under TCG in a VM under TCG boots in 12 minutes on an idle
# 2-core machine, over 30 under load: run it with
# make check TESTS=virtio-net-hash-vhost-test.sh)

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
    exec "$top/netvirt/hostvm/run" --timeout 2400 -- \
        env NETVIRT_GUEST_TIMEOUT=2100 NVTEST_BINDIR="$bindir" \
        "$top/tests/guest/$(basename "$0")"
fi

if [ ! -c /dev/vhost-net ]; then
    tap_not_ok "the host kernel has vhost-net" "no /dev/vhost-net in the VM"
    tap_done
    exit 1
fi
hash_test "$NVTEST_BINDIR" on kernel
tap_done

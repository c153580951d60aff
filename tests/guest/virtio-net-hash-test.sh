#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real guest gets RSS and hash reports on this (stock) host kernel:
# without the tun hash feature QEMU falls back (rss-offload=auto) and
# computes the hashes itself, with vhost=off.  The same checks as
# virtio-net-hash-vhost-test.sh, see virtio-net-hash.sh.

. "$(dirname "$0")/lib.sh"
. "$top/tests/guest/virtio-net-hash.sh"

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    tap_skip "virtio-net hash reports in a real guest" \
        "needs root and /dev/net/tun (run as root: $0)"
    tap_done
    exit 0
fi
bindir=$(hash_tools) || exit 1
hash_test "$bindir" off auto
tap_done

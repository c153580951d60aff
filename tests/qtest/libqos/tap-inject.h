/*
 * Frames from the host side of a tap, for tests of a device behind it
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_TAP_INJECT_H
#define LIBQOS_TAP_INJECT_H

/*
 * Bring the tap @ifname up with IPv6 off (so the kernel's own DAD, RS and
 * MLD frames stay off the link) and return an AF_PACKET socket bound to
 * it for tap_inject_send(); its interface index goes to @ifindex.
 */
int tap_inject_open(const char *ifname, int *ifindex);

/* Send @frame (Ethernet, no virtio header) towards the device */
void tap_inject_send(int sock, int ifindex, const uint8_t *frame,
                     size_t len);

/* The same, but return 0 or a negative errno instead of failing the test */
int tap_inject_try_send(int sock, int ifindex, const uint8_t *frame,
                        size_t len);

#endif

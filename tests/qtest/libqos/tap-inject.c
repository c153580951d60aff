/*
 * Frames from the host side of a tap, for tests of a device behind it
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include "qemu/cutils.h"
#include "tap-inject.h"

int tap_inject_open(const char *ifname, int *ifindex)
{
    g_autofree char *path = g_strdup_printf(
        "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    struct ifreq ifr = { 0 };
    struct sockaddr_ll sll = { 0 };
    int s, sock;

    /*
     * In place: g_file_set_contents() writes a new file and renames it,
     * which /proc refuses.  A kernel without IPv6 has no such file.
     */
    s = open(path, O_WRONLY);
    if (s >= 0) {
        g_assert_cmpint(write(s, "1", 1), ==, 1);
        close(s);
    }

    s = socket(AF_INET, SOCK_DGRAM, 0);
    g_assert_cmpint(s, >=, 0);
    pstrcpy(ifr.ifr_name, IFNAMSIZ, ifname);
    g_assert_cmpint(ioctl(s, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(s, SIOCSIFFLAGS, &ifr), ==, 0);
    close(s);

    *ifindex = if_nametoindex(ifname);
    g_assert_cmpint(*ifindex, >, 0);

    /* Protocol 0: we only transmit, never want copies of host traffic */
    sock = socket(AF_PACKET, SOCK_RAW, 0);
    g_assert_cmpint(sock, >=, 0);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = *ifindex;
    g_assert_cmpint(bind(sock, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    return sock;
}

int tap_inject_try_send(int sock, int ifindex, const uint8_t *frame,
                        size_t len)
{
    struct sockaddr_ll sll = { 0 };
    ssize_t n;

    /* AF_PACKET refuses anything shorter than the link layer header */
    if (len < ETH_HLEN) {
        return -EINVAL;
    }
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons((frame[12] << 8) | frame[13]);
    sll.sll_halen = ETH_ALEN;
    memcpy(sll.sll_addr, frame, ETH_ALEN);
    n = sendto(sock, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll));
    if (n < 0) {
        return -errno;
    }
    return n == len ? 0 : -EMSGSIZE;
}

void tap_inject_send(int sock, int ifindex, const uint8_t *frame, size_t len)
{
    int ret = tap_inject_try_send(sock, ifindex, frame, len);

    if (ret) {
        g_error("AF_PACKET send on interface %d: %s", ifindex,
                strerror(-ret));
    }
}

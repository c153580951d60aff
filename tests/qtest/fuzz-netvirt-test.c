/*
 * Regression tests for what qemu-netvirt's fuzzing found
 * (docs/devel/netvirt-fuzzing.rst)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each test replays a finding on the normal build and checks the device's
 * answer against the reference (libqos/rss-ref.h), so that it fails again
 * if the bug comes back.
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "libqtest.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "libqos/pci-pc.h"
#include "libqos/virtio-pci.h"
#include "libqos/virtio.h"
#include "libqos/malloc-pc.h"
#include "libqos/rss-ref.h"
#include "standard-headers/linux/virtio_net.h"
#include "standard-headers/linux/virtio_config.h"

#define VNET_DEVFN      (4 << 3)
#define VQ_RX           0
#define VQ_CTRL         2       /* one queue pair, no VIRTIO_NET_F_MQ */
#define TIMEOUT_US      (10 * 1000 * 1000)

typedef struct HashRig {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtioPCIDevice dev;
    QVirtQueue *rx, *ctrl;
    int sock;           /* AF_PACKET socket on the tap */
    int ifindex;
} HashRig;

/*
 * virtio-net with hash reports on a tap (hash reports need a backend with
 * a virtio-net header), in a network namespace of the test's own that
 * goes away with it.  Frames come in through an AF_PACKET socket on the
 * tap.
 */
static bool rig_start(HashRig *r)
{
    QPCIAddress addr = { .devfn = VNET_DEVFN };
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) |
                    (1ull << VIRTIO_NET_F_CTRL_VQ) |
                    (1ull << VIRTIO_NET_F_HASH_REPORT);
    struct ifreq ifr = { 0 };
    struct sockaddr_ll sll = { 0 };
    g_autofree char *path = NULL;
    int fd, s;

    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK)) {
        g_test_skip("fuzz-netvirt-test needs root and /dev/net/tun for a "
                    "tap in a network namespace of its own");
        return false;
    }
    g_assert_cmpint(unshare(CLONE_NEWNET), ==, 0);

    /* No O_CLOEXEC: QEMU inherits it as fd= */
    fd = open("/dev/net/tun", O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    pstrcpy(ifr.ifr_name, IFNAMSIZ, "nvfuzz%d");
    g_assert_cmpint(ioctl(fd, TUNSETIFF, &ifr), ==, 0);
    /* Keep the kernel's own IPv6 chatter (DAD, RS, MLD) off the link */
    path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6",
                           ifr.ifr_name);
    g_file_set_contents(path, "1", 1, NULL);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    g_assert_cmpint(ioctl(s, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(s, SIOCSIFFLAGS, &ifr), ==, 0);
    close(s);
    r->ifindex = if_nametoindex(ifr.ifr_name);
    g_assert_cmpint(r->ifindex, >, 0);
    r->sock = socket(AF_PACKET, SOCK_RAW, 0);
    g_assert_cmpint(r->sock, >=, 0);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = r->ifindex;
    g_assert_cmpint(bind(r->sock, (struct sockaddr *)&sll, sizeof(sll)),
                    ==, 0);

    r->qts = qtest_initf("-M q35 -nodefaults "
                         "-netdev tap,id=n0,fd=%d,vhost=off "
                         "-device virtio-net-pci,netdev=n0,addr=%x.0,"
                         "hash=on,romfile=", fd, VNET_DEVFN >> 3);
    close(fd);
    pc_alloc_init(&r->alloc, r->qts, ALLOC_NO_FLAGS);
    r->bus = qpci_new_pc(r->qts, NULL);
    virtio_pci_init(&r->dev, r->bus, &addr);
    g_assert_cmpint(r->dev.vdev.device_type, ==, VIRTIO_ID_NET);
    qvirtio_pci_device_enable(&r->dev);
    qvirtio_reset(&r->dev.vdev);
    qvirtio_set_acknowledge(&r->dev.vdev);
    qvirtio_set_driver(&r->dev.vdev);
    g_assert_cmphex(qvirtio_get_features(&r->dev.vdev) & want, ==, want);
    qvirtio_set_features(&r->dev.vdev, want);
    r->rx = qvirtqueue_setup(&r->dev.vdev, &r->alloc, VQ_RX);
    r->ctrl = qvirtqueue_setup(&r->dev.vdev, &r->alloc, VQ_CTRL);
    qvirtio_set_driver_ok(&r->dev.vdev);
    return true;
}

static void rig_stop(HashRig *r)
{
    qvirtqueue_cleanup(r->dev.vdev.bus, r->rx, &r->alloc);
    qvirtqueue_cleanup(r->dev.vdev.bus, r->ctrl, &r->alloc);
    qpci_free_pc(r->bus);
    alloc_destroy(&r->alloc);
    qtest_quit(r->qts);
    close(r->sock);
}

/* VIRTIO_NET_CTRL_MQ_HASH_CONFIG: hash types and key, no steering */
static void rig_hash_config(HashRig *r, uint32_t types, const uint8_t *key)
{
    uint8_t cmd[2 + 4 + 8 + 1 + RSS_REF_KEY_MAX] = {
        VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG,
    };
    uint64_t out = guest_alloc(&r->alloc, sizeof(cmd));
    uint64_t ack = guest_alloc(&r->alloc, 1);
    uint32_t head;

    stl_le_p(cmd + 2, types);
    cmd[14] = RSS_REF_KEY_MAX;
    memcpy(cmd + 15, key, RSS_REF_KEY_MAX);
    qtest_memwrite(r->qts, out, cmd, sizeof(cmd));
    qtest_writeb(r->qts, ack, 0xff);
    head = qvirtqueue_add(r->qts, r->ctrl, out, sizeof(cmd), false, true);
    qvirtqueue_add(r->qts, r->ctrl, ack, 1, true, false);
    qvirtqueue_kick(r->qts, &r->dev.vdev, r->ctrl, head);
    qvirtio_wait_used_elem(r->qts, &r->dev.vdev, r->ctrl, head, NULL,
                           TIMEOUT_US);
    g_assert_cmpint(qtest_readb(r->qts, ack), ==, VIRTIO_NET_OK);
    guest_free(&r->alloc, out);
    guest_free(&r->alloc, ack);
}

/* Deliver @frame and check its hash report against the reference. */
static void rig_check_frame(HashRig *r, uint32_t types, const uint8_t *key,
                            const uint8_t *frame, size_t len)
{
    struct virtio_net_hdr_v1_hash hdr;
    uint8_t got[2048];
    uint64_t buf = guest_alloc(&r->alloc, sizeof(got));
    uint32_t head, got_len;
    RssRefResult want;
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_ifindex = r->ifindex,
        .sll_halen = 6,
    };
    int tries;

    memcpy(sll.sll_addr, frame, 6);
    g_assert_cmpint(sendto(r->sock, frame, len, 0, (struct sockaddr *)&sll,
                           sizeof(sll)), ==, len);
    /* Skip whatever else the host stack put on the link */
    for (tries = 0; tries < 16; tries++) {
        head = qvirtqueue_add(r->qts, r->rx, buf, sizeof(got), true, false);
        qvirtqueue_kick(r->qts, &r->dev.vdev, r->rx, head);
        qvirtio_wait_used_elem(r->qts, &r->dev.vdev, r->rx, head, &got_len,
                               TIMEOUT_US);
        g_assert_cmpuint(got_len, <=, sizeof(got));
        qtest_memread(r->qts, buf, got, got_len);
        if (got_len == sizeof(hdr) + len &&
            !memcmp(got + sizeof(hdr), frame, len)) {
            break;
        }
    }
    g_assert_cmpint(tries, <, 16);
    memcpy(&hdr, got, sizeof(hdr));
    guest_free(&r->alloc, buf);

    rss_ref_hash_frame(frame, len, types, key, RSS_REF_KEY_MAX, &want);
    g_assert_cmpuint(le16_to_cpu(hdr.hash_report), ==, want.report);
    g_assert_cmphex(le32_to_cpu(hdr.hash_value), ==, want.hash);
}

/* An IPv6 header followed by @ext of an extension header chain */
static size_t ipv6_frame(uint8_t *f, uint8_t next, const uint8_t *ext,
                         size_t ext_len)
{
    static const uint8_t head[] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1,
        0x86, 0xdd,
        0x60, 0, 0, 0, 0, 109, 0, 64,
        0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
        0x02, 0xa0, 0xc9, 0xff, 0xfe, 0x00, 0x00, 0x01,
        0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
        0x02, 0xa0, 0xc9, 0xff, 0xfe, 0x00, 0x00, 0x02,
    };

    memcpy(f, head, sizeof(head));
    f[14 + 6] = next;
    if (ext_len) {
        memcpy(f + sizeof(head), ext, ext_len);
    }
    return sizeof(head) + ext_len;
}

/*
 * rss-diff: an IPv6 frame whose extension header chain the frame cuts
 * short was not IPv6 at all for net/eth.c, so it got no hash, while the
 * addresses are all there.  With no extension header present in full it
 * is hashed as plain IPv6; with one present, as IPv6_EX.  Fixing that
 * brought up the next one: a home address option was taken from a header
 * cut short.
 */
static void test_ipv6_truncated_ext_hdr(void)
{
    static const uint8_t frag_then_hop[] = {
        0, 0, 0, 0, 0, 0, 0, 0,     /* fragment header, then hop-by-hop */
        0, 0, 0, 0, 0, 0, 0, 0,     /* hop-by-hop, then hop-by-hop... */
    };
    static const uint8_t dstopts_hao[] = {
        17, 160, 1, 2, 0, 0,        /* UDP next, PadN */
        0xc9, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        0x0a, 0xea, 0x06, 0xe6, 0, 8, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    uint8_t frame[128];
    HashRig r;
    size_t len;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);

    /* A fragment header announced, not a byte of it there */
    len = ipv6_frame(frame, 44, frag_then_hop, 0);
    rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
    /* ... six bytes of it: still not an extension header */
    len = ipv6_frame(frame, 44, frag_then_hop, 6);
    rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
    /* A fragment header, then a hop-by-hop header that goes on and on */
    len = ipv6_frame(frame, 44, frag_then_hop, 16);
    rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
    /*
     * A destination options header that announces 1288 bytes, 40 there,
     * with a home address option among them: the address of a header cut
     * short must not replace the source address.
     */
    len = ipv6_frame(frame, 60, dstopts_hao, sizeof(dstopts_hao));
    rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
    /* The same with only plain IPv6 hashing enabled */
    rig_hash_config(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv6, rss_ref_ms_key);
    rig_check_frame(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv6, rss_ref_ms_key,
                    frame, len);
    rig_stop(&r);
}

/*
 * rss-diff: an IPv4 header whose IHL is below 5 (here 4, 16 bytes) was
 * hashed as IPv4, with ports read from inside the IP header.
 */
static void test_ipv4_short_ihl(void)
{
    static const uint8_t frame[] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1,
        0x08, 0x00,
        0x44, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
        66, 9, 149, 187, 161, 142, 100, 80,
        0x0a, 0xea, 0x06, 0xe6, 0, 8, 0, 0,
    };
    uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_IPv4 |
                     VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
    HashRig r;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, types, rss_ref_ms_key);
    rig_check_frame(&r, types, rss_ref_ms_key, frame, sizeof(frame));
    rig_stop(&r);
}

/*
 * rss-diff: a frame with the IPv6 Ethertype whose IP version is not 6 was
 * hashed as IPv6.
 */
static void test_ipv6_bad_version(void)
{
    uint8_t frame[128];
    HashRig r;
    size_t len;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    len = ipv6_frame(frame, 59, NULL, 0);
    frame[14] = 0x44;
    rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
    rig_stop(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-truncated-ext-hdr",
                   test_ipv6_truncated_ext_hdr);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv4-short-ihl",
                   test_ipv4_short_ihl);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-bad-version",
                   test_ipv6_bad_version);
    return g_test_run();
}

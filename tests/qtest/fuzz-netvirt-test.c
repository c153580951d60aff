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
#include "libqos/rss-fuzz-input.h"
#include "libqos/tap-inject.h"
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
    int fd;

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
    r->sock = tap_inject_open(ifr.ifr_name, &r->ifindex);

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
    int tries;

    tap_inject_send(r->sock, r->ifindex, frame, len);
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
    static const uint8_t head[14 + 8] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1,
        0x86, 0xdd,
        0x60, 0, 0, 0, 0, 109, 0, 64,
    };

    memcpy(f, head, sizeof(head));
    f[14 + 6] = next;
    memcpy(f + 14 + 8, rss_fuzz_v6_src, 16);
    memcpy(f + 14 + 24, rss_fuzz_v6_dst, 16);
    if (ext_len) {
        memcpy(f + 14 + 40, ext, ext_len);
    }
    return 14 + 40 + ext_len;
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

/*
 * Check that the reference hashes an IPv6 frame (@next, then @ext_len
 * bytes of extension headers ending with UDP) as @report over @src, @dst
 * and, for UDPv6_EX, the ports, then that the device agrees with it.
 */
static void check_ex_addrs(HashRig *r, uint8_t next, const uint8_t *ext,
                           size_t ext_len, const uint8_t *src,
                           const uint8_t *dst, uint16_t report)
{
    uint8_t frame[128], input[36];
    size_t input_len = report == VIRTIO_NET_HASH_REPORT_UDPv6_EX ? 36 : 32;
    RssRefResult want;
    size_t len;

    g_assert_cmpuint(ext_len, <=, sizeof(frame) - 54);
    len = ipv6_frame(frame, next, ext, ext_len);
    memcpy(input, src, 16);
    memcpy(input + 16, dst, 16);
    memcpy(input + 32, frame + len - 8, 4);

    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key,
                       RSS_REF_KEY_MAX, &want);
    g_assert_cmpuint(want.report, ==, report);
    g_assert_cmphex(want.hash, ==,
                    rss_ref_toeplitz(rss_ref_ms_key, RSS_REF_KEY_MAX,
                                     input, input_len));
    rig_check_frame(r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key, frame, len);
}

static uint8_t *put(uint8_t *p, const uint8_t *data, size_t len)
{
    memcpy(p, data, len);
    return p + len;
}

/*
 * rss-diff: a home address option shorter than an address (RFC 6275 sets
 * its length to 16) gave QEMU "an address" made of the bytes after it.
 */
static void test_ipv6_short_home_addr(void)
{
    /* The finding: option length 0, then PadN to the end of the header */
    static const uint8_t hao_len0[] = {
        17, 2, 0xc9, 0, 1, 18,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    /* One octet short of an address, then PadN */
    static const uint8_t hao_len15[] = {
        17, 2, 0xc9, 15,
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        1, 3, 0, 0, 0,
    };
    uint8_t ext[64], *p;
    HashRig r;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    p = put(ext, hao_len0, sizeof(hao_len0));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 60, ext, p - ext, rss_fuzz_v6_src, rss_fuzz_v6_dst,
                   VIRTIO_NET_HASH_REPORT_UDPv6_EX);
    p = put(ext, hao_len15, sizeof(hao_len15));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 60, ext, p - ext, rss_fuzz_v6_src, rss_fuzz_v6_dst,
                   VIRTIO_NET_HASH_REPORT_UDPv6_EX);
    rig_stop(&r);
}

/*
 * Mending the finding above brought QEMU in line with the reference, the
 * eBPF program and the kernel series on which home address counts: the
 * last valid one, also when a later header carries none.
 */
static void test_ipv6_last_home_addr(void)
{
    /* Destination options: next header, length, options */
    static const uint8_t two_hao[] = { 17, 4, 0xc9, 16 };
    static const uint8_t hao[] = { 0xc9, 16 };
    static const uint8_t padn_empty[] = { 1, 0 };
    static const uint8_t padn_hao[] = { 60, 2, 1, 2, 0, 0, 0xc9, 16 };
    static const uint8_t pad_only[8] = { 17, 0, 1, 4 };
    uint8_t ext[96], *p;
    HashRig r;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);

    /* Two options in one header (40 bytes): the second one */
    p = put(ext, two_hao, sizeof(two_hao));
    p = put(p, rss_fuzz_home_a, sizeof(rss_fuzz_home_a));
    p = put(p, hao, sizeof(hao));
    p = put(p, rss_fuzz_home_b, sizeof(rss_fuzz_home_b));
    p = put(p, padn_empty, sizeof(padn_empty));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 60, ext, p - ext, rss_fuzz_home_b, rss_fuzz_v6_dst,
                   VIRTIO_NET_HASH_REPORT_UDPv6_EX);

    /* One in a first header, then a header with only padding */
    p = put(ext, padn_hao, sizeof(padn_hao));
    p = put(p, rss_fuzz_home_a, sizeof(rss_fuzz_home_a));
    p = put(p, pad_only, sizeof(pad_only));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 60, ext, p - ext, rss_fuzz_home_a, rss_fuzz_v6_dst,
                   VIRTIO_NET_HASH_REPORT_UDPv6_EX);
    rig_stop(&r);
}

/* The same for the type 2 routing header's address */
static void test_ipv6_last_rt2_addr(void)
{
    /* Next header, length, routing type, segments left, reserved */
    static const uint8_t rt2_then_rt[8] = { 43, 2, 2, 1 };
    static const uint8_t rt0_then_udp[8] = { 17, 2, 0, 1 };
    uint8_t ext[64], *p;
    HashRig r;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    /* Then a routing header of another type but the same length */
    p = put(ext, rt2_then_rt, sizeof(rt2_then_rt));
    p = put(p, rss_fuzz_home_b, sizeof(rss_fuzz_home_b));
    p = put(p, rt0_then_udp, sizeof(rt0_then_udp));
    p = put(p, rss_fuzz_home_a, sizeof(rss_fuzz_home_a));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 43, ext, p - ext, rss_fuzz_v6_src, rss_fuzz_home_b,
                   VIRTIO_NET_HASH_REPORT_UDPv6_EX);
    rig_stop(&r);
}

/*
 * netvirt-rss-kdiff's generated inputs: QEMU read a fragment header's
 * length from its second octet, which RFC 8200 reserves (the header is
 * always 8 octets); a non-zero value there made it miss the type 2
 * routing header after it.  A fragment has no ports to hash: IPv6_EX
 * over the source and the routing header's address.
 */
static void test_ipv6_frag_reserved(void)
{
    /* Next header, reserved, offset and flags, identification */
    static const uint8_t frag_then_rt[8] = { 43, 1, 0, 0, 0, 0, 0, 1 };
    static const uint8_t rt2_then_udp[8] = { 17, 2, 2, 1 };
    uint8_t ext[64], *p;
    HashRig r;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    p = put(ext, frag_then_rt, sizeof(frag_then_rt));
    p = put(p, rt2_then_udp, sizeof(rt2_then_udp));
    p = put(p, rss_fuzz_home_b, sizeof(rss_fuzz_home_b));
    p = put(p, rss_fuzz_udp, sizeof(rss_fuzz_udp));
    check_ex_addrs(&r, 44, ext, p - ext, rss_fuzz_v6_src, rss_fuzz_home_b,
                   VIRTIO_NET_HASH_REPORT_IPv6_EX);
    rig_stop(&r);
}

/*
 * rss-diff: QEMU walked any number of IPv6 extension headers to the TCP
 * header, while the reference, the eBPF program and the kernel series
 * stop after 16.  Past that depth there are no ports to hash, only the
 * addresses.
 */
static void test_ipv6_deep_ext_hdrs(void)
{
    static const uint8_t tcp[20] = {
        0x0a, 0xea, 0x06, 0xe6, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20,
    };
    uint8_t frame[256], input[36];
    RssRefResult want;
    HashRig r;
    size_t len;
    int n;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    memcpy(input, rss_fuzz_v6_src, 16);
    memcpy(input + 16, rss_fuzz_v6_dst, 16);
    memcpy(input + 32, tcp, 4);

    for (n = 16; n <= 17; n++) {
        /* n hop-by-hop headers of 8 bytes (the last one with PadN) */
        len = ipv6_frame(frame, 0, NULL, 0);
        memset(frame + len, 0, 8 * n);
        frame[len + 8 * (n - 1)] = 6;
        frame[len + 8 * (n - 1) + 2] = 1;
        frame[len + 8 * (n - 1) + 3] = 4;
        len += 8 * n;
        memcpy(frame + len, tcp, sizeof(tcp));
        len += sizeof(tcp);

        rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                           rss_ref_ms_key, RSS_REF_KEY_MAX, &want);
        if (n == 16) {
            g_assert_cmpuint(want.report, ==,
                             VIRTIO_NET_HASH_REPORT_TCPv6_EX);
            g_assert_cmphex(want.hash, ==,
                            rss_ref_toeplitz(rss_ref_ms_key, RSS_REF_KEY_MAX,
                                             input, 36));
        } else {
            g_assert_cmpuint(want.report, ==,
                             VIRTIO_NET_HASH_REPORT_IPv6_EX);
            g_assert_cmphex(want.hash, ==,
                            rss_ref_toeplitz(rss_ref_ms_key, RSS_REF_KEY_MAX,
                                             input, 32));
        }
        rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key,
                        frame, len);
    }
    rig_stop(&r);
}

/*
 * rss-diff: QEMU took the mobility header (RFC 6275) for an extension
 * header and hashed a frame with one as IPv6_EX, or as TCPv6_EX with the
 * ports of a TCP header after it; the others see the end of the chain
 * there: plain IPv6, over the addresses.
 */
static void test_ipv6_mobility_hdr(void)
{
    /* Payload protocol, length (8 bytes), binding refresh request */
    static const uint8_t mh_none[8] = { 59, 0, 0 };
    static const uint8_t mh_tcp[8] = { 6, 0, 0 };
    static const uint8_t tcp[20] = {
        0x0a, 0xea, 0x06, 0xe6, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20,
    };
    const uint8_t *mh[] = { mh_none, mh_tcp };
    uint8_t frame[128], input[32];
    RssRefResult want;
    HashRig r;
    size_t len;
    int i;

    if (!rig_start(&r)) {
        return;
    }
    rig_hash_config(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key);
    memcpy(input, rss_fuzz_v6_src, 16);
    memcpy(input + 16, rss_fuzz_v6_dst, 16);
    for (i = 0; i < ARRAY_SIZE(mh); i++) {
        len = ipv6_frame(frame, 135, mh[i], 8);
        memcpy(frame + len, tcp, sizeof(tcp));
        len += sizeof(tcp);
        rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                           rss_ref_ms_key, RSS_REF_KEY_MAX, &want);
        g_assert_cmpuint(want.report, ==, VIRTIO_NET_HASH_REPORT_IPv6);
        g_assert_cmphex(want.hash, ==,
                        rss_ref_toeplitz(rss_ref_ms_key, RSS_REF_KEY_MAX,
                                         input, sizeof(input)));
        rig_check_frame(&r, RSS_REF_HASH_TYPES_ALL, rss_ref_ms_key,
                        frame, len);
    }
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
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-short-home-addr",
                   test_ipv6_short_home_addr);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-last-home-addr",
                   test_ipv6_last_home_addr);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-last-rt2-addr",
                   test_ipv6_last_rt2_addr);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-deep-ext-hdrs",
                   test_ipv6_deep_ext_hdrs);
    qtest_add_func("fuzz-netvirt/rss-diff/ipv6-mobility-hdr",
                   test_ipv6_mobility_hdr);
    qtest_add_func("fuzz-netvirt/kdiff/ipv6-frag-reserved",
                   test_ipv6_frag_reserved);
    return g_test_run();
}

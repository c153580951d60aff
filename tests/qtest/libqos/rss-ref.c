/*
 * Reference model of virtio-net RSS hashing and queue selection
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "rss-ref.h"

#define ETHERTYPE_IPV4      0x0800
#define ETHERTYPE_IPV6      0x86dd
#define ETHERTYPE_VLAN      0x8100
#define ETHERTYPE_QINQ      0x88a8

#define PROTO_HOPOPTS       0
#define PROTO_TCP           6
#define PROTO_UDP           17
#define PROTO_ROUTING       43
#define PROTO_FRAGMENT      44
#define PROTO_AH            51
#define PROTO_DSTOPTS       60

#define IP6_OPT_PAD1        0x00
#define IP6_OPT_HOME_ADDR   0xc9

#define TCP_HDR_MIN         20
#define UDP_HDR_LEN         8

/* More than any sane packet carries; bounds the walk on garbage input */
#define IP6_EXT_MAX         16

const uint8_t rss_ref_ms_key[RSS_REF_KEY_MAX] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
    0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
    0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static unsigned bit_at(const uint8_t *buf, size_t len, size_t bit)
{
    if (bit / 8 >= len) {
        return 0;
    }
    return (buf[bit / 8] >> (7 - bit % 8)) & 1;
}

uint32_t rss_ref_toeplitz(const uint8_t *key, size_t key_len,
                          const uint8_t *input, size_t len)
{
    uint32_t hash = 0;
    size_t i, j;

    /* For every set input bit, XOR in the 32 key bits starting there */
    for (i = 0; i < len * 8; i++) {
        uint32_t window = 0;

        if (!bit_at(input, len, i)) {
            continue;
        }
        for (j = 0; j < 32; j++) {
            window = (window << 1) | bit_at(key, key_len, i + j);
        }
        hash ^= window;
    }
    return hash;
}

static uint16_t get_be16(const uint8_t *p)
{
    return (p[0] << 8) | p[1];
}

typedef struct Parsed {
    bool ip4, ip6;
    bool has_ext;           /* IPv6 extension headers present */
    bool fragment;
    bool tcp, udp;          /* complete L4 header and not a fragment */
    const uint8_t *src, *dst;           /* 4 or 16 bytes */
    const uint8_t *home_addr;           /* IPv6 home address option */
    const uint8_t *rt2_addr;            /* IPv6 type 2 routing header */
    const uint8_t *ports;               /* source then destination */
} Parsed;

static void parse_dstopts(const uint8_t *hdr, size_t hdr_len, Parsed *p)
{
    size_t off = 2;

    while (off < hdr_len) {
        uint8_t type = hdr[off];

        if (type == IP6_OPT_PAD1) {
            off++;
            continue;
        }
        if (off + 2 > hdr_len || off + 2 + hdr[off + 1] > hdr_len) {
            return;
        }
        if (type == IP6_OPT_HOME_ADDR && hdr[off + 1] >= 16) {
            p->home_addr = hdr + off + 2;
        }
        off += 2 + hdr[off + 1];
    }
}

static void parse_ipv6(const uint8_t *ip, size_t len, Parsed *p)
{
    uint8_t next;
    size_t off = 40;
    int n;

    if (len < 40 || (ip[0] >> 4) != 6) {
        return;
    }
    p->ip6 = true;
    p->src = ip + 8;
    p->dst = ip + 24;
    next = ip[6];

    for (n = 0; n < IP6_EXT_MAX; n++) {
        size_t hlen;

        if (next != PROTO_HOPOPTS && next != PROTO_ROUTING &&
            next != PROTO_FRAGMENT && next != PROTO_AH &&
            next != PROTO_DSTOPTS) {
            break;
        }
        if (off + 8 > len) {
            return;
        }
        p->has_ext = true;
        switch (next) {
        case PROTO_FRAGMENT:
            hlen = 8;
            p->fragment = true;
            break;
        case PROTO_AH:
            /* RFC 4302: length in 4-octet units, minus 2 */
            hlen = (ip[off + 1] + 2) * 4;
            break;
        default:
            hlen = (ip[off + 1] + 1) * 8;
            break;
        }
        if (off + hlen > len) {
            return;
        }
        if (next == PROTO_ROUTING && ip[off + 2] == 2 &&
            ip[off + 3] == 1 && hlen == 24) {
            p->rt2_addr = ip + off + 8;
        } else if (next == PROTO_DSTOPTS) {
            parse_dstopts(ip + off, hlen, p);
        }
        next = ip[off];
        off += hlen;
    }

    if (p->fragment) {
        return;
    }
    if (next == PROTO_TCP && off + TCP_HDR_MIN <= len) {
        p->tcp = true;
        p->ports = ip + off;
    } else if (next == PROTO_UDP && off + UDP_HDR_LEN <= len) {
        p->udp = true;
        p->ports = ip + off;
    }
}

static void parse_ipv4(const uint8_t *ip, size_t len, Parsed *p)
{
    size_t ihl;

    if (len < 20 || (ip[0] >> 4) != 4) {
        return;
    }
    ihl = (ip[0] & 0xf) * 4;
    if (ihl < 20 || ihl > len) {
        return;
    }
    p->ip4 = true;
    p->src = ip + 12;
    p->dst = ip + 16;
    /* MF set or non-zero offset: ports are absent or unreliable */
    p->fragment = (get_be16(ip + 6) & 0x3fff) != 0;
    if (p->fragment) {
        return;
    }
    if (ip[9] == PROTO_TCP && ihl + TCP_HDR_MIN <= len) {
        p->tcp = true;
        p->ports = ip + ihl;
    } else if (ip[9] == PROTO_UDP && ihl + UDP_HDR_LEN <= len) {
        p->udp = true;
        p->ports = ip + ihl;
    }
}

static void add_input(RssRefResult *res, const uint8_t *data, size_t len)
{
    g_assert(res->input_len + len <= sizeof(res->input));
    memcpy(res->input + res->input_len, data, len);
    res->input_len += len;
}

/* Input for the *_EX types: mobility addresses replace the plain ones */
static void add_ex_addrs(RssRefResult *res, const Parsed *p)
{
    add_input(res, p->home_addr ? p->home_addr : p->src, 16);
    add_input(res, p->rt2_addr ? p->rt2_addr : p->dst, 16);
}

static void add_addrs(RssRefResult *res, const Parsed *p, size_t alen)
{
    add_input(res, p->src, alen);
    add_input(res, p->dst, alen);
}

static uint16_t pick_ipv4(RssRefResult *res, const Parsed *p, uint32_t types)
{
    if (p->tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)) {
        add_addrs(res, p, 4);
        add_input(res, p->ports, 4);
        return VIRTIO_NET_HASH_REPORT_TCPv4;
    }
    if (p->udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4)) {
        add_addrs(res, p, 4);
        add_input(res, p->ports, 4);
        return VIRTIO_NET_HASH_REPORT_UDPv4;
    }
    if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4) {
        add_addrs(res, p, 4);
        return VIRTIO_NET_HASH_REPORT_IPv4;
    }
    return VIRTIO_NET_HASH_REPORT_NONE;
}

static uint16_t pick_ipv6(RssRefResult *res, const Parsed *p, uint32_t types)
{
    /*
     * The _EX rules only apply to packets that carry extension headers;
     * if none of them matches, the extension headers are skipped and the
     * plain IPv6 rules apply.
     */
    if (p->has_ext) {
        if (p->tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)) {
            add_ex_addrs(res, p);
            add_input(res, p->ports, 4);
            return VIRTIO_NET_HASH_REPORT_TCPv6_EX;
        }
        if (p->udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)) {
            add_ex_addrs(res, p);
            add_input(res, p->ports, 4);
            return VIRTIO_NET_HASH_REPORT_UDPv6_EX;
        }
        if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX) {
            add_ex_addrs(res, p);
            return VIRTIO_NET_HASH_REPORT_IPv6_EX;
        }
    }
    if (p->tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6)) {
        add_addrs(res, p, 16);
        add_input(res, p->ports, 4);
        return VIRTIO_NET_HASH_REPORT_TCPv6;
    }
    if (p->udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) {
        add_addrs(res, p, 16);
        add_input(res, p->ports, 4);
        return VIRTIO_NET_HASH_REPORT_UDPv6;
    }
    if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6) {
        add_addrs(res, p, 16);
        return VIRTIO_NET_HASH_REPORT_IPv6;
    }
    return VIRTIO_NET_HASH_REPORT_NONE;
}

void rss_ref_hash_frame(const uint8_t *frame, size_t len,
                        uint32_t hash_types,
                        const uint8_t *key, size_t key_len,
                        RssRefResult *res)
{
    Parsed p = { 0 };
    size_t off = 12;
    uint16_t type;

    memset(res, 0, sizeof(*res));
    if (len < 14) {
        return;
    }
    type = get_be16(frame + off);
    /* At most an outer (802.1ad or 802.1Q) and an inner 802.1Q tag */
    if (type == ETHERTYPE_QINQ && len >= off + 6) {
        off += 4;
        type = get_be16(frame + off);
    }
    if (type == ETHERTYPE_VLAN && len >= off + 6) {
        off += 4;
        type = get_be16(frame + off);
    }
    off += 2;

    if (type == ETHERTYPE_IPV4) {
        parse_ipv4(frame + off, len - off, &p);
    } else if (type == ETHERTYPE_IPV6) {
        parse_ipv6(frame + off, len - off, &p);
    }

    if (p.ip4) {
        res->report = pick_ipv4(res, &p, hash_types);
    } else if (p.ip6) {
        res->report = pick_ipv6(res, &p, hash_types);
    }
    if (res->report != VIRTIO_NET_HASH_REPORT_NONE) {
        res->hash = rss_ref_toeplitz(key, key_len, res->input,
                                     res->input_len);
    }
}

unsigned rss_ref_queue(const RssRefResult *res, const uint16_t *table,
                       size_t table_len, uint16_t unclassified_queue,
                       unsigned nr_queues)
{
    unsigned q;

    g_assert(table_len && !(table_len & (table_len - 1)));
    g_assert(nr_queues);
    if (res->report == VIRTIO_NET_HASH_REPORT_NONE) {
        q = unclassified_queue;
    } else {
        q = table[res->hash & (table_len - 1)];
    }
    return q % nr_queues;
}

/* Microsoft "Verifying the RSS Hash Calculation" vectors */
typedef struct MsVector4 {
    uint8_t dst[4], src[4];
    uint16_t dport, sport;
    uint32_t ip_hash, tcp_hash;
} MsVector4;

typedef struct MsVector6 {
    uint8_t dst[16], src[16];
    uint16_t dport, sport;
    uint32_t ip_hash, tcp_hash;
} MsVector6;

static const MsVector4 ms_v4[] = {
    { { 161, 142, 100, 80 }, { 66, 9, 149, 187 }, 1766, 2794,
      0x323e8fc2, 0x51ccc178 },
    { { 65, 69, 140, 83 }, { 199, 92, 111, 2 }, 4739, 14230,
      0xd718262a, 0xc626b0ea },
    { { 12, 22, 207, 184 }, { 24, 19, 198, 95 }, 38024, 12898,
      0xd2d0a5de, 0x5c2b394a },
    { { 209, 142, 163, 6 }, { 38, 27, 205, 30 }, 2217, 48228,
      0x82989176, 0xafc7327f },
    { { 202, 188, 127, 2 }, { 153, 39, 163, 191 }, 1303, 44251,
      0x5d1809c5, 0x10e828a2 },
};

static const MsVector6 ms_v6[] = {
    /* 3ffe:2501:200:3::1 <- 3ffe:2501:200:1fff::7 */
    { { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
        0, 0, 0, 0, 0, 0, 0, 0x01 },
      { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
        0, 0, 0, 0, 0, 0, 0, 0x07 },
      1766, 2794, 0x2cc18cd5, 0x40207d3d },
    /* ff02::1 <- 3ffe:501:8::260:97ff:fe40:efab */
    { { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
      { 0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0x00, 0x00,
        0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab },
      4739, 14230, 0x0f0c461c, 0xdde51bbf },
    /* fe80::200:f8ff:fe21:67cf <- 3ffe:1900:4545:3:200:f8ff:fe21:67cf */
    { { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
        0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf },
      { 0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03,
        0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf },
      38024, 44251, 0x4b61e985, 0x02d1feef },
};

static int check(const char *what, int i, uint32_t got, uint32_t want)
{
    if (got == want) {
        return 0;
    }
    g_test_message("rss-ref: %s vector %d: got 0x%08x, want 0x%08x",
                   what, i, got, want);
    return 1;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

/* Minimal Ethernet + IP + TCP frame carrying the vector's flow */
static size_t ms_frame(uint8_t *f, bool v6, const uint8_t *src,
                       const uint8_t *dst, uint16_t sport, uint16_t dport)
{
    size_t l3 = 14, l4;

    memset(f, 0, 128);
    if (v6) {
        put_be16(f + 12, ETHERTYPE_IPV6);
        f[l3] = 0x60;
        put_be16(f + l3 + 4, TCP_HDR_MIN);
        f[l3 + 6] = PROTO_TCP;
        f[l3 + 7] = 64;
        memcpy(f + l3 + 8, src, 16);
        memcpy(f + l3 + 24, dst, 16);
        l4 = l3 + 40;
    } else {
        put_be16(f + 12, ETHERTYPE_IPV4);
        f[l3] = 0x45;
        put_be16(f + l3 + 2, 20 + TCP_HDR_MIN);
        f[l3 + 8] = 64;
        f[l3 + 9] = PROTO_TCP;
        memcpy(f + l3 + 12, src, 4);
        memcpy(f + l3 + 16, dst, 4);
        l4 = l3 + 20;
    }
    put_be16(f + l4, sport);
    put_be16(f + l4 + 2, dport);
    f[l4 + 12] = 5 << 4;
    return l4 + TCP_HDR_MIN;
}

int rss_ref_self_test(void)
{
    const uint8_t *k = rss_ref_ms_key;
    uint8_t in[RSS_REF_INPUT_MAX], frame[128];
    RssRefResult r;
    int i, bad = 0;
    size_t len;

    for (i = 0; i < ARRAY_SIZE(ms_v4); i++) {
        const MsVector4 *v = &ms_v4[i];

        memcpy(in, v->src, 4);
        memcpy(in + 4, v->dst, 4);
        put_be16(in + 8, v->sport);
        put_be16(in + 10, v->dport);
        bad += check("toeplitz ipv4", i,
                     rss_ref_toeplitz(k, RSS_REF_KEY_MAX, in, 8), v->ip_hash);
        bad += check("toeplitz tcp4", i,
                     rss_ref_toeplitz(k, RSS_REF_KEY_MAX, in, 12),
                     v->tcp_hash);

        len = ms_frame(frame, false, v->src, v->dst, v->sport, v->dport);
        rss_ref_hash_frame(frame, len, VIRTIO_NET_RSS_HASH_TYPE_IPv4,
                           k, RSS_REF_KEY_MAX, &r);
        bad += check("frame ipv4", i, r.hash, v->ip_hash);
        bad += check("report ipv4", i, r.report, VIRTIO_NET_HASH_REPORT_IPv4);
        rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                           k, RSS_REF_KEY_MAX, &r);
        bad += check("frame tcp4", i, r.hash, v->tcp_hash);
        bad += check("report tcp4", i, r.report,
                     VIRTIO_NET_HASH_REPORT_TCPv4);
    }

    for (i = 0; i < ARRAY_SIZE(ms_v6); i++) {
        const MsVector6 *v = &ms_v6[i];

        memcpy(in, v->src, 16);
        memcpy(in + 16, v->dst, 16);
        put_be16(in + 32, v->sport);
        put_be16(in + 34, v->dport);
        bad += check("toeplitz ipv6", i,
                     rss_ref_toeplitz(k, RSS_REF_KEY_MAX, in, 32),
                     v->ip_hash);
        bad += check("toeplitz tcp6", i,
                     rss_ref_toeplitz(k, RSS_REF_KEY_MAX, in, 36),
                     v->tcp_hash);

        len = ms_frame(frame, true, v->src, v->dst, v->sport, v->dport);
        rss_ref_hash_frame(frame, len, VIRTIO_NET_RSS_HASH_TYPE_IPv6,
                           k, RSS_REF_KEY_MAX, &r);
        bad += check("frame ipv6", i, r.hash, v->ip_hash);
        bad += check("report ipv6", i, r.report, VIRTIO_NET_HASH_REPORT_IPv6);
        rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                           k, RSS_REF_KEY_MAX, &r);
        bad += check("frame tcp6", i, r.hash, v->tcp_hash);
        bad += check("report tcp6", i, r.report,
                     VIRTIO_NET_HASH_REPORT_TCPv6);
    }
    return bad;
}

uint32_t rss_ref_igb_hash_types(uint32_t mrqc)
{
    uint32_t types = 0;

    if (mrqc & RSS_REF_IGB_MRQC_TCP_IPV4) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_TCPv4;
    }
    if (mrqc & RSS_REF_IGB_MRQC_IPV4) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_IPv4;
    }
    if (mrqc & RSS_REF_IGB_MRQC_UDP_IPV4) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
    }
    if (mrqc & RSS_REF_IGB_MRQC_IPV6) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_IPv6;
    }
    if (mrqc & RSS_REF_IGB_MRQC_TCP_IPV6) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_TCPv6;
    }
    if (mrqc & RSS_REF_IGB_MRQC_UDP_IPV6) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_UDPv6;
    }
    /* An Ex enable covers packets without extension headers too */
    if (mrqc & RSS_REF_IGB_MRQC_TCP_IPV6_EX) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |
                 VIRTIO_NET_RSS_HASH_TYPE_TCPv6;
    }
    if (mrqc & RSS_REF_IGB_MRQC_IPV6_EX) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_IP_EX |
                 VIRTIO_NET_RSS_HASH_TYPE_IPv6;
    }
    if (mrqc & RSS_REF_IGB_MRQC_UDP_IPV6_EX) {
        types |= VIRTIO_NET_RSS_HASH_TYPE_UDP_EX |
                 VIRTIO_NET_RSS_HASH_TYPE_UDPv6;
    }
    return types;
}

unsigned rss_ref_igb_rss_type(uint16_t report)
{
    /* 82576 advanced receive descriptor, RSS Type field */
    switch (report) {
    case VIRTIO_NET_HASH_REPORT_TCPv4:
        return 0x1;
    case VIRTIO_NET_HASH_REPORT_IPv4:
        return 0x2;
    case VIRTIO_NET_HASH_REPORT_TCPv6:
        return 0x3;
    case VIRTIO_NET_HASH_REPORT_IPv6_EX:
        return 0x4;
    case VIRTIO_NET_HASH_REPORT_IPv6:
        return 0x5;
    case VIRTIO_NET_HASH_REPORT_TCPv6_EX:
        return 0x6;
    case VIRTIO_NET_HASH_REPORT_UDPv4:
        return 0x7;
    case VIRTIO_NET_HASH_REPORT_UDPv6:
        return 0x8;
    case VIRTIO_NET_HASH_REPORT_UDPv6_EX:
        return 0x9;
    default:
        return 0;
    }
}

/*
 * qemu-netvirt eBPF RSS steering program for tun/tap (TUNSETSTEERINGEBPF)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Returns the receive queue that virtio's RSS rules pick for a frame; tun
 * reduces it modulo the number of queues.  Frames that get no hash go to
 * the default queue.  The Toeplitz hash is a few table lookups: user space
 * expands the key into per-byte tables (ebpf/netvirt-rss.h), and only the
 * bytes the chosen hash type covers are looked up.
 *
 * Built into ebpf/netvirt-rss.skeleton.h by ebpf/meson.build; see
 * docs/devel/netvirt-ebpf-rss.rst.
 */

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/virtio_net.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NVRSS_BPF_PROGRAM
#include "netvirt-rss.h"

#define ETH_TYPE_OFF    12
#define ETH_HDR_LEN     14
#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define ETHERTYPE_VLAN  0x8100
#define ETHERTYPE_QINQ  0x88a8

#define PROTO_HOPOPTS   0
#define PROTO_TCP       6
#define PROTO_UDP       17
#define PROTO_ROUTING   43
#define PROTO_FRAGMENT  44
#define PROTO_AH        51
#define PROTO_DSTOPTS   60

#define IP6_OPT_PAD1        0x00
#define IP6_OPT_HOME_ADDR   0xc9

#define TCP_HDR_MIN     20
#define UDP_HDR_LEN     8

/* Loaded up front after the ethertype: IPv4 plus TCP, or IPv6 */
#define L3_PREFETCH     40

/*
 * The walk stops after 16 extension headers, like the reference model; a
 * header is at most (255 + 1) * 8 bytes.  A destination options header's
 * options are read through a window of IP6_WIN bytes of it, loaded once,
 * and each step of the walk takes up to IP6_OPT_BATCH of them, eight
 * Pad1 bytes at once where they fill a word: padding costs a load per
 * window and a step per batch, not one of each per byte.
 */
#define IP6_EXT_MAX     16
#define IP6_HDR_MAX     2048
#define IP6_WIN         128
#define IP6_OPT_BATCH   16
/*
 * Every step takes a header, or at least one option or Pad1 byte of a
 * destination options header (at most IP6_HDR_MAX - 2 of them), or ends
 * the walk: the loop never runs out before the walk is done.
 */
#define IP6_WALK_LOOPS  (IP6_EXT_MAX * (IP6_HDR_MAX + 1) + 1)
/* Loaded per extension header: hop-by-hop, routing type 2, HAO, AH */
#define IP6_HDR_PREFETCH 24

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct nvrss_config);
    __uint(map_flags, BPF_F_MMAPABLE);
} nvrss_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NVRSS_SLOTS);
    __type(key, __u32);
    __type(value, struct nvrss_lut);
    __uint(map_flags, BPF_F_MMAPABLE);
} nvrss_lut SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NVRSS_SLOTS);
    __type(key, __u32);
    __type(value, struct nvrss_table);
    __uint(map_flags, BPF_F_MMAPABLE);
} nvrss_table SEC(".maps");

/*
 * @len bytes at @off from the MAC header.  bpf_skb_load_bytes_relative()
 * sees only the skb's linear part, and a packet socket can leave no more
 * than the Ethernet header there; bpf_skb_load_bytes() follows page
 * fragments too, from skb->data, which tun's queue selection (transmit
 * path) has at the MAC header.  BPF_PROG_TEST_RUN has skb->data at the
 * network header, but its skbs are linear: the first load fails only
 * past the end of the frame, and then so does the length check, skb->len
 * counting from skb->data; the fallback never runs there.  The check
 * also spares a frame that is merely short a second helper call.
 */
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *to,
                                __u32 len)
{
    if (!bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_MAC)) {
        return 0;
    }
    if (off + len > skb->len) {
        return -1;
    }
    return bpf_skb_load_bytes(skb, off, to, len);
}

static __always_inline bool has_byte(struct __sk_buff *skb, __u32 off)
{
    __u8 b;

    return load(skb, off, &b, 1) == 0;
}

static __always_inline __u32 toeplitz(const struct nvrss_lut *lut, __u32 pos,
                                      const __u8 *in, __u32 n)
{
    __u32 h = 0, i;

#pragma unroll
    for (i = 0; i < n; i++) {
        h ^= lut->v[pos + i][in[i]];
    }
    return h;
}

static __always_inline bool ip6_is_ext(__u8 next)
{
    return next == PROTO_HOPOPTS || next == PROTO_ROUTING ||
           next == PROTO_FRAGMENT || next == PROTO_AH ||
           next == PROTO_DSTOPTS;
}

/* The hash input as it is hashed: addresses, then ports */
struct input {
    __u8 addr[32];
    __u8 ports[4];
};

/* Which bytes of struct input to hash */
enum {
    IN_NONE,
    IN_V4,          /* addr[0..8) */
    IN_V4_PORTS,    /* addr[0..8), ports */
    IN_V6,          /* addr[0..32) */
    IN_V6_PORTS,    /* addr[0..32), ports */
};

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 l3,
                                      const __u8 *ip, __u32 have, __u32 types,
                                      struct input *in)
{
    __u32 ihl = (ip[0] & 0xf) * 4;
    bool frag;
    __u8 l4[TCP_HDR_MIN];

    if ((ip[0] >> 4) != 4 || ihl < 20) {
        return IN_NONE;
    }
    if (ihl > have && !has_byte(skb, l3 + ihl - 1)) {
        return IN_NONE;
    }
    __builtin_memcpy(in->addr, ip + 12, 8);
    /* MF or a fragment offset: the ports are not there */
    frag = ((ip[6] << 8 | ip[7]) & 0x3fff) != 0;

    if (!frag && ip[9] == PROTO_TCP &&
        (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)) {
        if (ihl == 20 && have >= 20 + TCP_HDR_MIN) {
            __builtin_memcpy(in->ports, ip + 20, 4);
            return IN_V4_PORTS;
        }
        if (!load(skb, l3 + ihl, l4, TCP_HDR_MIN)) {
            __builtin_memcpy(in->ports, l4, 4);
            return IN_V4_PORTS;
        }
    } else if (!frag && ip[9] == PROTO_UDP &&
               (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4)) {
        if (ihl == 20 && have >= 20 + UDP_HDR_LEN) {
            __builtin_memcpy(in->ports, ip + 20, 4);
            return IN_V4_PORTS;
        }
        if (!load(skb, l3 + ihl, l4, UDP_HDR_LEN)) {
            __builtin_memcpy(in->ports, l4, 4);
            return IN_V4_PORTS;
        }
    }
    return (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4) ? IN_V4 : IN_NONE;
}

/* What the walk found */
struct ip6_walk {
    __u32 off;          /* first byte after the headers walked, from l3 */
    __u32 home;         /* home address option data, from MAC, or 0 */
    __u32 rt2;          /* type 2 routing header address, from MAC, or 0 */
    __u8 next;
    __u8 ext;
    __u8 frag;
};

/* The walk between steps */
struct ip6_state {
    struct ip6_walk w;
    __u32 l3;           /* IPv6 header, from MAC */
    __u32 hdr;          /* destination options header, from l3 */
    __u32 opt;          /* its next option, from the header */
    __u32 opt_end;      /* its length, 0 when not in one */
    __u32 win_at;       /* what win holds: bytes of that header from... */
    __u32 win_len;      /* ... win_at on */
    __s32 ret;
    __u8 headers;       /* extension headers seen */
    __u8 win[IP6_WIN] __attribute__((aligned(8)));
};

enum { WALK_MORE, WALK_DONE, WALK_TRUNCATED };

/*
 * Up to IP6_OPT_BATCH options of a destination options header, a Pad1 byte
 * counting as one and a word of them too.  The whole header is known to
 * be there.  Offsets are 64-bit and relative to the window, which keeps
 * clang's code short.
 */
static __always_inline int ip6_opts(struct __sk_buff *skb,
                                    struct ip6_state *s)
{
    __u64 p = s->opt, end = s->opt_end, at = s->win_at, have = s->win_len;
    __u64 base = s->l3 + s->hdr, i, lim, rem;
    unsigned int k;

    /* The window must hold the option's type and length, if it has one */
    if (p + 2 > at + have && at + have < end) {
        __u64 len = end - p;

        if (len > IP6_WIN) {
            len = IP6_WIN;
        }
        /* 1 to IP6_WIN, in a way the verifier sees whatever clang does */
        len--;
        asm volatile("%[len] &= %[mask]"
                     : [len] "+r"(len) : [mask] "i"(IP6_WIN - 1));
        len++;
        if (load(skb, base + p, s->win, len)) {
            return WALK_TRUNCATED;
        }
        at = p;
        have = len;
    }
    i = p - at;
    rem = end - at;
    /* An option may start before lim: its type and length are in view */
    lim = at + have < end ? have - 1 : have;

#pragma unroll
    for (k = 0; k < IP6_OPT_BATCH; k++) {
        __u8 type, len;

        /*
         * Whichever way the last option went, the verifier sees the same
         * i here and follows one path on (i stays below twice
         * IP6_HDR_MAX); and clang, to which the asm is opaque, cannot
         * work out a trip count that would stop it unrolling.
         */
        asm volatile("%[i] &= %[mask]"
                     : [i] "+r"(i) : [mask] "i"(2 * IP6_HDR_MAX - 1));
        if (i >= lim) {
            break;
        }
        type = s->win[i & (IP6_WIN - 1)];
        if (type == IP6_OPT_PAD1) {
            /* Eight at once when they fill a word of the window */
            if (!(i & 7) && i + 8 <= have &&
                !*(__u64 *)&s->win[i & (IP6_WIN - 8)]) {
                i += 8;
            } else {
                i++;
            }
            continue;
        }
        /* A TLV must fit in its header; else stop looking */
        if (i + 2 > rem) {
            end = 0;
            break;
        }
        len = s->win[(i + 1) & (IP6_WIN - 1)];
        if (i + 2 + len > rem) {
            end = 0;
            break;
        }
        if (type == IP6_OPT_HOME_ADDR && len >= 16) {
            s->w.home = base + at + i + 2;
        }
        i += 2 + len;
    }
    s->opt = at + i;
    s->opt_end = end;
    s->win_at = at;
    s->win_len = have;
    return WALK_MORE;
}

/*
 * One step of the extension header walk: one header, or a batch of
 * options of a destination options header.  Global (not inlined)
 * functions are verified once on their own, with what @s points to
 * unknown, so the verifier's work does not grow with the number of steps.
 */
__attribute__((noinline))
int nvrss_ip6_step(struct __sk_buff *skb, struct ip6_state *s)
{
    const __u8 *e;
    __u32 hlen, at, have = IP6_HDR_PREFETCH;

    if (!s) {
        return WALK_TRUNCATED;
    }
    if (s->opt < s->opt_end) {
        return ip6_opts(skb, s);
    }
    if (!ip6_is_ext(s->w.next) || s->headers == IP6_EXT_MAX) {
        return WALK_DONE;
    }
    s->headers++;
    /*
     * Most headers fit in the prefetch, which then proves they are there;
     * it goes to the window, where a destination options header's first
     * options are then.
     */
    at = s->l3 + s->w.off;
    e = s->win;
    if (load(skb, at, s->win, IP6_HDR_PREFETCH)) {
        have = 8;
        if (load(skb, at, s->win, 8)) {
            return WALK_TRUNCATED;
        }
    }
    s->w.ext = 1;
    if (s->w.next == PROTO_FRAGMENT) {
        hlen = 8;
        s->w.frag = 1;
    } else if (s->w.next == PROTO_AH) {
        /* RFC 4302: payload length in 4-octet units, minus 2 */
        hlen = (e[1] + 2) * 4;
    } else {
        hlen = (e[1] + 1) * 8;
    }
    if (hlen > have && !has_byte(skb, at + hlen - 1)) {
        return WALK_TRUNCATED;
    }
    if (s->w.next == PROTO_ROUTING && e[2] == 2 && e[3] == 1 && hlen == 24) {
        s->w.rt2 = at + 8;
    } else if (s->w.next == PROTO_DSTOPTS) {
        s->hdr = s->w.off;
        s->opt = 2;
        s->opt_end = hlen;
        s->win_at = 0;
        s->win_len = have < hlen ? have : hlen;
    }
    s->w.next = e[0];
    s->w.off += hlen;
    return WALK_MORE;
}

struct ip6_loop {
    struct __sk_buff *skb;
    struct ip6_state *s;
};

static long ip6_walk_step(__u64 i, void *ctx)
{
    struct ip6_loop *c = ctx;

    c->s->ret = nvrss_ip6_step(c->skb, c->s);
    return c->s->ret != WALK_MORE;
}

/*
 * Walks the headers after the IPv6 header at @l3, with @w->next and
 * @w->off set; returns WALK_DONE when L4 may follow, like a step does.
 * bpf_loop() (Linux 5.17) has the verifier check the callback once
 * whatever the number of steps, and the kernel inlines it.
 */
__attribute__((noinline))
int nvrss_ip6_walk(struct __sk_buff *skb, __u32 l3, struct ip6_walk *w)
{
    struct ip6_state s = { .l3 = l3, .ret = WALK_DONE };
    struct ip6_loop c = { .skb = skb, .s = &s };

    if (!w) {
        return WALK_TRUNCATED;
    }
    s.w = *w;
    bpf_loop(IP6_WALK_LOOPS, ip6_walk_step, &c, 0);
    *w = s.w;
    return s.ret;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 l3,
                                      const __u8 *ip, __u32 have, __u32 types,
                                      struct input *in)
{
    struct ip6_walk w = { .off = 40, .next = ip[6] };
    bool tcp = false, udp = false;
    __u8 l4[TCP_HDR_MIN];
    int walk = WALK_DONE;

    if (have < 40 || (ip[0] >> 4) != 6) {
        return IN_NONE;
    }
    __builtin_memcpy(in->addr, ip + 8, 32);
    if (ip6_is_ext(w.next)) {
        walk = nvrss_ip6_walk(skb, l3, &w);
    }

    if (walk == WALK_DONE && !w.frag) {
        if (w.next == PROTO_TCP &&
            (types & (VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
                      (w.ext ? VIRTIO_NET_RSS_HASH_TYPE_TCP_EX : 0)))) {
            tcp = !load(skb, l3 + w.off, l4, TCP_HDR_MIN);
        } else if (w.next == PROTO_UDP &&
                   (types & (VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |
                             (w.ext ? VIRTIO_NET_RSS_HASH_TYPE_UDP_EX : 0)))) {
            udp = !load(skb, l3 + w.off, l4, UDP_HDR_LEN);
        }
        if (tcp || udp) {
            __builtin_memcpy(in->ports, l4, 4);
        }
    }

    /* The _EX types only apply to packets with extension headers */
    if (w.ext) {
        int ret = IN_NONE;

        if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)) {
            ret = IN_V6_PORTS;
        } else if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)) {
            ret = IN_V6_PORTS;
        } else if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX) {
            ret = IN_V6;
        }
        if (ret != IN_NONE) {
            /* Mobile IPv6 addresses replace the plain ones */
            if (w.home && load(skb, w.home, in->addr, 16)) {
                return IN_NONE;
            }
            if (w.rt2 && load(skb, w.rt2, in->addr + 16, 16)) {
                return IN_NONE;
            }
            return ret;
        }
    }
    if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6)) {
        return IN_V6_PORTS;
    }
    if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) {
        return IN_V6_PORTS;
    }
    return (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6) ? IN_V6 : IN_NONE;
}

SEC("socket")
int nvrss_steer(struct __sk_buff *skb)
{
    __u32 zero = 0, idx, types, l3 = ETH_HDR_LEN, have = L3_PREFETCH, hash;
    const struct nvrss_config *cfg;
    const struct nvrss_slot *s;
    const struct nvrss_lut *lut;
    const struct nvrss_table *tbl;
    struct input in;
    struct {
        __be16 type;
        __u8 ip[L3_PREFETCH];
    } h;
    __u16 type;
    int kind;

    cfg = bpf_map_lookup_elem(&nvrss_config, &zero);
    if (!cfg) {
        return 0;
    }
    /* One read of the slot index: everything below comes from that slot */
    idx = *(volatile const __u32 *)&cfg->active & (NVRSS_SLOTS - 1);
    s = &cfg->slot[idx];
    types = s->hash_types;
    if (!s->redirect || !types) {
        return s->default_queue;
    }

    /*
     * skb->protocol is only a hint (a packet socket may send anything
     * with any protocol): when it does not announce IP, look at the
     * ethertype before loading more, so other frames cost one load.
     */
    if (skb->protocol != bpf_htons(ETHERTYPE_IPV4) &&
        skb->protocol != bpf_htons(ETHERTYPE_IPV6) &&
        skb->protocol != bpf_htons(ETHERTYPE_VLAN) &&
        skb->protocol != bpf_htons(ETHERTYPE_QINQ)) {
        if (load(skb, ETH_TYPE_OFF, &h.type, 2)) {
            return s->default_queue;
        }
        type = bpf_ntohs(h.type);
        if (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6 &&
            type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ) {
            return s->default_queue;
        }
    }

    /* Ethertype and L3 header in one load when the frame is long enough */
    if (load(skb, ETH_TYPE_OFF, &h, sizeof(h))) {
        have = 20;
        if (load(skb, ETH_TYPE_OFF, &h, 2 + 20)) {
            return s->default_queue;
        }
    }
    type = bpf_ntohs(h.type);
    /* An outer 802.1ad and an inner 802.1Q tag, as the reference does */
    if (type == ETHERTYPE_QINQ) {
        type = h.ip[2] << 8 | h.ip[3];
        l3 += 4;
    }
    if (type == ETHERTYPE_VLAN) {
        type = l3 == ETH_HDR_LEN ? (h.ip[2] << 8 | h.ip[3])
                                 : (h.ip[6] << 8 | h.ip[7]);
        l3 += 4;
    }
    if (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6) {
        return s->default_queue;
    }
    if (l3 != ETH_HDR_LEN) {
        have = L3_PREFETCH;
        if (load(skb, l3, h.ip, L3_PREFETCH)) {
            have = 20;
            if (load(skb, l3, h.ip, 20)) {
                return s->default_queue;
            }
        }
    }

    if (type == ETHERTYPE_IPV4) {
        kind = parse_ipv4(skb, l3, h.ip, have, types, &in);
    } else {
        kind = parse_ipv6(skb, l3, h.ip, have, types, &in);
    }
    if (kind == IN_NONE) {
        return s->default_queue;
    }

    lut = bpf_map_lookup_elem(&nvrss_lut, &idx);
    tbl = bpf_map_lookup_elem(&nvrss_table, &idx);
    if (!lut || !tbl) {
        return s->default_queue;
    }
    switch (kind) {
    case IN_V4:
        hash = toeplitz(lut, 0, in.addr, 8);
        break;
    case IN_V4_PORTS:
        hash = toeplitz(lut, 0, in.addr, 8) ^ toeplitz(lut, 8, in.ports, 4);
        break;
    case IN_V6:
        hash = toeplitz(lut, 0, in.addr, 32);
        break;
    default:
        hash = toeplitz(lut, 0, in.addr, 32) ^
               toeplitz(lut, 32, in.ports, 4);
        break;
    }
    return tbl->queue[hash & s->table_mask & (NVRSS_TABLE_MAX - 1)];
}

char _license[] SEC("license") = "GPL";

/*
 * Differential fuzzing of virtio-net RSS: QEMU's software RSS, the
 * reference model and the eBPF steering program must agree on every frame
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each input is a receive-side RSS configuration followed by an Ethernet
 * frame.  The frame goes through
 *  - QEMU's software RSS: net/eth.c parsing through hw/net/net_rx_pkt.c
 *    and net_rx_pkt_calc_rss_hash(), with the hash type chosen and the
 *    queue looked up as virtio-net does it (virtio_net_process_rss());
 *  - the reference, tests/qtest/libqos/rss-ref.c;
 *  - when the eBPF program can be loaded (root, CONFIG_EBPF), the steering
 *    program that the build produces, run by the kernel on the frame with
 *    BPF_PROG_TEST_RUN after being configured through ebpf/ebpf_rss.h.
 * Any disagreement in queue, hash value or hash report type aborts, so
 * libFuzzer keeps the input as a crash.  Differences already known can be
 * tolerated (counted, not fatal) with NETVIRT_RSS_FUZZ_TOLERATE, a comma
 * separated list of:
 *   ipv6-ex       software RSS vs. reference on an IPv6 frame without
 *                 extension headers where one side reports an *_EX type
 *   ebpf-ipv6-ah  eBPF vs. reference on an IPv6 frame with an
 *                 authentication header
 *   ebpf-ipv6-steps  eBPF vs. reference on an IPv6 frame whose extension
 *                 headers and destination options took the eBPF program
 *                 more than the 64 walk steps it had before finding 8 was
 *                 fixed (docs/devel/netvirt-fuzzing.rst); still accepted
 *                 so that old command lines work
 *
 * Inputs are decoded by tests/qtest/libqos/rss-fuzz-input.h (hash types,
 * indirection table length, default queue, Toeplitz key, then the frame),
 * which tests/qtest/netvirt-rss-kdiff.c shares to replay the corpus
 * against the kernel series.
 */

#include "qemu/osdep.h"

#include <sys/syscall.h>
#include <linux/bpf.h>

#include "qemu/module.h"
#include "qapi/error.h"
#include "net/eth.h"
#include "hw/net/net_rx_pkt.h"
#include "ebpf/ebpf_rss.h"
#include "standard-headers/linux/virtio_net.h"
#include "tests/qtest/libqtest.h"
#include "tests/qtest/libqos/rss-ref.h"
#include "tests/qtest/libqos/rss-fuzz-input.h"
#include "fuzz.h"

/* BPF_PROG_TEST_RUN wants at least an Ethernet header, at most a page */
#define BPF_FRAME_MIN   14
#define BPF_FRAME_MAX   2048

typedef struct Verdict {
    uint32_t hash;
    uint16_t report;
    unsigned queue;
} Verdict;

static struct NetRxPkt *rx_pkt;
static struct EBPFRSSContext ebpf_ctx;
static bool ebpf_ok;
static bool tolerate_ipv6_ex, tolerate_ebpf_ipv6_ah, tolerate_ebpf_ipv6_steps;
static uint64_t known_ipv6_ex, known_ebpf_ipv6_ah, known_ebpf_ipv6_steps;
static uint64_t ebpf_runs;

/* The virtio-net hash type selection, over what net_rx_pkt parsed. */
static int soft_hash_type(bool ip4, bool ip6, bool ext, EthL4HdrProto l4,
                          uint32_t types)
{
    if (ip4) {
        if (l4 == ETH_L4_HDR_PROTO_TCP &&
            (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)) {
            return NetPktRssIpV4Tcp;
        }
        if (l4 == ETH_L4_HDR_PROTO_UDP &&
            (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4)) {
            return NetPktRssIpV4Udp;
        }
        if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4) {
            return NetPktRssIpV4;
        }
    } else if (ip6) {
        if (ext) {
            if (l4 == ETH_L4_HDR_PROTO_TCP &&
                (types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)) {
                return NetPktRssIpV6TcpEx;
            }
            if (l4 == ETH_L4_HDR_PROTO_UDP &&
                (types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)) {
                return NetPktRssIpV6UdpEx;
            }
            if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX) {
                return NetPktRssIpV6Ex;
            }
        }
        if (l4 == ETH_L4_HDR_PROTO_TCP &&
            (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6)) {
            return NetPktRssIpV6Tcp;
        }
        if (l4 == ETH_L4_HDR_PROTO_UDP &&
            (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) {
            return NetPktRssIpV6Udp;
        }
        if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6) {
            return NetPktRssIpV6;
        }
    }
    return -1;
}

static const uint16_t soft_reports[] = {
    [NetPktRssIpV4] = VIRTIO_NET_HASH_REPORT_IPv4,
    [NetPktRssIpV4Tcp] = VIRTIO_NET_HASH_REPORT_TCPv4,
    [NetPktRssIpV6Tcp] = VIRTIO_NET_HASH_REPORT_TCPv6,
    [NetPktRssIpV6] = VIRTIO_NET_HASH_REPORT_IPv6,
    [NetPktRssIpV6Ex] = VIRTIO_NET_HASH_REPORT_IPv6_EX,
    [NetPktRssIpV6TcpEx] = VIRTIO_NET_HASH_REPORT_TCPv6_EX,
    [NetPktRssIpV4Udp] = VIRTIO_NET_HASH_REPORT_UDPv4,
    [NetPktRssIpV6Udp] = VIRTIO_NET_HASH_REPORT_UDPv6,
    [NetPktRssIpV6UdpEx] = VIRTIO_NET_HASH_REPORT_UDPv6_EX,
};

static bool is_ex_report(uint16_t r)
{
    return r == VIRTIO_NET_HASH_REPORT_IPv6_EX ||
           r == VIRTIO_NET_HASH_REPORT_TCPv6_EX ||
           r == VIRTIO_NET_HASH_REPORT_UDPv6_EX;
}

/* Ethertype offset past up to two VLAN tags, like the reference. */
static size_t l3_offset(const uint8_t *f, size_t len, uint16_t *type)
{
    size_t off = 12;

    *type = f[off] << 8 | f[off + 1];
    if (*type == 0x88a8 && len >= off + 6) {
        off += 4;
        *type = f[off] << 8 | f[off + 1];
    }
    if (*type == 0x8100 && len >= off + 6) {
        off += 4;
        *type = f[off] << 8 | f[off + 1];
    }
    return off + 2;
}

/* Whether an IPv6 frame carries an authentication header (protocol 51). */
static bool ipv6_has_ah(const uint8_t *f, size_t len)
{
    uint16_t type;
    size_t off = l3_offset(f, len, &type);
    uint8_t next;

    if (type != 0x86dd || off + 40 > len) {
        return false;
    }
    next = f[off + 6];
    off += 40;
    for (int n = 0; n < 16 && off + 8 <= len; n++) {
        switch (next) {
        case 51:
            return true;
        case 0: case 43: case 60:
            next = f[off];
            off += (f[off + 1] + 1) * 8;
            break;
        case 44:
            next = f[off];
            off += 8;
            break;
        default:
            return false;
        }
    }
    return false;
}

/*
 * Whether the eBPF program, as it was before finding 8 was fixed, ran out
 * of walk steps on an IPv6 frame: one step per extension header and one
 * per destination option (a Pad1 is one), 64 of them.  The program now
 * walks as far as the reference does.
 */
#define EBPF_IP6_WALK_STEPS 64

static bool ipv6_exceeds_ebpf_steps(const uint8_t *f, size_t len)
{
    uint16_t type;
    size_t l3 = l3_offset(f, len, &type);
    size_t off = 40, hdr = 0, opt = 0, opt_end = 0, hlen;
    unsigned steps, headers = 0;
    uint8_t next;

    if (type != 0x86dd || l3 + 40 > len) {
        return false;
    }
    next = f[l3 + 6];
    for (steps = 0; steps < EBPF_IP6_WALK_STEPS; steps++) {
        if (opt < opt_end) {
            /* The whole header is there: the walk checked it */
            const uint8_t *o = f + l3 + hdr + opt;

            if (o[0] == 0) {
                opt++;
            } else if (opt + 2 > opt_end || opt + 2 + o[1] > opt_end) {
                opt_end = 0;
            } else {
                opt += 2 + o[1];
            }
            continue;
        }
        if ((next != 0 && next != 43 && next != 44 && next != 51 &&
             next != 60) || headers == 16 || l3 + off + 8 > len) {
            return false;
        }
        headers++;
        hlen = next == 44 ? 8 : next == 51 ? (f[l3 + off + 1] + 2) * 4 :
               (f[l3 + off + 1] + 1) * 8;
        if (l3 + off + hlen > len) {
            return false;
        }
        if (next == 60) {
            hdr = off;
            opt = 2;
            opt_end = hlen;
        }
        next = f[l3 + off];
        off += hlen;
    }
    return true;
}

static void dump_and_abort(const char *what, const uint8_t *frame, size_t len,
                           uint32_t types, unsigned table_len, unsigned defq,
                           const Verdict *soft, const Verdict *ref,
                           const int64_t *ebpf)
{
    fprintf(stderr, "netvirt-rss-fuzz: FINDING: %s\n", what);
    fprintf(stderr, "  hash types 0x%03x, table length %u, default queue %u\n",
            types, table_len, defq);
    fprintf(stderr, "  software RSS: report %u hash 0x%08x queue %u\n",
            soft->report, soft->hash, soft->queue);
    fprintf(stderr, "  reference:    report %u hash 0x%08x queue %u\n",
            ref->report, ref->hash, ref->queue);
    if (ebpf) {
        fprintf(stderr, "  eBPF:         queue %" PRId64 "\n", *ebpf);
    }
    fprintf(stderr, "  frame (%zu bytes):", len);
    for (size_t i = 0; i < len; i++) {
        fprintf(stderr, "%s%02x", i % 16 ? "" : "\n    ", frame[i]);
    }
    fprintf(stderr, "\n");
    abort();
}

/*
 * Whether BPF_PROG_TEST_RUN takes @frame: it refuses (EINVAL) an IPv4 or
 * IPv6 frame, by the outer Ethertype, too short for the IP header, although
 * tun runs the program on such frames.
 */
static bool ebpf_can_run(const uint8_t *frame, size_t len)
{
    uint16_t type;

    if (len < BPF_FRAME_MIN || len > BPF_FRAME_MAX) {
        return false;
    }
    type = frame[12] << 8 | frame[13];
    return !((type == 0x0800 && len < 14 + 20) ||
             (type == 0x86dd && len < 14 + 40));
}

/* The kernel's verdict for @frame, or -1 if the program could not run. */
static int64_t ebpf_queue(const uint8_t *frame, size_t len)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.test.prog_fd = ebpf_ctx.program_fd;
    attr.test.data_in = (uintptr_t)frame;
    attr.test.data_size_in = len;
    attr.test.repeat = 1;
    if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr)) < 0) {
        fprintf(stderr, "netvirt-rss-fuzz: BPF_PROG_TEST_RUN: %s\n",
                strerror(errno));
        return -1;
    }
    ebpf_runs++;
    return attr.test.retval;
}

static void rss_fuzz(QTestState *s, const unsigned char *data, size_t size)
{
    RssFuzzInput in;
    const uint8_t *frame;
    uint8_t *key;
    uint16_t *table;
    size_t len;
    uint32_t types;
    unsigned table_len, defq;
    struct iovec iov;
    bool ip4, ip6, ext;
    EthL4HdrProto l4;
    int type;
    Verdict soft = { 0 }, ref;
    RssRefResult res;

    if (!rss_fuzz_input_decode(&in, data, size)) {
        return;
    }
    frame = in.frame;
    len = in.frame_len;
    types = in.hash_types;
    table_len = in.table_len;
    defq = in.default_queue;
    key = in.key;
    table = in.table;

    /* QEMU: the parser the network feeds, then the hash */
    iov = (struct iovec) { .iov_base = (void *)frame, .iov_len = len };
    net_rx_pkt_set_protocols(rx_pkt, &iov, 1, 0);
    net_rx_pkt_get_protocols(rx_pkt, &ip4, &ip6, &l4);
    ext = ip6 && net_rx_pkt_get_ip6_info(rx_pkt)->has_ext_hdrs;
    type = soft_hash_type(ip4, ip6, ext, l4, types);
    if (type < 0) {
        soft.queue = defq;
    } else {
        soft.hash = net_rx_pkt_calc_rss_hash(rx_pkt, type, key);
        soft.report = soft_reports[type];
        soft.queue = table[soft.hash & (table_len - 1)];
    }

    /* The reference */
    rss_ref_hash_frame(frame, len, types, key, RSS_REF_KEY_MAX, &res);
    ref.hash = res.hash;
    ref.report = res.report;
    ref.queue = rss_ref_queue(&res, table, table_len, defq,
                              RSS_FUZZ_NR_QUEUES);

    if (soft.report != ref.report || soft.hash != ref.hash ||
        soft.queue != ref.queue) {
        if (tolerate_ipv6_ex && ip6 && !ext &&
            (is_ex_report(soft.report) || is_ex_report(ref.report))) {
            known_ipv6_ex++;
        } else {
            dump_and_abort("software RSS and reference disagree", frame, len,
                           types, table_len, defq, &soft, &ref, NULL);
        }
    }

    if (ebpf_ok && ebpf_can_run(frame, len)) {
        struct EBPFRSSConfig config = {
            .redirect = 1,
            .populate_hash = 0,
            .hash_types = types,
            .indirections_len = table_len,
            .default_queue = defq,
        };
        int64_t q;

        if (!ebpf_rss_set_all(&ebpf_ctx, &config, table, key, &error_abort)) {
            abort();
        }
        q = ebpf_queue(frame, len);
        if (q != ref.queue) {
            if (tolerate_ebpf_ipv6_ah && ipv6_has_ah(frame, len)) {
                known_ebpf_ipv6_ah++;
            } else if (tolerate_ebpf_ipv6_steps &&
                       ipv6_exceeds_ebpf_steps(frame, len)) {
                known_ebpf_ipv6_steps++;
            } else {
                dump_and_abort("eBPF steering and reference disagree", frame,
                               len, types, table_len, defq, &soft, &ref, &q);
            }
        }
    }
}

static void rss_fuzz_report(void)
{
    fprintf(stderr, "netvirt-rss-fuzz: eBPF runs %" PRIu64
            ", tolerated known differences: ipv6-ex %" PRIu64
            ", ebpf-ipv6-ah %" PRIu64 ", ebpf-ipv6-steps %" PRIu64 "\n",
            ebpf_runs, known_ipv6_ex, known_ebpf_ipv6_ah,
            known_ebpf_ipv6_steps);
}

static void rss_pre_fuzz(QTestState *s)
{
    const char *tolerate = getenv("NETVIRT_RSS_FUZZ_TOLERATE");
    Error *err = NULL;

    net_rx_pkt_init(&rx_pkt);
    if (tolerate) {
        g_auto(GStrv) names = g_strsplit(tolerate, ",", -1);

        for (int i = 0; names[i]; i++) {
            if (!strcmp(names[i], "ipv6-ex")) {
                tolerate_ipv6_ex = true;
            } else if (!strcmp(names[i], "ebpf-ipv6-ah")) {
                tolerate_ebpf_ipv6_ah = true;
            } else if (!strcmp(names[i], "ebpf-ipv6-steps")) {
                tolerate_ebpf_ipv6_steps = true;
            } else if (names[i][0]) {
                fprintf(stderr, "netvirt-rss-fuzz: unknown difference %s\n",
                        names[i]);
                exit(1);
            }
        }
    }

    ebpf_rss_init(&ebpf_ctx);
    if (getenv("NETVIRT_RSS_FUZZ_NO_EBPF")) {
        fprintf(stderr, "netvirt-rss-fuzz: eBPF comparison disabled\n");
    } else if (ebpf_rss_load(&ebpf_ctx, &err)) {
        ebpf_ok = true;
        fprintf(stderr, "netvirt-rss-fuzz: comparing with the eBPF program\n");
    } else {
        fprintf(stderr, "netvirt-rss-fuzz: eBPF comparison skipped: %s "
                "(needs root and an eBPF-enabled build)\n",
                error_get_pretty(err));
        error_free(err);
    }
    atexit(rss_fuzz_report);
}

static GString *rss_cmdline(FuzzTarget *t)
{
    return g_string_new(TARGET_NAME
                        " -M none -accel qtest -display none -nodefaults");
}

static void register_netvirt_rss_fuzz_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "netvirt-rss-diff",
        .description = "Compare QEMU's software RSS, the reference model "
                       "and the eBPF steering program on fuzzed frames",
        .get_init_cmdline = rss_cmdline,
        .pre_fuzz = rss_pre_fuzz,
        .fuzz = rss_fuzz,
    });
}

fuzz_target_init(register_netvirt_rss_fuzz_targets);

/*
 * Check and benchmark the eBPF RSS steering programs with BPF_PROG_TEST_RUN
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * --check: our program, loaded and configured by QEMU's own loader
 * (ebpf/ebpf_rss.c), must pick the queue that the reference model
 * (tests/qtest/libqos/rss-ref.c) predicts for every frame class, every
 * truncation of it, and random keys, tables and hash types; and for IPv6
 * frames with long destination options up to the reference's limits (16
 * headers of 2048 bytes, sent through a tap where BPF_PROG_TEST_RUN would
 * refuse them); and, through the tap too, frames whose headers the kernel
 * keeps in page fragments.  Prints TAP.
 *
 * --bench: ours against another program object with upstream QEMU's
 * map layout (--upstream FILE, e.g. the ELF inside upstream's
 * rss.bpf.skeleton.h), in sections (--only):
 *   bpf: ns/packet with BPF_PROG_TEST_RUN per frame class, program sizes;
 *   sw:  QEMU's software RSS (hw/net/net_rx_pkt.c, as virtio-net runs it)
 *        in ns/packet against ours;
 *   tap: packets/s through a real 4-queue tap with no program, upstream's
 *        and ours attached (TUNSETSTEERINGEBPF), and how many packets land
 *        on the queue the reference model demands.  With --kernel-rss
 *        (a kernel with our tun series, patches/linux/) also the kernel's
 *        own RSS (TUNSETVNETHASH), with and without hash reports, and the
 *        cost per packet of each steering over none.
 * Prints Markdown tables.
 *
 * Needs root (CAP_BPF and CAP_NET_ADMIN) for BPF_PROG_TEST_RUN and taps.
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "ebpf/ebpf_rss.h"
#include "ebpf/netvirt-rss.h"
#include "hw/net/net_rx_pkt.h"
#include "net/tap-linux.h"
#include "net/tap-vnet-hash.h"
#include "standard-headers/linux/virtio_net.h"
#include "../../tests/qtest/libqos/rss-ref.h"

#define FRAME_MAX       256
#define ETH_HDR_LEN     14
#define NR_QUEUES       4
#define TABLE_LEN       128
#define MAX_RUNS        64

/* Frame construction */

typedef struct Flow {
    uint8_t src4[4], dst4[4];
    uint8_t src6[16], dst6[16], home[16], rt2[16];
    uint16_t sport, dport;
} Flow;

typedef enum Ext {
    X_END, X_HOP, X_HAO, X_PAD, X_RT2, X_RT0, X_FRAG, X_AH, X_HAO_SHORT,
} Ext;

typedef struct FrameClass {
    const char *name;
    uint16_t tags[2];           /* outer VLAN ethertypes, 0 = none */
    uint16_t ethertype;
    uint8_t proto;              /* L4 protocol */
    bool ip4_options;
    uint16_t ip4_frag;          /* flags and offset */
    Ext ext[5];                 /* IPv6 extension headers */
    size_t payload;
} FrameClass;

#define ETH_IP4 0x0800
#define ETH_IP6 0x86dd

static const FrameClass classes[] = {
    /* The benchmark classes come first */
    { "IPv4/TCP", {}, ETH_IP4, IPPROTO_TCP, .payload = 64 },
    { "IPv4/UDP", {}, ETH_IP4, IPPROTO_UDP, .payload = 64 },
    { "IPv6/TCP", {}, ETH_IP6, IPPROTO_TCP, .payload = 64 },
    { "IPv6+ext/TCP", {}, ETH_IP6, IPPROTO_TCP,
      .ext = { X_HOP, X_RT2, X_HAO }, .payload = 64 },
    { "non-IP", {}, 0x0806, 0, .payload = 28 },
    /* Then the rest of what the parser must get right */
    { "IPv4/ICMP", {}, ETH_IP4, IPPROTO_ICMP, .payload = 16 },
    { "IPv4+options/TCP", {}, ETH_IP4, IPPROTO_TCP, .ip4_options = true },
    { "IPv4+options/UDP", {}, ETH_IP4, IPPROTO_UDP, .ip4_options = true },
    { "IPv4 first fragment/TCP", {}, ETH_IP4, IPPROTO_TCP,
      .ip4_frag = 0x2000 },
    { "IPv4 later fragment/UDP", {}, ETH_IP4, IPPROTO_UDP,
      .ip4_frag = 0x0010 },
    { "IPv4 DF/TCP", {}, ETH_IP4, IPPROTO_TCP, .ip4_frag = 0x4000 },
    { "IPv6/UDP", {}, ETH_IP6, IPPROTO_UDP },
    { "IPv6/ICMPv6", {}, ETH_IP6, IPPROTO_ICMPV6, .payload = 8 },
    { "IPv6+hop/UDP", {}, ETH_IP6, IPPROTO_UDP, .ext = { X_HOP } },
    { "IPv6+hao/TCP", {}, ETH_IP6, IPPROTO_TCP, .ext = { X_HAO } },
    { "IPv6+short hao/TCP", {}, ETH_IP6, IPPROTO_TCP,
      .ext = { X_HAO_SHORT } },
    { "IPv6+rt2/UDP", {}, ETH_IP6, IPPROTO_UDP, .ext = { X_RT2 } },
    { "IPv6+rt0/UDP", {}, ETH_IP6, IPPROTO_UDP, .ext = { X_RT0 } },
    { "IPv6+dstopts(pad)/TCP", {}, ETH_IP6, IPPROTO_TCP, .ext = { X_PAD } },
    { "IPv6+hao+hao/TCP", {}, ETH_IP6, IPPROTO_TCP,
      .ext = { X_HAO, X_PAD, X_HAO } },
    { "IPv6 fragment/UDP", {}, ETH_IP6, IPPROTO_UDP, .ext = { X_FRAG } },
    { "IPv6+ah/TCP", {}, ETH_IP6, IPPROTO_TCP, .ext = { X_AH } },
    { "IPv6+hop+ah/UDP", {}, ETH_IP6, IPPROTO_UDP, .ext = { X_HOP, X_AH } },
    { "IPv6+ah+rt2+hao/TCP", {}, ETH_IP6, IPPROTO_TCP,
      .ext = { X_AH, X_RT2, X_HAO } },
    { "VLAN IPv4/TCP", { 0x8100 }, ETH_IP4, IPPROTO_TCP },
    { "QinQ IPv6/UDP", { 0x88a8, 0x8100 }, ETH_IP6, IPPROTO_UDP },
    { "802.1ad IPv4/UDP", { 0x88a8 }, ETH_IP4, IPPROTO_UDP },
    { "two 802.1Q tags IPv4/TCP", { 0x8100, 0x8100 }, ETH_IP4, IPPROTO_TCP },
    { "other ethertype", {}, 0x88b5, 0, .payload = 40 },
};

#define N_BENCH_CLASSES 5

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static size_t put_l4(uint8_t *p, uint8_t proto, const Flow *f)
{
    size_t len = proto == IPPROTO_TCP ? 20 : 8;

    memset(p, 0, len);
    put16(p, f->sport);
    put16(p + 2, f->dport);
    if (proto == IPPROTO_TCP) {
        p[12] = 5 << 4;
        p[13] = 0x10;
    } else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
        p[0] = proto == IPPROTO_ICMP ? 8 : 128;
        p[1] = 0;
    }
    return len;
}

static size_t put_ext(uint8_t *h, Ext x, const Flow *f, uint8_t *type)
{
    switch (x) {
    case X_HOP:
        *type = 0;
        memset(h, 0, 8);
        h[2] = 1;               /* PadN over the rest */
        h[3] = 4;
        return 8;
    case X_HAO:
        *type = IPPROTO_DSTOPTS;
        memset(h, 0, 24);
        h[1] = 2;
        h[2] = 1;
        h[3] = 2;
        h[6] = 0xc9;
        h[7] = 16;
        memcpy(h + 8, f->home, 16);
        return 24;
    case X_HAO_SHORT:
        /* An option of type HAO too short to carry an address */
        *type = IPPROTO_DSTOPTS;
        memset(h, 0, 16);
        h[1] = 1;
        h[2] = 0xc9;
        h[3] = 12;
        memcpy(h + 4, f->home, 12);
        return 16;
    case X_PAD:
        *type = IPPROTO_DSTOPTS;
        memset(h, 0, 8);
        h[3] = 1;               /* Pad1, then PadN */
        h[4] = 2;
        return 8;
    case X_RT2:
    case X_RT0:
        *type = IPPROTO_ROUTING;
        memset(h, 0, 24);
        h[1] = 2;
        h[2] = x == X_RT2 ? 2 : 0;
        h[3] = 1;
        memcpy(h + 8, f->rt2, 16);
        return 24;
    case X_FRAG:
        *type = IPPROTO_FRAGMENT;
        memset(h, 0, 8);
        h[3] = 1;
        put16(h + 6, f->sport);
        return 8;
    case X_AH:
        *type = IPPROTO_AH;
        memset(h, 0x5a, 24);
        h[1] = 4;               /* (4 + 2) * 4 = 24 bytes */
        h[2] = h[3] = 0;
        return 24;
    default:
        g_assert_not_reached();
    }
}

static size_t build_frame(const FrameClass *c, const Flow *f, uint8_t *buf)
{
    uint8_t *p = buf + 12;
    size_t l3, off, i;

    memset(buf, 0, 12);
    buf[0] = 0x52;
    buf[6] = 0x02;
    for (i = 0; i < 2 && c->tags[i]; i++) {
        put16(p, c->tags[i]);
        put16(p + 2, 100 + i);
        p += 4;
    }
    put16(p, c->ethertype);
    p += 2;
    l3 = p - buf;

    if (c->ethertype == ETH_IP4) {
        size_t ihl = c->ip4_options ? 28 : 20;

        memset(p, 0, ihl);
        p[0] = 0x40 | ihl / 4;
        put16(p + 6, c->ip4_frag);
        p[8] = 64;
        p[9] = c->proto;
        memcpy(p + 12, f->src4, 4);
        memcpy(p + 16, f->dst4, 4);
        if (c->ip4_options) {
            p[20] = 0x94;       /* router alert, then NOPs */
            p[21] = 4;
            memset(p + 24, 1, 4);
        }
        off = ihl;
        if (!(c->ip4_frag & 0x1fff)) {
            off += put_l4(p + off, c->proto, f);
        }
        memset(p + off, 0xa5, c->payload);
        off += c->payload;
        put16(p + 2, off);
    } else if (c->ethertype == ETH_IP6) {
        uint8_t *nh = p + 6;

        memset(p, 0, 40);
        p[0] = 0x60;
        p[7] = 64;
        memcpy(p + 8, f->src6, 16);
        memcpy(p + 24, f->dst6, 16);
        off = 40;
        for (i = 0; i < ARRAY_SIZE(c->ext) && c->ext[i] != X_END; i++) {
            uint8_t *h = p + off;

            off += put_ext(h, c->ext[i], f, nh);
            nh = h;
        }
        *nh = c->proto;
        off += put_l4(p + off, c->proto, f);
        memset(p + off, 0xa5, c->payload);
        off += c->payload;
        put16(p + 4, off - 40);
    } else {
        off = c->payload;
        memset(p, 0x3c, off);
    }
    g_assert(l3 + off <= FRAME_MAX);
    return l3 + off;
}

static void flow_random(GRand *g, Flow *f)
{
    uint8_t *b = (uint8_t *)f;
    size_t i;

    for (i = 0; i < offsetof(Flow, sport); i++) {
        b[i] = g_rand_int(g);
    }
    f->sport = g_rand_int_range(g, 1, 65536);
    f->dport = g_rand_int_range(g, 1, 65536);
}

/* Programs under test */

typedef struct RssConfig {
    uint8_t key[RSS_REF_KEY_MAX];
    uint16_t table[TABLE_LEN];
    unsigned table_len;
    uint32_t types;
    uint16_t default_queue;
} RssConfig;

typedef struct Prog {
    const char *name;
    int fd;
    struct EBPFRSSContext ours;         /* ours: QEMU's own loader */
    struct bpf_object *obj;             /* upstream layout */
    int map_config, map_key, map_table;
} Prog;

static bool load_ours(Prog *p)
{
    Error *err = NULL;

    p->name = "ours";
    ebpf_rss_init(&p->ours);
    if (!ebpf_rss_load(&p->ours, &err)) {
        error_report_err(err);
        return false;
    }
    p->fd = p->ours.program_fd;
    return true;
}

static bool load_upstream(Prog *p, const char *path)
{
    struct bpf_program *prog;

    p->name = "upstream";
    p->obj = bpf_object__open_file(path, NULL);
    if (!p->obj) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    prog = bpf_object__find_program_by_name(p->obj, "tun_rss_steering_prog");
    if (!prog) {
        fprintf(stderr, "%s: no tun_rss_steering_prog\n", path);
        return false;
    }
    bpf_program__set_type(prog, BPF_PROG_TYPE_SOCKET_FILTER);
    if (bpf_object__load(p->obj)) {
        fprintf(stderr, "cannot load %s: %s\n", path, strerror(errno));
        return false;
    }
    p->fd = bpf_program__fd(prog);
    p->map_config = bpf_object__find_map_fd_by_name(
        p->obj, "tap_rss_map_configurations");
    p->map_key = bpf_object__find_map_fd_by_name(
        p->obj, "tap_rss_map_toeplitz_key");
    p->map_table = bpf_object__find_map_fd_by_name(
        p->obj, "tap_rss_map_indirection_table");
    return p->map_config >= 0 && p->map_key >= 0 && p->map_table >= 0;
}

static void configure(Prog *p, const RssConfig *c)
{
    struct EBPFRSSConfig cfg = {
        .redirect = 1,
        .hash_types = c->types,
        .indirections_len = c->table_len,
        .default_queue = c->default_queue,
    };
    uint16_t table[TABLE_LEN];
    uint8_t key[RSS_REF_KEY_MAX];
    uint32_t zero = 0, i;
    Error *err = NULL;

    memcpy(table, c->table, sizeof(table));
    memcpy(key, c->key, sizeof(key));
    if (!p->obj) {
        if (!ebpf_rss_set_all(&p->ours, &cfg, table, key, &err)) {
            error_report_err(err);
            exit(1);
        }
        return;
    }

    /* Upstream's layout: its key map wants the first 32 bits host-order */
    *(uint32_t *)key = ldl_be_p(c->key);
    if (bpf_map_update_elem(p->map_config, &zero, &cfg, 0) ||
        bpf_map_update_elem(p->map_key, &zero, key, 0)) {
        perror("upstream: bpf_map_update_elem");
        exit(1);
    }
    for (i = 0; i < c->table_len; i++) {
        if (bpf_map_update_elem(p->map_table, &i, &table[i], 0)) {
            perror("upstream: bpf_map_update_elem");
            exit(1);
        }
    }
}

/*
 * Returns the program's return value, and the mean ns per run; or -1
 * if the kernel refuses the frame (it wants an IPv4 or IPv6 frame to hold
 * at least the fixed IP header).
 */
static int64_t try_run(const Prog *p, const uint8_t *frame, size_t len,
                       unsigned repeat, uint32_t *ns)
{
    LIBBPF_OPTS(bpf_test_run_opts, opts,
        .data_in = frame,
        .data_size_in = len,
        .repeat = repeat,
    );
    int ret = bpf_prog_test_run_opts(p->fd, &opts);

    if (ret == -EINVAL) {
        return -1;
    }
    if (ret) {
        fprintf(stderr, "BPF_PROG_TEST_RUN (%s, %zu bytes): %s\n", p->name,
                len, strerror(-ret));
        exit(1);
    }
    if (ns) {
        *ns = opts.duration;
    }
    return opts.retval;
}

static uint32_t run(const Prog *p, const uint8_t *frame, size_t len,
                    unsigned repeat, uint32_t *ns)
{
    int64_t ret = try_run(p, frame, len, repeat, ns);

    if (ret < 0) {
        fprintf(stderr, "BPF_PROG_TEST_RUN (%s, %zu bytes) refused the "
                "frame\n", p->name, len);
        exit(1);
    }
    return ret;
}

/* The raw indirection table entry (or default queue) the reference picks */
static uint32_t expect(const RssConfig *c, const uint8_t *frame, size_t len)
{
    RssRefResult r;

    rss_ref_hash_frame(frame, len, c->types, c->key, sizeof(c->key), &r);
    return rss_ref_queue(&r, c->table, c->table_len, c->default_queue,
                         0x10000);
}

static void config_random(GRand *g, RssConfig *c, bool all_types)
{
    unsigned i;

    for (i = 0; i < sizeof(c->key); i++) {
        c->key[i] = g_rand_int(g);
    }
    c->table_len = 1 << g_rand_int_range(g, 0, 8);
    for (i = 0; i < TABLE_LEN; i++) {
        c->table[i] = g_rand_int_range(g, 0, 0x10000);
    }
    c->types = all_types ? RSS_REF_HASH_TYPES_ALL
                         : g_rand_int_range(g, 0, RSS_REF_HASH_TYPES_ALL + 1);
    c->default_queue = g_rand_int_range(g, 0, 0x10000);
}

/* --check */

static unsigned tap_n;

static void tap(bool ok, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void tap(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%sok %u - ", ok ? "" : "not ", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* The lookup tables reproduce the bit-by-bit Toeplitz hash exactly */
static bool check_lut(GRand *g)
{
    static struct nvrss_lut lut;
    uint8_t key[RSS_REF_KEY_MAX], in[RSS_REF_INPUT_MAX];
    int round, i, bad = 0;

    for (round = 0; round < 200; round++) {
        uint32_t h = 0;
        int len = g_rand_int_range(g, 1, RSS_REF_INPUT_MAX + 1);

        for (i = 0; i < sizeof(key); i++) {
            key[i] = round ? g_rand_int(g) : rss_ref_ms_key[i];
        }
        for (i = 0; i < len; i++) {
            in[i] = g_rand_int(g);
        }
        nvrss_build_lut(&lut, key);
        for (i = 0; i < len; i++) {
            h ^= lut.v[i][in[i]];
        }
        if (h != rss_ref_toeplitz(key, sizeof(key), in, len)) {
            bad++;
        }
    }
    return bad == 0;
}

static int check_long_options(Prog *ours, GRand *g);

static int do_check(Prog *progs, int n_progs, unsigned rounds)
{
    g_autoptr(GRand) g = g_rand_new_with_seed(0x4e565253);
    unsigned *bad = g_new0(unsigned, n_progs * ARRAY_SIZE(classes));
    unsigned *bad_trunc = g_new0(unsigned, n_progs);
    unsigned total = 0, n_trunc = 0, round, k, i;
    uint8_t frame[FRAME_MAX];
    int failed = 0;
    RssConfig c;
    Flow f;

    printf("TAP version 13\n");
    tap(rss_ref_self_test() == 0, "reference model matches the published "
        "vectors");
    tap(check_lut(g), "lookup tables reproduce the Toeplitz hash");

    for (round = 0; round < rounds; round++) {
        /* Every other round enables every type, the others random ones */
        config_random(g, &c, round % 2 == 0);
        for (i = 0; i < n_progs; i++) {
            configure(&progs[i], &c);
        }
        for (k = 0; k < ARRAY_SIZE(classes); k++) {
            size_t len, cut;

            flow_random(g, &f);
            len = build_frame(&classes[k], &f, frame);
            for (i = 0; i < n_progs; i++) {
                if (run(&progs[i], frame, len, 1, NULL) !=
                    expect(&c, frame, len)) {
                    bad[i * ARRAY_SIZE(classes) + k]++;
                }
            }
            /*
             * Every truncation of some of them: the parser's bounds.
             * (Those the kernel refuses to run are not counted.)
             */
            if (round % 8 == 0) {
                for (cut = ETH_HDR_LEN; cut < len; cut++) {
                    for (i = 0; i < n_progs; i++) {
                        int64_t q = try_run(&progs[i], frame, cut, 1, NULL);

                        if (q >= 0 && q != expect(&c, frame, cut)) {
                            bad_trunc[i]++;
                        }
                        n_trunc += q >= 0 && i == 0;
                    }
                }
            }
            total++;
        }
    }

    for (i = 0; i < n_progs; i++) {
        for (k = 0; k < ARRAY_SIZE(classes); k++) {
            unsigned b = bad[i * ARRAY_SIZE(classes) + k];

            if (i == 0) {
                tap(!b, "%s: %s: %u/%u wrong queues", progs[i].name,
                    classes[k].name, b, rounds);
                failed += !!b;
            } else if (b) {
                /* Only informative: upstream's bugs are not ours to fail */
                printf("# %s: %s: %u/%u wrong queues\n", progs[i].name,
                       classes[k].name, b, rounds);
            }
        }
        if (i == 0) {
            tap(!bad_trunc[i] && n_trunc, "%s: truncated frames: %u/%u "
                "wrong queues", progs[i].name, bad_trunc[i], n_trunc);
            failed += !!bad_trunc[i];
        } else {
            printf("# %s: truncated frames: %u/%u wrong queues\n",
                   progs[i].name, bad_trunc[i], n_trunc);
        }
    }
    /* Last: its tap moves us to a network namespace of our own */
    failed += check_long_options(&progs[0], g);
    printf("1..%u\n", tap_n);
    printf("# %u frames x %d programs checked against the reference\n",
           total, n_progs);
    g_free(bad);
    g_free(bad_trunc);
    return failed ? 1 : 0;
}

/* --bench */

typedef struct Stats {
    double median, min, max;
} Stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static Stats stats_of(const double *v, unsigned n)
{
    double s[MAX_RUNS];
    Stats st;

    g_assert(n > 0 && n <= MAX_RUNS);
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_double);
    st.min = s[0];
    st.max = s[n - 1];
    st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    return st;
}

/* "median (min-max)" */
static char *fmt_stats(Stats st, int prec)
{
    return g_strdup_printf("%.*f (%.*f-%.*f)", prec, st.median, prec, st.min,
                           prec, st.max);
}

/* How the tap picks queues (section "tap") */
typedef enum Steer {
    STEER_TUN, STEER_UPSTREAM, STEER_OURS, STEER_KRSS, STEER_KRSS_REPORT,
    N_STEER
} Steer;

static const char *const steer_name[N_STEER] = {
    "tun, no program", "upstream eBPF", "ours eBPF", "kernel RSS",
    "kernel RSS + hash report",
};

typedef struct Bench {
    Prog *progs;                /* [0] ours, [1] upstream */
    RssConfig c;                /* the guest's RSS configuration */
    Flow flow;                  /* the flow of the single-frame timings */
    unsigned runs, repeat, tap_packets;
    const char *out_dir;
    bool kernel_rss;            /* the tun series' RSS modes too */
    bool no_ours;               /* ours would not load (--kernel-rss) */
    unsigned n_steer;           /* steerings compared on the tap, */
    Steer steer[N_STEER];       /* ... in this order, STEER_TUN first */
} Bench;

/*
 * Each section prints its Markdown and, under --out-dir, writes it to
 * NAME.md and its plot data to NAME.dat for netvirt/bench-ebpf-rss.
 */
typedef struct Section {
    const char *name;
    char *text;
    size_t len;
    FILE *md, *data;
} Section;

static void section_begin(const Bench *b, Section *s, const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/%s.dat", b->out_dir, name);

    s->name = name;
    s->text = NULL;
    s->md = open_memstream(&s->text, &s->len);
    s->data = fopen(b->out_dir ? path : "/dev/null", "w");
    if (!s->md || !s->data) {
        perror(path);
        exit(1);
    }
}

static void section_end(const Bench *b, Section *s)
{
    GError *gerr = NULL;

    fclose(s->md);
    fclose(s->data);
    printf("%s\n", s->text);
    fflush(stdout);
    if (b->out_dir) {
        g_autofree char *path = g_strdup_printf("%s/%s.md", b->out_dir,
                                                s->name);

        if (!g_file_set_contents(path, s->text, -1, &gerr)) {
            fprintf(stderr, "%s\n", gerr->message);
            exit(1);
        }
    }
    free(s->text);
}

/*
 * Time every program on one frame, taking turns run by run so that both
 * see the same machine (other load, frequency changes).
 */
static void measure(Prog *progs, int n_progs, const uint8_t *frame,
                    size_t len, unsigned runs, unsigned repeat, Stats *st)
{
    double ns[2][MAX_RUNS];
    uint32_t t;
    unsigned i, r;

    g_assert(runs <= MAX_RUNS && n_progs <= 2);
    for (i = 0; i < n_progs; i++) {
        run(&progs[i], frame, len, repeat / 10, NULL);      /* warm up */
    }
    for (r = 0; r < runs; r++) {
        for (i = 0; i < n_progs; i++) {
            run(&progs[i], frame, len, repeat, &t);
            ns[i][r] = t;
        }
    }
    for (i = 0; i < n_progs; i++) {
        st[i] = stats_of(ns[i], runs);
    }
}

static void prog_sizes(const Prog *p, FILE *out)
{
    struct bpf_prog_info info = {};
    uint32_t len = sizeof(info);

    if (bpf_prog_get_info_by_fd(p->fd, &info, &len)) {
        fprintf(out, "| %s | ? | ? | ? |\n", p->name);
        return;
    }
    fprintf(out, "| %s | %u | %u | %u |\n", p->name,
            info.xlated_prog_len / 8, info.jited_prog_len,
            info.verified_insns);
}

/* Section "bpf": each program alone, BPF_PROG_TEST_RUN */
static int bench_bpf(const Bench *b)
{
    const RssConfig *c = &b->c;
    Prog *progs = b->progs;
    Stats st[N_BENCH_CLASSES][2];
    uint32_t got[2][N_BENCH_CLASSES], want[N_BENCH_CLASSES];
    uint8_t frame[N_BENCH_CLASSES][FRAME_MAX];
    size_t len[N_BENCH_CLASSES];
    int i, k, bad = 0;
    Section s;

    for (k = 0; k < N_BENCH_CLASSES; k++) {
        len[k] = build_frame(&classes[k], &b->flow, frame[k]);
        want[k] = expect(c, frame[k], len[k]);
        for (i = 0; i < 2; i++) {
            got[i][k] = run(&progs[i], frame[k], len[k], 1, NULL);
            bad += got[i][k] != want[k] && i == 0;
        }
    }
    for (k = 0; k < N_BENCH_CLASSES; k++) {
        measure(progs, 2, frame[k], len[k], b->runs, b->repeat, st[k]);
        fprintf(stderr, "bpf: %s: upstream %.0f ns, ours %.0f ns\n",
                classes[k].name, st[k][1].median, st[k][0].median);
    }

    section_begin(b, &s, "bpf");
    fprintf(s.md, "Time per packet, BPF_PROG_TEST_RUN, median of %u runs of "
            "%u repetitions (min-max); all hash types enabled, "
            "128-entry table, %d queues.\n\n", b->runs, b->repeat,
            NR_QUEUES);
    fprintf(s.md, "| frame class | bytes | upstream ns | ours ns | "
            "ours/upstream | queue (ref / upstream / ours) |\n");
    fprintf(s.md, "| --- | ---: | ---: | ---: | ---: | --- |\n");
    for (k = 0; k < N_BENCH_CLASSES; k++) {
        g_autofree char *up = fmt_stats(st[k][1], 0);
        g_autofree char *ours = fmt_stats(st[k][0], 0);

        fprintf(s.md, "| %s | %zu | %s | %s | %.2f | %u / %u / %u%s |\n",
                classes[k].name, len[k], up, ours,
                st[k][0].median / st[k][1].median, want[k], got[1][k],
                got[0][k],
                got[0][k] != want[k] || got[1][k] != want[k] ?
                " **MISMATCH**" : "");
        fprintf(s.data, "\"%s\" %.1f %.1f %.1f %.1f %.1f %.1f\n",
                classes[k].name, st[k][1].median, st[k][1].min,
                st[k][1].max, st[k][0].median, st[k][0].min,
                st[k][0].max);
    }
    fprintf(s.md, "\nProgram size (xlated instructions, JITed bytes) and "
            "instructions the verifier processed:\n\n");
    fprintf(s.md, "| program | xlated insns | jited bytes | "
            "verified insns |\n| --- | ---: | ---: | ---: |\n");
    prog_sizes(&progs[1], s.md);
    prog_sizes(&progs[0], s.md);
    section_end(b, &s);
    return bad ? 1 : 0;
}

/* Section "sw": virtio-net's software RSS, as hw/net/virtio-net.c runs it */

/* The hash type virtio-net picks for a parsed packet, -1 for none */
static int sw_hash_type(bool ip4, bool ip6, bool ip6_ext,
                        EthL4HdrProto l4, uint32_t types)
{
    bool tcp = l4 == ETH_L4_HDR_PROTO_TCP, udp = l4 == ETH_L4_HDR_PROTO_UDP;

    if (ip4) {
        if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)) {
            return NetPktRssIpV4Tcp;
        }
        if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4)) {
            return NetPktRssIpV4Udp;
        }
        return types & VIRTIO_NET_RSS_HASH_TYPE_IPv4 ? NetPktRssIpV4 : -1;
    }
    if (!ip6) {
        return -1;
    }
    if (ip6_ext) {
        if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)) {
            return NetPktRssIpV6TcpEx;
        }
        if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)) {
            return NetPktRssIpV6UdpEx;
        }
        if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX) {
            return NetPktRssIpV6Ex;
        }
    }
    if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6)) {
        return NetPktRssIpV6Tcp;
    }
    if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) {
        return NetPktRssIpV6Udp;
    }
    return types & VIRTIO_NET_RSS_HASH_TYPE_IPv6 ? NetPktRssIpV6 : -1;
}

/* Parse, pick the hash type, hash, look up the table: one packet */
static uint32_t sw_queue(struct NetRxPkt *pkt, const RssConfig *c,
                         const uint8_t *frame, size_t len)
{
    struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
    bool ip4, ip6;
    EthL4HdrProto l4;
    uint32_t hash;
    int type;

    net_rx_pkt_set_protocols(pkt, &iov, 1, 0);
    net_rx_pkt_get_protocols(pkt, &ip4, &ip6, &l4);
    type = sw_hash_type(ip4, ip6,
                        ip6 && net_rx_pkt_get_ip6_info(pkt)->has_ext_hdrs,
                        l4, c->types);
    if (type < 0) {
        return c->default_queue;
    }
    hash = net_rx_pkt_calc_rss_hash(pkt, type, (uint8_t *)c->key);
    return c->table[hash & (c->table_len - 1)];
}

/*
 * CPU time of this thread, user and system: unlike the wall clock it
 * leaves out the time other load on the machine takes from us, as
 * BPF_PROG_TEST_RUN's own timer does.
 */
static int64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double sw_time(struct NetRxPkt *pkt, const RssConfig *c,
                      const uint8_t *frame, size_t len, unsigned repeat)
{
    uint32_t sink = 0;
    unsigned i;
    int64_t t0 = cpu_ns();

    for (i = 0; i < repeat; i++) {
        sink += sw_queue(pkt, c, frame, len);
    }
    t0 = cpu_ns() - t0;
    /* Keeps the loop: the queues must add up */
    g_assert(sink == repeat * sw_queue(pkt, c, frame, len));
    return (double)t0 / repeat;
}

static int bench_sw(const Bench *b)
{
    static const int sw_classes[] = { 0, 2 };     /* IPv4/TCP, IPv6/TCP */
    struct NetRxPkt *pkt;
    Section s;
    int j;

    net_rx_pkt_init(&pkt);
    section_begin(b, &s, "sw");
    fprintf(s.md, "ns per packet of QEMU's software RSS (what "
            "hw/net/virtio-net.c runs when no eBPF program steers: "
            "`net_rx_pkt_set_protocols`, `net_rx_pkt_get_protocols`, "
            "hash type, `net_rx_pkt_calc_rss_hash`, table lookup; "
            "a loop timed by its thread's CPU time) against our eBPF program "
            "(BPF_PROG_TEST_RUN), taking turns run by run: median of %u "
            "runs of %u packets (min-max), same configuration as above.\n\n",
            b->runs, b->repeat);
    fprintf(s.md, "| frame class | software ns | ours eBPF ns | "
            "software / ours | queue (ref / software / ours) |\n"
            "| --- | ---: | ---: | ---: | --- |\n");
    for (j = 0; j < ARRAY_SIZE(sw_classes); j++) {
        const FrameClass *fc = &classes[sw_classes[j]];
        double sw[MAX_RUNS], ours[MAX_RUNS], ratio[MAX_RUNS];
        uint8_t frame[FRAME_MAX];
        uint32_t want, got_sw, got_ours, ns;
        Stats st_sw, st_ours, st_ratio;
        size_t len = build_frame(fc, &b->flow, frame);
        unsigned r;

        want = expect(&b->c, frame, len);
        got_sw = sw_queue(pkt, &b->c, frame, len);
        got_ours = run(&b->progs[0], frame, len, 1, NULL);
        sw_time(pkt, &b->c, frame, len, b->repeat / 10);    /* warm up */
        run(&b->progs[0], frame, len, b->repeat / 10, NULL);
        for (r = 0; r < b->runs; r++) {
            run(&b->progs[0], frame, len, b->repeat, &ns);
            ours[r] = ns;
            sw[r] = sw_time(pkt, &b->c, frame, len, b->repeat);
            ratio[r] = sw[r] / ours[r];
        }
        st_sw = stats_of(sw, b->runs);
        st_ours = stats_of(ours, b->runs);
        st_ratio = stats_of(ratio, b->runs);
        fprintf(stderr, "sw: %s: software %.0f ns, ours %.0f ns\n",
                fc->name, st_sw.median, st_ours.median);
        {
            g_autofree char *a = fmt_stats(st_sw, 0);
            g_autofree char *o = fmt_stats(st_ours, 0);
            g_autofree char *q = fmt_stats(st_ratio, 2);

            fprintf(s.md, "| %s | %s | %s | %s | %u / %u / %u%s |\n",
                    fc->name, a, o, q, want, got_sw, got_ours,
                    got_sw != want || got_ours != want ?
                    " **MISMATCH**" : "");
        }
        fprintf(s.data, "\"%s\" %.1f %.1f %.1f %.1f %.1f %.1f\n", fc->name,
                st_sw.median, st_sw.min, st_sw.max, st_ours.median,
                st_ours.min, st_ours.max);
    }
    section_end(b, &s);
    net_rx_pkt_uninit(pkt);
    return 0;
}

/* Sections "tap" and "consistency": a real multiqueue tap */

#define TAP_BATCH       256     /* the tap's queues hold 500 */
#define TAP_FLOWS       1024
#define TAP_CHECK_FLOWS 64      /* per frame class */
#define TAP_SLICES      16      /* turns per run */
#define VNET_HDR_LEN    10      /* the tap's default */
#define VNET_HASH_HDR_LEN 20    /* struct virtio_net_hdr_v1_hash */
#define N_HOST_STEER    3       /* without --kernel-rss */

static bool steer_is_kernel(Steer s)
{
    return s == STEER_KRSS || s == STEER_KRSS_REPORT;
}

typedef struct Tap {
    int q[NR_QUEUES];
    int sock;
    int ifindex;
    char ifname[IFNAMSIZ];
    int hdr_len;                /* TUNSETVNETHDRSZ */
} Tap;

/*
 * The tun series must offer what the guest's configuration needs: a
 * kernel that cannot would leave a gap in the tables, so say why and
 * stop before measuring anything.
 */
static bool kernel_rss_probe(const RssConfig *c)
{
    const uint32_t need = TUN_VNET_HASH_F_RSS | TUN_VNET_HASH_F_REPORT;
    struct tun_vnet_hash_cap cap = {};
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "kernel RSS cannot be set up: /dev/net/tun: %s\n",
                strerror(errno));
        return false;
    }
    if (ioctl(fd, TUNGETVNETHASHCAP, &cap) < 0) {
        fprintf(stderr, "kernel RSS cannot be set up: TUNGETVNETHASHCAP: "
                "%s (a kernel without patches/linux/? run the bench in "
                "netvirt/hostvm/run)\n", strerror(errno));
        close(fd);
        return false;
    }
    close(fd);
    if ((cap.flags & need) != need || (cap.hash_types & c->types) != c->types ||
        cap.max_table_len < c->table_len || cap.max_key_size < sizeof(c->key)) {
        fprintf(stderr, "kernel RSS cannot be set up: the kernel offers "
                "flags 0x%x, hash types 0x%x, %u table entries, %u key bytes; "
                "the bench needs 0x%x, 0x%x, %u, %zu\n", cap.flags,
                cap.hash_types, cap.max_table_len, cap.max_key_size, need,
                c->types, c->table_len, sizeof(c->key));
        return false;
    }
    return true;
}

/*
 * The tap lives in a network namespace of our own, unshared from the
 * one we were started in: when this process ends, however it ends
 * (SIGINT, SIGTERM, even SIGKILL), the kernel deletes the namespace with
 * the tap, and nothing we send can leave it.
 */
static bool tap_create(Tap *t)
{
    g_autofree char *sysctl = NULL;
    struct sockaddr_ll sll = { .sll_family = AF_PACKET };
    struct ifreq ifr;
    int i, s, sndbuf = 16 << 20;

    t->hdr_len = VNET_HDR_LEN;
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return false;
    }
    for (i = 0; i < NR_QUEUES; i++) {
        t->q[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (t->q[i] < 0) {
            fprintf(stderr, "/dev/net/tun: %s\n", strerror(errno));
            return false;
        }
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
        pstrcpy(ifr.ifr_name, IFNAMSIZ, i ? t->ifname : "nvbench%d");
        if (ioctl(t->q[i], TUNSETIFF, &ifr) < 0) {
            fprintf(stderr, "TUNSETIFF: %s\n", strerror(errno));
            return false;
        }
        pstrcpy(t->ifname, IFNAMSIZ, ifr.ifr_name);
    }

    /* No IPv6 chatter (DAD, router solicitations) on the queues */
    sysctl = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6",
                             t->ifname);
    g_file_set_contents(sysctl, "1", 1, NULL);
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof(ifr));
    pstrcpy(ifr.ifr_name, IFNAMSIZ, t->ifname);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        fprintf(stderr, "%s: %s\n", t->ifname, strerror(errno));
        return false;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        fprintf(stderr, "%s up: %s\n", t->ifname, strerror(errno));
        return false;
    }
    close(s);
    t->ifindex = if_nametoindex(t->ifname);

    /*
     * Protocol 0: transmit only.  Queued frames count against the
     * sender's buffer until read: make room for a batch.
     */
    t->sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    sll.sll_ifindex = t->ifindex;
    if (t->sock < 0 ||
        setsockopt(t->sock, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
                   sizeof(sndbuf)) < 0 ||
        bind(t->sock, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        fprintf(stderr, "AF_PACKET socket: %s\n", strerror(errno));
        return false;
    }
    return true;
}

static void tap_close(Tap *t)
{
    int i;

    for (i = 0; i < NR_QUEUES; i++) {
        close(t->q[i]);
    }
    close(t->sock);
}

static void tap_hdr_len(Tap *t, int len)
{
    if (ioctl(t->q[0], TUNSETVNETHDRSZ, &len) < 0) {
        fprintf(stderr, "TUNSETVNETHDRSZ %d: %s\n", len, strerror(errno));
        exit(1);
    }
    t->hdr_len = len;
}

/* The guest's RSS configuration, as QEMU's tap backend hands it over */
static void tap_vnet_hash(Tap *t, const Bench *b, uint32_t flags)
{
    struct tun_vnet_hash h = { .flags = flags };
    unsigned i;

    if (flags) {
        h.hash_types = b->c.types;
        h.indirection_table_mask = b->c.table_len - 1;
        h.unclassified_queue = b->c.default_queue;
        h.key_length = sizeof(b->c.key);
        memcpy(h.key, b->c.key, sizeof(b->c.key));
        for (i = 0; i < b->c.table_len; i++) {
            h.indirection_table[i] = b->c.table[i];
        }
    }
    if (ioctl(t->q[0], TUNSETVNETHASH, &h) < 0) {
        fprintf(stderr, "kernel RSS: TUNSETVNETHASH (flags 0x%x): %s\n",
                flags, strerror(errno));
        exit(1);
    }
}

static void tap_steer(Tap *t, const Bench *b, Steer s)
{
    bool report = s == STEER_KRSS_REPORT;
    int fd = -1;

    /*
     * The kernel's RSS and a steering program exclude each other
     * (EBUSY): the old steering goes before the new one comes.
     */
    if (b->kernel_rss && !steer_is_kernel(s)) {
        tap_vnet_hash(t, b, 0);
        tap_hdr_len(t, VNET_HDR_LEN);
    }
    if (s == STEER_UPSTREAM || s == STEER_OURS) {
        fd = b->progs[s == STEER_OURS ? 0 : 1].fd;
    }
    if (ioctl(t->q[0], TUNSETSTEERINGEBPF, &fd) < 0) {
        fprintf(stderr, "TUNSETSTEERINGEBPF: %s\n", strerror(errno));
        exit(1);
    }
    if (steer_is_kernel(s)) {
        /* Reports need the longer header before they are turned on */
        tap_hdr_len(t, report ? VNET_HASH_HDR_LEN : VNET_HDR_LEN);
        tap_vnet_hash(t, b, TUN_VNET_HASH_F_RSS |
                      (report ? TUN_VNET_HASH_F_REPORT : 0));
    }
}

static void tap_addr(const Tap *t, const uint8_t *frame,
                     struct sockaddr_ll *sll)
{
    memset(sll, 0, sizeof(*sll));
    sll->sll_family = AF_PACKET;
    sll->sll_ifindex = t->ifindex;
    sll->sll_protocol = htons(frame[12] << 8 | frame[13]);
    sll->sll_halen = ETH_ALEN;
    memcpy(sll->sll_addr, frame, ETH_ALEN);
}

/* Frames ready for sendmmsg */
typedef struct TxRing {
    uint8_t (*frame)[FRAME_MAX];
    struct iovec *iov;
    struct sockaddr_ll *sll;
    struct mmsghdr *msg;
    unsigned n;
} TxRing;

static void ring_init(TxRing *ring, const Tap *t, const FrameClass *fc,
                      GRand *g, unsigned n)
{
    unsigned i;
    Flow f;

    ring->n = n;
    ring->frame = g_malloc(n * FRAME_MAX);
    ring->iov = g_new0(struct iovec, n);
    ring->sll = g_new0(struct sockaddr_ll, n);
    ring->msg = g_new0(struct mmsghdr, n);
    for (i = 0; i < n; i++) {
        flow_random(g, &f);
        ring->iov[i].iov_base = ring->frame[i];
        ring->iov[i].iov_len = build_frame(fc, &f, ring->frame[i]);
        tap_addr(t, ring->frame[i], &ring->sll[i]);
        ring->msg[i].msg_hdr.msg_name = &ring->sll[i];
        ring->msg[i].msg_hdr.msg_namelen = sizeof(ring->sll[i]);
        ring->msg[i].msg_hdr.msg_iov = &ring->iov[i];
        ring->msg[i].msg_hdr.msg_iovlen = 1;
    }
}

static void ring_free(TxRing *ring)
{
    g_free(ring->frame);
    g_free(ring->iov);
    g_free(ring->sll);
    g_free(ring->msg);
}

static void tap_send(Tap *t, struct mmsghdr *msg, unsigned n)
{
    while (n) {
        int r = sendmmsg(t->sock, msg, n, 0);

        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "sendmmsg on %s: %s\n", t->ifname,
                    strerror(errno));
            exit(1);
        }
        if (r > 0) {
            msg += r;
            n -= r;
        }
    }
}

static unsigned tap_drain(Tap *t)
{
    uint8_t buf[VNET_HASH_HDR_LEN + 2048];
    unsigned n = 0, i;

    for (i = 0; i < NR_QUEUES; i++) {
        for (;;) {
            ssize_t r = read(t->q[i], buf, sizeof(buf));

            if (r >= 0) {
                n++;
            } else if (errno == EAGAIN) {
                break;
            } else if (errno != EINTR) {
                fprintf(stderr, "read from %s: %s\n", t->ifname,
                        strerror(errno));
                exit(1);
            }
        }
    }
    return n;
}

/*
 * Packets per second through the tap, host side to queue fds: send a
 * batch, read every queue empty, again.  One thread does both, and the
 * tap transmits in the sender's context, so per second of that thread's
 * CPU time this is the cost of the whole path, steering included.
 */
static void tap_pass(Tap *t, TxRing *ring, unsigned packets,
                     unsigned *got, int64_t *ns)
{
    unsigned sent = 0;
    int64_t t0 = cpu_ns();

    while (sent < packets) {
        tap_send(t, ring->msg + sent % ring->n, TAP_BATCH);
        sent += TAP_BATCH;
        *got += tap_drain(t);
    }
    *ns += cpu_ns() - t0;
}

/*
 * One run: kpps of each steering.  They take turns slice by slice, so
 * that whatever else the machine does drifts over all of them alike.
 */
static void tap_run(Tap *t, const Bench *b, TxRing *ring, unsigned packets,
                    unsigned first, double *kpps, unsigned *lost)
{
    unsigned got[N_STEER] = {}, slice, i;
    int64_t ns[N_STEER] = {};

    for (slice = 0; slice < TAP_SLICES; slice++) {
        for (i = 0; i < b->n_steer; i++) {
            Steer m = b->steer[(first + slice + i) % b->n_steer];

            tap_steer(t, b, m);
            tap_pass(t, ring, packets / TAP_SLICES, &got[m], &ns[m]);
        }
    }
    for (i = 0; i < N_STEER; i++) {
        if (!ns[i]) {
            continue;           /* not compared */
        }
        /* (Frames of the kernel's own may come on top) */
        lost[i] += packets > got[i] ? packets - got[i] : 0;
        kpps[i] = got[i] * 1e6 / ns[i];
    }
}

/*
 * The queue a frame just sent was read from, -1 if lost; its virtio-net
 * header goes to @hdr (VNET_HASH_HDR_LEN bytes).
 */
static int tap_find(Tap *t, const uint8_t *frame, size_t len, uint8_t *hdr)
{
    static uint8_t buf[VNET_HASH_HDR_LEN + 65536];
    struct pollfd pfd[NR_QUEUES];
    int i, tries;

    for (tries = 0; tries < 10; tries++) {
        for (i = 0; i < NR_QUEUES; i++) {
            ssize_t r;

            /* Anything else (the kernel's own frames) is skipped */
            while ((r = read(t->q[i], buf, sizeof(buf))) >= 0) {
                if (r == t->hdr_len + len &&
                    !memcmp(buf + t->hdr_len, frame, len)) {
                    memset(hdr, 0, VNET_HASH_HDR_LEN);
                    memcpy(hdr, buf, t->hdr_len);
                    return i;
                }
            }
            pfd[i].fd = t->q[i];
            pfd[i].events = POLLIN;
        }
        poll(pfd, NR_QUEUES, 20);
    }
    return -1;
}

/* Send one frame and return the queue it was read from, as tap_find() */
static int tap_where(Tap *t, const uint8_t *frame, size_t len, uint8_t *hdr)
{
    struct sockaddr_ll sll;

    tap_addr(t, frame, &sll);
    if (sendto(t->sock, frame, len, 0, (struct sockaddr *)&sll,
               sizeof(sll)) != len) {
        fprintf(stderr, "send on %s: %s\n", t->ifname, strerror(errno));
        exit(1);
    }
    return tap_find(t, frame, len, hdr);
}

/*
 * --check: long destination options (finding 8 of
 * docs/devel/netvirt-fuzzing.rst).  The program walked at most 64 steps,
 * one per header and one per option, Pad1 bytes included, and so missed
 * a home address option after a few hundred bytes of padding.  Now it
 * must agree with the reference up to the reference's own limits: 16
 * extension headers of up to 2048 bytes each.
 */

#define OPT_PAD1        0x00
#define OPT_PADN        0x01
#define OPT_HAO         0xc9
#define OPT_UNKNOWN     0x1e    /* RFC 4727 experiment: skip if unknown */
#define EXT_HDR_MAX     2048    /* (255 + 1) * 8 */
#define EXT_HDRS_MAX    16
/* Everything the reference walks, then a TCP header */
#define LONG_FRAME_MAX  (ETH_HDR_LEN + 40 + 17 * EXT_HDR_MAX + 20)
/* BPF_PROG_TEST_RUN takes a page at most, less its own room */
#define TEST_RUN_MAX    3584
#define LONG_FLOWS      16

/* Fills options [@from, @to) of @h with padding */
typedef enum Fill { FILL_PAD1, FILL_PADN, FILL_TLV2 } Fill;

static void fill_opts(uint8_t *h, size_t from, size_t to, Fill fill)
{
    size_t o = from, n;

    memset(h + from, 0, to - from);
    while (fill != FILL_PAD1 && to - o >= 2) {
        /* Two-byte options of a type to skip, or PadN as long as fits */
        n = fill == FILL_TLV2 ? 2 : MIN(to - o, 257);
        if (to - o - n == 1) {
            n--;        /* leave no single byte: it would be a Pad1 */
        }
        h[o] = fill == FILL_TLV2 ? OPT_UNKNOWN : OPT_PADN;
        h[o + 1] = n - 2;
        o += n;
    }
}

/* An option of @type whose data is @len bytes of @data, zero-padded */
static size_t put_opt(uint8_t *h, size_t o, uint8_t type, uint8_t len,
                      const uint8_t *data, size_t data_len)
{
    h[o] = type;
    h[o + 1] = len;
    memset(h + o + 2, 0, len);
    memcpy(h + o + 2, data, MIN(len, data_len));
    return o + 2 + len;
}

/* Ethernet and IPv6 headers of @f; *@nh is the next header field */
static size_t ip6_begin(uint8_t *buf, const Flow *f, uint8_t **nh)
{
    uint8_t *p = buf + ETH_HDR_LEN;

    memset(buf, 0, 12);
    buf[0] = 0x52;
    buf[6] = 0x02;
    put16(buf + 12, ETH_IP6);
    memset(p, 0, 40);
    p[0] = 0x60;
    p[7] = 64;
    memcpy(p + 8, f->src6, 16);
    memcpy(p + 24, f->dst6, 16);
    *nh = p + 6;
    return ETH_HDR_LEN + 40;
}

/* Appends an extension header of @type and @hlen bytes, zeroed */
static uint8_t *ip6_ext(uint8_t *buf, size_t *len, uint8_t **nh,
                        uint8_t type, size_t hlen)
{
    uint8_t *h = buf + *len;

    g_assert(*len + hlen <= LONG_FRAME_MAX - 20);
    memset(h, 0, hlen);
    **nh = type;
    h[1] = type == IPPROTO_AH ? hlen / 4 - 2 : hlen / 8 - 1;
    *nh = h;
    *len += hlen;
    return h;
}

/* Ends the chain with @proto (and its header if TCP or UDP) */
static size_t ip6_end(uint8_t *buf, size_t len, uint8_t *nh, uint8_t proto,
                      const Flow *f)
{
    *nh = proto;
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        len += put_l4(buf + len, proto, f);
    }
    put16(buf + ETH_HDR_LEN + 4, len - ETH_HDR_LEN - 40);
    return len;
}

typedef enum LongLayout {
    L_FINDING8,
    L_FINDING8_BAD_AFTER,
    L_FINDING8_BAD_BEFORE,
    L_PAD1_2K,
    L_TLV2_2K,
    L_PADN_2K,
    L_THREE_HDRS,
    L_SEVENTEEN,
    N_TEST_RUN_LAYOUTS,
    /* Too long for BPF_PROG_TEST_RUN: through a tap */
    W_PAD1 = N_TEST_RUN_LAYOUTS,
    W_TLV2,
    W_PADN,
    N_LAYOUTS
} LongLayout;

static const char *const layout_name[N_LAYOUTS] = {
    [L_FINDING8] = "finding 8: home address options among 400 bytes of "
                   "Pad1, the last one valid",
    [L_FINDING8_BAD_AFTER] = "the same, then an option overrunning its "
                             "header",
    [L_FINDING8_BAD_BEFORE] = "the same with the overrunning option before "
                              "the last home address",
    [L_PAD1_2K] = "2048-byte header of Pad1, home address at its end",
    [L_TLV2_2K] = "2048-byte header of 2-byte options, home address at "
                  "its end",
    [L_PADN_2K] = "2048-byte header of PadN, home address at its end",
    [L_THREE_HDRS] = "3 headers of 1 KiB, home addresses in the first and "
                     "at the end of the last",
    [L_SEVENTEEN] = "17 destination options headers of 200 bytes, home "
                    "addresses deep in each",
    [W_PAD1] = "16 headers of 2048 bytes of Pad1, home address at the end",
    [W_TLV2] = "16 headers of 2048 bytes of 2-byte options, home address "
               "at the end",
    [W_PADN] = "16 headers of 2048 bytes of PadN, home address at the end",
};

/*
 * A frame of @layout for @f, ending with TCP.  A @decoy is the frame as a
 * walk that goes wrong would see it: the home address option that counts
 * turned into an option of another type (or, where an overrunning option
 * hides the last one, that option left out).  The answers for a frame and
 * its decoy differ for most flows and configurations: then the frame
 * tells a walk that goes wrong.
 */
static size_t build_long(LongLayout layout, const Flow *f, bool decoy,
                         uint8_t *buf)
{
    static const Fill w_fill[] = {
        [W_PAD1 - W_PAD1] = FILL_PAD1, [W_TLV2 - W_PAD1] = FILL_TLV2,
        [W_PADN - W_PAD1] = FILL_PADN,
    };
    uint8_t last = decoy ? OPT_UNKNOWN : OPT_HAO;
    uint8_t *nh, *h = NULL;
    size_t len = ip6_begin(buf, f, &nh), o;
    int i;

    switch (layout) {
    case L_FINDING8:
    case L_FINDING8_BAD_AFTER:
    case L_FINDING8_BAD_BEFORE:
        h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, 400);
        o = put_opt(h, 2, OPT_HAO, 16, f->rt2, 16);
        /* A home address option too short to count */
        o = put_opt(h, o + 150, OPT_HAO, 12, f->dst6, 16);
        if (layout == L_FINDING8_BAD_BEFORE) {
            if (!decoy) {
                put_opt(h, o + 40, OPT_UNKNOWN, 255, NULL, 0);
            }
            /* The reference never reads this one */
            put_opt(h, 300, OPT_HAO, 16, f->home, 16);
            break;
        }
        o = put_opt(h, 300, last, 16, f->home, 16);
        if (layout == L_FINDING8_BAD_AFTER) {
            h[o + 30] = OPT_UNKNOWN;
            h[o + 31] = 255;
        }
        break;
    case L_PAD1_2K:
    case L_TLV2_2K:
    case L_PADN_2K:
        h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, EXT_HDR_MAX);
        fill_opts(h, 2, EXT_HDR_MAX - 18, layout == L_PAD1_2K ? FILL_PAD1 :
                  layout == L_TLV2_2K ? FILL_TLV2 : FILL_PADN);
        put_opt(h, EXT_HDR_MAX - 18, last, 16, f->home, 16);
        break;
    case L_THREE_HDRS:
        h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, 1024);
        put_opt(h, 500, OPT_HAO, 16, f->rt2, 16);
        /* Hop-by-hop options are not destination options */
        h = ip6_ext(buf, &len, &nh, 0, 1024);
        put_opt(h, 1000, OPT_HAO, 16, f->src6, 16);
        h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, 1024);
        fill_opts(h, 2, 1024 - 18, FILL_TLV2);
        put_opt(h, 1024 - 18, last, 16, f->home, 16);
        break;
    case L_SEVENTEEN:
        for (i = 0; i < 17; i++) {
            const uint8_t *addr = i == 15 ? f->home : i == 16 ? f->dst6 :
                                  f->rt2;

            h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, 200);
            put_opt(h, 2 + i * 9, i == 15 ? last : OPT_HAO, 16, addr, 16);
        }
        break;
    case W_PAD1:
    case W_TLV2:
    case W_PADN:
        for (i = 0; i < EXT_HDRS_MAX; i++) {
            h = ip6_ext(buf, &len, &nh, IPPROTO_DSTOPTS, EXT_HDR_MAX);
            fill_opts(h, 2, EXT_HDR_MAX - 18, w_fill[layout - W_PAD1]);
        }
        put_opt(h, EXT_HDR_MAX - 18, last, 16, f->home, 16);
        break;
    default:
        g_assert_not_reached();
    }
    return ip6_end(buf, len, nh, IPPROTO_TCP, f);
}

/*
 * A random chain of up to 17 headers, mostly destination options full of
 * padding, home address options (of every length), options of other
 * types and options that overrun their header, in at most @max bytes.
 */
static size_t build_random_opts(GRand *g, const Flow *f, uint8_t *buf,
                                size_t max)
{
    static const uint8_t l4[] = { IPPROTO_TCP, IPPROTO_UDP, 59 };
    uint8_t *nh, *h;
    size_t len = ip6_begin(buf, f, &nh);
    int n = g_rand_int_range(g, 1, 18), i;

    for (i = 0; i < n && len + 8 + 20 <= max; i++) {
        int kind = g_rand_int_range(g, 0, 10);
        size_t room = (max - 20 - len) / 8 * 8, hlen, o;

        if (kind == 0) {
            h = ip6_ext(buf, &len, &nh, IPPROTO_FRAGMENT, 8);
            continue;
        }
        if (kind == 1 && room >= 24) {
            h = ip6_ext(buf, &len, &nh, IPPROTO_ROUTING, 24);
            h[2] = g_rand_int_range(g, 0, 3);
            h[3] = g_rand_int_range(g, 0, 2);
            memcpy(h + 8, f->rt2, 16);
            continue;
        }
        if (kind == 2 && room >= 24) {
            h = ip6_ext(buf, &len, &nh, IPPROTO_AH, 24);
            continue;
        }
        hlen = 8 * g_rand_int_range(g, 1, MIN(room, EXT_HDR_MAX) / 8 + 1);
        h = ip6_ext(buf, &len, &nh, kind == 3 ? 0 : IPPROTO_DSTOPTS, hlen);
        for (o = 2; o < hlen;) {
            size_t left = hlen - o;
            int what = g_rand_int_range(g, 0, 100);
            uint8_t olen;

            if (what < 40) {
                /* A run of Pad1 */
                o += MIN(left, g_rand_int_range(g, 1, 400));
            } else if (what < 60 && left >= 2) {
                o = put_opt(h, o, OPT_PADN, MIN(left - 2,
                            g_rand_int_range(g, 0, 256)), NULL, 0);
            } else if (what < 80 && left >= 2) {
                /* Home address options, valid or not, fitting or not */
                olen = g_rand_int_range(g, 0, 100) < 75 ?
                       g_rand_int_range(g, 16, 25) :
                       g_rand_int_range(g, 0, 16);
                if (olen + 2 > left) {
                    h[o] = OPT_HAO;
                    h[o + 1] = olen;
                    break;
                }
                o = put_opt(h, o, OPT_HAO, olen,
                            what & 1 ? f->home : f->src6, 16);
            } else if (what < 95 && left >= 2) {
                o = put_opt(h, o, g_rand_int_range(g, 2, 256),
                            MIN(left - 2, g_rand_int_range(g, 0, 8)),
                            NULL, 0);
            } else if (left >= 2) {
                /* Overruns the header (or exactly fits) */
                h[o] = OPT_UNKNOWN;
                h[o + 1] = MIN(255, left - 2 + g_rand_int_range(g, 0, 3));
                break;
            } else {
                h[o] = g_rand_int_range(g, 0, 256);
                o++;
            }
        }
    }
    return ip6_end(buf, len, nh, l4[g_rand_int_range(g, 0, 3)], f);
}

static bool tap_mtu(Tap *t, int mtu)
{
    struct ifreq ifr = { .ifr_mtu = mtu };
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok;

    pstrcpy(ifr.ifr_name, IFNAMSIZ, t->ifname);
    ok = s >= 0 && ioctl(s, SIOCSIFMTU, &ifr) == 0;
    if (!ok) {
        fprintf(stderr, "%s: MTU %d: %s\n", t->ifname, mtu, strerror(errno));
    }
    close(s);
    return ok;
}

/*
 * A packet socket with a virtio-net header, whose hdr_len is how much of
 * a frame the kernel puts in the skb's linear part at least: all of it
 * with send_linear(), so that the program's first load finds the headers.
 */
static int linear_sender(const Tap *t)
{
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_ifindex = t->ifindex,
    };
    int one = 1, s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

    if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one,
                            sizeof(one)) < 0 ||
        bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        fprintf(stderr, "AF_PACKET socket with PACKET_VNET_HDR: %s\n",
                strerror(errno));
        return -1;
    }
    return s;
}

/* Sends with a header_len of @linear: the skb's linear part, at least */
static void send_split(const Tap *t, int s, const uint8_t *frame,
                       size_t len, size_t linear)
{
    struct virtio_net_hdr vh = { .hdr_len = linear };
    struct sockaddr_ll sll;
    struct iovec iov[2] = {
        { .iov_base = &vh, .iov_len = sizeof(vh) },
        { .iov_base = (void *)frame, .iov_len = len },
    };
    struct msghdr msg = {
        .msg_name = &sll, .msg_namelen = sizeof(sll),
        .msg_iov = iov, .msg_iovlen = 2,
    };

    tap_addr(t, frame, &sll);
    if (sendmsg(s, &msg, 0) != sizeof(vh) + len) {
        fprintf(stderr, "send on %s: %s\n", t->ifname, strerror(errno));
        exit(1);
    }
}

static void send_linear(const Tap *t, int s, const uint8_t *frame,
                        size_t len)
{
    send_split(t, s, frame, len, len);
}

/*
 * --check: headers in page fragments.  A packet socket without
 * PACKET_VNET_HDR leaves just the Ethernet header in the skb's linear
 * part when a frame takes a page or more (packet_snd(): max(vnet
 * hdr_len, min(len, hard_header_len)) bytes) and puts the rest in page
 * fragments, where bpf_skb_load_bytes_relative() does not reach: the
 * program must read them otherwise.  Half the frames go through the tap
 * so, half with a virtio-net header whose hdr_len ends the linear part
 * at a random byte of their headers.
 */

/* A page and more, with the sender's headroom: always paged */
#define PAGED_MIN       5000
#define PAGED_FLOWS     16

static const char *const paged_classes[] = {
    "IPv4/TCP", "IPv4/UDP", "IPv6/TCP", "IPv6/UDP", "IPv6+ext/TCP",
    "VLAN IPv4/TCP", "QinQ IPv6/UDP",
};

static const FrameClass *class_named(const char *name)
{
    size_t k;

    for (k = 0; k < ARRAY_SIZE(classes); k++) {
        if (!strcmp(classes[k].name, name)) {
            return &classes[k];
        }
    }
    g_assert_not_reached();
}

/* Payload after the headers up to @len bytes, the IP length fixed up */
static size_t grow_frame(uint8_t *buf, size_t n, size_t l3, size_t len)
{
    uint16_t type = buf[l3 - 2] << 8 | buf[l3 - 1];

    g_assert(n <= len && len <= LONG_FRAME_MAX);
    memset(buf + n, 0xa5, len - n);
    if (type == ETH_IP4) {
        put16(buf + l3 + 2, len - l3);
    } else if (type == ETH_IP6) {
        put16(buf + l3 + 4, len - l3 - 40);
    }
    return len;
}

/*
 * Sends @frame through @t, plainly or with a linear part ending at a
 * random byte of its first @hdrs bytes; returns its queue.
 */
static int send_paged(Tap *t, int s_vnet, GRand *g, bool plain,
                      const uint8_t *frame, size_t len, size_t hdrs)
{
    uint8_t hdr[VNET_HASH_HDR_LEN];

    if (plain) {
        return tap_where(t, frame, len, hdr);
    }
    send_split(t, s_vnet, frame, len,
               g_rand_int_range(g, ETH_HDR_LEN + 1, MIN(hdrs, len) + 1));
    return tap_find(t, frame, len, hdr);
}

typedef struct PagedPoint {
    unsigned bad, n, tells_linear, tells_other;
} PagedPoint;

/* Whether @p passed; prints it */
static bool paged_point(const PagedPoint *p, const char *what,
                        const char *other)
{
    bool ok = !p->bad && p->tells_linear && p->tells_other;

    tap(ok, "headers in page fragments: %s: %u/%u wrong queues (%u tell a "
        "read of the linear part only, %u %s)", what, p->bad, p->n,
        p->tells_linear, p->tells_other, other);
    return ok;
}

static int check_paged(Prog *ours, GRand *g, Tap *t, int s_vnet)
{
    static uint8_t frame[LONG_FRAME_MAX], other[LONG_FRAME_MAX];
    PagedPoint ord[ARRAY_SIZE(paged_classes)] = {}, lng[N_LAYOUTS] = {};
    PagedPoint trunc = {};
    unsigned round, k, i, want, failed = 0;
    size_t n, len, l3, l4, cut;
    RssConfig c;
    Flow f;

    for (round = 0; round < 2; round++) {
        config_random(g, &c, round == 0);
        c.table_len = TABLE_LEN;
        configure(ours, &c);

        /* Plain TCP and UDP, the payload taking it past a page */
        for (k = 0; k < ARRAY_SIZE(paged_classes); k++) {
            const FrameClass *fc = class_named(paged_classes[k]);

            for (i = 0; i < PAGED_FLOWS / 2; i++) {
                flow_random(g, &f);
                n = build_frame(fc, &f, frame);
                l3 = ETH_HDR_LEN + (fc->tags[0] ? 4 : 0) +
                     (fc->tags[1] ? 4 : 0);
                /* The decoy: the frame without its L4 header */
                l4 = n - fc->payload -
                     (fc->proto == IPPROTO_TCP ? 20 : 8);
                len = grow_frame(frame, n, l3, g_rand_int_range(
                                 g, PAGED_MIN, 3 * PAGED_MIN));
                want = expect(&c, frame, len) % NR_QUEUES;
                ord[k].bad += send_paged(t, s_vnet, g, i % 2, frame, len,
                                         l4 + 20) != want;
                ord[k].n++;
                ord[k].tells_linear += expect(&c, frame, ETH_HDR_LEN) %
                                       NR_QUEUES != want;
                ord[k].tells_other += expect(&c, frame, l4) % NR_QUEUES !=
                                      want;
            }
        }

        /* Every long options layout, those under a page grown past it */
        for (k = 0; k < N_LAYOUTS; k++) {
            for (i = 0; i < PAGED_FLOWS / 2; i++) {
                flow_random(g, &f);
                n = build_long(k, &f, false, frame);
                len = n < PAGED_MIN ?
                      grow_frame(frame, n, ETH_HDR_LEN,
                                 g_rand_int_range(g, PAGED_MIN,
                                                  2 * PAGED_MIN)) : n;
                want = expect(&c, frame, len) % NR_QUEUES;
                lng[k].bad += send_paged(t, s_vnet, g, i % 2, frame, len,
                                         n) != want;
                lng[k].n++;
                lng[k].tells_linear += expect(&c, frame, ETH_HDR_LEN) %
                                       NR_QUEUES != want;
                lng[k].tells_other += expect(&c, other,
                                             build_long(k, &f, true, other))
                                      % NR_QUEUES != want;
            }
        }

        /*
         * Frames that end inside their headers, past a page: reads past
         * the end must still fail.  Cut in the last home address option
         * or the TCP header, or anywhere.
         */
        for (k = W_PAD1; k < N_LAYOUTS; k++) {
            for (i = 0; i < PAGED_FLOWS / 2; i++) {
                flow_random(g, &f);
                n = build_long(k, &f, false, frame);
                cut = i < PAGED_FLOWS / 4 ? n - g_rand_int_range(g, 1, 41)
                                          : g_rand_int_range(g, PAGED_MIN, n);
                want = expect(&c, frame, cut) % NR_QUEUES;
                trunc.bad += send_paged(t, s_vnet, g, i % 2, frame, cut,
                                        cut) != want;
                trunc.n++;
                trunc.tells_linear += expect(&c, frame, ETH_HDR_LEN) %
                                      NR_QUEUES != want;
                trunc.tells_other += expect(&c, frame, n) % NR_QUEUES !=
                                     want;
            }
        }
    }

    for (k = 0; k < ARRAY_SIZE(paged_classes); k++) {
        g_autofree char *what = g_strdup_printf("%s of %d to %d bytes",
                                                paged_classes[k], PAGED_MIN,
                                                3 * PAGED_MIN);

        failed += !paged_point(&ord[k], what, "tell unread ports");
    }
    for (k = 0; k < N_LAYOUTS; k++) {
        failed += !paged_point(&lng[k], layout_name[k],
                               "tell a wrong walk");
    }
    failed += !paged_point(&trunc, "16 headers of 2048 bytes, cut short",
                           "tell a read past the end");
    return failed;
}

static int check_long_options(Prog *ours, GRand *g)
{
    static uint8_t frame[LONG_FRAME_MAX], other[LONG_FRAME_MAX];
    unsigned bad[N_LAYOUTS] = {}, n[N_LAYOUTS] = {}, tells[N_LAYOUTS] = {};
    unsigned bad_trunc = 0, n_trunc = 0, bad_rand = 0, n_rand = 0;
    unsigned round, k, i, q, failed = 0;
    uint8_t hdr[VNET_HASH_HDR_LEN];
    uint32_t ns, want;
    size_t len, cut;
    RssConfig c;
    Tap t;
    Flow f;
    int s;

    /* Each layout under random configurations, every truncation of some */
    for (round = 0; round < 64; round++) {
        config_random(g, &c, round % 2 == 0);
        configure(ours, &c);
        for (k = 0; k < N_TEST_RUN_LAYOUTS; k++) {
            flow_random(g, &f);
            len = build_long(k, &f, false, frame);
            g_assert(len <= TEST_RUN_MAX);
            want = expect(&c, frame, len);
            bad[k] += run(ours, frame, len, 1, NULL) != want;
            n[k]++;
            tells[k] += expect(&c, other, build_long(k, &f, true, other)) !=
                        want;
            if (round % 16 == 0) {
                for (cut = ETH_HDR_LEN; cut < len; cut++) {
                    int64_t r = try_run(ours, frame, cut, 1, NULL);

                    if (r >= 0) {
                        bad_trunc += r != expect(&c, frame, cut);
                        n_trunc++;
                    }
                }
            }
        }
        /* Random chains of headers and options */
        for (i = 0; i < 64; i++) {
            flow_random(g, &f);
            len = build_random_opts(g, &f, frame, TEST_RUN_MAX);
            if (g_rand_int_range(g, 0, 4) == 0) {
                len = g_rand_int_range(g, ETH_HDR_LEN + 40, len + 1);
            }
            bad_rand += run(ours, frame, len, 1, NULL) !=
                        expect(&c, frame, len);
            n_rand++;
        }
    }
    for (k = 0; k < N_TEST_RUN_LAYOUTS; k++) {
        tap(!bad[k] && tells[k], "long options: %s: %u/%u wrong queues "
            "(%u tell a wrong walk)", layout_name[k], bad[k],
            n[k], tells[k]);
        failed += bad[k] || !tells[k];
    }
    tap(!bad_trunc && n_trunc, "long options: truncated frames: %u/%u wrong "
        "queues", bad_trunc, n_trunc);
    tap(!bad_rand, "long options: random chains of headers and options: "
        "%u/%u wrong queues", bad_rand, n_rand);
    failed += !!bad_trunc + !!bad_rand;

    /* What a long walk costs */
    config_random(g, &c, true);
    configure(ours, &c);
    flow_random(g, &f);
    for (k = L_PAD1_2K; k <= L_PADN_2K; k++) {
        len = build_long(k, &f, false, frame);
        run(ours, frame, len, 10000, &ns);
        printf("# long options: %s: %u ns per frame\n", layout_name[k], ns);
    }

    /*
     * 16 headers of 2048 bytes exceed what BPF_PROG_TEST_RUN takes: send
     * them through a 4-queue tap, whose queue is the program's answer
     * modulo 4.  Table entries and default queue spread over 4 queues.
     */
    s = tap_create(&t) && tap_mtu(&t, 65000) ? linear_sender(&t) : -1;
    if (s < 0 || ioctl(t.q[0], TUNSETSTEERINGEBPF, &ours->fd) < 0) {
        tap(false, "long options through a tap: cannot set it up");
        return failed + 1;
    }
    for (round = 0; round < 2; round++) {
        config_random(g, &c, round == 0);
        c.table_len = TABLE_LEN;
        configure(ours, &c);
        for (k = N_TEST_RUN_LAYOUTS; k < N_LAYOUTS; k++) {
            for (i = 0; i < LONG_FLOWS / 2; i++) {
                flow_random(g, &f);
                len = build_long(k, &f, false, frame);
                want = expect(&c, frame, len) % NR_QUEUES;
                send_linear(&t, s, frame, len);
                q = tap_find(&t, frame, len, hdr);
                bad[k] += q != want;
                n[k]++;
                tells[k] += expect(&c, other, build_long(k, &f, true, other))
                            % NR_QUEUES != want;
            }
        }
    }
    for (k = N_TEST_RUN_LAYOUTS; k < N_LAYOUTS; k++) {
        tap(!bad[k] && tells[k], "long options through a tap: %s: %u/%u "
            "wrong queues (%u tell a wrong walk)",
            layout_name[k], bad[k], n[k], tells[k]);
        failed += bad[k] || !tells[k];
    }
    failed += check_paged(ours, g, &t, s);
    close(s);
    tap_close(&t);
    return failed;
}

/* Rate / no-program rate, per steering and run */
typedef double RunRatios[N_STEER][MAX_RUNS];

/* Whether a cost in percent meets the 5% target */
static const char *cost_mark(double pct)
{
    return pct <= 5 ? "target met" : "**over 5%**";
}

/*
 * Section "cost" (--kernel-rss): what each steering adds to a packet's
 * trip through the tap, as a share of the trip without steering, and the
 * kernel's RSS against our eBPF program (upstream's when ours does not
 * load).  @ratio: rate / no-program rate, per class, steering and run.
 */
static void tap_cost(const Bench *b, const int *cls, unsigned n_cls,
                     RunRatios *ratio)
{
    Steer base = b->no_ours ? STEER_UPSTREAM : STEER_OURS;
    Section s;
    unsigned i, j, r;
    Steer m;

    section_begin(b, &s, "cost");
    fprintf(s.md, "Extra time per packet that each steering adds to the "
            "no-program path, as a share of the no-program time per packet "
            "(1 / ratio - 1, run by run, from the rates above): median of "
            "%u runs (min-max).  The last two columns divide the kernel's "
            "extra time by %s eBPF program's, run by run: the per-packet "
            "cost of hashing and steering in the kernel beside doing it in "
            "eBPF.  A negative share is a gain over the tap's own flow "
            "hashing; a ratio is only given when the program costs "
            "something in every run.  Target: at most 5%% for ours and the "
            "kernel's.\n\n", b->runs, b->no_ours ? "upstream's" : "our");
    fprintf(s.md, "| frame class |");
    for (i = 1; i < b->n_steer; i++) {
        fprintf(s.md, " %s |", steer_name[b->steer[i]]);
    }
    fprintf(s.md, " kernel RSS / %s | kernel RSS + hash report / %s |\n"
            "| --- |", steer_name[base], steer_name[base]);
    for (i = 1; i < b->n_steer + 2; i++) {
        fprintf(s.md, " ---: |");
    }
    fprintf(s.md, "\n");
    for (j = 0; j < n_cls; j++) {
        double cost[N_STEER][MAX_RUNS], rel[2][MAX_RUNS];
        unsigned base_free = 0;
        Stats st[N_STEER];

        for (r = 0; r < b->runs; r++) {
            for (i = 1; i < b->n_steer; i++) {
                m = b->steer[i];
                cost[m][r] = 100 * (1 / ratio[j][m][r] - 1);
            }
            base_free += cost[base][r] <= 0;
            rel[0][r] = cost[STEER_KRSS][r] / cost[base][r];
            rel[1][r] = cost[STEER_KRSS_REPORT][r] / cost[base][r];
        }
        fprintf(s.md, "| %s |", classes[cls[j]].name);
        fprintf(s.data, "\"%s\"", classes[cls[j]].name);
        for (i = 1; i < b->n_steer; i++) {
            g_autofree char *c = NULL;

            m = b->steer[i];
            st[m] = stats_of(cost[m], b->runs);
            c = fmt_stats(st[m], 1);
            /* The target is ours and the kernel's, not upstream's */
            fprintf(s.md, " %s%%%s |", c,
                    m != STEER_UPSTREAM && st[m].median > 5 ?
                    " **over 5%**" : "");
        }
        /* Plot data: fixed columns, upstream to kernel RSS + report */
        for (m = STEER_UPSTREAM; m < N_STEER; m++) {
            if (m == STEER_OURS && b->no_ours) {
                fprintf(s.data, " ? ? ?");
                continue;
            }
            fprintf(s.data, " %.2f %.2f %.2f", st[m].median, st[m].min,
                    st[m].max);
        }
        for (m = STEER_KRSS; m <= STEER_KRSS_REPORT; m++) {
            if (!base_free) {
                g_autofree char *q =
                    fmt_stats(stats_of(rel[m - STEER_KRSS], b->runs), 2);

                fprintf(s.md, " %s |", q);
            } else {
                double d[MAX_RUNS];
                g_autofree char *q = NULL;

                for (r = 0; r < b->runs; r++) {
                    d[r] = cost[m][r] - cost[base][r];
                }
                q = fmt_stats(stats_of(d, b->runs), 1);
                fprintf(s.md, " n/a: the program costs nothing in %u of %u "
                        "runs; kernel minus program %s points |", base_free,
                        b->runs, q);
            }
        }
        fprintf(s.md, "\n");
        fprintf(s.data, "\n");
        fprintf(stderr, "cost: %s: kernel RSS %.1f%%, + report %.1f%%, "
                "%s %.1f%%\n", classes[cls[j]].name, st[STEER_KRSS].median,
                st[STEER_KRSS_REPORT].median, steer_name[base],
                st[base].median);
    }
    if (b->no_ours) {
        fprintf(s.md, "\n**Our eBPF program did not load on this kernel** "
                "(see the section's introduction): the kernel is compared "
                "with upstream's program.\n");
    }
    section_end(b, &s);
}

static int bench_tap(const Bench *b)
{
    static const int rate_classes[] = { 0, 1, 2 };
    g_autoptr(GRand) g = g_rand_new_with_seed(2);
    unsigned n_classes = ARRAY_SIZE(classes);
    unsigned *off = g_new0(unsigned, N_STEER * n_classes);
    unsigned *rep_off = g_new0(unsigned, n_classes);
    unsigned packets, lost[N_STEER] = {}, missing[N_STEER] = {};
    unsigned rep_bad = 0, rep_seen = 0;
    double share[N_STEER][MAX_RUNS];
    RunRatios *ratio = g_new0(RunRatios, ARRAY_SIZE(rate_classes));
    unsigned r, i, j, k, total = 0;
    bool off_ref = false;
    Section s;
    Tap t;

    packets = ROUND_UP(b->tap_packets, TAP_BATCH * TAP_SLICES);
    if (!tap_create(&t)) {
        return 1;
    }
    configure(&b->progs[1], &b->c);
    if (!b->no_ours) {
        configure(&b->progs[0], &b->c);
    }

    section_begin(b, &s, "tap");
    fprintf(s.md, "Packets per second through a 4-queue tap "
            "(IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE) in a "
            "network namespace of the bench's own: %u flows per class, "
            "sent from the host side by AF_PACKET `sendmmsg` in batches of "
            "%d, each batch then read from the 4 queue fds, one thread; "
            "packets per second of that thread's CPU time (user and system: "
            "the tap runs the steering in the sender's system call), so "
            "that other load on the machine does not count; %u packets per "
            "steering and run, the %u steerings taking turns every %u "
            "packets.", TAP_FLOWS, TAP_BATCH, packets, b->n_steer,
            packets / TAP_SLICES);
    if (!b->kernel_rss) {
        fprintf(s.md, "  Ratios are to the no-program rate of the same "
                "run: median of %u runs (min-max).  Target: ours costs at "
                "most 5%% (ratio >= 0.95); a negative cost is a gain over "
                "the tap's own flow hashing.\n\n", b->runs);
        fprintf(s.md, "| frame class | tun, no program kpps | upstream "
                "kpps | ours kpps | upstream / tun | ours / tun | "
                "ours' cost |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    } else {
        fprintf(s.md, "  Kernel RSS: TUNSETVNETHASH with "
                "TUN_VNET_HASH_F_RSS and the guest's key, table and hash "
                "types, as QEMU's tap backend sets it; + hash report adds "
                "TUN_VNET_HASH_F_REPORT and the 20-byte virtio-net header "
                "(TUNSETVNETHDRSZ) it needs.  Under TCG absolute rates say "
                "nothing about real hardware: only ratios to the no-program "
                "rate of the same run are given, median of %u runs "
                "(min-max).\n\n", b->runs);
        if (b->no_ours) {
            fprintf(s.md, "**Our eBPF program did not load on this "
                    "kernel** (the loader's error is in the bench's log): "
                    "its figures are missing.\n\n");
        }
        fprintf(s.md, "| frame class |");
        for (i = 1; i < b->n_steer; i++) {
            fprintf(s.md, " %s / tun |", steer_name[b->steer[i]]);
        }
        fprintf(s.md, "\n| --- |");
        for (i = 1; i < b->n_steer; i++) {
            fprintf(s.md, " ---: |");
        }
        fprintf(s.md, "\n");
    }
    for (j = 0; j < ARRAY_SIZE(rate_classes); j++) {
        const FrameClass *fc = &classes[rate_classes[j]];
        double kpps[N_STEER][MAX_RUNS];
        Stats st[N_STEER], rt[N_STEER];
        double run_kpps[N_STEER];
        unsigned ignored[N_STEER] = {};
        TxRing ring;
        Steer m;

        ring_init(&ring, &t, fc, g, TAP_FLOWS);
        tap_run(&t, b, &ring, packets / 4, 0, run_kpps, ignored);  /* warm up */
        for (r = 0; r < b->runs; r++) {
            tap_run(&t, b, &ring, packets, r, run_kpps, lost);
            for (i = 0; i < b->n_steer; i++) {
                m = b->steer[i];
                kpps[m][r] = run_kpps[m];
                ratio[j][m][r] = run_kpps[m] / run_kpps[STEER_TUN];
            }
        }
        ring_free(&ring);
        fprintf(stderr, "tap: %s:", fc->name);
        for (i = 0; i < b->n_steer; i++) {
            m = b->steer[i];
            st[m] = stats_of(kpps[m], b->runs);
            rt[m] = stats_of(ratio[j][m], b->runs);
            if (i) {
                fprintf(stderr, "%s %s %.2f", i > 1 ? "," : "",
                        steer_name[m], rt[m].median);
            }
        }
        fprintf(stderr, " (of tun's rate)\n");
        if (!b->kernel_rss) {
            g_autofree char *a = fmt_stats(st[STEER_TUN], 0);
            g_autofree char *u = fmt_stats(st[STEER_UPSTREAM], 0);
            g_autofree char *o = fmt_stats(st[STEER_OURS], 0);
            g_autofree char *ur = fmt_stats(rt[STEER_UPSTREAM], 3);
            g_autofree char *or = fmt_stats(rt[STEER_OURS], 3);
            double cost = 100 * (1 - rt[STEER_OURS].median);

            fprintf(s.md, "| %s | %s | %s | %s | %s | %s | %.1f%% (%s) |\n",
                    fc->name, a, u, o, ur, or, cost, cost_mark(cost));
            fprintf(s.data, "\"%s\" %.1f %.1f %.1f", fc->name,
                    st[STEER_TUN].median, st[STEER_TUN].min,
                    st[STEER_TUN].max);
        } else {
            /* Relative only: the first columns hold the ratio 1 */
            fprintf(s.md, "| %s |", fc->name);
            for (i = 1; i < b->n_steer; i++) {
                g_autofree char *q = fmt_stats(rt[b->steer[i]], 3);

                fprintf(s.md, " %s |", q);
            }
            fprintf(s.md, "\n");
            fprintf(s.data, "\"%s\" 1 1 1", fc->name);
        }
        /* Plot data: a column triple per steering, "?" when missing */
        for (m = STEER_UPSTREAM;
             m < (b->kernel_rss ? N_STEER : N_HOST_STEER); m++) {
            if (m == STEER_OURS && b->no_ours) {
                fprintf(s.data, " ? ? ?");
                continue;
            }
            fprintf(s.data, " %.4f %.4f %.4f", rt[m].median, rt[m].min,
                    rt[m].max);
        }
        fprintf(s.data, "\n");
    }
    for (i = 0; i < N_STEER; i++) {
        if (lost[i]) {
            fprintf(s.md, "\n%s: %u packets sent but not read (the queues "
                    "overflowed?).\n", steer_name[i], lost[i]);
        }
    }
    section_end(b, &s);
    if (b->kernel_rss) {
        tap_cost(b, rate_classes, ARRAY_SIZE(rate_classes), ratio);
    }

    /* Consistency: one frame at a time, to know which queue it took */
    for (r = 0; r < b->runs; r++) {
        g_autoptr(GRand) gf = g_rand_new_with_seed(100 + r);
        unsigned n = n_classes * TAP_CHECK_FLOWS;
        uint8_t (*frame)[FRAME_MAX] = g_malloc(n * FRAME_MAX);
        size_t *len = g_new(size_t, n);
        uint8_t *want = g_new(uint8_t, n);
        RssRefResult *ref = g_new(RssRefResult, n);
        uint8_t hdr[VNET_HASH_HDR_LEN];
        Flow f;

        for (i = 0; i < n; i++) {
            flow_random(gf, &f);
            len[i] = build_frame(&classes[i / TAP_CHECK_FLOWS], &f,
                                 frame[i]);
            /* The tap reduces the program's answer modulo its queues */
            want[i] = expect(&b->c, frame[i], len[i]) % NR_QUEUES;
            rss_ref_hash_frame(frame[i], len[i], b->c.types, b->c.key,
                               sizeof(b->c.key), &ref[i]);
        }
        for (j = 0; j < b->n_steer; j++) {
            Steer m = b->steer[(r + j) % b->n_steer];
            unsigned ok = 0;

            tap_steer(&t, b, m);
            for (i = 0; i < n; i++) {
                int q = tap_where(&t, frame[i], len[i], hdr);

                missing[m] += q < 0;
                if (q == want[i]) {
                    ok++;
                } else {
                    off[m * n_classes + i / TAP_CHECK_FLOWS]++;
                }
                /* virtio_net_hdr_v1_hash: hash_value at 12, report at 16 */
                if (m == STEER_KRSS_REPORT && q >= 0) {
                    rep_seen++;
                    if (ldl_le_p(hdr + 12) != ref[i].hash ||
                        lduw_le_p(hdr + 16) != ref[i].report) {
                        rep_bad++;
                        rep_off[i / TAP_CHECK_FLOWS]++;
                    }
                }
            }
            share[m][r] = 100.0 * ok / n;
            off_ref |= m != STEER_TUN && m != STEER_UPSTREAM && ok != n;
        }
        total = n;
        g_free(frame);
        g_free(len);
        g_free(want);
        g_free(ref);
    }
    tap_steer(&t, b, STEER_TUN);
    tap_close(&t);
    off_ref |= rep_bad > 0;

    section_begin(b, &s, "consistency");
    fprintf(s.md, "Share of packets read from the tap queue that the "
            "guest's RSS configuration (key, 128-entry table over 4 "
            "queues, all hash types) demands, as computed by the "
            "reference model (tests/qtest/libqos/rss-ref.c): all %u frame "
            "classes of `--check`, %d random flows each (%u frames), sent "
            "one by one through the tap above; new flows every run, median "
            "of %u runs (min-max).  Target: 100%% for ours%s.\n\n",
            n_classes, TAP_CHECK_FLOWS, total, b->runs,
            b->kernel_rss ? " and for kernel RSS; with hash reports, every "
            "header must also carry the reference's hash value and type" :
            "");
    fprintf(s.md, "| steering | on the guest's queue | frame classes off "
            "it (frames, all runs) |\n| --- | ---: | --- |\n");
    for (i = 0; i < b->n_steer; i++) {
        Steer m = b->steer[i];
        Stats st = stats_of(share[m], b->runs);
        g_autofree char *sh = fmt_stats(st, 1);
        GString *cls = g_string_new(NULL);

        for (k = 0; k < n_classes; k++) {
            unsigned o = off[m * n_classes + k];

            if (o && m != STEER_TUN) {
                g_string_append_printf(cls, "%s%s (%u/%u)",
                                       cls->len ? ", " : "",
                                       classes[k].name, o,
                                       TAP_CHECK_FLOWS * b->runs);
            }
        }
        if (m == STEER_TUN) {
            g_string_append(cls, "(its own flow hash: any class)");
        }
        fprintf(s.md, "| %s | %s%% | %s |\n", steer_name[m], sh,
                cls->len ? cls->str : "none");
        fprintf(s.data, "\"%s\" %.2f %.2f %.2f\n", steer_name[m],
                st.median, st.min, st.max);
        g_string_free(cls, true);
        fprintf(stderr, "consistency: %s: %.1f%%\n", steer_name[m],
                st.median);
    }
    if (b->kernel_rss) {
        GString *cls = g_string_new(NULL);

        for (k = 0; k < n_classes; k++) {
            if (rep_off[k]) {
                g_string_append_printf(cls, "%s%s (%u)", cls->len ? ", " : "",
                                       classes[k].name, rep_off[k]);
            }
        }
        fprintf(s.md, "\nHash reports (kernel RSS + hash report): %u of %u "
                "frames read carried the reference's hash value and hash "
                "type (%.1f%%)%s%s.\n", rep_seen - rep_bad, rep_seen,
                rep_seen ? 100.0 * (rep_seen - rep_bad) / rep_seen : 0.0,
                cls->len ? "; wrong in " : "", cls->str);
        fprintf(stderr, "consistency: hash reports: %u of %u right\n",
                rep_seen - rep_bad, rep_seen);
        g_string_free(cls, true);
    }
    for (i = 0; i < N_STEER; i++) {
        if (missing[i]) {
            fprintf(s.md, "\n%s: %u frames never came out of the tap "
                    "(counted off the queue).\n", steer_name[i], missing[i]);
        }
    }
    section_end(b, &s);
    g_free(off);
    g_free(rep_off);
    g_free(ratio);
    return off_ref ? 1 : 0;
}

int main(int argc, char **argv)
{
    g_autofree char *upstream = NULL;
    g_autofree char *out_dir = NULL;
    g_autofree char *only = NULL;
    gboolean check = FALSE, bench = FALSE, kernel_rss = FALSE;
    int runs = 7, repeat = 1000000, rounds = 400, tap_packets = 131072;
    GOptionEntry entries[] = {
        { "check", 0, 0, G_OPTION_ARG_NONE, &check,
          "compare with the reference model (TAP)", NULL },
        { "bench", 0, 0, G_OPTION_ARG_NONE, &bench,
          "measure (Markdown)", NULL },
        { "only", 0, 0, G_OPTION_ARG_STRING, &only,
          "--bench sections, comma-separated: bpf (BPF_PROG_TEST_RUN), "
          "sw (software RSS), tap (tap rate and consistency); all when "
          "not given", "LIST" },
        { "upstream", 0, 0, G_OPTION_ARG_FILENAME, &upstream,
          "program object with upstream QEMU's layout", "FILE" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "runs per figure", "N" },
        { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat,
          "repetitions per run (bpf, sw)", "N" },
        { "tap-packets", 0, 0, G_OPTION_ARG_INT, &tap_packets,
          "packets per run (tap)", "N" },
        { "kernel-rss", 0, 0, G_OPTION_ARG_NONE, &kernel_rss,
          "tap: also the kernel's RSS (TUNSETVNETHASH, patches/linux/), "
          "with and without hash reports, relative figures only; fails "
          "when the kernel lacks it", NULL },
        { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
          "random configurations for --check", "N" },
        { "out-dir", 0, 0, G_OPTION_ARG_FILENAME, &out_dir,
          "write SECTION.md and SECTION.dat (plot data) here", "DIR" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_auto(GStrv) sections = NULL;
    GError *gerr = NULL;
    Prog progs[2] = {};
    int n_progs = 1, ret = 0;
    bool no_ours = false;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "%s\n", gerr->message);
        return 2;
    }
    sections = g_strsplit(only ? only : "bpf,sw,tap", ",", -1);
    for (char **sec = sections; *sec; sec++) {
        if (strcmp(*sec, "bpf") && strcmp(*sec, "sw") && strcmp(*sec, "tap")) {
            fprintf(stderr, "--only: unknown section %s\n", *sec);
            return 2;
        }
    }
    if (check == bench || runs < 5 || runs > MAX_RUNS || repeat < 10 ||
        tap_packets < TAP_BATCH ||
        (kernel_rss && !g_strv_contains((const char * const *)sections,
                                        "tap"))) {
        fprintf(stderr, "usage: %s --check|--bench [--upstream FILE] "
                "(--runs 5..%d) [--kernel-rss (with section tap)]\n",
                argv[0], MAX_RUNS);
        return 2;
    }
    if (geteuid() != 0) {
        /* A skip would hide that nothing was checked: fail loudly */
        printf("1..1\nnot ok 1 - needs root for BPF_PROG_TEST_RUN\n");
        return 1;
    }
    if (!load_ours(&progs[0])) {
        /*
         * The kernel RSS figures stand on their own: a kernel that cannot
         * load ours (no BTF, say) still gets them, with the gap marked.
         */
        if (check || !kernel_rss) {
            printf("1..1\nnot ok 1 - our program does not load\n");
            return 1;
        }
        fprintf(stderr, "warning: our eBPF program does not load on this "
                "kernel (see above): measuring without it\n");
        no_ours = true;
    }
    if (upstream) {
        if (!load_upstream(&progs[1], upstream)) {
            return 1;
        }
        n_progs = 2;
    }

    if (check) {
        ret = do_check(progs, n_progs, rounds);
    } else {
        g_autoptr(GRand) g = g_rand_new_with_seed(1);
        Bench b = {
            .progs = progs, .runs = runs, .repeat = repeat,
            .tap_packets = tap_packets, .out_dir = out_dir,
            .kernel_rss = kernel_rss, .no_ours = no_ours,
        };
        int i;

        for (i = 0; i < (kernel_rss ? N_STEER : N_HOST_STEER); i++) {
            if (i != STEER_OURS || !no_ours) {
                b.steer[b.n_steer++] = i;
            }
        }
        if (no_ours && !(g_strv_length(sections) == 1 &&
                         !strcmp(sections[0], "tap"))) {
            fprintf(stderr, "without our program only --only tap can run\n");
            return 1;
        }
        if (n_progs != 2) {
            fprintf(stderr, "--bench needs --upstream\n");
            return 2;
        }
        /* The guest's configuration: random key, table over 4 queues */
        config_random(g, &b.c, true);
        b.c.table_len = TABLE_LEN;
        for (i = 0; i < TABLE_LEN; i++) {
            b.c.table[i] = g_rand_int_range(g, 0, NR_QUEUES);
        }
        b.c.default_queue = NR_QUEUES - 1;
        flow_random(g, &b.flow);
        for (i = no_ours; i < 2; i++) {
            configure(&progs[i], &b.c);
        }
        if (kernel_rss && !kernel_rss_probe(&b.c)) {
            return 1;
        }

        /* The tap last: it moves us to a namespace of our own */
        if (g_strv_contains((const char * const *)sections, "bpf")) {
            ret |= bench_bpf(&b);
        }
        if (g_strv_contains((const char * const *)sections, "sw")) {
            ret |= bench_sw(&b);
        }
        if (g_strv_contains((const char * const *)sections, "tap")) {
            ret |= bench_tap(&b);
        }
    }

    if (!no_ours) {
        ebpf_rss_unload(&progs[0].ours);
    }
    if (progs[1].obj) {
        bpf_object__close(progs[1].obj);
    }
    return ret;
}

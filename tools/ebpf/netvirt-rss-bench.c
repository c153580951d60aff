/*
 * Check and benchmark the eBPF RSS steering programs with BPF_PROG_TEST_RUN
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * --check: our program, loaded and configured by QEMU's own loader
 * (ebpf/ebpf_rss.c), must pick the queue that the reference model
 * (tests/qtest/libqos/rss-ref.c) predicts for every frame class, every
 * truncation of it, and random keys, tables and hash types.  Prints TAP.
 *
 * --bench: ns/packet of ours and of another program object with
 * upstream QEMU's map layout (--upstream FILE, e.g. the ELF inside
 * upstream's rss.bpf.skeleton.h), per frame class, and program sizes.
 * Prints a Markdown table.
 *
 * Needs root (CAP_BPF and CAP_NET_ADMIN) for BPF_PROG_TEST_RUN.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "ebpf/ebpf_rss.h"
#include "ebpf/netvirt-rss.h"
#include "../../tests/qtest/libqos/rss-ref.h"

#define FRAME_MAX       256
#define ETH_HDR_LEN     14
#define NR_QUEUES       4
#define TABLE_LEN       128

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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * Time every program on one frame, taking turns run by run so that both
 * see the same machine (other load, frequency changes).
 */
static void measure(Prog *progs, int n_progs, const uint8_t *frame,
                    size_t len, unsigned runs, unsigned repeat, Stats *st)
{
    uint32_t ns[2][64];
    unsigned i, r;

    g_assert(runs <= ARRAY_SIZE(ns[0]) && n_progs <= 2);
    for (i = 0; i < n_progs; i++) {
        run(&progs[i], frame, len, repeat / 10, NULL);      /* warm up */
    }
    for (r = 0; r < runs; r++) {
        for (i = 0; i < n_progs; i++) {
            run(&progs[i], frame, len, repeat, &ns[i][r]);
        }
    }
    for (i = 0; i < n_progs; i++) {
        qsort(ns[i], runs, sizeof(ns[i][0]), cmp_u32);
        st[i].min = ns[i][0];
        st[i].max = ns[i][runs - 1];
        st[i].median = runs % 2 ? ns[i][runs / 2]
                                : (ns[i][runs / 2 - 1] + ns[i][runs / 2]) / 2.0;
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

static int do_bench(Prog *progs, int n_progs, unsigned runs,
                    unsigned repeat, FILE *md, FILE *data)
{
    g_autoptr(GRand) g = g_rand_new_with_seed(1);
    Stats st[N_BENCH_CLASSES][2];
    uint32_t got[2][N_BENCH_CLASSES], want[N_BENCH_CLASSES];
    uint8_t frame[N_BENCH_CLASSES][FRAME_MAX];
    size_t len[N_BENCH_CLASSES];
    RssConfig c;
    Flow f;
    int i, k, bad = 0;

    g_assert(n_progs == 2);
    config_random(g, &c, true);
    c.table_len = TABLE_LEN;
    for (i = 0; i < TABLE_LEN; i++) {
        c.table[i] = g_rand_int_range(g, 0, NR_QUEUES);
    }
    c.default_queue = NR_QUEUES - 1;
    flow_random(g, &f);
    for (k = 0; k < N_BENCH_CLASSES; k++) {
        len[k] = build_frame(&classes[k], &f, frame[k]);
        want[k] = expect(&c, frame[k], len[k]);
    }

    for (i = 0; i < n_progs; i++) {
        configure(&progs[i], &c);
        for (k = 0; k < N_BENCH_CLASSES; k++) {
            got[i][k] = run(&progs[i], frame[k], len[k], 1, NULL);
            bad += got[i][k] != want[k];
        }
    }
    for (k = 0; k < N_BENCH_CLASSES; k++) {
        measure(progs, n_progs, frame[k], len[k], runs, repeat, st[k]);
        fprintf(stderr, "%s: upstream %.0f ns, ours %.0f ns\n",
                classes[k].name, st[k][1].median, st[k][0].median);
    }

    fprintf(md, "Time per packet, BPF_PROG_TEST_RUN, median of %u runs of "
            "%u repetitions (min-max); all hash types enabled, "
            "128-entry table, %d queues.\n\n", runs, repeat, NR_QUEUES);
    fprintf(md, "| frame class | bytes | upstream ns | ours ns | "
            "ours/upstream | queue (ref / upstream / ours) |\n");
    fprintf(md, "| --- | ---: | ---: | ---: | ---: | --- |\n");
    for (k = 0; k < N_BENCH_CLASSES; k++) {
        fprintf(md, "| %s | %zu | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | "
                "%.2f | %u / %u / %u%s |\n", classes[k].name, len[k],
                st[k][1].median, st[k][1].min, st[k][1].max,
                st[k][0].median, st[k][0].min, st[k][0].max,
                st[k][0].median / st[k][1].median, want[k], got[1][k],
                got[0][k],
                got[0][k] != want[k] || got[1][k] != want[k] ?
                " **MISMATCH**" : "");
        if (data) {
            fprintf(data, "\"%s\" %.1f %.1f %.1f %.1f %.1f %.1f\n",
                    classes[k].name, st[k][1].median, st[k][1].min,
                    st[k][1].max, st[k][0].median, st[k][0].min,
                    st[k][0].max);
        }
    }
    fprintf(md, "\nProgram size (xlated instructions, JITed bytes) and "
            "instructions the verifier processed:\n\n");
    fprintf(md, "| program | xlated insns | jited bytes | "
            "verified insns |\n| --- | ---: | ---: | ---: |\n");
    prog_sizes(&progs[1], md);
    prog_sizes(&progs[0], md);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    g_autofree char *upstream = NULL;
    g_autofree char *md_path = NULL;
    g_autofree char *data_path = NULL;
    gboolean check = FALSE, bench = FALSE;
    int runs = 7, repeat = 1000000, rounds = 400;
    GOptionEntry entries[] = {
        { "check", 0, 0, G_OPTION_ARG_NONE, &check,
          "compare with the reference model (TAP)", NULL },
        { "bench", 0, 0, G_OPTION_ARG_NONE, &bench,
          "measure ns/packet (Markdown)", NULL },
        { "upstream", 0, 0, G_OPTION_ARG_FILENAME, &upstream,
          "program object with upstream QEMU's layout", "FILE" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "runs per class", "N" },
        { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat,
          "repetitions per run", "N" },
        { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
          "random configurations for --check", "N" },
        { "markdown", 0, 0, G_OPTION_ARG_FILENAME, &md_path,
          "also write the table here", "FILE" },
        { "data", 0, 0, G_OPTION_ARG_FILENAME, &data_path,
          "write plot data here", "FILE" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    GError *gerr = NULL;
    Prog progs[2] = {};
    int n_progs = 1, ret = 0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "%s\n", gerr->message);
        return 2;
    }
    if (check == bench || runs < 5 || runs > 64 || repeat < 1) {
        fprintf(stderr, "usage: %s --check|--bench [--upstream FILE] "
                "(--runs 5..64)\n", argv[0]);
        return 2;
    }
    if (geteuid() != 0) {
        /* A skip would hide that nothing was checked: fail loudly */
        printf("1..1\nnot ok 1 - needs root for BPF_PROG_TEST_RUN\n");
        return 1;
    }
    if (!load_ours(&progs[0])) {
        printf("1..1\nnot ok 1 - our program does not load\n");
        return 1;
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
        g_autofree char *text = NULL;
        size_t text_len = 0;
        FILE *md, *data = NULL;

        if (n_progs != 2) {
            fprintf(stderr, "--bench needs --upstream\n");
            return 2;
        }
        if (data_path) {
            data = fopen(data_path, "w");
            if (!data) {
                perror(data_path);
                return 1;
            }
        }
        md = open_memstream(&text, &text_len);
        ret = do_bench(progs, n_progs, runs, repeat, md, data);
        fclose(md);
        fputs(text, stdout);
        if (md_path && !g_file_set_contents(md_path, text, -1, &gerr)) {
            fprintf(stderr, "%s\n", gerr->message);
            ret = 1;
        }
        if (data) {
            fclose(data);
        }
    }

    ebpf_rss_unload(&progs[0].ours);
    if (progs[1].obj) {
        bpf_object__close(progs[1].obj);
    }
    return ret;
}

/*
 * netvirt-rss-kdiff: the virtio-net hash of our Linux series against the
 * reference RSS model
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The rss-diff fuzz target (tests/qtest/fuzz/netvirt_rss_fuzz.c) compares
 * QEMU's software RSS, the reference and the eBPF steering program; this
 * program brings in the fourth implementation, the tun hashing of
 * patches/linux/, which only runs in a kernel built from that series
 * (netvirt/hostvm/run).  It replays inputs in the fuzz target's format
 * (tests/qtest/libqos/rss-fuzz-input.h): a corpus, or a set generated
 * from a seed.  For each one it
 *  - sets the input's configuration on a multiqueue tap with
 *    TUNSETVNETHASH (RSS and hash reports, a virtio_net_hdr_v1_hash);
 *  - transmits the frame through the tap from the host side with an
 *    AF_PACKET socket, so that tun_select_queue() picks its queue and
 *    tun_net_xmit() computes its hash, as for any packet bound for a guest;
 *  - reads it back from the queues and compares the queue it arrived on,
 *    and the hash value and report type of its header, with
 *    tests/qtest/libqos/rss-ref.c.
 * A configuration the kernel refuses must be one that the uapi
 * documentation (Documentation/networking/tuntap.rst of the series) says
 * it refuses, and the other way round; such inputs are counted as skipped.
 * Everything else the kernel does differently is a difference: it is
 * dumped in full and makes the exit status 1.
 *
 * usage: netvirt-rss-kdiff [OPTIONS] CORPUS-FILE-OR-DIR...
 *        netvirt-rss-kdiff [OPTIONS] --generate SEED [--count N]
 *   --queues N     queues of the tap (default 128, as many as an input
 *                  can name; with fewer, inputs that name a queue beyond
 *                  them must be refused)
 *   --generate S   replay COUNT inputs (default 3000) generated from seed
 *                  S: flows of every hash type, IPv6 extension headers,
 *                  VLAN tags, malformed and truncated frames and the
 *                  frames of earlier fuzz findings, then check which
 *                  configurations TUNSETVNETHASH refuses
 *   --write DIR    also write the generated inputs into DIR (a corpus)
 *   --no-replay    with --write: only write them (no tap, any kernel)
 *   --tap          print TAP: one test point per input class or corpus
 *   --max-dumps N  dump at most N differences (default 20)
 * Exit status: 0 no difference, 1 differences, 2 usage or setup error,
 * 77 cannot run here (not root, no tun, a kernel without the series).
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <poll.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "net/tap-vnet-hash.h"
#include "standard-headers/linux/virtio_net.h"
#include "libqos/rss-ref.h"
#include "libqos/rss-fuzz-input.h"
#include "libqos/tap-inject.h"

#define MAX_QUEUES      256                 /* MAX_TAP_QUEUES of tun */
#define HDR_SZ          ((int)sizeof(struct virtio_net_hdr_v1_hash))
#define TAP_MTU         16000               /* above any corpus frame */
#define FRAME_MAX       (TAP_MTU + 14)
#define RECV_TIMEOUT_MS 3000
#define MAX_LOST        20      /* then the tap does not work at all */

#define HASH_FLAGS      (TUN_VNET_HASH_F_RSS | TUN_VNET_HASH_F_REPORT)

typedef struct Stats {
    uint64_t inputs, compared, differences;
    uint64_t rejected;      /* configuration refused, as documented */
    uint64_t short_frames;  /* below an Ethernet header: cannot be sent */
    uint64_t no_config;     /* shorter than the configuration */
    uint64_t reports[VIRTIO_NET_HASH_REPORT_UDPv6_EX + 1];  /* compared */
} Stats;

typedef struct Rig {
    int fds[MAX_QUEUES];
    unsigned nq;
    int sock, ifindex;
    struct tun_vnet_hash_cap cap;
    uint64_t strays;        /* frames on the queues that we did not send */
    unsigned lost;          /* frames that never arrived */
} Rig;

typedef struct Verdict {
    uint32_t hash;
    uint16_t report;
    int queue;              /* -1: not compared or not delivered */
} Verdict;

static const char *const report_names[] = {
    "none", "IPv4", "TCPv4", "UDPv4", "IPv6", "TCPv6", "UDPv6", "IPv6_EX",
    "TCPv6_EX", "UDPv6_EX",
};

static bool tap_output;
static unsigned max_dumps = 20;
static unsigned dumps;
static unsigned tap_point;
static uint8_t rxbuf[HDR_SZ + FRAME_MAX + 1];

/* ---- the tap ------------------------------------------------------------ */

static int rig_setup(Rig *r, unsigned nq)
{
    struct ifreq ifr = { 0 };
    int sz = HDR_SZ, one = 1, s;
    unsigned i;

    if (geteuid() != 0) {
        printf("%snetvirt-rss-kdiff: needs root for a tap device in a "
               "network namespace of its own\n", tap_output ? "# " : "");
        return 77;
    }
    if (access("/dev/net/tun", R_OK | W_OK)) {
        printf("%snetvirt-rss-kdiff: no /dev/net/tun\n",
               tap_output ? "# " : "");
        return 77;
    }
    /* The tap and everything sent on it stay in our own namespace */
    if (unshare(CLONE_NEWNET)) {
        fprintf(stderr, "netvirt-rss-kdiff: unshare(CLONE_NEWNET): %s\n",
                strerror(errno));
        return 2;
    }

    r->nq = nq;
    pstrcpy(ifr.ifr_name, IFNAMSIZ, "nvkdiff0");
    for (i = 0; i < nq; i++) {
        r->fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
        if (r->fds[i] < 0 || ioctl(r->fds[i], TUNSETIFF, &ifr)) {
            fprintf(stderr, "netvirt-rss-kdiff: queue %u of the tap: %s\n",
                    i, strerror(errno));
            return 2;
        }
    }
    if (ioctl(r->fds[0], TUNSETVNETHDRSZ, &sz) ||
        ioctl(r->fds[0], TUNSETVNETLE, &one)) {
        fprintf(stderr, "netvirt-rss-kdiff: virtio-net header: %s\n",
                strerror(errno));
        return 2;
    }
    if (ioctl(r->fds[0], TUNGETVNETHASHCAP, &r->cap)) {
        printf("%snetvirt-rss-kdiff: this kernel has no TUNGETVNETHASHCAP "
               "(%s): boot one with patches/linux/, e.g. with "
               "netvirt/hostvm/run\n", tap_output ? "# " : "",
               strerror(errno));
        return 77;
    }

    /* Large enough for any frame of the corpus */
    s = socket(AF_INET, SOCK_DGRAM, 0);
    ifr.ifr_mtu = TAP_MTU;
    if (s < 0 || ioctl(s, SIOCSIFMTU, &ifr)) {
        fprintf(stderr, "netvirt-rss-kdiff: MTU %d: %s\n", TAP_MTU,
                strerror(errno));
        return 2;
    }
    close(s);
    r->sock = tap_inject_open(ifr.ifr_name, &r->ifindex);
    return 0;
}

static void rig_cleanup(Rig *r)
{
    unsigned i;

    close(r->sock);
    for (i = 0; i < r->nq; i++) {
        close(r->fds[i]);
    }
}

/* Whether the documentation says TUNSETVNETHASH refuses @cfg */
static bool documented_refusal(const Rig *r, const struct tun_vnet_hash *cfg,
                               int hdr_sz)
{
    unsigned len = cfg->indirection_table_mask + 1, i;

    if ((cfg->flags & ~r->cap.flags) ||
        (cfg->hash_types & ~r->cap.hash_types) ||
        cfg->reserved[0] || cfg->reserved[1] || cfg->reserved[2] ||
        cfg->key_length > r->cap.max_key_size) {
        return true;
    }
    if ((cfg->flags & TUN_VNET_HASH_F_REPORT) && hdr_sz < HDR_SZ) {
        return true;
    }
    if (cfg->flags & TUN_VNET_HASH_F_RSS) {
        if (len & (len - 1) || len > r->cap.max_table_len ||
            cfg->unclassified_queue >= r->nq) {
            return true;
        }
        for (i = 0; i < len; i++) {
            if (cfg->indirection_table[i] >= r->nq) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Wait for @frame on the queues: fill @got with the queue and the hash
 * fields of its header.  Returns NULL or what went wrong.
 */
static const char *rig_receive(Rig *r, const uint8_t *frame, size_t len,
                               Verdict *got)
{
    struct pollfd pfd[MAX_QUEUES];
    int64_t deadline = g_get_monotonic_time() + RECV_TIMEOUT_MS * 1000;
    const char *err = NULL;
    bool found = false;
    unsigned i;

    for (i = 0; i < r->nq; i++) {
        pfd[i] = (struct pollfd) { .fd = r->fds[i], .events = POLLIN };
    }
    for (;;) {
        int64_t left = (deadline - g_get_monotonic_time()) / 1000;
        int n;

        /* Once it is there, only look whether a copy went elsewhere */
        n = poll(pfd, r->nq, found ? 0 : MAX(left, 0));
        if (n < 0 && errno != EINTR) {
            return "poll failed";
        }
        if (n <= 0) {
            if (found || left <= 0) {
                break;
            }
            continue;
        }
        for (i = 0; i < r->nq; i++) {
            ssize_t got_len;

            if (!(pfd[i].revents & POLLIN)) {
                continue;
            }
            while ((got_len = read(r->fds[i], rxbuf, sizeof(rxbuf))) > 0) {
                const struct virtio_net_hdr_v1_hash *h = (void *)rxbuf;

                if (got_len != HDR_SZ + len ||
                    memcmp(rxbuf + HDR_SZ, frame, len)) {
                    r->strays++;
                    continue;
                }
                if (found) {
                    err = "the frame arrived on two queues";
                    continue;
                }
                found = true;
                got->queue = i;
                got->hash = le32_to_cpu(h->hash_value);
                got->report = le16_to_cpu(h->hash_report);
            }
        }
    }
    if (!found) {
        if (++r->lost == MAX_LOST) {
            if (tap_output) {
                printf("not ok %u - ", ++tap_point);
            }
            printf("netvirt-rss-kdiff: %d frames did not arrive, giving "
                   "up\n", MAX_LOST);
            exit(1);
        }
        return "the frame did not arrive on any queue";
    }
    return err;
}

/* ---- one input ---------------------------------------------------------- */

static void dump_difference(const char *name, const char *what,
                            const RssFuzzInput *in, uint32_t flags,
                            const Verdict *kernel, const Verdict *ref)
{
    size_t i;

    if (dumps++ >= max_dumps) {
        if (dumps == max_dumps + 1) {
            printf("# (further differences are counted, not shown)\n");
        }
        return;
    }
    printf("# DIFFERENCE %s: %s\n", name, what);
    printf("#   config: flags 0x%x, hash types 0x%03x, table length %u, "
           "default queue %u, key ", flags, in->hash_types, in->table_len,
           in->default_queue);
    for (i = 0; i < RSS_REF_KEY_MAX; i++) {
        printf("%02x", in->key[i]);
    }
    printf("\n");
    if (kernel) {
        printf("#   kernel:    report %u hash 0x%08x queue %d\n",
               kernel->report, kernel->hash, kernel->queue);
    }
    if (ref) {
        printf("#   reference: report %u hash 0x%08x queue %d\n",
               ref->report, ref->hash, ref->queue);
    }
    printf("#   frame (%zu bytes):", in->frame_len);
    for (i = 0; i < in->frame_len; i++) {
        printf("%s%02x", i % 32 ? "" : "\n#     ", in->frame[i]);
    }
    printf("\n");
}

/*
 * Replay one input with TUNSETVNETHASH flags @flags: both (the normal
 * case), RSS only (the header must carry no hash) or hash reports only
 * (the queue is tun's own choice, not compared).
 */
static void replay(Rig *r, Stats *st, const char *name, const uint8_t *data,
                   size_t size, uint32_t flags)
{
    struct tun_vnet_hash cfg = { 0 };
    RssFuzzInput in;
    RssRefResult res;
    Verdict kernel = { .queue = -1 }, ref = { .queue = -1 };
    const char *err;
    bool refuse;
    unsigned i;
    int ret;

    st->inputs++;
    if (!rss_fuzz_input_decode(&in, data, size)) {
        st->no_config++;
        return;
    }
    if (!r) {
        return;         /* --no-replay */
    }

    cfg.flags = flags;
    cfg.hash_types = in.hash_types;
    cfg.indirection_table_mask = in.table_len - 1;
    cfg.unclassified_queue = in.default_queue;
    cfg.key_length = RSS_REF_KEY_MAX;
    memcpy(cfg.key, in.key, RSS_REF_KEY_MAX);
    for (i = 0; i < in.table_len; i++) {
        cfg.indirection_table[i] = in.table[i];
    }
    refuse = documented_refusal(r, &cfg, HDR_SZ);
    ret = ioctl(r->fds[0], TUNSETVNETHASH, &cfg) ? -errno : 0;
    if (refuse && ret == -EINVAL) {
        st->rejected++;
        return;
    }
    if (refuse || ret) {
        g_autofree char *what = g_strdup_printf(
            "TUNSETVNETHASH returned %s where the documentation says %s",
            ret ? strerror(-ret) : "success",
            refuse ? "EINVAL" : "success");

        st->differences++;
        dump_difference(name, what, &in, flags, NULL, NULL);
        return;
    }

    if (in.frame_len < 14) {
        st->short_frames++;
        return;
    }
    ret = tap_inject_try_send(r->sock, r->ifindex, in.frame, in.frame_len);
    if (ret) {
        g_autofree char *what = g_strdup_printf("AF_PACKET send: %s",
                                                strerror(-ret));

        st->differences++;
        dump_difference(name, what, &in, flags, NULL, NULL);
        return;
    }
    err = rig_receive(r, in.frame, in.frame_len, &kernel);
    st->compared++;
    if (flags & TUN_VNET_HASH_F_REPORT) {
        st->reports[MIN(kernel.report, ARRAY_SIZE(st->reports) - 1)]++;
    }

    rss_ref_hash_frame(in.frame, in.frame_len, in.hash_types, in.key,
                       RSS_REF_KEY_MAX, &res);
    ref.hash = res.hash;
    ref.report = res.report;
    ref.queue = rss_ref_queue(&res, in.table, in.table_len,
                              in.default_queue, r->nq);
    if (!(flags & TUN_VNET_HASH_F_REPORT)) {
        ref.hash = 0;
        ref.report = VIRTIO_NET_HASH_REPORT_NONE;
    }
    if (!(flags & TUN_VNET_HASH_F_RSS)) {
        ref.queue = kernel.queue;
    }
    if (!err && (kernel.queue != ref.queue || kernel.hash != ref.hash ||
                 kernel.report != ref.report)) {
        err = kernel.report != ref.report ? "hash report type differs" :
              kernel.hash != ref.hash ? "hash value differs" :
              "queue differs";
    }
    if (err) {
        st->differences++;
        dump_difference(name, err, &in, flags, &kernel, &ref);
    }
}

/* ---- a corpus ----------------------------------------------------------- */

static void replay_file(Rig *r, Stats *st, const char *path)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) gerr = NULL;
    gsize size;

    if (!g_file_get_contents(path, &data, &size, &gerr)) {
        fprintf(stderr, "netvirt-rss-kdiff: %s\n", gerr->message);
        exit(2);
    }
    replay(r, st, path, (uint8_t *)data, size, HASH_FLAGS);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or the regular files of a directory in name order */
static void replay_path(Rig *r, Stats *st, const char *path)
{
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GError) gerr = NULL;
    GDir *dir;
    const char *n;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        replay_file(r, st, path);
        return;
    }
    dir = g_dir_open(path, 0, &gerr);
    if (!dir) {
        fprintf(stderr, "netvirt-rss-kdiff: %s\n", gerr->message);
        exit(2);
    }
    names = g_ptr_array_new_with_free_func(g_free);
    while ((n = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, n, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(names, g_steal_pointer(&p));
        }
    }
    g_dir_close(dir);
    qsort(names->pdata, names->len, sizeof(char *), compare_names);
    for (guint i = 0; i < names->len; i++) {
        replay_file(r, st, names->pdata[i]);
    }
}

/* ---- generated inputs --------------------------------------------------- */

typedef struct Gen {
    uint64_t state;
} Gen;

/* splitmix64: the same sequence for a seed everywhere */
static uint64_t gen_u64(Gen *g)
{
    uint64_t z = (g->state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned gen_below(Gen *g, unsigned n)
{
    return gen_u64(g) % n;
}

static bool gen_percent(Gen *g, unsigned p)
{
    return gen_below(g, 100) < p;
}

static void gen_fill(Gen *g, uint8_t *p, size_t n)
{
    while (n--) {
        *p++ = gen_u64(g);
    }
}

#define GEN_FRAME_MAX   2048

typedef struct Frame {
    uint8_t b[GEN_FRAME_MAX];
    size_t len;
} Frame;

static uint8_t *fr_put(Frame *f, size_t n)
{
    uint8_t *p = f->b + f->len;

    g_assert(f->len + n <= sizeof(f->b));
    memset(p, 0, n);
    f->len += n;
    return p;
}

static void fr_bytes(Frame *f, const uint8_t *data, size_t n)
{
    memcpy(fr_put(f, n), data, n);
}

#define P_HOP       0
#define P_TCP       6
#define P_UDP       17
#define P_RT        43
#define P_FRAG      44
#define P_AH        51
#define P_NONE      59
#define P_DST       60
#define P_MH        135

#define T_IPV4      0x0800
#define T_IPV6      0x86dd
#define T_VLAN      0x8100
#define T_QINQ      0x88a8

/* Tag stacks in front of the network header; the last two carry none */
static const uint16_t tag_stacks[][4] = {
    { 0 }, { T_VLAN }, { T_QINQ }, { T_QINQ, T_VLAN }, { T_VLAN, T_VLAN },
    { T_QINQ, T_VLAN, T_VLAN }, { T_VLAN, T_QINQ },
};

static void put_eth(Gen *g, Frame *f, unsigned stack, uint16_t type)
{
    uint8_t *p = fr_put(f, 12);
    unsigned i;

    gen_fill(g, p, 12);
    for (i = 0; i < 4 && tag_stacks[stack][i]; i++) {
        p = fr_put(f, 4);
        stw_be_p(p, tag_stacks[stack][i]);
        stw_be_p(p + 2, gen_below(g, 4096));
    }
    stw_be_p(fr_put(f, 2), type);
}

/* IPv4 with @ihl words of header and @frag as the flags/offset field */
static size_t put_ipv4(Gen *g, Frame *f, unsigned ihl, uint8_t proto,
                       uint16_t frag)
{
    size_t off = f->len;
    uint8_t *p = fr_put(f, ihl * 4);

    gen_fill(g, p, ihl * 4);
    p[0] = 0x40 | (ihl & 0xf);
    stw_be_p(p + 6, frag);
    p[9] = proto;
    return off;
}

static size_t put_ipv6(Gen *g, Frame *f, uint8_t next)
{
    size_t off = f->len;
    uint8_t *p = fr_put(f, 40);

    gen_fill(g, p, 40);
    p[0] = 0x60 | (p[0] & 0xf);
    p[6] = next;
    return off;
}

/* Fix up the IP length field once the frame is complete */
static void fix_ip_len(Frame *f, size_t ip_off, bool v6)
{
    size_t n = f->len - ip_off - (v6 ? 40 : 0);

    stw_be_p(f->b + ip_off + (v6 ? 4 : 2), MIN(n, 0xffff));
}

static void put_l4(Gen *g, Frame *f, uint8_t proto)
{
    uint8_t *p;

    if (proto == P_TCP) {
        unsigned doff = gen_percent(g, 80) ? 5 : 5 + gen_below(g, 11);

        p = fr_put(f, doff * 4);
        gen_fill(g, p, doff * 4);
        p[12] = doff << 4;
    } else if (proto == P_UDP) {
        p = fr_put(f, 8);
        gen_fill(g, p, 8);
        stw_be_p(p + 4, 8);
    }
    /* a payload, or for other protocols something in their place */
    if (gen_below(g, 4) && f->len < GEN_FRAME_MAX - 64) {
        size_t n = gen_below(g, 48);

        gen_fill(g, fr_put(f, n), n);
    }
}

/*
 * Options of a hop-by-hop or destination options header, @n bytes: padding
 * of both kinds, home address options of the right length or not, unknown
 * options, and now and then one that runs past the end.
 */
static void put_options(Gen *g, uint8_t *p, size_t n, bool hao)
{
    size_t off = 0;

    while (off < n) {
        size_t left = n - off, len;

        switch (gen_below(g, 8)) {
        case 0:
        case 1:
            p[off++] = 0;                               /* Pad1 */
            continue;
        case 2:
        case 3:
        case 4:
            if (hao && left >= 18 && gen_percent(g, 70)) {
                p[off] = 0xc9;
                p[off + 1] = 16;
                gen_fill(g, p + off + 2, 16);
                off += 18;
                continue;
            }
            if (hao && left >= 2) {
                /* shorter than an address, or running past the end */
                len = gen_below(g, 16) + (gen_percent(g, 30) ? left : 0);
                len = MIN(len, 255);
                p[off] = 0xc9;
                p[off + 1] = len;
                gen_fill(g, p + off + 2, MIN(len, left - 2));
                off += 2 + len;
                continue;
            }
            break;
        case 5:
            if (left >= 2) {                            /* unknown option */
                len = gen_below(g, MIN(left - 1, 256));
                p[off] = 0x3e + gen_below(g, 0xc0);
                p[off + 1] = len;
                gen_fill(g, p + off + 2, len);
                off += 2 + len;
                continue;
            }
            break;
        default:
            break;
        }
        if (left >= 2) {                                /* PadN */
            len = MIN(left - 2, 255);
            p[off] = 1;
            p[off + 1] = len;
            off += 2 + len;
            continue;
        }
        p[off++] = 0;
    }
}

/* One extension header of protocol @proto, followed by @next */
static void put_ext(Gen *g, Frame *f, uint8_t proto, uint8_t next,
                    bool long_opts)
{
    uint8_t *p;
    size_t n;

    switch (proto) {
    case P_HOP:
    case P_DST:
        n = long_opts ? gen_below(g, 48) : gen_below(g, 4);
        p = fr_put(f, (n + 1) * 8);
        p[1] = n;
        put_options(g, p + 2, (n + 1) * 8 - 2, proto == P_DST ||
                    gen_percent(g, 10));
        break;
    case P_RT:
        switch (gen_below(g, 6)) {
        case 0:
        case 1:
        case 2:                         /* type 2, one segment: 24 bytes */
            p = fr_put(f, 24);
            gen_fill(g, p, 24);
            p[1] = 2;
            p[2] = 2;
            p[3] = 1;
            break;
        case 3:                         /* type 2, other segments left */
            p = fr_put(f, 24);
            gen_fill(g, p, 24);
            p[1] = 2;
            p[2] = 2;
            p[3] = gen_percent(g, 50) ? 0 : 2 + gen_below(g, 254);
            break;
        case 4:                         /* type 2 of another length */
            n = gen_percent(g, 50) ? 0 : 4;
            p = fr_put(f, (n + 1) * 8);
            gen_fill(g, p, (n + 1) * 8);
            p[1] = n;
            p[2] = 2;
            p[3] = 1;
            break;
        default:                        /* type 0, 3, 4 or anything */
            n = gen_below(g, 4);
            p = fr_put(f, (n + 1) * 8);
            gen_fill(g, p, (n + 1) * 8);
            p[1] = n;
            p[2] = gen_percent(g, 50) ? gen_below(g, 5) : gen_u64(g);
            if (p[2] == 2) {
                p[2] = 3;
            }
            break;
        }
        break;
    case P_FRAG:
        p = fr_put(f, 8);
        gen_fill(g, p, 8);
        if (gen_percent(g, 30)) {
            stw_be_p(p + 2, 0);         /* atomic fragment */
        }
        break;
    case P_AH:
        n = 1 + gen_below(g, 6);        /* (n + 2) * 4 bytes */
        p = fr_put(f, (n + 2) * 4);
        gen_fill(g, p, (n + 2) * 4);
        p[1] = n;
        break;
    default:
        g_assert_not_reached();
    }
    p[0] = next;
}

static const uint8_t ext_protos[] = { P_HOP, P_DST, P_RT, P_FRAG, P_AH };

static uint8_t gen_final_proto(Gen *g)
{
    static const uint8_t others[] = { 1, 58, P_NONE, P_MH, 47, 132, 255 };

    switch (gen_below(g, 8)) {
    case 0:
    case 1:
    case 2:
        return P_TCP;
    case 3:
    case 4:
    case 5:
        return P_UDP;
    default:
        return others[gen_below(g, ARRAY_SIZE(others))];
    }
}

/* An IPv6 packet with @n extension headers */
static void put_ipv6_chain(Gen *g, Frame *f, unsigned n, bool long_opts)
{
    uint8_t protos[24], final = gen_final_proto(g);
    size_t ip;
    unsigned i;

    g_assert(n <= ARRAY_SIZE(protos));
    for (i = 0; i < n; i++) {
        /* mostly options headers, where the addresses of _EX live */
        protos[i] = gen_percent(g, 50) ? (gen_percent(g, 70) ? P_DST : P_HOP) :
                    ext_protos[gen_below(g, ARRAY_SIZE(ext_protos))];
    }
    ip = put_ipv6(g, f, n ? protos[0] : final);
    for (i = 0; i < n; i++) {
        put_ext(g, f, protos[i], i + 1 < n ? protos[i + 1] : final,
                long_opts);
    }
    if (final == P_MH) {
        uint8_t *p = fr_put(f, 8);

        gen_fill(g, p, 8);
        p[0] = gen_percent(g, 50) ? P_TCP : P_NONE;
        p[1] = 0;
        final = p[0];
    }
    put_l4(g, f, final);
    fix_ip_len(f, ip, true);
}

static void put_ipv4_packet(Gen *g, Frame *f, uint8_t proto, bool options,
                            bool fragment)
{
    unsigned ihl = options ? 6 + gen_below(g, 10) : 5;
    uint16_t frag = gen_percent(g, 50) ? 0x4000 : 0;    /* DF */
    size_t ip;

    if (fragment) {
        frag = gen_percent(g, 50) ? 0x2000 | gen_below(g, 0x2000) :
               1 + gen_below(g, 0x1fff);
    }
    ip = put_ipv4(g, f, ihl, proto, frag);
    put_l4(g, f, proto);
    fix_ip_len(f, ip, false);
}

typedef enum {
    C_IPV4_TCP, C_IPV4_UDP, C_IPV4_OTHER, C_IPV6_TCP, C_IPV6_UDP,
    C_IPV6_OTHER, C_IPV6_EXT, C_IPV6_DEEP, C_VLAN, C_MALFORMED, C_FINDINGS,
    C_COUNT,
} Class;

static const struct {
    const char *name;
    unsigned weight;        /* share of the generated inputs, percent */
} classes[C_COUNT] = {
    [C_IPV4_TCP] = { "ipv4-tcp", 9 },
    [C_IPV4_UDP] = { "ipv4-udp", 9 },
    [C_IPV4_OTHER] = { "ipv4-other-fragments-options", 8 },
    [C_IPV6_TCP] = { "ipv6-tcp", 9 },
    [C_IPV6_UDP] = { "ipv6-udp", 9 },
    [C_IPV6_OTHER] = { "ipv6-other", 4 },
    [C_IPV6_EXT] = { "ipv6-extension-headers", 22 },
    [C_IPV6_DEEP] = { "ipv6-deep-or-long-extension-headers", 6 },
    [C_VLAN] = { "vlan-tags", 8 },
    [C_MALFORMED] = { "malformed-and-truncated", 16 },
    [C_FINDINGS] = { "fuzz-findings-1-8", 0 },
};

/* A frame of class @c (not C_FINDINGS) */
static void gen_frame(Gen *g, Frame *f, Class c)
{
    static const uint8_t v4_other[] = { 1, 2, 47, 50, 51, 132, 0, 255 };

    f->len = 0;
    switch (c) {
    case C_IPV4_TCP:
    case C_IPV4_UDP:
        put_eth(g, f, 0, T_IPV4);
        put_ipv4_packet(g, f, c == C_IPV4_TCP ? P_TCP : P_UDP,
                        gen_percent(g, 20), false);
        break;
    case C_IPV4_OTHER:
        put_eth(g, f, 0, T_IPV4);
        switch (gen_below(g, 3)) {
        case 0:
            put_ipv4_packet(g, f, v4_other[gen_below(g, ARRAY_SIZE(v4_other))],
                            gen_percent(g, 20), gen_percent(g, 20));
            break;
        case 1:
            put_ipv4_packet(g, f, gen_percent(g, 50) ? P_TCP : P_UDP,
                            gen_percent(g, 20), true);
            break;
        default:
            put_ipv4_packet(g, f, gen_percent(g, 50) ? P_TCP : P_UDP,
                            true, false);
            break;
        }
        break;
    case C_IPV6_TCP:
    case C_IPV6_UDP: {
        uint8_t proto = c == C_IPV6_TCP ? P_TCP : P_UDP;
        size_t ip;

        put_eth(g, f, 0, T_IPV6);
        ip = put_ipv6(g, f, proto);
        put_l4(g, f, proto);
        fix_ip_len(f, ip, true);
        break;
    }
    case C_IPV6_OTHER: {
        uint8_t proto = gen_final_proto(g);
        size_t ip;

        if (proto == P_TCP || proto == P_UDP || proto == P_MH) {
            proto = P_NONE;
        }
        put_eth(g, f, 0, T_IPV6);
        ip = put_ipv6(g, f, proto);
        put_l4(g, f, proto);
        fix_ip_len(f, ip, true);
        break;
    }
    case C_IPV6_EXT:
        put_eth(g, f, 0, T_IPV6);
        put_ipv6_chain(g, f, 1 + gen_below(g, 5), false);
        break;
    case C_IPV6_DEEP:
        put_eth(g, f, 0, T_IPV6);
        if (gen_percent(g, 60)) {
            put_ipv6_chain(g, f, 14 + gen_below(g, 6), false);
        } else {
            put_ipv6_chain(g, f, 1 + gen_below(g, 3), true);
        }
        break;
    case C_VLAN: {
        unsigned stack = 1 + gen_below(g, ARRAY_SIZE(tag_stacks) - 1);

        if (gen_percent(g, 50)) {
            put_eth(g, f, stack, T_IPV4);
            put_ipv4_packet(g, f, gen_final_proto(g), gen_percent(g, 10),
                            gen_percent(g, 10));
        } else {
            put_eth(g, f, stack, T_IPV6);
            put_ipv6_chain(g, f, gen_below(g, 3), false);
        }
        break;
    }
    case C_MALFORMED: {
        Class base = gen_below(g, C_MALFORMED);
        unsigned kind = gen_below(g, 6);
        size_t l3 = 14;

        gen_frame(g, f, base);
        while (l3 + 2 <= f->len &&
               (lduw_be_p(f->b + l3 - 2) == T_VLAN ||
                lduw_be_p(f->b + l3 - 2) == T_QINQ)) {
            l3 += 4;
        }
        if (kind <= 2 && f->len > 14) {
            /* cut anywhere, most often inside the headers */
            f->len = 14 + gen_below(g, MIN(f->len - 14, kind ? 120 : 2000));
        } else if (kind == 3 && l3 < f->len) {
            /* the IP version that does not go with the Ethertype */
            f->b[l3] = (f->b[l3] & 0xf) | (gen_below(g, 16) << 4);
            if (gen_percent(g, 50)) {
                f->b[l3] = (f->b[l3] & 0xf0) | gen_below(g, 5);  /* IHL */
            }
        } else if (kind == 4) {
            /* a few random bytes anywhere */
            for (unsigned i = gen_below(g, 4) + 1; i && f->len; i--) {
                f->b[gen_below(g, f->len)] = gen_u64(g);
            }
        } else {
            /* something else or nothing after the Ethernet header */
            static const uint16_t types[] = {
                T_IPV4, T_IPV6, 0x0806, 0x88cc, 0x0600, 0x05dc, 0x8847,
            };
            size_t n = gen_below(g, 80);

            f->len = 12;
            stw_be_p(fr_put(f, 2), types[gen_below(g, ARRAY_SIZE(types))]);
            gen_fill(g, fr_put(f, n), n);
            /* below an Ethernet header now and then: must be skipped */
            if (gen_percent(g, 3)) {
                f->len = gen_below(g, 14);
            }
        }
        break;
    }
    default:
        g_assert_not_reached();
    }
}

/*
 * The frames of the rss-diff findings (docs/devel/netvirt-fuzzing.rst,
 * tests/qtest/fuzz-netvirt-test.c for 1 to 7): the kernel must agree
 * with the reference on them too.
 */
#define FINDING_FRAMES  16

static const uint8_t f_tcp[20] = {
    0x0a, 0xea, 0x06, 0xe6, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20,
};

static void finding_ipv6(Frame *f, uint8_t next)
{
    uint8_t *p;

    f->len = 0;
    p = fr_put(f, 14 + 40);
    memset(p, 0xff, 6);
    p[6] = 0x52;
    p[7] = 0x54;
    p[11] = 1;
    stw_be_p(p + 12, T_IPV6);
    p[14] = 0x60;
    p[14 + 6] = next;
    p[14 + 7] = 64;
    memcpy(p + 14 + 8, rss_fuzz_v6_src, 16);
    memcpy(p + 14 + 24, rss_fuzz_v6_dst, 16);
}

static void finding_frame(unsigned i, Frame *f)
{
    uint8_t *p;
    unsigned n;

    switch (i) {
    case 0:     /* 1: a fragment header announced, none of it there */
        finding_ipv6(f, P_FRAG);
        break;
    case 1:     /* 1: six bytes of it */
        finding_ipv6(f, P_FRAG);
        fr_put(f, 6);
        break;
    case 2:     /* 1: a fragment header, then hop-by-hop cut short */
        finding_ipv6(f, P_FRAG);
        fr_put(f, 16);
        break;
    case 3:     /* 2: a home address option in a header cut short */
        finding_ipv6(f, P_DST);
        p = fr_put(f, 40);
        p[0] = P_UDP;
        p[1] = 160;
        p[2] = 1;
        p[3] = 2;
        p[6] = 0xc9;
        p[7] = 16;
        memcpy(p + 8, rss_fuzz_home_a, 16);
        memcpy(p + 24, rss_fuzz_udp, 8);
        break;
    case 4:     /* 3: IPv4 with an IHL of 4 */
        f->len = 0;
        p = fr_put(f, 14 + 16 + 8);
        memset(p, 0xff, 6);
        stw_be_p(p + 12, T_IPV4);
        p[14] = 0x44;
        p[14 + 3] = 24;
        p[14 + 8] = 64;
        p[14 + 9] = P_UDP;
        memcpy(p + 14 + 12, rss_fuzz_home_a, 4);
        memcpy(p + 30, rss_fuzz_udp, 8);
        break;
    case 5:     /* 4: the IPv6 Ethertype, IP version 4 */
        finding_ipv6(f, P_NONE);
        f->b[14] = 0x44;
        break;
    case 6:     /* 5: a home address option of length 0, then PadN */
    case 7:     /* 5: ... of length 15 */
        finding_ipv6(f, P_DST);
        p = fr_put(f, 24);
        p[0] = P_UDP;
        p[1] = 2;
        p[2] = 0xc9;
        if (i == 6) {
            p[4] = 1;
            p[5] = 18;
        } else {
            p[3] = 15;
            memcpy(p + 4, rss_fuzz_home_a, 15);
            p[19] = 1;
            p[20] = 2;
        }
        fr_bytes(f, rss_fuzz_udp, 8);
        break;
    case 8:     /* 5: two home address options, the second one counts */
        finding_ipv6(f, P_DST);
        p = fr_put(f, 48);
        p[0] = P_UDP;
        p[1] = 5;
        p[2] = 0xc9;
        p[3] = 16;
        memcpy(p + 4, rss_fuzz_home_a, 16);
        p[20] = 0xc9;
        p[21] = 16;
        memcpy(p + 22, rss_fuzz_home_b, 16);
        p[38] = 1;
        p[39] = 8;
        fr_bytes(f, rss_fuzz_udp, 8);
        break;
    case 9:     /* 5: a type 2 routing header, then one of type 0 */
        finding_ipv6(f, P_RT);
        p = fr_put(f, 48);
        p[0] = P_RT;
        p[1] = 2;
        p[2] = 2;
        p[3] = 1;
        memcpy(p + 8, rss_fuzz_home_a, 16);
        p[24] = P_UDP;
        p[25] = 2;
        p[27] = 1;
        memcpy(p + 32, rss_fuzz_v6_src, 16);
        fr_bytes(f, rss_fuzz_udp, 8);
        break;
    case 10:    /* 6: 16 hop-by-hop headers, then TCP */
    case 11:    /* 6: 17 of them */
        finding_ipv6(f, P_HOP);
        n = i == 10 ? 16 : 17;
        p = fr_put(f, 8 * n);
        p[8 * (n - 1)] = P_TCP;
        p[8 * (n - 1) + 2] = 1;
        p[8 * (n - 1) + 3] = 4;
        fr_bytes(f, f_tcp, sizeof(f_tcp));
        break;
    case 12:    /* 7: the mobility header, nothing after it */
    case 13:    /* 7: ... TCP after it */
        finding_ipv6(f, P_MH);
        p = fr_put(f, 8);
        p[0] = i == 12 ? P_NONE : P_TCP;
        fr_bytes(f, f_tcp, sizeof(f_tcp));
        break;
    case 14:    /* 8: hundreds of Pad1 with home address options among them */
    case 15:
        finding_ipv6(f, P_DST);
        n = i == 14 ? 40 : 63;
        p = fr_put(f, (n + 1) * 8);
        p[0] = P_TCP;
        p[1] = n;
        p[2] = 0xc9;
        p[3] = 16;
        memcpy(p + 4, rss_fuzz_v6_src, 16);
        /* Pad1 from 20 on, the last option 18 bytes before the end */
        p[(n + 1) * 8 - 18] = 0xc9;
        p[(n + 1) * 8 - 17] = 16;
        memcpy(p + (n + 1) * 8 - 16, rss_fuzz_home_a, 16);
        fr_bytes(f, f_tcp, sizeof(f_tcp));
        break;
    default:
        g_assert_not_reached();
    }
    /* The payload length, for the IPv6 frames */
    if (lduw_be_p(f->b + 12) == T_IPV6 && f->len >= 54) {
        stw_be_p(f->b + 18, f->len - 54);
    }
}

static uint32_t gen_hash_types(Gen *g)
{
    static const uint32_t subsets[] = {
        RSS_REF_HASH_TYPES_ALL,
        VIRTIO_NET_RSS_HASH_TYPE_IPv4,
        VIRTIO_NET_RSS_HASH_TYPE_IPv6,
        VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |
        VIRTIO_NET_RSS_HASH_TYPE_UDP_EX,
        VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
        VIRTIO_NET_RSS_HASH_TYPE_UDPv6,
        VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
        VIRTIO_NET_RSS_HASH_TYPE_TCP_EX,
        VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |
        VIRTIO_NET_RSS_HASH_TYPE_UDP_EX,
        0,
    };

    if (gen_percent(g, 35)) {
        return RSS_REF_HASH_TYPES_ALL;
    }
    if (gen_percent(g, 40)) {
        return subsets[gen_below(g, ARRAY_SIZE(subsets))];
    }
    return gen_u64(g) & RSS_REF_HASH_TYPES_ALL;
}

/* A configuration for @f, encoded with it into @buf */
static size_t gen_input(Gen *g, uint8_t *buf, const Frame *f, uint32_t types)
{
    uint8_t key[RSS_REF_KEY_MAX];

    if (gen_percent(g, 20)) {
        memcpy(key, rss_ref_ms_key, sizeof(key));
    } else {
        gen_fill(g, key, sizeof(key));
    }
    return rss_fuzz_input_encode(buf, types, gen_below(g, 8),
                                 gen_below(g, RSS_FUZZ_NR_QUEUES), key,
                                 f->b, f->len);
}

static void write_input(const char *dir, const char *cls, unsigned i,
                        const uint8_t *buf, size_t len)
{
    g_autofree char *name = g_strdup_printf("gen-%s-%05u", cls, i);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) gerr = NULL;

    if (!g_file_set_contents(path, (const char *)buf, len, &gerr)) {
        fprintf(stderr, "netvirt-rss-kdiff: %s\n", gerr->message);
        exit(2);
    }
}

static void add_stats(Stats *sum, const Stats *st)
{
    sum->inputs += st->inputs;
    sum->compared += st->compared;
    sum->differences += st->differences;
    sum->rejected += st->rejected;
    sum->short_frames += st->short_frames;
    sum->no_config += st->no_config;
    for (unsigned i = 0; i < ARRAY_SIZE(sum->reports); i++) {
        sum->reports[i] += st->reports[i];
    }
}

static void report_point(const char *what, const Stats *st)
{
    if (!tap_output) {
        return;
    }
    printf("%s %u - %s: %" PRIu64 " inputs, %" PRIu64 " compared, %" PRIu64
           " differences, %" PRIu64 " refused as documented, %" PRIu64
           " too short to send\n", st->differences ? "not ok" : "ok",
           ++tap_point, what, st->inputs, st->compared, st->differences,
           st->rejected, st->short_frames);
}

/*
 * Turn @cfg, a valid configuration, into check number @i of which
 * configurations TUNSETVNETHASH refuses, with the header size in @hdr_sz.
 * Returns what it checks, or NULL past the last one.
 */
static const char *refusal_check(unsigned i, const Rig *r,
                                 struct tun_vnet_hash *cfg, int *hdr_sz)
{
    *hdr_sz = HDR_SZ;
    switch (i) {
    case 0:
        return "valid: every queue, longest table and key";
    case 1:
        cfg->hash_types = 0;
        return "valid: no hash type";
    case 2:
        cfg->key_length = 0;
        return "valid: empty key";
    case 3:
        cfg->flags = TUN_VNET_HASH_F_RSS;
        *hdr_sz = 12;
        return "valid: RSS without reports, short header";
    case 4:
        cfg->flags = TUN_VNET_HASH_F_REPORT;
        cfg->indirection_table_mask = 5;
        cfg->unclassified_queue = r->nq;
        return "valid: reports only, the table is not looked at";
    case 5:
        cfg->flags = 0;
        return "valid: hashing off";
    case 6:
        cfg->flags |= 0x4;
        return "unknown flag";
    case 7:
        cfg->hash_types |= 0x200;
        return "unknown hash type";
    case 8:
        cfg->reserved[1] = 1;
        return "reserved byte";
    case 9:
        cfg->key_length = r->cap.max_key_size + 1;
        return "key one byte too long";
    case 10:
        cfg->indirection_table_mask = 5;
        return "mask not 2^n-1";
    case 11:
        cfg->indirection_table_mask = 255;
        return "table too long";
    case 12:
        cfg->unclassified_queue = r->nq;
        return "unclassified queue beyond the queues";
    case 13:
        cfg->indirection_table[3] = r->nq;
        return "table entry beyond the queues";
    case 14:
        *hdr_sz = 12;
        return "reports with a 12-byte header";
    default:
        return NULL;
    }
}

/*
 * Which configurations TUNSETVNETHASH refuses: exactly those the
 * documentation names, and a refused one leaves the one before in place.
 */
static void check_refusals(Rig *r, Stats *sum)
{
    struct tun_vnet_hash good = {
        .flags = HASH_FLAGS,
        .hash_types = RSS_REF_HASH_TYPES_ALL,
        .indirection_table_mask = 127,
        .unclassified_queue = r->nq - 1,
        .key_length = RSS_REF_KEY_MAX,
    }, cfg, back;
    const char *what;
    Stats st = { 0 };
    unsigned i;
    int sz, ret;
    bool refuse, kept;

    for (i = 0; i < RSS_FUZZ_TABLE_MAX; i++) {
        good.indirection_table[i] = i % r->nq;
    }
    memcpy(good.key, rss_ref_ms_key, RSS_REF_KEY_MAX);
    for (i = 0; cfg = good, (what = refusal_check(i, r, &cfg, &sz)); i++) {
        int valid_sz = HDR_SZ;

        st.inputs++;
        /* What is in place before, then the header size of the check */
        if (ioctl(r->fds[0], TUNSETVNETHDRSZ, &valid_sz) ||
            ioctl(r->fds[0], TUNSETVNETHASH, &good) ||
            ioctl(r->fds[0], TUNSETVNETHDRSZ, &sz)) {
            fprintf(stderr, "netvirt-rss-kdiff: setting up the check "
                    "\"%s\": %s\n", what, strerror(errno));
            exit(2);
        }
        refuse = documented_refusal(r, &cfg, sz);
        ret = ioctl(r->fds[0], TUNSETVNETHASH, &cfg) ? -errno : 0;
        memset(&back, 0xff, sizeof(back));
        kept = !ioctl(r->fds[0], TUNGETVNETHASH, &back) &&
               !memcmp(&back, &good, sizeof(good));
        if ((refuse ? ret != -EINVAL : ret != 0) || (refuse && !kept)) {
            const char *got = ret ? strerror(-ret) : "success";

            st.differences++;
            printf("# DIFFERENCE uapi: %s: TUNSETVNETHASH returned %s, the "
                   "documentation says %s%s\n", what, got,
                   refuse ? "EINVAL" : "success",
                   refuse && !kept ?
                   "; the configuration before is no longer in place" : "");
        } else if (refuse) {
            st.rejected++;
        }
    }
    sz = HDR_SZ;
    if (ioctl(r->fds[0], TUNSETVNETHDRSZ, &sz)) {
        exit(2);
    }
    if (tap_output) {
        printf("%s %u - TUNSETVNETHASH refuses what the documentation says "
               "and only that: %" PRIu64 " configurations, %" PRIu64
               " refused, %" PRIu64 " differences\n",
               st.differences ? "not ok" : "ok", ++tap_point, st.inputs,
               st.rejected, st.differences);
    }
    /* The summary counts inputs; these are not */
    sum->differences += st.differences;
}

static void replay_generated(Rig *r, Stats *sum, uint64_t seed,
                             unsigned count, const char *write_dir)
{
    static uint8_t buf[RSS_FUZZ_HDR_LEN + GEN_FRAME_MAX];
    Gen g = { .state = seed };
    Frame f;
    unsigned c, i, j, n, k = 0;

    for (c = 0; c < C_COUNT; c++) {
        Stats st = { 0 };

        n = c == C_FINDINGS ? FINDING_FRAMES * 8 :
            count * classes[c].weight / 100;
        for (i = 0; i < n; i++, k++) {
            g_autofree char *name = g_strdup_printf("%s #%u (seed %" PRIu64
                                                    ")", classes[c].name, i,
                                                    seed);
            uint32_t types, flags = HASH_FLAGS;
            size_t len;

            if (c == C_FINDINGS) {
                static const uint32_t ftypes[] = {
                    RSS_REF_HASH_TYPES_ALL, VIRTIO_NET_RSS_HASH_TYPE_IPv6,
                    VIRTIO_NET_RSS_HASH_TYPE_IP_EX,
                    VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |
                    VIRTIO_NET_RSS_HASH_TYPE_UDP_EX,
                };

                finding_frame(i / 8, &f);
                j = i % 8;
                types = j < ARRAY_SIZE(ftypes) ? ftypes[j] :
                        gen_hash_types(&g);
            } else {
                gen_frame(&g, &f, c);
                types = gen_hash_types(&g);
            }
            len = gen_input(&g, buf, &f, types);
            if (write_dir) {
                write_input(write_dir, classes[c].name, i, buf, len);
            }
            /* Now and then one feature alone */
            if (k % 10 == 3) {
                flags = TUN_VNET_HASH_F_RSS;
            } else if (k % 10 == 7) {
                flags = TUN_VNET_HASH_F_REPORT;
            }
            replay(r, &st, name, buf, len, flags);
        }
        report_point(classes[c].name, &st);
        add_stats(sum, &st);
    }
    if (r) {
        check_refusals(r, sum);
    }
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: netvirt-rss-kdiff [--queues N] [--tap] "
            "[--max-dumps N] CORPUS-FILE-OR-DIR...\n"
            "       netvirt-rss-kdiff [--queues N] [--tap] [--max-dumps N] "
            "--generate SEED [--count N] [--write DIR [--no-replay]]\n");
    exit(2);
}

static uint64_t parse_num(const char *s, uint64_t max)
{
    uint64_t v;

    if (!s || qemu_strtou64(s, NULL, 0, &v) < 0 || v > max) {
        usage();
    }
    return v;
}

int main(int argc, char **argv)
{
    Rig rig = { 0 };
    Stats sum = { 0 };
    const char *write_dir = NULL;
    bool generate = false, no_replay = false;
    uint64_t seed = 0;
    unsigned nq = RSS_FUZZ_NR_QUEUES, count = 3000;
    int64_t start;
    int i, ret;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--queues")) {
            nq = parse_num(argv[++i], MAX_QUEUES);
        } else if (!strcmp(argv[i], "--generate")) {
            generate = true;
            seed = parse_num(argv[++i], UINT64_MAX);
        } else if (!strcmp(argv[i], "--count")) {
            count = parse_num(argv[++i], 1000000);
        } else if (!strcmp(argv[i], "--write")) {
            write_dir = argv[++i];
        } else if (!strcmp(argv[i], "--no-replay")) {
            no_replay = true;
        } else if (!strcmp(argv[i], "--tap")) {
            tap_output = true;
        } else if (!strcmp(argv[i], "--max-dumps")) {
            max_dumps = parse_num(argv[++i], UINT_MAX);
        } else {
            usage();
        }
    }
    if (!nq || generate == (i < argc) || (write_dir && !generate) ||
        (no_replay && !write_dir)) {
        usage();
    }
    if (write_dir) {
        g_mkdir_with_parents(write_dir, 0755);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (no_replay) {
        replay_generated(NULL, &sum, seed, count, write_dir);
        printf("netvirt-rss-kdiff: %" PRIu64 " inputs written to %s\n",
               sum.inputs, write_dir);
        return 0;
    }
    ret = rig_setup(&rig, nq);
    if (ret) {
        if (ret == 77 && tap_output) {
            printf("1..0 # SKIP see above\n");
        }
        return ret;
    }
    start = g_get_monotonic_time();
    if (generate) {
        replay_generated(&rig, &sum, seed, count, write_dir);
    } else {
        for (; i < argc; i++) {
            Stats st = { 0 };

            replay_path(&rig, &st, argv[i]);
            report_point(argv[i], &st);
            add_stats(&sum, &st);
        }
    }
    if (tap_output) {
        printf("1..%u\n", tap_point);
    }
    printf("%snetvirt-rss-kdiff: inputs %" PRIu64 ", compared %" PRIu64
           ", differences %" PRIu64 ", skipped %" PRIu64
           " (refused as documented %" PRIu64 ", frame below 14 bytes %"
           PRIu64 ", no configuration %" PRIu64 "), %u queues, "
           "stray frames %" PRIu64 ", %.1f s\n", tap_output ? "# " : "",
           sum.inputs, sum.compared, sum.differences,
           sum.rejected + sum.short_frames + sum.no_config, sum.rejected,
           sum.short_frames, sum.no_config, nq, rig.strays,
           (g_get_monotonic_time() - start) / 1e6);
    /* What the inputs exercised: the reports the kernel gave */
    printf("%snetvirt-rss-kdiff: hash reports:", tap_output ? "# " : "");
    for (i = 0; i < ARRAY_SIZE(sum.reports); i++) {
        printf(" %s %" PRIu64, report_names[i], sum.reports[i]);
    }
    printf("\n");
    rig_cleanup(&rig);
    return sum.differences ? 1 : 0;
}

/*
 * QTest: virtio-net RSS steering through a real multiqueue tap
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Frames are injected on the host side of a multiqueue tap with an
 * AF_PACKET socket, so the kernel's tun queue selection (with QEMU's eBPF
 * steering program attached, or its own flow hash) picks the tap queue and
 * QEMU may then redirect in software.  Every frame must end up on the
 * receive virtqueue predicted by the reference model in libqos/rss-ref.c,
 * with the hash the model computes when hash reporting is negotiated.
 *
 * The /virtio-net-rss/mode/ cases check which of the three RSS modes
 * virtio-net picks (kernel, eBPF, software): the kernel one where the host
 * kernel has TUNGETVNETHASHCAP (our Linux series), the fallback elsewhere.
 * Where the kernel has it, /virtio-net-rss/mode/macvtap-* and ipvtap-*
 * run the kernel mode on those backends too: queues are /dev/tapN opened
 * once each, and frames come in through the lower device, a veth whose
 * peer sits in a network namespace of the test's own.
 *
 * Needs root (or CAP_NET_ADMIN) and /dev/net/tun; the macvtap and ipvtap
 * cases also ip(8).
 */

#include "qemu/osdep.h"
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include "qemu/cutils.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "libqos/rss-ref.h"
#include "libqos/tap-inject.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_net.h"
#include "net/tap-vnet-hash.h"

#define NR_QUEUES       4
#define RX_BUFS         32
#define BUF_SIZE        2048
#define NET_SLOT        4
#define TIMEOUT_US      (5 * G_USEC_PER_SEC)
#define CTRL_VQ_INDEX   (2 * NR_QUEUES)
#define MAX_TABLE       128
#define FLOWS           160
#define MAX_REPORTED    12

/* Lets software-fallback runs start QEMU under a capability-dropping wrapper */
#define NOBPF_QEMU_ENV  "NVRSS_QEMU_NOBPF"

#define EBPF_RSS_FDS    4
#define HELPER_MAGIC    "qemu-ebpf-rss/1"

#ifndef CAP_PERFMON
#define CAP_PERFMON     38
#endif
#ifndef CAP_BPF
#define CAP_BPF         39
#endif

static const uint8_t guest_mac[ETH_ALEN] = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56
};
static const uint8_t peer_mac[ETH_ALEN] = {
    0x02, 0x00, 0x5e, 0x00, 0x00, 0x01
};
/* Trailer that identifies our frames among whatever else the host sends */
static const char marker[4] = { 'N', 'V', 'R', 'S' };

typedef struct RssState {
    bool enabled;
    uint32_t types;
    uint16_t table[MAX_TABLE];
    unsigned table_len;
    uint16_t unclassified;
    unsigned nr_queues;
    uint8_t key[RSS_REF_KEY_MAX];
} RssState;

/* What QEMU's -netdev tap gets its queues from */
typedef enum Backend {
    BACKEND_TUN,        /* a multiqueue tap of the test's */
    BACKEND_MACVTAP,    /* a macvtap (bridge mode) over a veth */
    BACKEND_IPVTAP,     /* an ipvtap (L2 mode) over a veth */
} Backend;

typedef struct Rig {
    char ifname[IFNAMSIZ];  /* the tap, macvtap or ipvtap */
    int ifindex;            /* of the interface frames are sent on */
    int sock;
    Backend backend;
    int netns;              /* macvtap, ipvtap: the veth peer's, or -1 */
    char lower[IFNAMSIZ];   /* their lower device */
    int tap_fd;             /* QEMU's queue 0, kept for TUNGETVNETHASH */
    int vhostfds[NR_QUEUES];
    bool has_vhostfds;
    QTestState *qts;
    QGuestAllocator alloc;
    QPCIBus *bus;
    QVirtioPCIDevice *dev;
    QVirtQueue *rxq[NR_QUEUES];
    QVirtQueue *ctrlq;
    uint64_t rxbuf[NR_QUEUES][RX_BUFS];
    uint64_t ctrl_buf;
    size_t hdr_len;
    bool hash;
    char *trace_path;
    char *trace;            /* trace log contents, read at teardown */
    char *stderr_path;      /* QEMU's stderr goes there, if set */
    RssState cur;
    uint32_t seq;
    GRand *rand;
    int mismatches;
    unsigned noise;
} Rig;

typedef enum RigFds {
    FDS_NONE,
    FDS_CMDLINE,        /* ebpf-rss-fds=N:N:N:N, inherited descriptors */
    FDS_QMP,            /* getfd, then device_add with ebpf-rss-fds */
} RigFds;

typedef struct RigOpts {
    bool hash;
    bool no_bpf;        /* QEMU without CAP_BPF in its bounding set */
    bool no_caps;       /* QEMU with no capabilities at all (uid 0, noroot) */
    const char *helper; /* ebpf-rss-helper= */
    bool helper_is_tmp; /* unlink it once QEMU has run it */
    RigFds fds;         /* descriptors of a program the test loaded */
    const char *offload; /* rss-offload=, "ebpf" when NULL */
    bool vhost;         /* vhost=on */
    unsigned flows;     /* flows per frame kind, FLOWS when 0 */
    const char *incoming; /* -incoming URI: a migration destination */
    Backend backend;
    bool vhostfds;      /* open /dev/vhost-net for QEMU, as libvirt does */
    bool stale_hash;    /* the tap has a hash configuration QEMU never set */
    bool narrow;        /* kernel mode: check_narrow_configs() too */
} RigOpts;

/* Host side: tap creation and frame injection */

static bool host_usable(void)
{
    if (geteuid() != 0) {
        g_test_skip("virtio-net-rss-test needs root to create a "
                    "multiqueue tap and inject frames");
        return false;
    }
    if (access("/dev/net/tun", R_OK | W_OK)) {
        g_test_skip("virtio-net-rss-test needs /dev/net/tun");
        return false;
    }
    return true;
}

static void tap_open(Rig *r, int fds[NR_QUEUES])
{
    struct ifreq ifr;
    int i;

    for (i = 0; i < NR_QUEUES; i++) {
        /* No O_CLOEXEC: QEMU inherits these and takes them via fds= */
        fds[i] = open("/dev/net/tun", O_RDWR);
        g_assert_cmpint(fds[i], >=, 0);
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
        pstrcpy(ifr.ifr_name, IFNAMSIZ, i ? r->ifname : "nvrss%d");
        if (ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
            g_error("TUNSETIFF on queue %d: %s", i, strerror(errno));
        }
        pstrcpy(r->ifname, IFNAMSIZ, ifr.ifr_name);
    }
}

static void tap_up(Rig *r)
{
    r->sock = tap_inject_open(r->ifname, &r->ifindex);
}

static void host_send(Rig *r, const uint8_t *frame, size_t len)
{
    tap_inject_send(r->sock, r->ifindex, frame, len);
}

/*
 * macvtap and ipvtap: the device sits on a veth in our namespace, the
 * veth's peer in a namespace held only by r->netns.  If the test dies,
 * that namespace goes with its last descriptor, taking the veth pair and
 * the device on top with it.
 */

#define IPVTAP_ADDR4    "192.0.2.1"
#define IPVTAP_ADDR6    "2001:db8::1"

/* Run ip(8) with @fmt's arguments, split as a shell would; it must work */
static void ip_run(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void ip_run(const char *fmt, ...)
{
    g_autofree char *args = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) argv = NULL;
    GError *gerr = NULL;
    va_list ap;
    int status;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    cmd = g_strdup_printf("ip %s", args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    if (!g_spawn_sync(NULL, argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &err, &status, &gerr)) {
        g_error("%s: %s", cmd, gerr->message);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        g_error("%s failed: %s", cmd, err);
    }
}

/* Switch this thread to the namespace @ns; returns the one it left */
static int netns_enter(int ns)
{
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(home, >=, 0);
    g_assert_cmpint(setns(ns, CLONE_NEWNET), ==, 0);
    return home;
}

static void netns_leave(int home)
{
    g_assert_cmpint(setns(home, CLONE_NEWNET), ==, 0);
    close(home);
}

/* A new network namespace, held only by the returned descriptor */
static int netns_new(void)
{
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int ns;

    g_assert_cmpint(home, >=, 0);
    g_assert_cmpint(unshare(CLONE_NEWNET), ==, 0);
    ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(ns, >=, 0);
    netns_leave(home);
    return ns;
}

/*
 * Create the macvtap or ipvtap and open its /dev/tapN once per queue
 * into @fds; frames for it go through r->sock on the veth's peer.
 */
static void vtap_open(Rig *r, int fds[NR_QUEUES])
{
    static unsigned serial;
    bool macvtap = r->backend == BACKEND_MACVTAP;
    char peer[IFNAMSIZ], mac[18];
    g_autofree char *dev = NULL;
    int home, i;

    /* Names of our own: another rig's namespace may still be going away */
    snprintf(r->lower, IFNAMSIZ, "nvrl%dx%u", getpid() % 100000, serial);
    snprintf(peer, IFNAMSIZ, "nvrp%dx%u", getpid() % 100000, serial);
    snprintf(r->ifname, IFNAMSIZ, "nvrv%dx%u", getpid() % 100000, serial);
    serial++;
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
             guest_mac[0], guest_mac[1], guest_mac[2], guest_mac[3],
             guest_mac[4], guest_mac[5]);

    r->netns = netns_new();
    ip_run("link add %s type veth peer name %s netns /proc/%d/fd/%d",
           r->lower, peer, getpid(), r->netns);
    if (macvtap) {
        /* The guest's address is the macvtap's: macvlan delivers by it */
        ip_run("link add link %s name %s address %s type macvtap "
               "mode bridge", r->lower, r->ifname, mac);
    } else {
        /*
         * ipvlan hands its devices what it finds their addresses in:
         * IPv4 and IPv6 destinations, ARP targets.  The MAC is the lower
         * device's, so the guest gets that one.
         */
        ip_run("link set %s address %s", r->lower, mac);
        ip_run("link add link %s name %s type ipvtap mode l2",
               r->lower, r->ifname);
        ip_run("addr add %s/32 dev %s", IPVTAP_ADDR4, r->ifname);
        ip_run("addr add %s/128 dev %s nodad", IPVTAP_ADDR6, r->ifname);
    }
    ip_run("link set %s up", r->lower);
    ip_run("link set %s up", r->ifname);

    dev = g_strdup_printf("/dev/tap%u", if_nametoindex(r->ifname));
    for (i = 0; i < NR_QUEUES; i++) {
        /* Each open is one more queue; QEMU inherits them all */
        fds[i] = open(dev, O_RDWR);
        if (fds[i] < 0) {
            g_error("%s: %s", dev, strerror(errno));
        }
    }

    home = netns_enter(r->netns);
    r->sock = tap_inject_open(peer, &r->ifindex);
    netns_leave(home);
}

/* Undo vtap_open() before the namespace would, so its names are free */
static void vtap_close(Rig *r)
{
    if (r->backend != BACKEND_TUN && r->netns >= 0) {
        ip_run("link del %s", r->lower);
        close(r->netns);
        r->netns = -1;
    }
}

/* Frame construction */

typedef enum FrameKind {
    F_IP4_TCP,
    F_IP4_UDP,
    F_IP4_ICMP,
    F_IP4_OPT_TCP,
    F_IP4_FRAG_FIRST,
    F_IP4_FRAG_LATER,
    F_IP6_TCP,
    F_IP6_UDP,
    F_IP6_ICMP,
    F_IP6_HOP_UDP,
    F_IP6_HAO_TCP,
    F_IP6_RT2_UDP,
    F_IP6_HAO_RT2_TCP,
    F_IP6_DST_NOHAO_TCP,
    F_IP6_FRAG_UDP,
    F_VLAN_IP4_TCP,
    F_QINQ_IP6_UDP,
    F_ARP,
    F_OTHER,
    F_CORE_MAX,
    /* Kept apart: known to be mis-parsed upstream, see test_ah() */
    F_IP6_AH_TCP = F_CORE_MAX,
    F_IP6_HOP_AH_UDP,
} FrameKind;

static const char *const kind_name[] = {
    "ipv4/tcp", "ipv4/udp", "ipv4/icmp", "ipv4+options/tcp",
    "ipv4 first fragment", "ipv4 later fragment",
    "ipv6/tcp", "ipv6/udp", "ipv6/icmp", "ipv6+hbh/udp",
    "ipv6+hao/tcp", "ipv6+rt2/udp", "ipv6+rt2+hao/tcp",
    "ipv6+dstopts(no hao)/tcp", "ipv6 fragment/udp",
    "vlan ipv4/tcp", "qinq ipv6/udp", "arp", "other ethertype",
    "ipv6+ah/tcp", "ipv6+hbh+ah/udp",
};

typedef struct Flow {
    uint8_t src4[4], dst4[4];
    uint8_t src6[16], dst6[16], alt6[16], alt6b[16];
    uint16_t sport, dport;
} Flow;

/*
 * The frames the backend hands on at all.  ipvlan looks up IPv4 and IPv6
 * destinations and ARP targets (after taking an outer 802.1Q tag off);
 * an 802.1ad-tagged frame or another ethertype stays with the lower
 * device.
 */
static bool backend_delivers(const Rig *r, FrameKind k)
{
    return r->backend != BACKEND_IPVTAP ||
           (k != F_QINQ_IP6_UDP && k != F_OTHER);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void rand_bytes(GRand *g, uint8_t *p, size_t n)
{
    while (n--) {
        *p++ = g_rand_int(g);
    }
}

static void flow_random(GRand *g, Flow *f)
{
    rand_bytes(g, f->src4, 4);
    rand_bytes(g, f->dst4, 4);
    rand_bytes(g, f->src6, 16);
    rand_bytes(g, f->dst6, 16);
    rand_bytes(g, f->alt6, 16);
    rand_bytes(g, f->alt6b, 16);
    f->sport = g_rand_int_range(g, 1, 65536);
    f->dport = g_rand_int_range(g, 1, 65536);
}

/* A flow the backend delivers: ipvtap's only carry its own addresses */
static void rig_flow(Rig *r, Flow *f)
{
    flow_random(r->rand, f);
    if (r->backend == BACKEND_IPVTAP) {
        g_assert_cmpint(inet_pton(AF_INET, IPVTAP_ADDR4, f->dst4), ==, 1);
        g_assert_cmpint(inet_pton(AF_INET6, IPVTAP_ADDR6, f->dst6), ==, 1);
    }
}

static size_t put_l4(uint8_t *p, uint8_t proto, const Flow *f)
{
    if (proto == IPPROTO_TCP) {
        memset(p, 0, 20);
        put16(p, f->sport);
        put16(p + 2, f->dport);
        p[12] = 5 << 4;
        p[13] = 0x10;           /* ACK */
        put16(p + 14, 0xffff);
        return 20;
    }
    if (proto == IPPROTO_UDP) {
        memset(p, 0, 8);
        put16(p, f->sport);
        put16(p + 2, f->dport);
        return 8;
    }
    /* ICMP echo request, same layout for v4 and v6 */
    memset(p, 0, 8);
    p[0] = proto == IPPROTO_ICMPV6 ? 128 : 8;
    put16(p + 4, f->sport);
    return 8;
}

/* Padding after the headers so that every frame is at least ETH_ZLEN */
#define PAYLOAD_LEN 24

static size_t put_ip4(uint8_t *p, const Flow *f, uint8_t proto,
                      bool options, uint16_t frag)
{
    size_t ihl = options ? 24 : 20, l4 = 0;

    memset(p, 0, ihl);
    p[0] = 0x40 | (ihl / 4);
    put16(p + 4, f->sport);
    put16(p + 6, frag);
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, f->src4, 4);
    memcpy(p + 16, f->dst4, 4);
    if (options) {
        p[20] = 0x94;           /* router alert */
        p[21] = 4;
    }
    /* A later fragment carries payload bytes where ports would be */
    if (!(frag & 0x1fff)) {
        l4 = put_l4(p + ihl, proto, f);
    }
    memset(p + ihl + l4, 0xa5, PAYLOAD_LEN);
    put16(p + 2, ihl + l4 + PAYLOAD_LEN + sizeof(marker) + 4);
    return ihl + l4 + PAYLOAD_LEN;
}

enum { X_HOP, X_HAO, X_DST_PAD, X_RT2, X_FRAG, X_AH };

static size_t put_ip6(uint8_t *p, const Flow *f, const int *ext, int n_ext,
                      uint8_t proto)
{
    uint8_t *nh = p + 6;
    size_t off = 40, l4;
    int i;

    memset(p, 0, 40);
    p[0] = 0x60;
    p[7] = 64;
    memcpy(p + 8, f->src6, 16);
    memcpy(p + 24, f->dst6, 16);

    for (i = 0; i < n_ext; i++) {
        uint8_t *h = p + off;
        size_t len;

        switch (ext[i]) {
        case X_HOP:
            *nh = 0;
            len = 8;
            memset(h, 0, len);
            h[2] = 1;           /* PadN covering the rest */
            h[3] = 4;
            break;
        case X_HAO:
            *nh = IPPROTO_DSTOPTS;
            len = 24;
            memset(h, 0, len);
            h[1] = 2;
            h[2] = 1;           /* PadN so the address is 8n+6 aligned */
            h[3] = 2;
            h[6] = 0xc9;
            h[7] = 16;
            memcpy(h + 8, f->alt6, 16);
            break;
        case X_DST_PAD:
            *nh = IPPROTO_DSTOPTS;
            len = 8;
            memset(h, 0, len);
            h[2] = 0;           /* Pad1 then PadN */
            h[3] = 1;
            h[4] = 2;
            break;
        case X_RT2:
            *nh = IPPROTO_ROUTING;
            len = 24;
            memset(h, 0, len);
            h[1] = 2;
            h[2] = 2;
            h[3] = 1;
            memcpy(h + 8, f->alt6b, 16);
            break;
        case X_FRAG:
            *nh = IPPROTO_FRAGMENT;
            len = 8;
            memset(h, 0, len);
            h[3] = 1;           /* offset 0, more fragments */
            put16(h + 6, f->sport);
            break;
        case X_AH:
            *nh = IPPROTO_AH;
            len = 24;           /* 96-bit ICV: payload length 4 */
            memset(h, 0x5a, len);
            h[1] = 4;
            h[2] = h[3] = 0;
            break;
        default:
            g_assert_not_reached();
        }
        nh = h;
        off += len;
    }
    *nh = proto;
    l4 = put_l4(p + off, proto, f);
    memset(p + off + l4, 0xa5, PAYLOAD_LEN);
    put16(p + 4, off - 40 + l4 + PAYLOAD_LEN + sizeof(marker) + 4);
    return off + l4 + PAYLOAD_LEN;
}

static size_t build_frame(FrameKind k, const Flow *f, uint32_t seq,
                          uint8_t *buf)
{
    static const int hop[] = { X_HOP };
    static const int hao[] = { X_HAO };
    static const int rt2[] = { X_RT2 };
    static const int rt2_hao[] = { X_HOP, X_RT2, X_HAO };
    static const int dst_pad[] = { X_DST_PAD };
    static const int frag[] = { X_FRAG };
    static const int ah[] = { X_AH };
    static const int hop_ah[] = { X_HOP, X_AH };
    uint8_t *p = buf + 12;
    size_t len;

    memcpy(buf, guest_mac, ETH_ALEN);
    memcpy(buf + ETH_ALEN, peer_mac, ETH_ALEN);

    if (k == F_VLAN_IP4_TCP) {
        put16(p, ETH_P_8021Q);
        put16(p + 2, 100);
        p += 4;
    } else if (k == F_QINQ_IP6_UDP) {
        put16(p, ETH_P_8021AD);
        put16(p + 2, 200);
        put16(p + 4, ETH_P_8021Q);
        put16(p + 6, 300);
        p += 8;
    }

    switch (k) {
    case F_IP4_TCP:
    case F_VLAN_IP4_TCP:
    case F_IP4_UDP:
    case F_IP4_ICMP:
    case F_IP4_OPT_TCP:
    case F_IP4_FRAG_FIRST:
    case F_IP4_FRAG_LATER:
        put16(p, ETH_P_IP);
        p += 2;
        p += put_ip4(p, f,
                     k == F_IP4_UDP ? IPPROTO_UDP :
                     k == F_IP4_ICMP ? IPPROTO_ICMP : IPPROTO_TCP,
                     k == F_IP4_OPT_TCP,
                     k == F_IP4_FRAG_FIRST ? 0x2000 :
                     k == F_IP4_FRAG_LATER ? 0x0010 : 0);
        break;
    case F_ARP:
        put16(p, ETH_P_ARP);
        p += 2;
        memset(p, 0, 28);
        put16(p, 1);
        put16(p + 2, ETH_P_IP);
        p[4] = ETH_ALEN;
        p[5] = 4;
        put16(p + 6, 1);
        memcpy(p + 8, peer_mac, ETH_ALEN);
        memcpy(p + 14, f->src4, 4);
        memcpy(p + 24, f->dst4, 4);
        p += 28 + PAYLOAD_LEN;
        break;
    case F_OTHER:
        put16(p, 0x88b5);       /* IEEE local experimental */
        p += 2;
        memcpy(p, f->src6, 16);
        memset(p + 16, 0, PAYLOAD_LEN);
        p += 16 + PAYLOAD_LEN;
        break;
    default:
        put16(p, ETH_P_IPV6);
        p += 2;
        switch (k) {
        case F_IP6_TCP:
            p += put_ip6(p, f, NULL, 0, IPPROTO_TCP);
            break;
        case F_IP6_UDP:
        case F_QINQ_IP6_UDP:
            p += put_ip6(p, f, NULL, 0, IPPROTO_UDP);
            break;
        case F_IP6_ICMP:
            p += put_ip6(p, f, NULL, 0, IPPROTO_ICMPV6);
            break;
        case F_IP6_HOP_UDP:
            p += put_ip6(p, f, hop, 1, IPPROTO_UDP);
            break;
        case F_IP6_HAO_TCP:
            p += put_ip6(p, f, hao, 1, IPPROTO_TCP);
            break;
        case F_IP6_RT2_UDP:
            p += put_ip6(p, f, rt2, 1, IPPROTO_UDP);
            break;
        case F_IP6_HAO_RT2_TCP:
            p += put_ip6(p, f, rt2_hao, 3, IPPROTO_TCP);
            break;
        case F_IP6_DST_NOHAO_TCP:
            p += put_ip6(p, f, dst_pad, 1, IPPROTO_TCP);
            break;
        case F_IP6_FRAG_UDP:
            p += put_ip6(p, f, frag, 1, IPPROTO_UDP);
            break;
        case F_IP6_AH_TCP:
            p += put_ip6(p, f, ah, 1, IPPROTO_TCP);
            break;
        case F_IP6_HOP_AH_UDP:
            p += put_ip6(p, f, hop_ah, 2, IPPROTO_UDP);
            break;
        default:
            g_assert_not_reached();
        }
    }

    memcpy(p, marker, sizeof(marker));
    p[4] = seq >> 24;
    p[5] = seq >> 16;
    p[6] = seq >> 8;
    p[7] = seq;
    len = p + 8 - buf;
    g_assert_cmpuint(len, >=, ETH_ZLEN);
    return len;
}

/* Guest side: the virtio-net driver */

static void rx_post(Rig *r, int q, uint32_t i)
{
    QVirtQueue *vq = r->rxq[q];

    /* Descriptor i always owns buffer i, so recycling is trivial */
    vq->free_head = i;
    qvirtqueue_add(r->qts, vq, r->rxbuf[q][i], BUF_SIZE, true, false);
    qvirtqueue_kick(r->qts, &r->dev->vdev, vq, i);
}

static uint8_t ctrl_cmd(Rig *r, uint8_t class, uint8_t cmd,
                        const uint8_t *data, size_t len)
{
    QVirtQueue *vq = r->ctrlq;
    uint64_t ack = r->ctrl_buf + BUF_SIZE - 1;
    uint8_t hdr[2] = { class, cmd };
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint32_t head, id;

    g_assert_cmpuint(len + 2, <, BUF_SIZE - 1);
    qtest_memwrite(r->qts, r->ctrl_buf, hdr, 2);
    qtest_memwrite(r->qts, r->ctrl_buf + 2, data, len);
    qtest_writeb(r->qts, ack, 0xff);

    vq->free_head = 0;
    head = qvirtqueue_add(r->qts, vq, r->ctrl_buf, len + 2, false, true);
    qvirtqueue_add(r->qts, vq, ack, 1, true, false);
    qvirtqueue_kick(r->qts, &r->dev->vdev, vq, head);

    while (!qvirtqueue_get_buf(r->qts, vq, &id, NULL)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(100);
    }
    g_assert_cmpuint(id, ==, head);
    return qtest_readb(r->qts, ack);
}

/* struct virtio_net_rss_config, laid out by hand (variable length) */
static size_t rss_cfg(uint8_t *b, uint32_t types, uint16_t mask,
                      uint16_t unclassified, const uint16_t *table,
                      unsigned entries, uint16_t max_tx_vq,
                      const uint8_t *key, uint8_t key_len)
{
    size_t off = 0;
    unsigned i;

    stl_le_p(b, types);
    stw_le_p(b + 4, mask);
    stw_le_p(b + 6, unclassified);
    off = 8;
    for (i = 0; i < entries; i++, off += 2) {
        stw_le_p(b + off, table[i]);
    }
    stw_le_p(b + off, max_tx_vq);
    b[off + 2] = key_len;
    off += 3;
    memcpy(b + off, key, key_len);
    return off + key_len;
}

static void apply_rss(Rig *r, const RssState *s)
{
    uint8_t buf[512];
    size_t len = rss_cfg(buf, s->types, s->table_len - 1, s->unclassified,
                         s->table, s->table_len, s->nr_queues,
                         s->key, RSS_REF_KEY_MAX);

    g_assert_cmpuint(ctrl_cmd(r, VIRTIO_NET_CTRL_MQ,
                              VIRTIO_NET_CTRL_MQ_RSS_CONFIG, buf, len),
                     ==, VIRTIO_NET_OK);
    r->cur = *s;
    r->cur.enabled = true;
}

static void rss_random(Rig *r, RssState *s, unsigned table_len,
                       unsigned nr_queues, uint32_t types)
{
    unsigned i;

    memset(s, 0, sizeof(*s));
    s->types = types;
    s->table_len = table_len;
    s->nr_queues = nr_queues;
    s->unclassified = g_rand_int_range(r->rand, 0, nr_queues);
    for (i = 0; i < table_len; i++) {
        s->table[i] = g_rand_int_range(r->rand, 0, nr_queues);
    }
    rand_bytes(r->rand, s->key, sizeof(s->key));
}

/* The helper as built next to the QEMU binary under test */
static char *helper_path(void)
{
    g_autofree char *dir = g_path_get_dirname(qtest_qemu_binary(NULL));

    return g_build_filename(dir, "contrib", "ebpf-rss-helper",
                            "qemu-ebpf-rss-helper", NULL);
}

static bool helper_usable(void)
{
    g_autofree char *path = helper_path();

    if (access(path, X_OK)) {
        g_test_skip("qemu-ebpf-rss-helper is not built next to QEMU "
                    "(configure with --enable-bpf)");
        return false;
    }
    return true;
}

/*
 * Read one answer of the helper from @s: 0 and the four descriptors in
 * @fds on success, each checked to be what its place says.  @flags are
 * recvmsg()'s (MSG_CMSG_CLOEXEC unless a child must inherit them).
 */
static int read_answer(int s, int fds[EBPF_RSS_FDS], int flags)
{
    char buf[600];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * EBPF_RSS_FDS)];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = &control, .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg;
    ssize_t n;
    int i;

    memset(&control, 0, sizeof(control));
    n = recvmsg(s, &msg, flags);
    if (n < (ssize_t)sizeof(HELPER_MAGIC) + 1 ||
        strcmp(buf, HELPER_MAGIC) || buf[sizeof(HELPER_MAGIC)]) {
        return -1;
    }
    cmsg = CMSG_FIRSTHDR(&msg);
    g_assert_nonnull(cmsg);
    g_assert_cmpint(cmsg->cmsg_type, ==, SCM_RIGHTS);
    g_assert_cmpuint(cmsg->cmsg_len, ==, CMSG_LEN(sizeof(int) * EBPF_RSS_FDS));
    memcpy(fds, CMSG_DATA(cmsg), sizeof(int) * EBPF_RSS_FDS);
    for (i = 0; i < EBPF_RSS_FDS; i++) {
        g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fds[i]);
        g_autofree char *target = g_file_read_link(link, NULL);

        g_assert_cmpstr(target, ==, i ? "anon_inode:bpf-map"
                                      : "anon_inode:bpf-prog");
    }
    return 0;
}

/*
 * Load the RSS program as a management layer would, here through the
 * helper since the test runs as root: the program, configuration, key
 * and table descriptors, in that order.
 */
static void helper_load(int fds[EBPF_RSS_FDS])
{
    g_autofree char *path = helper_path();
    g_autofree char *arg = NULL;
    int sv[2], status, rc;
    pid_t pid;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    arg = g_strdup_printf("--fd=%d", sv[1]);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        close(sv[0]);
        execl(path, path, arg, NULL);
        _exit(127);
    }
    close(sv[1]);
    /* QEMU, started later, inherits the descriptors */
    rc = read_answer(sv[0], fds, 0);
    close(sv[0]);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmpint(rc, ==, 0);
}

/*
 * A copy of the helper that gets CAP_BPF and CAP_PERFMON from file
 * capabilities, as an installation would give it (setcap).
 */
static char *helper_install_capable(void)
{
    g_autofree char *src = helper_path();
    g_autofree gchar *data = NULL;
    struct vfs_cap_data cap = { 0 };
    GError *err = NULL;
    char *dst;
    gsize len;
    int fd;

    g_assert_true(g_file_get_contents(src, &data, &len, &err));
    fd = g_file_open_tmp("nvrss-helper-XXXXXX", &dst, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(fd, data, len), ==, len);
    g_assert_cmpint(fchmod(fd, 0755), ==, 0);
    close(fd);

    cap.magic_etc = cpu_to_le32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE);
    cap.data[CAP_TO_INDEX(CAP_BPF)].permitted |=
        cpu_to_le32(CAP_TO_MASK(CAP_BPF));
    cap.data[CAP_TO_INDEX(CAP_PERFMON)].permitted |=
        cpu_to_le32(CAP_TO_MASK(CAP_PERFMON));
    if (setxattr(dst, "security.capability", &cap, XATTR_CAPS_SZ_2, 0)) {
        g_error("setting file capabilities on %s: %s", dst, strerror(errno));
    }
    return dst;
}

static void close_fds(int *fds, int n)
{
    while (n--) {
        close(fds[n]);
    }
}

/*
 * What a QEMU that died before it could turn hashing off leaves in a tap
 * that outlives it (a macvtap, a persistent tun): all queues' frames to
 * queue 0, every hash type reported.
 */
static void tap_set_stale_hash(int fd)
{
    struct tun_vnet_hash h = {
        .flags = TUN_VNET_HASH_F_RSS | TUN_VNET_HASH_F_REPORT,
        .hash_types = RSS_REF_HASH_TYPES_ALL,
        .key_length = RSS_REF_KEY_MAX,
    };
    int sz = sizeof(struct virtio_net_hdr_v1_hash);

    memcpy(h.key, rss_ref_ms_key, RSS_REF_KEY_MAX);
    g_assert_cmpint(ioctl(fd, TUNSETVNETHDRSZ, &sz), ==, 0);
    g_assert_cmpint(ioctl(fd, TUNSETVNETHASH, &h), ==, 0);
}

/* The virtio-net device, as -device JSON or device_add arguments */
static QDict *dev_props(const RigOpts *o)
{
    QDict *d = qdict_new();
    g_autofree char *addr = g_strdup_printf("%02x.0", NET_SLOT);

    qdict_put_str(d, "driver", "virtio-net-pci");
    qdict_put_str(d, "id", "nic0");
    qdict_put_str(d, "netdev", "net0");
    qdict_put_str(d, "addr", addr);
    qdict_put_bool(d, "mq", true);
    qdict_put_bool(d, "rss", true);
    qdict_put_bool(d, "hash", o->hash);
    qdict_put_int(d, "vectors", 2 * NR_QUEUES + 2);
    qdict_put_str(d, "mac", "52:54:00:12:34:56");
    /* No option ROM: nothing would run it under qtest */
    qdict_put_str(d, "romfile", "");
    if (o->helper) {
        qdict_put_str(d, "ebpf-rss-helper", o->helper);
    }
    /* The eBPF and software cases must test those even on a capable host */
    qdict_put_str(d, "rss-offload", o->offload ? o->offload : "ebpf");
    return d;
}

static void put_fd_names(QDict *d, char names[EBPF_RSS_FDS][16])
{
    QList *l = qlist_new();
    int i;

    for (i = 0; i < EBPF_RSS_FDS; i++) {
        qlist_append_str(l, names[i]);
    }
    qdict_put(d, "ebpf-rss-fds", l);
}

/* Hand @fds to QEMU's monitor under the names nvrss-fd0..3 */
static void qmp_getfds(QTestState *qts, int *fds, char names[][16])
{
    int i;

    for (i = 0; i < EBPF_RSS_FDS; i++) {
        snprintf(names[i], 16, "nvrss-fd%d", i);
        qtest_qmp_fds_assert_success(qts, &fds[i], 1,
                                     "{'execute': 'getfd', 'arguments': "
                                     "{'fdname': %s}}", names[i]);
    }
}

/*
 * Start QEMU with the tap queues @fds and, unless @device is NULL, the
 * device given as JSON.
 */
static void rig_start_qemu(Rig *r, const RigOpts *o, const int *fds,
                           const char *device)
{
    g_autofree char *args = NULL;
    g_autofree char *dev_arg = NULL;
    g_autofree char *vhostfds = NULL;
    const char *wrap = NULL;
    GError *err = NULL;
    int tfd;

    tfd = g_file_open_tmp("nvrss-trace-XXXXXX", &r->trace_path, &err);
    g_assert_no_error(err);
    close(tfd);

    if (device) {
        dev_arg = g_strdup_printf("-device '%s'", device);
    }
    if (r->has_vhostfds) {
        vhostfds = g_strdup_printf(",vhostfds=%d:%d:%d:%d", r->vhostfds[0],
                                   r->vhostfds[1], r->vhostfds[2],
                                   r->vhostfds[3]);
    }
    args = g_strdup_printf(
        "-M pc -nodefaults -m 256M "
        "-netdev tap,id=net0,fds=%d:%d:%d:%d,vhost=%s%s %s "
        "-D %s -trace enable=virtio_net_rss* -trace enable=ebpf_rss* "
        "-trace enable=net_rx_pkt_rss_hash%s%s",
        fds[0], fds[1], fds[2], fds[3], o->vhost ? "on" : "off",
        vhostfds ? vhostfds : "", dev_arg ? dev_arg : "", r->trace_path,
        o->incoming ? " -incoming " : "", o->incoming ? o->incoming : "");

    if (r->stderr_path) {
        char *redirected = g_strdup_printf("%s 2>%s", args, r->stderr_path);

        g_free(args);
        args = redirected;
    }

    if (o->no_bpf) {
        /* Without CAP_BPF/CAP_SYS_ADMIN QEMU cannot load its program */
        wrap = "--bounding-set -bpf,-sys_admin,-perfmon";
    } else if (o->no_caps) {
        /*
         * No capabilities at all, yet a file-capable helper still gains
         * its own: what an unprivileged QEMU with an installed helper sees
         */
        wrap = "--securebits +noroot,+noroot_locked,+no_setuid_fixup,"
               "+no_setuid_fixup_locked --inh-caps -all --ambient-caps -all";
    }
    if (wrap) {
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        g_autofree char *cmd = NULL;

        g_assert_nonnull(setpriv);
        cmd = g_strdup_printf("%s %s %s", setpriv, wrap,
                              qtest_qemu_binary(NULL));
        g_setenv(NOBPF_QEMU_ENV, cmd, true);
        r->qts = qtest_init_ext(NOBPF_QEMU_ENV, args, NULL, true);
        g_unsetenv(NOBPF_QEMU_ENV);
    } else {
        r->qts = qtest_init(args);
    }
}

/* The tap of @fd computes no hash: QEMU turned off what it found */
static void assert_tap_hash_off(int fd)
{
    struct tun_vnet_hash h = { 0 };

    g_assert_cmpint(ioctl(fd, TUNGETVNETHASH, &h), ==, 0);
    g_assert_cmphex(h.flags, ==, 0);
}

static Rig *rig_new(const RigOpts *o)
{
    Rig *r = g_new0(Rig, 1);
    g_autoptr(QDict) props = dev_props(o);
    g_autoptr(GString) json = NULL;
    QVirtioDevice *vdev;
    QPCIAddress addr = { .devfn = QPCI_DEVFN(NET_SLOT, 0) };
    uint64_t want, have;
    int fds[NR_QUEUES], bpf_fds[EBPF_RSS_FDS], q, i;
    char names[EBPF_RSS_FDS][16];

    r->hash = o->hash;
    r->hdr_len = o->hash ? sizeof(struct virtio_net_hdr_v1_hash)
                         : sizeof(struct virtio_net_hdr_v1);
    r->rand = g_rand_new_with_seed(g_test_rand_int());
    r->backend = o->backend;
    r->netns = -1;

    if (o->backend == BACKEND_TUN) {
        tap_open(r, fds);
        tap_up(r);
    } else {
        vtap_open(r, fds);
    }
    if (o->stale_hash) {
        tap_set_stale_hash(fds[0]);
    }
    if (o->vhostfds) {
        for (i = 0; i < NR_QUEUES; i++) {
            r->vhostfds[i] = open("/dev/vhost-net", O_RDWR);
            g_assert_cmpint(r->vhostfds[i], >=, 0);
        }
        r->has_vhostfds = true;
    }

    if (o->fds != FDS_NONE) {
        helper_load(bpf_fds);
    }
    if (o->fds == FDS_CMDLINE) {
        /* Inherited by QEMU like the tap queues */
        for (i = 0; i < EBPF_RSS_FDS; i++) {
            snprintf(names[i], sizeof(names[i]), "%d", bpf_fds[i]);
        }
        put_fd_names(props, names);
    }
    json = qobject_to_json(QOBJECT(props));
    rig_start_qemu(r, o, fds, o->fds == FDS_QMP ? NULL : json->str);

    if (o->fds == FDS_QMP) {
        qmp_getfds(r->qts, bpf_fds, names);
        put_fd_names(props, names);
        qtest_qmp_assert_success(r->qts, "{'execute': 'device_add', "
                                 "'arguments': %p}", qobject_ref(props));
    }
    if (o->fds != FDS_NONE) {
        close_fds(bpf_fds, EBPF_RSS_FDS);
    }
    /* The device is realized: QEMU has run its helper if it needed one */
    if (o->helper_is_tmp) {
        unlink(o->helper);
    }
    /*
     * QEMU holds its own references now; once it exits for whatever
     * reason (and rig_free() closed queue 0) the non-persistent tap
     * disappears with it.  Queue 0 is the same open file as QEMU's: no
     * new macvtap queue, and TUNGETVNETHASH reads the device's state.
     */
    r->tap_fd = fds[0];
    close_fds(fds + 1, NR_QUEUES - 1);
    if (o->stale_hash) {
        /* The device, once created, turned that off */
        assert_tap_hash_off(r->tap_fd);
    }
    if (r->has_vhostfds) {
        close_fds(r->vhostfds, NR_QUEUES);
    }

    pc_alloc_init(&r->alloc, r->qts, ALLOC_NO_FLAGS);
    r->bus = qpci_new_pc(r->qts, &r->alloc);
    r->dev = virtio_pci_new(r->bus, &addr);
    g_assert_nonnull(r->dev);
    vdev = &r->dev->vdev;
    g_assert_cmpint(vdev->device_type, ==, VIRTIO_ID_NET);
    qvirtio_pci_device_enable(r->dev);
    qvirtio_start_device(vdev);

    want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MQ) |
           (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_RSS);
    if (o->hash) {
        want |= 1ull << VIRTIO_NET_F_HASH_REPORT;
    }
    have = qvirtio_get_features(vdev);
    g_assert_cmphex(have & want, ==, want);
    qvirtio_set_features(vdev, want);

    g_assert_cmpuint(qvirtio_config_readw(vdev,
                     offsetof(struct virtio_net_config, max_virtqueue_pairs)),
                     ==, NR_QUEUES);
    g_assert_cmpuint(qvirtio_config_readw(vdev,
                     offsetof(struct virtio_net_config,
                              rss_max_indirection_table_length)),
                     ==, MAX_TABLE);

    for (q = 0; q < NR_QUEUES; q++) {
        r->rxq[q] = qvirtqueue_setup(vdev, &r->alloc, 2 * q);
        for (i = 0; i < RX_BUFS; i++) {
            r->rxbuf[q][i] = guest_alloc(&r->alloc, BUF_SIZE);
        }
    }
    r->ctrlq = qvirtqueue_setup(vdev, &r->alloc, CTRL_VQ_INDEX);
    r->ctrl_buf = guest_alloc(&r->alloc, BUF_SIZE);
    qvirtio_set_driver_ok(vdev);

    for (q = 0; q < NR_QUEUES; q++) {
        for (i = 0; i < RX_BUFS; i++) {
            rx_post(r, q, i);
        }
    }
    r->cur.nr_queues = 1;
    return r;
}

/* Returns the number of frame mismatches seen by the rig */
static int rig_free(Rig *r)
{
    int bad = r->mismatches;

    if (r->noise) {
        g_test_message("ignored %u unrelated frames from the host",
                       r->noise);
    }
    qtest_quit(r->qts);
    g_file_get_contents(r->trace_path, &r->trace, NULL, NULL);
    unlink(r->trace_path);
    g_free(r->trace_path);
    close(r->sock);
    close(r->tap_fd);
    vtap_close(r);
    qpci_free_pc(r->bus);
    g_free(r->dev->pdev);
    g_free(r->dev);
    alloc_destroy(&r->alloc);
    g_rand_free(r->rand);
    return bad;
}

/*
 * Fail the test case without aborting, so that the remaining cases still
 * run and report (the rig is gone by now, nothing leaks).
 */
static void expect_no_mismatch(int bad)
{
    if (bad) {
        g_test_message("%d frames were not delivered as the reference "
                       "predicts", bad);
        g_test_fail();
    }
}

static unsigned count_lines(const char *log, const char *needle)
{
    unsigned n = 0;
    const char *p = log;

    while (p && (p = strstr(p, needle))) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* The last eBPF attach attempt, or -2 if there was none */
static int last_attach_fd(const char *log)
{
    const char *p = log, *last = NULL;

    while (p && (p = strstr(p, "virtio_net_rss_attach_ebpf "))) {
        last = p;
        p++;
    }
    if (!last) {
        return -2;
    }
    last = strstr(last, "prog-fd=");
    g_assert_nonnull(last);
    return atoi(last + strlen("prog-fd="));
}

static void mismatch(Rig *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void mismatch(Rig *r, const char *fmt, ...)
{
    va_list ap;

    if (r->mismatches++ < MAX_REPORTED) {
        g_autofree char *msg = NULL;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_test_message("MISMATCH: %s", msg);
    }
}

/*
 * Receive the frame tagged @seq: returns the queue it arrived on, or -1
 * on timeout.  Copies the virtio header to @hdr.
 */
static int rx_wait(Rig *r, uint32_t seq, struct virtio_net_hdr_v1_hash *hdr)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint8_t buf[BUF_SIZE];
    int q;

    do {
        for (q = 0; q < NR_QUEUES; q++) {
            uint32_t id, len;

            while (qvirtqueue_get_buf(r->qts, r->rxq[q], &id, &len)) {
                uint8_t *tail;

                g_assert_cmpuint(id, <, RX_BUFS);
                g_assert_cmpuint(len, <=, BUF_SIZE);
                qtest_memread(r->qts, r->rxbuf[q][id], buf, len);
                rx_post(r, q, id);
                tail = buf + len - 8;
                if (len < r->hdr_len + ETH_ZLEN ||
                    memcmp(tail, marker, sizeof(marker))) {
                    r->noise++;
                    continue;
                }
                if (ldl_be_p(tail + 4) != seq) {
                    mismatch(r, "late frame seq %u while waiting for %u",
                             ldl_be_p(tail + 4), seq);
                    continue;
                }
                memset(hdr, 0, sizeof(*hdr));
                memcpy(hdr, buf, r->hdr_len);
                return q;
            }
        }
    } while (g_get_monotonic_time() < deadline);
    return -1;
}

/*
 * Send one frame and check where (and with which hash) it lands.  With
 * RSS disabled the tap picks the queue itself, so only a valid queue is
 * required; the queue is returned for flow-stickiness checks.
 */
static int check_frame(Rig *r, FrameKind k, const Flow *f)
{
    uint8_t frame[256];
    struct virtio_net_hdr_v1_hash hdr;
    RssRefResult ref;
    uint32_t seq = ++r->seq;
    size_t len = build_frame(k, f, seq, frame);
    unsigned want;
    int q;

    host_send(r, frame, len);
    if (!backend_delivers(r, k)) {
        /* Should it arrive anyway, the next frame's rx_wait() says so */
        return -1;
    }
    q = rx_wait(r, seq, &hdr);
    if (q < 0) {
        mismatch(r, "%s seq %u: never received", kind_name[k], seq);
        return -1;
    }
    if (!r->cur.enabled) {
        if (q >= r->cur.nr_queues) {
            mismatch(r, "%s: queue %d with %u queue pairs active",
                     kind_name[k], q, r->cur.nr_queues);
        }
        /* No hash type is enabled until the guest says so */
        if (r->hash && (hdr.hash_value || hdr.hash_report)) {
            mismatch(r, "%s seq %u: hash 0x%08x report %u with hashing "
                     "off", kind_name[k], seq, le32_to_cpu(hdr.hash_value),
                     le16_to_cpu(hdr.hash_report));
        }
        return q;
    }

    /* The frame as the guest sees it is what the model must parse */
    rss_ref_hash_frame(frame, len, r->cur.types, r->cur.key,
                       RSS_REF_KEY_MAX, &ref);
    want = rss_ref_queue(&ref, r->cur.table, r->cur.table_len,
                         r->cur.unclassified, r->cur.nr_queues);
    if (q != want) {
        mismatch(r, "%s seq %u: queue %d, reference %u (hash 0x%08x "
                 "report %u, types 0x%x)", kind_name[k], seq, q, want,
                 ref.hash, ref.report, r->cur.types);
    }
    if (r->hash && (le32_to_cpu(hdr.hash_value) != ref.hash ||
                    le16_to_cpu(hdr.hash_report) != ref.report)) {
        mismatch(r, "%s seq %u: hash 0x%08x report %u, reference 0x%08x "
                 "report %u (types 0x%x)", kind_name[k], seq,
                 le32_to_cpu(hdr.hash_value), le16_to_cpu(hdr.hash_report),
                 ref.hash, ref.report, r->cur.types);
    }
    return q;
}

static void check_flows(Rig *r, FrameKind first, FrameKind end, int flows)
{
    Flow f;
    int i, k;

    for (i = 0; i < flows; i++) {
        rig_flow(r, &f);
        for (k = first; k < end; k++) {
            check_frame(r, k, &f);
        }
    }
}

/* Test cases */

static void test_reference(void)
{
    g_assert_cmpint(rss_ref_self_test(), ==, 0);
}

/* Parser corner cases whose answer is easy to work out by hand */
static void test_reference_parser(void)
{
    g_autoptr(GRand) g = g_rand_new_with_seed(1);
    uint8_t frame[256], in[36];
    RssRefResult res;
    Flow f;
    size_t len;
    int k;

    flow_random(g, &f);

    /* AH is 24 bytes here; ports follow it, not (4 + 1) * 8 bytes in */
    for (k = F_IP6_AH_TCP; k <= F_IP6_HOP_AH_UDP; k++) {
        len = build_frame(k, &f, 0, frame);
        rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                           rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
        g_assert_cmpuint(res.report, ==, k == F_IP6_AH_TCP ?
                         VIRTIO_NET_HASH_REPORT_TCPv6_EX :
                         VIRTIO_NET_HASH_REPORT_UDPv6_EX);
        memcpy(in, f.src6, 16);
        memcpy(in + 16, f.dst6, 16);
        put16(in + 32, f.sport);
        put16(in + 34, f.dport);
        g_assert_cmpmem(res.input, res.input_len, in, 36);
    }

    /* Mobile IPv6 addresses replace the plain ones only for _EX types */
    len = build_frame(F_IP6_HAO_RT2_TCP, &f, 0, frame);
    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_TCPv6_EX);
    g_assert_cmpmem(res.input, 16, f.alt6, 16);
    g_assert_cmpmem(res.input + 16, 16, f.alt6b, 16);
    rss_ref_hash_frame(frame, len, VIRTIO_NET_RSS_HASH_TYPE_TCPv6,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_TCPv6);
    g_assert_cmpmem(res.input, 16, f.src6, 16);

    /* Fragments: addresses only */
    len = build_frame(F_IP4_FRAG_FIRST, &f, 0, frame);
    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_IPv4);
    len = build_frame(F_IP6_FRAG_UDP, &f, 0, frame);
    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_IPv6_EX);

    /* VLAN tags are looked through, ARP gets no hash */
    len = build_frame(F_VLAN_IP4_TCP, &f, 0, frame);
    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_TCPv4);
    len = build_frame(F_ARP, &f, 0, frame);
    rss_ref_hash_frame(frame, len, RSS_REF_HASH_TYPES_ALL,
                       rss_ref_ms_key, RSS_REF_KEY_MAX, &res);
    g_assert_cmpuint(res.report, ==, VIRTIO_NET_HASH_REPORT_NONE);
}

/* Hash types that avoid the IPv6 _EX report ambiguity, see test_ex() */
#define TYPES_NO_EX (VIRTIO_NET_RSS_HASH_TYPE_IPv4 | \
                     VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | \
                     VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | \
                     VIRTIO_NET_RSS_HASH_TYPE_IPv6 | \
                     VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | \
                     VIRTIO_NET_RSS_HASH_TYPE_UDPv6)

typedef enum Path {
    PATH_EBPF,          /* the tun steering program did the work */
    PATH_SOFTWARE,      /* eBPF unavailable, QEMU redirected */
    PATH_HASH,          /* QEMU must hash to fill in the header */
} Path;

static void assert_path(Rig *r, Path want)
{
    unsigned sw = count_lines(r->trace, "net_rx_pkt_rss_hash ");
    int fd = last_attach_fd(r->trace);

    switch (want) {
    case PATH_EBPF:
        g_assert_cmpint(fd, >=, 0);
        /* QEMU never had to hash: every frame was steered by the kernel */
        g_assert_cmpuint(sw, ==, 0);
        break;
    case PATH_SOFTWARE:
        g_assert_cmpint(fd, <, 0);
        g_assert_cmpuint(sw, >, 0);
        break;
    case PATH_HASH:
        g_assert_cmpuint(sw, >, 0);
        g_test_message("hash report: steering eBPF program %s",
                       fd >= 0 ? "attached" : "not attached");
        break;
    }
}

static void run_steering(const RigOpts *o, FrameKind first, FrameKind end,
                         uint32_t types, Path path)
{
    Rig *r;
    RssState s;
    int bad;

    if (!host_usable()) {
        return;
    }
    r = rig_new(o);
    rss_random(r, &s, MAX_TABLE, NR_QUEUES, types);
    apply_rss(r, &s);
    check_flows(r, first, end, FLOWS);
    bad = rig_free(r);
    expect_no_mismatch(bad);
    assert_path(r, path);
    g_free(r->trace);
    g_free(r);
}

static void test_ebpf_steering(void)
{
    RigOpts o = { 0 };

    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
}

static void test_sw_steering(void)
{
    RigOpts o = { .no_bpf = true };

    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_SOFTWARE);
}

static void test_hash_report(void)
{
    RigOpts o = { .hash = true };

    run_steering(&o, 0, F_CORE_MAX, TYPES_NO_EX, PATH_HASH);
}

/*
 * With _EX types enabled, IPv6 packets without extension headers must be
 * reported with the plain IPv6 types; the hash value is the same either
 * way, so only hash reporting can tell.
 */
static void test_hash_report_ex(void)
{
    RigOpts o = { .hash = true };

    run_steering(&o, F_IP6_TCP, F_IP6_FRAG_UDP + 1,
                 RSS_REF_HASH_TYPES_ALL, PATH_HASH);
}

/* IPv6 Authentication Header: length is (len + 2) * 4, RFC 4302 */
static void test_ah_ebpf(void)
{
    RigOpts o = { 0 };

    run_steering(&o, F_IP6_AH_TCP, F_IP6_HOP_AH_UDP + 1,
                 RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
}

static void test_ah_sw(void)
{
    RigOpts o = { .no_bpf = true };

    run_steering(&o, F_IP6_AH_TCP, F_IP6_HOP_AH_UDP + 1,
                 RSS_REF_HASH_TYPES_ALL, PATH_SOFTWARE);
}

/* The guest changes key, table and queue count; steering must follow */
static void run_reconfig(const RigOpts *o)
{
    static const struct {
        unsigned table_len, queues;
        uint32_t types;
    } steps[] = {
        { 128, 4, RSS_REF_HASH_TYPES_ALL },
        { 8, 4, VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 },
        { 16, 2, RSS_REF_HASH_TYPES_ALL },
        { 1, 4, RSS_REF_HASH_TYPES_ALL },
        { 64, 3,
          VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 },
        { 32, 4, RSS_REF_HASH_TYPES_ALL },
    };
    Rig *r;
    RssState s;
    int i, bad;

    if (!host_usable()) {
        return;
    }
    r = rig_new(o);
    for (i = 0; i < ARRAY_SIZE(steps); i++) {
        rss_random(r, &s, steps[i].table_len, steps[i].queues,
                   steps[i].types);
        apply_rss(r, &s);
        check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, FLOWS / 8);
        check_flows(r, F_ARP, F_OTHER + 1, 1);
    }
    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_free(r->trace);
    g_free(r);
}

static void test_ebpf_reconfig(void)
{
    RigOpts o = { 0 };

    run_reconfig(&o);
}

static void test_sw_reconfig(void)
{
    RigOpts o = { .no_bpf = true };

    run_reconfig(&o);
}

/*
 * Indirection table entries beyond the active queue count are not
 * rejected; both the tun hook and QEMU wrap them (CVE-2024-6505 fix).
 */
static void run_wrap(const RigOpts *o)
{
    Rig *r;
    RssState s;
    unsigned i;
    int bad;

    if (!host_usable()) {
        return;
    }
    r = rig_new(o);
    rss_random(r, &s, 16, 2, RSS_REF_HASH_TYPES_ALL);
    for (i = 0; i < s.table_len; i++) {
        s.table[i] = g_rand_int_range(r->rand, 0, 0x10000);
    }
    apply_rss(r, &s);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, FLOWS / 4);
    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_free(r->trace);
    g_free(r);
}

static void test_ebpf_wrap(void)
{
    RigOpts o = { 0 };

    run_wrap(&o);
}

static void test_sw_wrap(void)
{
    RigOpts o = { .no_bpf = true };

    run_wrap(&o);
}

/* Disabling RSS gives the queue choice back to the tap */
static void test_rss_off(void)
{
    RigOpts o = { 0 };
    uint8_t buf[64];
    Rig *r;
    RssState s;
    Flow f[8];
    int first[8], i, j, bad;
    size_t len;

    if (!host_usable()) {
        return;
    }
    r = rig_new(&o);
    rss_random(r, &s, 128, NR_QUEUES, RSS_REF_HASH_TYPES_ALL);
    apply_rss(r, &s);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 8);

    /* No hash types and no key: RSS off, queue count unchanged */
    len = rss_cfg(buf, 0, 0, 0, s.table, 1, NR_QUEUES, NULL, 0);
    g_assert_cmpuint(ctrl_cmd(r, VIRTIO_NET_CTRL_MQ,
                              VIRTIO_NET_CTRL_MQ_RSS_CONFIG, buf, len),
                     ==, VIRTIO_NET_OK);
    r->cur.enabled = false;

    for (i = 0; i < ARRAY_SIZE(f); i++) {
        flow_random(r->rand, &f[i]);
        first[i] = check_frame(r, F_IP4_TCP, &f[i]);
    }
    /* Whatever the tap picked, a flow must stay on its queue */
    for (j = 0; j < 4; j++) {
        for (i = 0; i < ARRAY_SIZE(f); i++) {
            int q = check_frame(r, F_IP4_TCP, &f[i]);

            if (q != first[i]) {
                mismatch(r, "RSS off: flow %d moved from queue %d to %d",
                         i, first[i], q);
            }
        }
    }

    /* And it can be turned back on */
    rss_random(r, &s, 64, NR_QUEUES, RSS_REF_HASH_TYPES_ALL);
    apply_rss(r, &s);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 16);

    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_assert_cmpint(last_attach_fd(r->trace), >=, 0);
    g_assert_cmpuint(count_lines(r->trace, "virtio_net_rss_disable "), >, 0);
    g_free(r->trace);
    g_free(r);
}

/*
 * Invalid RSS configurations must be refused with VIRTIO_NET_ERR, and the
 * configuration in force before must keep steering.
 */
static void test_bad_config(void)
{
    RigOpts o = { 0 };
    uint8_t buf[512];
    uint16_t table[MAX_TABLE * 2] = { 0 };
    Rig *r;
    RssState s;
    size_t len;
    int i, bad;
    const struct {
        const char *what;
        uint16_t mask, unclassified, max_tx_vq;
        unsigned entries;
        uint8_t key_len;
        uint32_t types;
        bool truncate;
    } cases[] = {
        { "table length 3", 2, 0, NR_QUEUES, 3, 40, 0x1ff },
        { "table length 129", 128, 0, NR_QUEUES, 129, 40, 0x1ff },
        { "table length 256", 255, 0, NR_QUEUES, 256, 40, 0x1ff },
        { "unclassified queue 4", 7, NR_QUEUES, NR_QUEUES, 8, 40, 0x1ff },
        { "zero queue pairs", 7, 0, 0, 8, 40, 0x1ff },
        { "too many queue pairs", 7, 0, NR_QUEUES + 1, 8, 40, 0x1ff },
        { "key length 41", 7, 0, NR_QUEUES, 8, 41, 0x1ff },
        { "no key with hash types", 7, 0, NR_QUEUES, 8, 0, 0x1ff },
        { "truncated table", 127, 0, NR_QUEUES, 128, 40, 0x1ff, true },
    };

    if (!host_usable()) {
        return;
    }
    r = rig_new(&o);
    rss_random(r, &s, 128, NR_QUEUES, RSS_REF_HASH_TYPES_ALL);
    apply_rss(r, &s);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t key[41];
        uint8_t ack;

        memset(key, 0x3c, sizeof(key));
        len = rss_cfg(buf, cases[i].types, cases[i].mask,
                      cases[i].unclassified, table, cases[i].entries,
                      cases[i].max_tx_vq, key, cases[i].key_len);
        if (cases[i].truncate) {
            len = 8 + 2 * 64;
        }
        ack = ctrl_cmd(r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
                       buf, len);
        if (ack != VIRTIO_NET_ERR) {
            mismatch(r, "bad config '%s' acked with %u", cases[i].what, ack);
        }
        check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 4);
    }

    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_free(r->trace);
    g_free(r);
}

/*
 * Take every completed buffer off @q without giving it back; returns how
 * many there were and marks the tagged frames seen in @got.
 */
static unsigned rx_take(Rig *r, int q, GHashTable *got)
{
    uint8_t buf[BUF_SIZE];
    uint32_t id, len;
    unsigned n = 0;

    while (qvirtqueue_get_buf(r->qts, r->rxq[q], &id, &len)) {
        g_assert_cmpuint(id, <, RX_BUFS);
        g_assert_cmpuint(len, <=, BUF_SIZE);
        qtest_memread(r->qts, r->rxbuf[q][id], buf, len);
        n++;
        if (len >= r->hdr_len + ETH_ZLEN &&
            !memcmp(buf + len - 8, marker, sizeof(marker))) {
            g_hash_table_add(got, GUINT_TO_POINTER(ldl_be_p(buf + len - 4)));
        }
    }
    return n;
}

/*
 * The queue RSS picks has no buffers while the others have plenty: the
 * frames must wait, and arrive there as soon as the guest adds buffers to
 * that queue, whichever tap queue they came in on.
 */
static void run_refill(const RigOpts *o)
{
    const int target = 1;
    g_autoptr(GHashTable) got = g_hash_table_new(NULL, NULL);
    g_autoptr(GHashTable) elsewhere = g_hash_table_new(NULL, NULL);
    uint32_t first_pending, seq;
    uint8_t frame[256];
    unsigned used = 0;
    gint64 deadline;
    RssState s;
    Flow f;
    Rig *r;
    int q, i, bad;

    if (!host_usable()) {
        return;
    }
    r = rig_new(o);
    rss_random(r, &s, 1, NR_QUEUES, RSS_REF_HASH_TYPES_ALL);
    s.table[0] = target;
    s.unclassified = target;
    apply_rss(r, &s);

    /* Use up the target queue's buffers, keeping them */
    deadline = g_get_monotonic_time() + TIMEOUT_US;
    while (used < RX_BUFS && g_get_monotonic_time() < deadline) {
        flow_random(r->rand, &f);
        host_send(r, frame, build_frame(F_IP4_UDP, &f, ++r->seq, frame));
        g_usleep(2000);
        used += rx_take(r, target, got);
    }
    g_assert_cmpuint(used, ==, RX_BUFS);

    /* Different flows, so that the tap spreads them over its queues */
    first_pending = r->seq + 1;
    for (i = 0; i < 2 * NR_QUEUES; i++) {
        flow_random(r->rand, &f);
        host_send(r, frame, build_frame(F_IP4_UDP, &f, ++r->seq, frame));
    }
    g_usleep(300 * 1000);
    for (q = 0; q < NR_QUEUES; q++) {
        if (q != target) {
            rx_take(r, q, elsewhere);
        }
    }

    /* The guest refills the target queue only */
    for (i = 0; i < RX_BUFS; i++) {
        rx_post(r, target, i);
    }
    deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
    do {
        for (seq = first_pending; seq <= r->seq; seq++) {
            if (!g_hash_table_contains(got, GUINT_TO_POINTER(seq))) {
                break;
            }
        }
        if (seq > r->seq) {
            break;
        }
        g_usleep(1000);
        rx_take(r, target, got);
    } while (g_get_monotonic_time() < deadline);

    for (q = 0; q < NR_QUEUES; q++) {
        if (q != target) {
            rx_take(r, q, elsewhere);
        }
    }
    for (seq = first_pending; seq <= r->seq; seq++) {
        if (g_hash_table_contains(elsewhere, GUINT_TO_POINTER(seq))) {
            mismatch(r, "refill: seq %u went to a queue RSS did not pick",
                     seq);
        } else if (!g_hash_table_contains(got, GUINT_TO_POINTER(seq))) {
            mismatch(r, "refill: seq %u held back after queue %d got "
                     "buffers", seq, target);
        }
    }

    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_free(r->trace);
    g_free(r);
}

static void test_sw_refill(void)
{
    RigOpts o = { .no_bpf = true };

    run_refill(&o);
}

static void test_hash_refill(void)
{
    RigOpts o = { .hash = true };

    run_refill(&o);
}

static void test_ebpf_refill(void)
{
    RigOpts o = { 0 };

    run_refill(&o);
}

/*
 * QEMU with no capabilities at all cannot load the program: the control
 * for the helper cases below, which would prove nothing otherwise.
 */
static void test_nocaps_fallback(void)
{
    RigOpts o = { .no_caps = true };

    run_steering(&o, F_IP4_TCP, F_IP6_UDP + 1, RSS_REF_HASH_TYPES_ALL,
                 PATH_SOFTWARE);
}

/* The helper, given CAP_BPF by file capabilities, loads it for QEMU */
static void test_helper_steering(void)
{
    RigOpts o = { .no_caps = true, .helper_is_tmp = true };
    g_autofree char *helper = NULL;

    if (!host_usable() || !helper_usable()) {
        return;
    }
    helper = helper_install_capable();
    o.helper = helper;
    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
}

/* A helper that cannot load either: a warning and software RSS */
static void test_helper_fails(void)
{
    g_autofree char *helper = helper_path();
    RigOpts o = { .no_caps = true, .helper = helper };

    if (!host_usable() || !helper_usable()) {
        return;
    }
    run_steering(&o, F_IP4_TCP, F_IP6_UDP + 1, RSS_REF_HASH_TYPES_ALL,
                 PATH_SOFTWARE);
}

/* A management layer loaded the program: ebpf-rss-fds on the command line */
static void test_fds_cmdline(void)
{
    RigOpts o = { .no_bpf = true, .fds = FDS_CMDLINE };

    if (!host_usable() || !helper_usable()) {
        return;
    }
    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
}

/* ... or handed over with getfd, the device coming with device_add */
static void test_fds_qmp(void)
{
    RigOpts o = { .no_bpf = true, .fds = FDS_QMP };

    if (!host_usable() || !helper_usable()) {
        return;
    }
    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
}

/*
 * Descriptors of the wrong kind must be refused with an error that says
 * which one is wrong; QEMU must neither crash nor keep the device.
 */
static void test_fds_wrong(void)
{
    static const struct {
        const char *what;
        int order[EBPF_RSS_FDS];    /* -1: /dev/null */
        const char *error;
    } cases[] = {
        { "map as program", { 1, 0, 2, 3 }, "not an eBPF program" },
        { "program as map", { 0, 1, 2, 0 }, "not an eBPF map" },
        { "config and table swapped", { 0, 3, 2, 1 }, "needs at least" },
        { "not eBPF", { 0, 1, -1, 3 }, "/dev/null, not an eBPF map" },
    };
    RigOpts o = { .no_bpf = true };
    Rig *r;
    int taps[NR_QUEUES], bpf[EBPF_RSS_FDS], i, j;
    char names[EBPF_RSS_FDS][16];

    if (!host_usable() || !helper_usable()) {
        return;
    }
    r = g_new0(Rig, 1);
    tap_open(r, taps);
    tap_up(r);
    rig_start_qemu(r, &o, taps, NULL);
    close_fds(taps, NR_QUEUES);
    helper_load(bpf);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autoptr(QDict) props = dev_props(&o);
        int fds[EBPF_RSS_FDS];
        QDict *resp;
        const char *desc;

        for (j = 0; j < EBPF_RSS_FDS; j++) {
            fds[j] = cases[i].order[j] < 0 ? open("/dev/null", O_RDWR)
                                           : dup(bpf[cases[i].order[j]]);
            g_assert_cmpint(fds[j], >=, 0);
        }
        qmp_getfds(r->qts, fds, names);
        close_fds(fds, EBPF_RSS_FDS);
        put_fd_names(props, names);
        resp = qtest_qmp(r->qts, "{'execute': 'device_add', "
                         "'arguments': %p}", qobject_ref(props));
        g_assert_nonnull(resp);
        if (!qdict_haskey(resp, "error")) {
            mismatch(r, "%s: device_add succeeded", cases[i].what);
        } else {
            desc = qdict_get_str(qdict_get_qdict(resp, "error"), "desc");
            g_test_message("%s: %s", cases[i].what, desc);
            if (!strstr(desc, cases[i].error)) {
                mismatch(r, "%s: error '%s' does not say '%s'",
                         cases[i].what, desc, cases[i].error);
            }
        }
        qobject_unref(resp);
        /* Still alive and well */
        qtest_qmp_assert_success(r->qts, "{'execute': 'query-status'}");
    }

    /* The same descriptors in the right order are accepted */
    {
        g_autoptr(QDict) props = dev_props(&o);

        qmp_getfds(r->qts, bpf, names);
        put_fd_names(props, names);
        qtest_qmp_assert_success(r->qts, "{'execute': 'device_add', "
                                 "'arguments': %p}", qobject_ref(props));
    }
    close_fds(bpf, EBPF_RSS_FDS);

    qtest_quit(r->qts);
    unlink(r->trace_path);
    g_free(r->trace_path);
    close(r->sock);
    expect_no_mismatch(r->mismatches);
    g_free(r);
}

/* RSS modes: the kernel's tap, or the fallbacks when it cannot */

#define NO_KERNEL_REASON \
    "reason=tap: the host kernel does not compute virtio-net hashes"

/* Does this host's tap hash as virtio-net needs it (TUNGETVNETHASHCAP)? */
static bool kernel_hash_cap(void)
{
    const uint32_t need = TUN_VNET_HASH_F_RSS | TUN_VNET_HASH_F_REPORT;
    struct tun_vnet_hash_cap cap = { 0 };
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = !ioctl(fd, TUNGETVNETHASHCAP, &cap) &&
         (cap.flags & need) == need &&
         cap.max_table_len >= MAX_TABLE &&
         cap.max_key_size >= RSS_REF_KEY_MAX &&
         (cap.hash_types & RSS_REF_HASH_TYPES_ALL) == RSS_REF_HASH_TYPES_ALL;
    close(fd);
    return ok;
}

#define NIC_VDEV_PATH   "/machine/peripheral/nic0/virtio-backend"

static char *qts_rss_mode(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                           "{'path': %s, 'property': 'rss-mode'}}",
                           NIC_VDEV_PATH);
    char *mode;

    g_assert(qdict_haskey(rsp, "return"));
    mode = g_strdup(qdict_get_str(rsp, "return"));
    qobject_unref(rsp);
    return mode;
}

static char *rig_rss_mode(Rig *r)
{
    return qts_rss_mode(r->qts);
}

/* rss-mode of x-query-virtio-status for @path, NULL when it is absent */
static char *status_rss_mode(QTestState *qts, const char *path)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'x-query-virtio-status', "
                           "'arguments': {'path': %s}}", path);
    QDict *ret = qdict_get_qdict(rsp, "return");
    char *mode;

    g_assert_nonnull(ret);
    g_assert(g_str_has_prefix(qdict_get_str(ret, "name"), "virtio-"));
    mode = g_strdup(qdict_get_try_str(ret, "rss-mode"));
    qobject_unref(rsp);
    return mode;
}

/* The rss_mode line of HMP's info virtio-status, NULL when there is none */
static char *hmp_rss_mode(QTestState *qts, const char *path)
{
    g_autofree char *out = qtest_hmp(qts, "info virtio-status %s", path);
    const char *p, *end;

    /* The command printed the device's status, not an error */
    g_assert_nonnull(strstr(out, "device_name:"));
    p = strstr(out, "  rss_mode:");
    if (!p) {
        return NULL;
    }
    p += strlen("  rss_mode:");
    p += strspn(p, " ");
    end = p + strcspn(p, "\r\n");
    return g_strndup(p, end - p);
}

/* The QOM property, QMP's and HMP's virtio-status all say @want */
static void assert_status_mode(QTestState *qts, const char *want)
{
    g_autofree char *qom = qts_rss_mode(qts);
    g_autofree char *qmp = status_rss_mode(qts, NIC_VDEV_PATH);
    g_autofree char *hmp = hmp_rss_mode(qts, NIC_VDEV_PATH);

    g_test_message("rss-mode: qom %s, x-query-virtio-status %s, "
                   "info virtio-status %s", qom, qmp, hmp);
    g_assert_cmpstr(qom, ==, want);
    g_assert_cmpstr(qmp, ==, want);
    g_assert_cmpstr(hmp, ==, want);
}

/* What the tap of @fd holds (TUNGETVNETHASH) is the guest's config */
static void assert_tap_config(Rig *r, int fd)
{
    struct tun_vnet_hash h = { 0 };
    uint32_t flags = TUN_VNET_HASH_F_RSS |
                     (r->hash ? TUN_VNET_HASH_F_REPORT : 0);
    unsigned i;

    g_assert_cmpint(ioctl(fd, TUNGETVNETHASH, &h), ==, 0);
    g_assert_cmphex(h.flags, ==, flags);
    g_assert_cmphex(h.hash_types, ==, r->cur.types);
    g_assert_cmpuint(h.indirection_table_mask, ==, r->cur.table_len - 1);
    g_assert_cmpuint(h.unclassified_queue, ==,
                     r->cur.unclassified % r->cur.nr_queues);
    for (i = 0; i < r->cur.table_len; i++) {
        g_assert_cmpuint(h.indirection_table[i], ==,
                         r->cur.table[i] % r->cur.nr_queues);
    }
    g_assert_cmpuint(h.key_length, ==, RSS_REF_KEY_MAX);
    g_assert(!memcmp(h.key, r->cur.key, RSS_REF_KEY_MAX));
}

/*
 * Narrower configurations after the full one, one hash class each, with
 * fewer queues and shorter tables: a frame outside the class must get no
 * hash and the unclassified queue, and the tap must use only the queues
 * the guest left attached (QEMU detaches the others).  Returns how many
 * configurations went to the tap.
 */
static unsigned check_narrow_configs(Rig *r)
{
    static const struct {
        uint32_t types;
        unsigned table_len, queues;
    } cfgs[] = {
        { VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |
          VIRTIO_NET_RSS_HASH_TYPE_IP_EX, 16, 2 },
        { VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
          VIRTIO_NET_RSS_HASH_TYPE_TCP_EX, 64, 3 },
        { VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |
          VIRTIO_NET_RSS_HASH_TYPE_UDP_EX, 8, NR_QUEUES },
    };
    RssState s;
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(cfgs); i++) {
        rss_random(r, &s, cfgs[i].table_len, cfgs[i].queues, cfgs[i].types);
        apply_rss(r, &s);
        assert_tap_config(r, r->tap_fd);
        check_flows(r, 0, F_CORE_MAX, 2);
    }
    return ARRAY_SIZE(cfgs);
}

/*
 * Steer and (with o->hash) report in the mode the host allows: "kernel"
 * where the tap can, else @fallback, whose path @fallback_path proves.
 */
static void run_mode(const RigOpts *o, const char *fallback,
                     Path fallback_path)
{
    bool kernel = kernel_hash_cap();
    const char *want = kernel ? "kernel" : fallback;
    uint16_t table[4] = { 0 };
    uint8_t buf[512];
    g_autofree char *planned = NULL;
    g_autofree char *used = NULL;
    unsigned configs = 1;
    Rig *r;
    RssState s;
    size_t len;
    int bad;

    if (!host_usable()) {
        return;
    }
    g_test_message("host kernel %s virtio-net hashing, expecting mode %s",
                   kernel ? "has" : "lacks", want);
    r = rig_new(o);
    planned = rig_rss_mode(r);
    /* Before the guest configures anything: one queue, no hash */
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 1);
    rss_random(r, &s, MAX_TABLE, NR_QUEUES, RSS_REF_HASH_TYPES_ALL);
    apply_rss(r, &s);
    check_flows(r, 0, F_CORE_MAX, o->flows ? o->flows : FLOWS);

    /* A table of 3 entries is no power of 2: refused, nothing changes */
    len = rss_cfg(buf, RSS_REF_HASH_TYPES_ALL, 2, 0, table, 3, NR_QUEUES,
                  s.key, RSS_REF_KEY_MAX);
    g_assert_cmpuint(ctrl_cmd(r, VIRTIO_NET_CTRL_MQ,
                              VIRTIO_NET_CTRL_MQ_RSS_CONFIG, buf, len),
                     ==, VIRTIO_NET_ERR);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 8);
    used = rig_rss_mode(r);
    if (want) {
        assert_status_mode(r->qts, want);
    }
    if (kernel) {
        assert_tap_config(r, r->tap_fd);
        if (o->narrow) {
            configs += check_narrow_configs(r);
        }
    }

    bad = rig_free(r);
    expect_no_mismatch(bad);
    g_assert_cmpstr(used, ==, want);
    if (kernel) {
        g_assert_cmpstr(planned, ==, "kernel");
        /* Each good configuration reached the kernel; the bad one did not */
        g_assert_cmpuint(count_lines(r->trace, "virtio_net_rss_kernel_set "),
                         ==, configs);
        /* Nobody else hashed or steered */
        g_assert_cmpuint(count_lines(r->trace, "net_rx_pkt_rss_hash "),
                         ==, 0);
        g_assert_cmpint(last_attach_fd(r->trace), <, 0);
    } else {
        /* The trace says which mode and why not the kernel's */
        g_assert_nonnull(strstr(r->trace, NO_KERNEL_REASON));
        g_assert_cmpuint(count_lines(r->trace, "virtio_net_rss_kernel_set "),
                         ==, 0);
        assert_path(r, fallback_path);
    }
    g_free(r->trace);
    g_free(r);
}

/* auto: the kernel where it can, else eBPF */
static void test_mode_auto(void)
{
    RigOpts o = { .offload = "auto", .flows = 40 };

    run_mode(&o, "ebpf", PATH_EBPF);
}

/* auto with hash report: the kernel reports, else QEMU hashes */
static void test_mode_auto_hash(void)
{
    RigOpts o = { .offload = "auto", .hash = true, .flows = 40 };

    run_mode(&o, "software", PATH_HASH);
}

/* The kernel's mode needs no CAP_BPF; without it the fallback is QEMU */
static void test_mode_auto_nobpf(void)
{
    RigOpts o = { .offload = "auto", .no_bpf = true, .flows = 40 };

    run_mode(&o, "software", PATH_SOFTWARE);
}

/* device_add must fail with an error that contains @needle */
static void expect_device_refused(const RigOpts *o, const char *needle)
{
    Rig r = { 0 };
    int fds[NR_QUEUES];
    QDict *rsp, *err;

    tap_open(&r, fds);
    tap_up(&r);
    rig_start_qemu(&r, o, fds, NULL);
    close_fds(fds, NR_QUEUES);
    rsp = qtest_qmp(r.qts, "{'execute': 'device_add', 'arguments': %p}",
                    dev_props(o));
    err = qdict_get_qdict(rsp, "error");
    g_assert_nonnull(err);
    g_test_message("device_add: %s", qdict_get_str(err, "desc"));
    g_assert_nonnull(strstr(qdict_get_str(err, "desc"), needle));
    qobject_unref(rsp);
    qtest_quit(r.qts);
    unlink(r.trace_path);
    g_free(r.trace_path);
    close(r.sock);
}

/* rss-offload=kernel: the kernel's mode, or no device at all */
static void test_mode_kernel_pinned(void)
{
    RigOpts o = { .offload = "kernel", .hash = true, .flows = 20,
                  .stale_hash = true, .narrow = true };

    if (!host_usable()) {
        return;
    }
    if (kernel_hash_cap()) {
        run_mode(&o, NULL, PATH_HASH);
        return;
    }
    expect_device_refused(&o, "rss-offload=kernel: tap: the host kernel "
                          "does not compute virtio-net hashes");
}

static void test_mode_invalid(void)
{
    RigOpts o = { .offload = "fastest" };

    if (!host_usable()) {
        return;
    }
    expect_device_refused(&o, "rss-offload must be auto, kernel, ebpf or "
                          "software");
}

/* vhost-net: only the kernel can steer by RSS and report the hash */
static void test_mode_vhost(void)
{
    RigOpts o = { .offload = "auto", .vhost = true, .flows = 40 };

    run_mode(&o, NULL, PATH_EBPF);
}

static void test_mode_vhost_hash(void)
{
    RigOpts o = { .offload = "auto", .vhost = true, .hash = true,
                  .flows = 40, .stale_hash = true, .narrow = true };

    run_mode(&o, NULL, PATH_HASH);
}

/*
 * vhost-net on a kernel without virtio-net hashing: the steering program
 * is the only way to steer, and nobody could report a hash.
 */
static void test_mode_vhost_ebpf(void)
{
    RigOpts o = { .offload = "auto", .vhost = true, .flows = 40 };

    run_mode(&o, "ebpf", PATH_EBPF);
}

static void test_mode_vhost_hash_refused(void)
{
    RigOpts o = { .offload = "auto", .vhost = true, .hash = true };

    if (!host_usable()) {
        return;
    }
    expect_device_refused(&o, "hash=on needs a backend that reports "
                          "hashes, and this vhost backend does not");
}

/*
 * The kernel's mode on a macvtap or ipvtap, with vhost-net (its /dev/vhost-net
 * descriptors passed in, as libvirt does) or without.  Registered only where
 * the kernel hashes; tun's cases are kernel-pinned and vhost-hash.
 */
typedef struct BackendCase {
    const char *path;
    Backend backend;
    bool vhost;
} BackendCase;

static const BackendCase backend_cases[] = {
    { "/virtio-net-rss/mode/macvtap-kernel", BACKEND_MACVTAP, false },
    { "/virtio-net-rss/mode/macvtap-vhost-hash", BACKEND_MACVTAP, true },
    { "/virtio-net-rss/mode/ipvtap-kernel", BACKEND_IPVTAP, false },
    { "/virtio-net-rss/mode/ipvtap-vhost-hash", BACKEND_IPVTAP, true },
};

static void test_mode_backend(gconstpointer data)
{
    const BackendCase *c = data;
    RigOpts o = { .offload = "kernel", .hash = true, .flows = 4,
                  .backend = c->backend, .vhost = c->vhost,
                  .vhostfds = c->vhost, .stale_hash = true,
                  .narrow = true };

    run_mode(&o, NULL, PATH_HASH);
}

/*
 * virtio-status takes rss-mode from the device's property: a virtio-net
 * without RSS says "none", a device without the property shows nothing.
 */
static void test_mode_status_generic(void)
{
    QTestState *qts = qtest_init("-M pc -nodefaults -m 256M "
                                 "-device virtio-net-pci,id=nic0,romfile= "
                                 "-device virtio-balloon-pci,id=balloon0");
    const char *balloon = "/machine/peripheral/balloon0/virtio-backend";
    g_autofree char *qmp = status_rss_mode(qts, balloon);
    g_autofree char *hmp = hmp_rss_mode(qts, balloon);

    assert_status_mode(qts, "none");
    g_assert_null(qmp);
    g_assert_null(hmp);
    qtest_quit(qts);
}

/* Migration: the guest's RSS configuration moves with the VM */

#define MIGRATION_TIMEOUT_US    (120 * G_USEC_PER_SEC)

/* The status of the last migration of @qts, once it is no longer active */
static char *migration_wait(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() + MIGRATION_TIMEOUT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *st = qdict_get_try_str(ret, "status");
        char *done = NULL;

        if (st && (!strcmp(st, "completed") || !strcmp(st, "failed") ||
                   !strcmp(st, "cancelled"))) {
            if (qdict_haskey(ret, "error-desc")) {
                g_test_message("migration %s: %s", st,
                               qdict_get_str(ret, "error-desc"));
            }
            done = g_strdup(st);
        }
        qobject_unref(rsp);
        if (done) {
            return done;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(20 * 1000);
    }
}

static char *run_state(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
    char *st = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                      "status"));

    qobject_unref(rsp);
    return st;
}

static void wait_running(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() + MIGRATION_TIMEOUT_US;

    for (;;) {
        g_autofree char *st = run_state(qts);

        if (!strcmp(st, "running")) {
            return;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(20 * 1000);
    }
}

/*
 * The guest turns on RSS (and with o->hash the hash report) and gets
 * frames on the source, the VM migrates to a destination with a tap of
 * its own, and frames sent there must land as the reference predicts:
 * the destination rebuilt steering and hashing from the migrated state
 * alone.  Both sides must be in mode @want.
 */
static void run_migration(const RigOpts *o, const char *want, Path path)
{
    g_autofree char *dir = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *sock = NULL;
    g_autofree char *st = NULL;
    g_autoptr(QDict) props = dev_props(o);
    g_autoptr(GString) json = qobject_to_json(QOBJECT(props));
    RigOpts dst_o = *o;
    Rig *r, dst = { 0 };
    RssState s;
    int fds[NR_QUEUES], bad;
    bool kernel = !strcmp(want, "kernel");
    unsigned flows = o->flows ? o->flows : FLOWS;

    if (!host_usable()) {
        return;
    }
    dir = g_dir_make_tmp("nvrss-mig-XXXXXX", NULL);
    g_assert_nonnull(dir);
    sock = g_build_filename(dir, "migrate.sock", NULL);
    uri = g_strdup_printf("unix:%s", sock);

    r = rig_new(o);
    rss_random(r, &s, MAX_TABLE, NR_QUEUES, r->hash ? TYPES_NO_EX :
               RSS_REF_HASH_TYPES_ALL);
    apply_rss(r, &s);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 4);
    assert_status_mode(r->qts, want);

    /* The destination: its own tap, the same device, waiting */
    tap_open(&dst, fds);
    tap_up(&dst);
    dst_o.incoming = uri;
    rig_start_qemu(&dst, &dst_o, fds, json->str);
    /* Queue 0 stays open, as in rig_new(): for TUNGETVNETHASH */
    close_fds(fds + 1, NR_QUEUES - 1);
    if (kernel) {
        /* Nothing in the new tap yet: whatever comes is the migration's */
        assert_tap_hash_off(fds[0]);
    }

    qtest_qmp_assert_success(r->qts, "{'execute': 'migrate', "
                             "'arguments': {'uri': %s}}", uri);
    st = migration_wait(r->qts);
    g_assert_cmpstr(st, ==, "completed");
    wait_running(dst.qts);
    g_free(st);
    st = run_state(r->qts);
    g_assert_cmpstr(st, ==, "postmigrate");

    /* From now on the guest is the destination */
    qtest_quit(r->qts);
    unlink(r->trace_path);
    g_free(r->trace_path);
    close(r->sock);
    close(r->tap_fd);
    r->tap_fd = fds[0];
    r->qts = dst.qts;
    r->bus->qts = dst.qts;
    r->sock = dst.sock;
    r->ifindex = dst.ifindex;
    pstrcpy(r->ifname, IFNAMSIZ, dst.ifname);
    r->trace_path = dst.trace_path;

    assert_status_mode(r->qts, want);
    if (kernel) {
        assert_tap_config(r, r->tap_fd);
    }
    /* A dead data path would cost a timeout per frame: probe it first */
    check_flows(r, F_IP4_TCP, F_IP4_TCP + 1, 1);
    if (!r->mismatches) {
        check_flows(r, 0, F_CORE_MAX, flows);
    }

    bad = rig_free(r);
    unlink(sock);
    rmdir(dir);
    expect_no_mismatch(bad);
    if (kernel) {
        /* The destination configured its tap, and nobody else hashed */
        g_assert_cmpuint(count_lines(r->trace, "virtio_net_rss_kernel_set "),
                         >=, 1);
        g_assert_cmpuint(count_lines(r->trace, "net_rx_pkt_rss_hash "),
                         ==, 0);
        g_assert_cmpint(last_attach_fd(r->trace), <, 0);
    } else {
        g_assert_cmpuint(count_lines(r->trace, "virtio_net_rss_kernel_set "),
                         ==, 0);
        assert_path(r, path);
    }
    g_free(r->trace);
    g_free(r);
}

/* RSS and hash report, vhost=off: the kernel where it can, else QEMU */
static void test_migration_hash(void)
{
    RigOpts o = { .offload = "auto", .hash = true, .flows = 16 };

    run_migration(&o, kernel_hash_cap() ? "kernel" : "software", PATH_HASH);
}

/*
 * vhost-net: the kernel steers and reports where it can; elsewhere the
 * steering program steers and there is no hash report to offer.
 */
static void test_migration_vhost(void)
{
    bool kernel = kernel_hash_cap();
    RigOpts o = { .offload = "auto", .vhost = true, .hash = kernel,
                  .flows = 16 };

    run_migration(&o, kernel ? "kernel" : "ebpf", PATH_EBPF);
}

/*
 * A destination that insists on the kernel's mode on a kernel without it
 * refuses to start, and the source goes on as if nothing happened, as
 * docs/system/netvirt.rst promises.
 */
static void test_migration_kernel_refused(void)
{
    RigOpts o = { .offload = "auto", .hash = true };
    RigOpts dst_o = { .offload = "kernel", .hash = true };
    g_autoptr(QDict) props = dev_props(&dst_o);
    g_autoptr(GString) json = qobject_to_json(QOBJECT(props));
    g_autofree char *dir = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *netdev = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err_out = NULL;
    g_autofree char *st = NULL;
    GError *gerr = NULL;
    Rig *r, dst = { 0 };
    RssState s;
    QDict *rsp;
    int fds[NR_QUEUES], status, bad;

    if (!host_usable()) {
        return;
    }
    dir = g_dir_make_tmp("nvrss-mig-XXXXXX", NULL);
    g_assert_nonnull(dir);
    uri = g_strdup_printf("unix:%s/migrate.sock", dir);

    r = rig_new(&o);
    rss_random(r, &s, MAX_TABLE, NR_QUEUES, TYPES_NO_EX);
    apply_rss(r, &s);
    check_flows(r, F_IP4_TCP, F_IP6_UDP + 1, 4);

    tap_open(&dst, fds);
    netdev = g_strdup_printf("tap,id=net0,fds=%d:%d:%d:%d,vhost=off",
                             fds[0], fds[1], fds[2], fds[3]);
    {
        /* timeout: a destination that wrongly starts would wait forever */
        const char *argv[] = {
            "timeout", "60", qtest_qemu_binary(NULL), "-M", "pc",
            "-accel", "qtest", "-nodefaults", "-display", "none",
            "-m", "256M", "-netdev", netdev, "-device", json->str,
            "-incoming", uri, NULL
        };

        g_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                              G_SPAWN_SEARCH_PATH |
                              G_SPAWN_LEAVE_DESCRIPTORS_OPEN,
                              NULL, NULL, &out, &err_out, &status, &gerr));
        g_assert_no_error(gerr);
    }
    close_fds(fds, NR_QUEUES);
    g_test_message("destination: %s", err_out);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err_out, "rss-offload=kernel: tap: the host "
                            "kernel does not compute virtio-net hashes"));

    /* Nobody listens: the migration fails, at once or soon */
    rsp = qtest_qmp(r->qts, "{'execute': 'migrate', 'arguments': "
                    "{'uri': %s}}", uri);
    if (qdict_haskey(rsp, "error")) {
        g_test_message("migrate: %s",
                       qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    } else {
        st = migration_wait(r->qts);
        g_assert_cmpstr(st, ==, "failed");
        g_free(st);
    }
    qobject_unref(rsp);

    /* The source never stopped and its guest still gets every frame */
    st = run_state(r->qts);
    g_assert_cmpstr(st, ==, "running");
    g_assert_null(qtest_qmp_event_ref(r->qts, "STOP"));
    assert_status_mode(r->qts, "software");
    check_flows(r, 0, F_CORE_MAX, 8);

    bad = rig_free(r);
    rmdir(dir);
    expect_no_mismatch(bad);
    g_free(r->trace);
    g_free(r);
}

/*
 * qemu-ebpf-rss-helper as a service: ebpf-rss-helper=unix:PATH.  QEMU
 * without any capability and a bounding set that forbids gaining one (as
 * libvirt runs it) still gets the program, from a service started apart.
 */

typedef struct HelperService {
    pid_t pid;
    char *dir;
    char *sock;         /* its socket */
    char *log;          /* its stderr */
    bool activated;
} HelperService;

static int listen_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(s, >=, 0);
    pstrcpy(sun.sun_path, sizeof(sun.sun_path), path);
    g_assert_cmpint(bind(s, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    g_assert_cmpint(listen(s, 16), ==, 0);
    return s;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(s, >=, 0);
    pstrcpy(sun.sun_path, sizeof(sun.sun_path), path);
    if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* A numeric field of /proc/PID/fdinfo/FD */
static uint64_t fdinfo_u64(pid_t pid, int fd, const char *key)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fdinfo/%d", pid, fd);
    g_autofree char *info = NULL;
    g_autofree char *needle = g_strdup_printf("\n%s:", key);
    g_autofree char *text = NULL;
    const char *p;

    g_assert_true(g_file_get_contents(path, &info, NULL, NULL));
    text = g_strconcat("\n", info, NULL);
    p = strstr(text, needle);
    g_assert_nonnull(p);
    return g_ascii_strtoull(p + strlen(needle), NULL, 0);
}

static unsigned count_fds(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", pid);
    GDir *d = g_dir_open(path, 0, NULL);
    unsigned n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

/*
 * Start the helper service on a socket in a directory of its own: with
 * --listen and @mode, or, with @activated, the way systemd would (the
 * listening socket on descriptor 3, LISTEN_PID and LISTEN_FDS).  With
 * @no_caps it has no capability at all.
 */
static void service_start(HelperService *s, bool activated, bool no_caps,
                          const char *mode)
{
    g_autofree char *path = helper_path();
    g_autofree char *setpriv = g_find_program_in_path("setpriv");
    GError *err = NULL;
    int lsock = -1, logfd, i, fds[EBPF_RSS_FDS];

    memset(s, 0, sizeof(*s));
    s->activated = activated;
    s->dir = g_dir_make_tmp("nvrss-svc-XXXXXX", &err);
    g_assert_no_error(err);
    s->sock = g_build_filename(s->dir, "helper.sock", NULL);
    s->log = g_build_filename(s->dir, "helper.log", NULL);
    logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_cmpint(logfd, >=, 0);
    if (activated) {
        lsock = listen_unix(s->sock);
    }
    g_assert_nonnull(setpriv);

    s->pid = fork();
    g_assert_cmpint(s->pid, >=, 0);
    if (s->pid == 0) {
        const char *argv[16];
        char pid[16];
        int argc = 0;

        dup2(logfd, STDERR_FILENO);
        if (activated) {
            if (lsock == 3) {
                fcntl(lsock, F_SETFD, 0);
            } else {
                dup2(lsock, 3);
            }
            /* setpriv execs the helper in this same process */
            snprintf(pid, sizeof(pid), "%d", getpid());
            setenv("LISTEN_PID", pid, 1);
            setenv("LISTEN_FDS", "1", 1);
        }
        if (no_caps) {
            argv[argc++] = setpriv;
            argv[argc++] = "--securebits";
            argv[argc++] = "+noroot,+noroot_locked,+no_setuid_fixup,"
                           "+no_setuid_fixup_locked";
            argv[argc++] = "--inh-caps=-all";
            argv[argc++] = "--ambient-caps=-all";
        }
        argv[argc++] = path;
        if (!activated) {
            argv[argc++] = "--listen";
            argv[argc++] = s->sock;
            argv[argc++] = "--socket-mode";
            argv[argc++] = mode;
        }
        argv[argc] = NULL;
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    close(logfd);
    if (activated) {
        close(lsock);
        return;
    }
    /* Ready once it answers: bind, chmod and listen come in that order */
    for (i = 0; i < 500; i++) {
        int c = connect_unix(s->sock);

        if (c >= 0) {
            if (read_answer(c, fds, MSG_CMSG_CLOEXEC) == 0) {
                close_fds(fds, EBPF_RSS_FDS);
            }
            close(c);
            return;
        }
        g_usleep(10 * 1000);
    }
    g_error("the helper service did not come up on %s", s->sock);
}

/* Stop it as systemd would; it must exit cleanly. Returns its log. */
static char *service_stop(HelperService *s)
{
    char *log = NULL;
    int status;

    g_assert_cmpint(kill(s->pid, SIGTERM), ==, 0);
    g_assert_cmpint(waitpid(s->pid, &status, 0), ==, s->pid);
    g_file_get_contents(s->log, &log, NULL, NULL);
    g_test_message("helper service log: %s", log ? log : "");
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    /* --listen removes the socket it made; systemd's is systemd's */
    if (s->activated) {
        unlink(s->sock);
    } else {
        g_assert_false(g_file_test(s->sock, G_FILE_TEST_EXISTS));
    }
    unlink(s->log);
    g_assert_cmpint(rmdir(s->dir), ==, 0);
    g_free(s->dir);
    g_free(s->sock);
    g_free(s->log);
    return log;
}

/* An unprivileged QEMU gets the program from the service and steers */
static void test_service_steering(void)
{
    RigOpts o = { .no_caps = true };
    HelperService s;
    g_autofree char *helper = NULL;
    g_autofree char *log = NULL;

    if (!host_usable() || !helper_usable()) {
        return;
    }
    service_start(&s, false, false, "0600");
    helper = g_strdup_printf("unix:%s", s.sock);
    o.helper = helper;
    run_steering(&o, 0, F_CORE_MAX, RSS_REF_HASH_TYPES_ALL, PATH_EBPF);
    log = service_stop(&s);
    /* One for the readiness probe, one for QEMU */
    g_assert_nonnull(strstr(log, "(2 so far)"));
}

/*
 * Socket activated, many clients in turn, one of them never reading and
 * some hanging up at once: every other one still gets a program and maps
 * of its own, and the service keeps no descriptor behind.
 */
static void test_service_many(void)
{
    HelperService s;
    g_autofree char *log = NULL;
    GHashTable *maps = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                             g_free, NULL);
    int fds[EBPF_RSS_FDS], idle, c, i, j;
    unsigned before = 0;
    char byte;

    if (!host_usable() || !helper_usable()) {
        g_hash_table_destroy(maps);
        return;
    }
    service_start(&s, true, false, NULL);
    idle = connect_unix(s.sock);
    g_assert_cmpint(idle, >=, 0);

    for (i = 0; i < 40; i++) {
        if (i % 8 == 4) {
            /* Gone before the answer: the service must not care */
            c = connect_unix(s.sock);
            g_assert_cmpint(c, >=, 0);
            close(c);
        }
        c = connect_unix(s.sock);
        g_assert_cmpint(c, >=, 0);
        g_assert_cmpint(read_answer(c, fds, MSG_CMSG_CLOEXEC), ==, 0);
        /* Nothing more comes: one answer per connection */
        g_assert_cmpint(read(c, &byte, 1), ==, 0);
        close(c);
        for (j = 1; j < EBPF_RSS_FDS; j++) {
            gint64 *id = g_new(gint64, 1);

            *id = fdinfo_u64(getpid(), fds[j], "map_id");
            if (!g_hash_table_add(maps, id)) {
                g_test_message("map id %" PRId64 " handed out twice", *id);
                g_test_fail();
            }
        }
        close_fds(fds, EBPF_RSS_FDS);
        if (i == 0) {
            before = count_fds(s.pid);
        }
    }
    g_assert_cmpuint(count_fds(s.pid), ==, before);
    g_assert_cmpuint(g_hash_table_size(maps), ==, 40 * (EBPF_RSS_FDS - 1));
    /* The client that never read got its answer all the same */
    g_assert_cmpint(read_answer(idle, fds, MSG_CMSG_CLOEXEC), ==, 0);
    close_fds(fds, EBPF_RSS_FDS);
    close(idle);
    log = service_stop(&s);
    g_assert_nonnull(strstr(log, "(41 so far)"));
    g_hash_table_destroy(maps);
}

typedef enum BadServer {
    BAD_TEXT,           /* a message without the magic */
    BAD_ESCAPE,         /* the magic and an error with control characters */
    BAD_NOT_BPF,        /* the magic, and /dev/null four times */
    BAD_TOO_MANY,       /* the magic and eight descriptors */
    BAD_HANG_UP,        /* closes without a word */
    BAD_SILENT,         /* never answers */
} BadServer;

/* A server on @path that answers every connection wrongly */
static pid_t bad_server_start(const char *path, BadServer kind)
{
    int lsock = listen_unix(path);
    pid_t pid = fork();

    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        int devnull[8], conn, i;
        char buf[64] = HELPER_MAGIC;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(devnull))];
        } control;
        struct iovec iov = { .iov_base = buf };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        struct cmsghdr *cmsg;

        for (i = 0; i < ARRAY_SIZE(devnull); i++) {
            devnull[i] = open("/dev/null", O_RDWR);
        }
        for (;;) {
            conn = accept(lsock, NULL, NULL);
            if (conn < 0) {
                continue;
            }
            switch (kind) {
            case BAD_TEXT:
                iov.iov_len = 5;
                sendmsg(conn, &msg, MSG_NOSIGNAL);
                break;
            case BAD_ESCAPE:
                /* Control characters must not reach QEMU's log */
                pstrcpy(buf + sizeof(HELPER_MAGIC),
                        sizeof(buf) - sizeof(HELPER_MAGIC), "no\033[2J");
                iov.iov_len = sizeof(HELPER_MAGIC) + 8;
                sendmsg(conn, &msg, MSG_NOSIGNAL);
                break;
            case BAD_NOT_BPF:
            case BAD_TOO_MANY:
                iov.iov_len = sizeof(HELPER_MAGIC) + 1;
                memset(&control, 0, sizeof(control));
                msg.msg_control = &control;
                i = kind == BAD_NOT_BPF ? EBPF_RSS_FDS : 8;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * i);
                cmsg = CMSG_FIRSTHDR(&msg);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * i);
                memcpy(CMSG_DATA(cmsg), devnull, sizeof(int) * i);
                sendmsg(conn, &msg, MSG_NOSIGNAL);
                break;
            case BAD_HANG_UP:
                break;
            case BAD_SILENT:
                /* Keep it open: QEMU must give up on its own */
                continue;
            }
            close(conn);
        }
    }
    close(lsock);
    return pid;
}

/*
 * With ebpf-rss-helper=@helper that cannot deliver, QEMU warns with
 * @needle, steers in software and keeps no descriptor of the attempt:
 * it holds as many as @baseline, a QEMU without the property.
 */
static unsigned check_bad_helper(const char *helper, const char *needle,
                                 unsigned baseline)
{
    RigOpts o = { .no_caps = true, .helper = helper };
    g_autoptr(QDict) props = dev_props(&o);
    g_autoptr(GString) json = qobject_to_json(QOBJECT(props));
    g_autofree char *err_path = NULL;
    g_autofree char *err_text = NULL;
    g_autofree char *mode = NULL;
    Rig r = { 0 };
    int fds[NR_QUEUES], efd;
    unsigned nfds;
    GError *gerr = NULL;

    efd = g_file_open_tmp("nvrss-stderr-XXXXXX", &err_path, &gerr);
    g_assert_no_error(gerr);
    close(efd);
    r.stderr_path = err_path;
    tap_open(&r, fds);
    tap_up(&r);
    rig_start_qemu(&r, &o, fds, json->str);
    close_fds(fds, NR_QUEUES);
    mode = rig_rss_mode(&r);
    nfds = count_fds(qtest_pid(r.qts));
    qtest_quit(r.qts);
    unlink(r.trace_path);
    g_free(r.trace_path);
    close(r.sock);
    g_file_get_contents(err_path, &err_text, NULL, NULL);
    unlink(err_path);

    g_test_message("%s: rss-mode %s, %u descriptors, stderr: %s",
                   helper ? helper : "no helper", mode, nfds, err_text);
    g_assert_cmpstr(mode, ==, "software");
    if (needle) {
        g_assert_nonnull(strstr(err_text, needle));
        g_assert_null(strchr(err_text, '\033'));
        g_assert_cmpuint(nfds, ==, baseline);
    }
    return nfds;
}

static void test_service_bad(void)
{
    static const struct {
        BadServer kind;
        const char *error;
    } servers[] = {
        { BAD_TEXT, "unexpected message from the helper" },
        { BAD_ESCAPE, ".sock: no?[2J" },
        { BAD_NOT_BPF, "is /dev/null, not an eBPF program" },
        { BAD_TOO_MANY, "sent more than 4 file descriptors" },
        { BAD_HANG_UP, "closed the connection without an answer" },
        { BAD_SILENT, "no answer within 10 seconds" },
    };
    g_autofree char *dir = NULL;
    g_autofree char *absent = NULL;
    g_autofree char *helper = NULL;
    g_autofree char *log = NULL;
    HelperService s;
    unsigned baseline;
    GError *err = NULL;
    int i, status;

    if (!host_usable() || !helper_usable()) {
        return;
    }
    /* The control: no helper at all */
    baseline = check_bad_helper(NULL, NULL, 0);

    dir = g_dir_make_tmp("nvrss-bad-XXXXXX", &err);
    g_assert_no_error(err);
    absent = g_strdup_printf("unix:%s/absent.sock", dir);
    check_bad_helper(absent, "cannot connect (is the helper service "
                     "running?): No such file or directory", baseline);
    check_bad_helper("unix:", "is not a valid unix socket path", baseline);

    /* The socket's mode shuts QEMU's user out */
    service_start(&s, false, false, "0000");
    helper = g_strdup_printf("unix:%s", s.sock);
    check_bad_helper(helper, "Permission denied", baseline);
    log = service_stop(&s);
    /* Only our readiness probe, which has CAP_DAC_OVERRIDE, got in */
    g_assert_nonnull(strstr(log, "(1 so far)"));
    g_assert_null(strstr(log, "(2 so far)"));
    g_free(helper);
    g_free(log);

    /* A service without CAP_BPF says so, and keeps serving */
    service_start(&s, true, true, NULL);
    helper = g_strdup_printf("unix:%s", s.sock);
    check_bad_helper(helper, "the helper needs CAP_BPF and CAP_PERFMON",
                     baseline);
    log = service_stop(&s);
    g_assert_nonnull(strstr(log, "could not serve pid"));

    for (i = 0; i < ARRAY_SIZE(servers); i++) {
        g_autofree char *path = g_strdup_printf("%s/bad%d.sock", dir, i);
        g_autofree char *bad = g_strdup_printf("unix:%s", path);
        pid_t pid = bad_server_start(path, servers[i].kind);

        check_bad_helper(bad, servers[i].error, baseline);
        kill(pid, SIGKILL);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        unlink(path);
    }
    g_assert_cmpint(rmdir(dir), ==, 0);
}

int main(int argc, char **argv)
{
    /* What this host offers: the tests that need it are registered */
    bool kernel = kernel_hash_cap();
    bool vhost = !access("/dev/vhost-net", R_OK | W_OK);

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/virtio-net-rss/reference/ms-vectors", test_reference);
    qtest_add_func("/virtio-net-rss/reference/parser", test_reference_parser);
    qtest_add_func("/virtio-net-rss/ebpf/steering", test_ebpf_steering);
    qtest_add_func("/virtio-net-rss/ebpf/reconfig", test_ebpf_reconfig);
    qtest_add_func("/virtio-net-rss/ebpf/table-wrap", test_ebpf_wrap);
    qtest_add_func("/virtio-net-rss/ebpf/ipv6-ah", test_ah_ebpf);
    qtest_add_func("/virtio-net-rss/ebpf/rss-off", test_rss_off);
    qtest_add_func("/virtio-net-rss/ebpf/bad-config", test_bad_config);
    qtest_add_func("/virtio-net-rss/software/steering", test_sw_steering);
    qtest_add_func("/virtio-net-rss/software/reconfig", test_sw_reconfig);
    qtest_add_func("/virtio-net-rss/software/table-wrap", test_sw_wrap);
    qtest_add_func("/virtio-net-rss/software/ipv6-ah", test_ah_sw);
    qtest_add_func("/virtio-net-rss/hash-report/steering", test_hash_report);
    qtest_add_func("/virtio-net-rss/hash-report/ipv6-ex-types",
                   test_hash_report_ex);
    qtest_add_func("/virtio-net-rss/ebpf/refill", test_ebpf_refill);
    qtest_add_func("/virtio-net-rss/software/refill", test_sw_refill);
    qtest_add_func("/virtio-net-rss/hash-report/refill", test_hash_refill);
    qtest_add_func("/virtio-net-rss/unprivileged/no-caps-fallback",
                   test_nocaps_fallback);
    qtest_add_func("/virtio-net-rss/unprivileged/helper", test_helper_steering);
    qtest_add_func("/virtio-net-rss/unprivileged/helper-fails",
                   test_helper_fails);
    qtest_add_func("/virtio-net-rss/unprivileged/fds-cmdline",
                   test_fds_cmdline);
    qtest_add_func("/virtio-net-rss/unprivileged/fds-qmp", test_fds_qmp);
    qtest_add_func("/virtio-net-rss/unprivileged/fds-wrong-type",
                   test_fds_wrong);
    qtest_add_func("/virtio-net-rss/unprivileged/helper-service",
                   test_service_steering);
    qtest_add_func("/virtio-net-rss/unprivileged/helper-service-many",
                   test_service_many);
    qtest_add_func("/virtio-net-rss/unprivileged/helper-service-bad",
                   test_service_bad);
    qtest_add_func("/virtio-net-rss/mode/auto", test_mode_auto);
    qtest_add_func("/virtio-net-rss/mode/auto-hash", test_mode_auto_hash);
    qtest_add_func("/virtio-net-rss/mode/auto-no-bpf", test_mode_auto_nobpf);
    qtest_add_func("/virtio-net-rss/mode/kernel-pinned",
                   test_mode_kernel_pinned);
    qtest_add_func("/virtio-net-rss/mode/invalid", test_mode_invalid);
    qtest_add_func("/virtio-net-rss/mode/status-generic",
                   test_mode_status_generic);
    /* Registered only where they can run: skips count as failures in CI */
    if (kernel && vhost) {
        qtest_add_func("/virtio-net-rss/mode/vhost", test_mode_vhost);
        qtest_add_func("/virtio-net-rss/mode/vhost-hash",
                       test_mode_vhost_hash);
    }
    if (kernel) {
        size_t i;

        for (i = 0; i < ARRAY_SIZE(backend_cases); i++) {
            if (vhost || !backend_cases[i].vhost) {
                qtest_add_data_func(backend_cases[i].path, &backend_cases[i],
                                    test_mode_backend);
            }
        }
    }
    if (!kernel && vhost) {
        qtest_add_func("/virtio-net-rss/mode/vhost-ebpf",
                       test_mode_vhost_ebpf);
        qtest_add_func("/virtio-net-rss/mode/vhost-hash-refused",
                       test_mode_vhost_hash_refused);
    }
    qtest_add_func("/virtio-net-rss/migration/hash", test_migration_hash);
    if (vhost) {
        qtest_add_func("/virtio-net-rss/migration/vhost",
                       test_migration_vhost);
    }
    if (!kernel) {
        qtest_add_func("/virtio-net-rss/migration/kernel-dst-refused",
                       test_migration_kernel_refused);
    }

    return g_test_run();
}

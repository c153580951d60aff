/*
 * rxhash: print the receive queue and the skb hash of UDP packets, as the
 * guest's network stack sees them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs inside a test guest.  One AF_PACKET socket per receive queue joins
 * a PACKET_FANOUT_QM group, so each socket gets exactly the packets the
 * driver received on one queue; a TPACKET_V3 ring with
 * TP_FT_REQ_FILL_RXHASH hands over skb->hash.  For an L4 hash reported
 * by the device (VIRTIO_NET_F_HASH_REPORT) that is the device's value;
 * without a report the kernel computes its own, different, flow hash.
 *
 * A TPACKET_V3 block reaches user space when the next packet does not
 * fit in it, or when its retire timer fires.  In a guest on KVM nested
 * in a TCG VM that timer was seen to stall for minutes, so the blocks
 * here hold one test packet each (see BLOCK_PRIV), and the sender ends
 * every flow with a larger "flush" packet to the same port, which closes
 * the block of the flow's last test packet on that queue and is not
 * reported.  No packet then waits for a timer.
 *
 * usage: rxhash IFNAME QUEUES UDP-PORT COUNT TIMEOUT-SECONDS
 * prints "rx QUEUE 4|6 SRC-PORT HASH" per test packet to UDP-PORT (UDP
 * payload of at most TEST_PAYLOAD_MAX bytes), then "done N" (N = packets
 * seen; fewer than COUNT on timeout).  Other frames are printed as
 * "other QUEUE ethertype 0xTYPE len LEN".
 *
 * usage: rxhash --qstats IFNAME QUEUES
 * prints the packets the driver counted on each receive queue, as it
 * reports them to the netdev netlink family (since Linux 6.10 drivers
 * such as virtio_net keep them there rather than in ethtool -S).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/genetlink.h>
#include <linux/netdev.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUEUES  16
#define BLOCK_SIZE  4096
#define BLOCKS      512
#define FRAME_SIZE  2048

/*
 * Space for packets in a block: BLOCK_SIZE less the block descriptor
 * (48 bytes) and BLOCK_PRIV.  A packet takes its 82-byte header area
 * (struct tpacket3_hdr, struct sockaddr_ll, alignment) plus the frame,
 * rounded up to 8: 136 bytes for a test packet over IPv4, 152 over IPv6.
 * 216 bytes hold one of them but never two; a larger frame is cut to
 * fit, which keeps the Ethernet, IP and UDP headers read here.
 */
#define BLOCK_ROOM  216
#define BLOCK_PRIV  (BLOCK_SIZE - 48 - BLOCK_ROOM)

#define TEST_PAYLOAD_MAX    64

struct ring {
    int fd;
    uint8_t *map;
    unsigned block;
};

static void die(const char *what)
{
    fprintf(stderr, "rxhash: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void open_ring(struct ring *r, int ifindex, int fanout_id)
{
    struct tpacket_req3 req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = BLOCKS,
        .tp_frame_size = FRAME_SIZE,
        .tp_frame_nr = BLOCK_SIZE / FRAME_SIZE * BLOCKS,
        .tp_retire_blk_tov = 10,
        .tp_sizeof_priv = BLOCK_PRIV,
        .tp_feature_req_word = TP_FT_REQ_FILL_RXHASH,
    };
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = ifindex,
    };
    int v = TPACKET_V3;
    int fanout = fanout_id | (PACKET_FANOUT_QM << 16);

    r->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (r->fd < 0) {
        die("socket");
    }
    if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) {
        die("PACKET_VERSION");
    }
    if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req,
                   sizeof(req)) < 0) {
        die("PACKET_RX_RING");
    }
    r->map = mmap(NULL, (size_t)BLOCK_SIZE * BLOCKS, PROT_READ | PROT_WRITE,
                  MAP_SHARED, r->fd, 0);
    if (r->map == MAP_FAILED) {
        die("mmap");
    }
    if (bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        die("bind");
    }
    /*
     * Join order is the group's member order.  QM picks member
     * queue_mapping % n, and a driver that received on queue q recorded
     * queue_mapping q + 1: member i gets queue (i + n - 1) % n.
     */
    if (setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout,
                   sizeof(fanout)) < 0) {
        die("PACKET_FANOUT");
    }
    r->block = 0;
}

#define NOT_TEST    (-1)
#define FLUSH       (-2)

/*
 * Source port of a test packet (UDP to @port, short payload), FLUSH for a
 * longer one to @port, NOT_TEST for anything else
 */
static int udp_sport(const uint8_t *p, unsigned len, unsigned port,
                     int *family)
{
    unsigned l3, l4;

    if (len < ETH_HLEN) {
        return NOT_TEST;
    }
    l3 = ETH_HLEN;
    if (p[12] == 0x08 && p[13] == 0x00) {
        if (len < l3 + 20 || p[l3 + 9] != IPPROTO_UDP) {
            return NOT_TEST;
        }
        l4 = l3 + (p[l3] & 0xf) * 4;
        *family = 4;
    } else if (p[12] == 0x86 && p[13] == 0xdd) {
        if (len < l3 + 40 || p[l3 + 6] != IPPROTO_UDP) {
            return NOT_TEST;
        }
        l4 = l3 + 40;
        *family = 6;
    } else {
        return NOT_TEST;
    }
    if (len < l4 + 8 || (unsigned)((p[l4 + 2] << 8) | p[l4 + 3]) != port) {
        return NOT_TEST;
    }
    if (((p[l4 + 4] << 8) | p[l4 + 5]) > 8 + TEST_PAYLOAD_MAX) {
        return FLUSH;
    }
    return (p[l4] << 8) | p[l4 + 1];
}

/* Print the packets of every ready block of @r; returns how many matched */
static unsigned drain(struct ring *r, unsigned q, unsigned port)
{
    unsigned n = 0;

    for (;;) {
        struct tpacket_block_desc *bd =
            (void *)(r->map + (size_t)r->block * BLOCK_SIZE);
        struct tpacket3_hdr *h;
        unsigned i;

        if (!(bd->hdr.bh1.block_status & TP_STATUS_USER)) {
            return n;
        }
        h = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
        for (i = 0; i < bd->hdr.bh1.num_pkts; i++) {
            int family, sport = udp_sport((uint8_t *)h + h->tp_mac,
                                          h->tp_snaplen, port, &family);
            struct sockaddr_ll *sll = (void *)((uint8_t *)h +
                TPACKET_ALIGN(sizeof(*h)));

            if (sport >= 0) {
                printf("rx %u %d %d 0x%08x\n", q, family, sport,
                       h->hv1.tp_rxhash);
                n++;
            } else if (sport == NOT_TEST && sll->sll_pkttype !=
                       PACKET_OUTGOING) {
                /* Says what a stray frame in the driver's counters was */
                const uint8_t *mac = (uint8_t *)h + h->tp_mac;

                printf("other %u ethertype 0x%02x%02x len %u\n", q,
                       h->tp_snaplen >= ETH_HLEN ? mac[12] : 0,
                       h->tp_snaplen >= ETH_HLEN ? mac[13] : 0, h->tp_len);
            }
            h = (void *)((uint8_t *)h + h->tp_next_offset);
        }
        bd->hdr.bh1.block_status = TP_STATUS_KERNEL;
        r->block = (r->block + 1) % BLOCKS;
    }
}

/* A netlink request: header, generic header, then attributes */
struct nl_req {
    struct nlmsghdr nh;
    struct genlmsghdr gh;
    char attrs[64];
};

static void nl_put(struct nl_req *r, uint16_t type, const void *data,
                   uint16_t len)
{
    struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

    a->nla_type = type;
    a->nla_len = NLA_HDRLEN + len;
    memcpy((char *)a + NLA_HDRLEN, data, len);
    r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/*
 * Send @r and call @fn on each attribute of each reply until the dump or
 * the answer is done.  Returns -1 on a netlink error.
 */
static int nl_talk(int fd, struct nl_req *r,
                   void (*fn)(struct nlattr *a, void *opaque), void *opaque)
{
    static char buf[1 << 16];
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

    if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0) {
        die("netlink send");
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        struct nlmsghdr *nh;

        if (n < 0) {
            die("netlink recv");
        }
        for (nh = (void *)buf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
            struct nlattr *a;
            int left;

            if (nh->nlmsg_type == NLMSG_DONE) {
                return 0;
            }
            if (nh->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(nh);

                if (!e->error) {
                    return 0;
                }
                errno = -e->error;
                return -1;
            }
            a = (void *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
            left = nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
            while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
                   a->nla_len <= left) {
                fn(a, opaque);
                left -= NLA_ALIGN(a->nla_len);
                a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
            }
            /* Each dump reply is one queue: tell fn the message ended */
            fn(NULL, opaque);
        }
        if (!(r->nh.nlmsg_flags & NLM_F_DUMP)) {
            return 0;
        }
    }
}

static void family_id_attr(struct nlattr *a, void *opaque)
{
    if (a && a->nla_type == CTRL_ATTR_FAMILY_ID) {
        memcpy(opaque, (char *)a + NLA_HDRLEN, sizeof(uint16_t));
    }
}

struct qstats {
    unsigned queues;
    uint64_t rx_packets[MAX_QUEUES];
    /* The queue being parsed */
    uint32_t type, id;
    uint64_t packets;
    int have_packets;
};

static void qstats_attr(struct nlattr *a, void *opaque)
{
    struct qstats *qs = opaque;
    void *v;

    if (!a) {
        if (qs->type == NETDEV_QUEUE_TYPE_RX && qs->id < qs->queues &&
            qs->have_packets) {
            qs->rx_packets[qs->id] = qs->packets;
        }
        qs->type = UINT32_MAX;
        qs->have_packets = 0;
        return;
    }
    v = (char *)a + NLA_HDRLEN;
    switch (a->nla_type) {
    case NETDEV_A_QSTATS_QUEUE_TYPE:
        memcpy(&qs->type, v, sizeof(qs->type));
        break;
    case NETDEV_A_QSTATS_QUEUE_ID:
        memcpy(&qs->id, v, sizeof(qs->id));
        break;
    case NETDEV_A_QSTATS_RX_PACKETS:
        /* A netlink "uint": 4 or 8 bytes */
        if (a->nla_len - NLA_HDRLEN == sizeof(uint32_t)) {
            uint32_t p32;

            memcpy(&p32, v, sizeof(p32));
            qs->packets = p32;
        } else {
            memcpy(&qs->packets, v, sizeof(qs->packets));
        }
        qs->have_packets = 1;
        break;
    }
}

static int print_qstats(const char *ifname, unsigned queues)
{
    struct nl_req r;
    struct qstats qs = { .queues = queues, .type = UINT32_MAX };
    uint16_t family = 0;
    uint32_t ifindex = if_nametoindex(ifname), scope;
    unsigned q;
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);

    if (fd < 0 || !ifindex || !queues || queues > MAX_QUEUES) {
        fprintf(stderr, "rxhash: bad interface or queue count\n");
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    r.nh.nlmsg_type = GENL_ID_CTRL;
    r.nh.nlmsg_flags = NLM_F_REQUEST;
    r.gh.cmd = CTRL_CMD_GETFAMILY;
    r.gh.version = 1;
    nl_put(&r, CTRL_ATTR_FAMILY_NAME, NETDEV_FAMILY_NAME,
           sizeof(NETDEV_FAMILY_NAME));
    if (nl_talk(fd, &r, family_id_attr, &family) < 0 || !family) {
        die("the netdev netlink family");
    }

    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    r.nh.nlmsg_type = family;
    r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    r.gh.cmd = NETDEV_CMD_QSTATS_GET;
    r.gh.version = NETDEV_FAMILY_VERSION;
    scope = NETDEV_QSTATS_SCOPE_QUEUE;
    nl_put(&r, NETDEV_A_QSTATS_IFINDEX, &ifindex, sizeof(ifindex));
    nl_put(&r, NETDEV_A_QSTATS_SCOPE, &scope, sizeof(scope));
    if (nl_talk(fd, &r, qstats_attr, &qs) < 0) {
        die("per-queue statistics");
    }
    for (q = 0; q < queues; q++) {
        printf("%s%llu", q ? " " : "", (unsigned long long)qs.rx_packets[q]);
    }
    printf("\n");
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    struct ring rings[MAX_QUEUES];
    struct pollfd pfd[MAX_QUEUES];
    unsigned queues, port, count, seen = 0, q;
    time_t deadline;
    int ifindex;

    if (argc == 4 && !strcmp(argv[1], "--qstats")) {
        return print_qstats(argv[2], atoi(argv[3]));
    }
    if (argc != 6) {
        fprintf(stderr, "usage: rxhash IFNAME QUEUES UDP-PORT COUNT "
                "TIMEOUT-SECONDS\n");
        return 2;
    }
    ifindex = if_nametoindex(argv[1]);
    queues = atoi(argv[2]);
    port = atoi(argv[3]);
    count = atoi(argv[4]);
    deadline = time(NULL) + atoi(argv[5]);
    if (!ifindex || !queues || queues > MAX_QUEUES) {
        fprintf(stderr, "rxhash: bad interface or queue count\n");
        return 2;
    }
    for (q = 0; q < queues; q++) {
        open_ring(&rings[q], ifindex, getpid() & 0xffff);
        pfd[q].fd = rings[q].fd;
        pfd[q].events = POLLIN;
    }
    /* Tell the script we listen: it signals the sender only then */
    printf("listening\n");
    fflush(stdout);
    while (seen < count && time(NULL) < deadline) {
        if (poll(pfd, queues, 200) < 0 && errno != EINTR) {
            die("poll");
        }
        for (q = 0; q < queues; q++) {
            seen += drain(&rings[q], (q + queues - 1) % queues, port);
        }
        fflush(stdout);
    }
    printf("done %u\n", seen);
    return 0;
}

/*
 * rxhash: print the receive queue and the skb hash of UDP packets, as the
 * guest's network stack sees them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Runs inside a test guest.  One AF_PACKET socket per receive queue joins
 * a PACKET_FANOUT_QM group, so socket i gets exactly the packets the
 * driver received on queue i; a TPACKET_V3 ring with
 * TP_FT_REQ_FILL_RXHASH hands over skb->hash.  For an L4 hash reported
 * by the device (VIRTIO_NET_F_HASH_REPORT) that is the device's value;
 * without a report the kernel computes its own, different, flow hash.
 *
 * usage: rxhash IFNAME QUEUES UDP-PORT COUNT TIMEOUT-SECONDS
 * prints "rx QUEUE 4|6 SRC-PORT HASH" per packet to UDP-PORT, then
 * "done N" (N = packets seen; fewer than COUNT on timeout).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
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
#define BLOCK_SIZE  (1 << 16)
#define BLOCKS      8
#define FRAME_SIZE  2048

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
    /* Join order is the group's member order: member i gets queue i */
    if (setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout,
                   sizeof(fanout)) < 0) {
        die("PACKET_FANOUT");
    }
    r->block = 0;
}

/* Source port of a UDP packet to @port, or -1 */
static int udp_sport(const uint8_t *p, unsigned len, unsigned port,
                     int *family)
{
    unsigned l3, l4;

    if (len < ETH_HLEN) {
        return -1;
    }
    l3 = ETH_HLEN;
    if (p[12] == 0x08 && p[13] == 0x00) {
        if (len < l3 + 20 || p[l3 + 9] != IPPROTO_UDP) {
            return -1;
        }
        l4 = l3 + (p[l3] & 0xf) * 4;
        *family = 4;
    } else if (p[12] == 0x86 && p[13] == 0xdd) {
        if (len < l3 + 40 || p[l3 + 6] != IPPROTO_UDP) {
            return -1;
        }
        l4 = l3 + 40;
        *family = 6;
    } else {
        return -1;
    }
    if (len < l4 + 8 || (unsigned)((p[l4 + 2] << 8) | p[l4 + 3]) != port) {
        return -1;
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

            if (sport >= 0) {
                printf("rx %u %d %d 0x%08x\n", q, family, sport,
                       h->hv1.tp_rxhash);
                n++;
            }
            h = (void *)((uint8_t *)h + h->tp_next_offset);
        }
        bd->hdr.bh1.block_status = TP_STATUS_KERNEL;
        r->block = (r->block + 1) % BLOCKS;
    }
}

int main(int argc, char **argv)
{
    struct ring rings[MAX_QUEUES];
    struct pollfd pfd[MAX_QUEUES];
    unsigned queues, port, count, seen = 0, q;
    time_t deadline;
    int ifindex;

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
            seen += drain(&rings[q], q, port);
        }
        fflush(stdout);
    }
    printf("done %u\n", seen);
    return 0;
}

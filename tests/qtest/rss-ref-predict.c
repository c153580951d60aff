/*
 * rss-ref-predict: what the reference RSS model says about UDP flows
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * For tests that check RSS outside qtest (a real guest, a real kernel):
 * given the key, the indirection table and the enabled hash types the
 * guest set, print the hash, the report type and the queue of each UDP
 * flow read from standard input, computed by tests/qtest/libqos/rss-ref.c
 * on a frame built from the flow.
 *
 * usage: rss-ref-predict KEY-HEX HASH-TYPES QUEUES TABLE-ENTRY...
 * stdin: one flow per line, "SRC-ADDR DST-ADDR SRC-PORT DST-PORT"
 *        (IPv4 or IPv6 addresses)
 * stdout: "SRC-PORT HASH REPORT QUEUE" per flow, hash in hex
 */

#include "qemu/osdep.h"
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "libqos/rss-ref.h"

#define ETH_HLEN_    14
#define IP4_HLEN     20
#define IP6_HLEN     40
#define UDP_HLEN     8

static size_t build_udp_frame(uint8_t *f, int family, const void *src,
                              const void *dst, uint16_t sport,
                              uint16_t dport)
{
    uint8_t *l3 = f + ETH_HLEN_, *l4;
    size_t l3len;

    memset(f, 0, ETH_HLEN_ + IP6_HLEN + UDP_HLEN);
    /* Locally administered MACs: only the L3/L4 fields enter the hash */
    f[0] = 0x02;
    f[6] = 0x02;
    if (family == AF_INET) {
        f[12] = 0x08;
        f[13] = 0x00;
        l3[0] = 0x45;
        l3[3] = IP4_HLEN + UDP_HLEN;
        l3[8] = 64;
        l3[9] = IPPROTO_UDP;
        memcpy(l3 + 12, src, 4);
        memcpy(l3 + 16, dst, 4);
        l3len = IP4_HLEN;
    } else {
        f[12] = 0x86;
        f[13] = 0xdd;
        l3[0] = 0x60;
        l3[5] = UDP_HLEN;
        l3[6] = IPPROTO_UDP;
        l3[7] = 64;
        memcpy(l3 + 8, src, 16);
        memcpy(l3 + 24, dst, 16);
        l3len = IP6_HLEN;
    }
    l4 = l3 + l3len;
    stw_be_p(l4, sport);
    stw_be_p(l4 + 2, dport);
    stw_be_p(l4 + 4, UDP_HLEN);
    return ETH_HLEN_ + l3len + UDP_HLEN;
}

static int parse_key(const char *hex, uint8_t *key)
{
    size_t n = strlen(hex), i;

    if (n != RSS_REF_KEY_MAX * 2) {
        return -1;
    }
    for (i = 0; i < RSS_REF_KEY_MAX; i++) {
        char byte[3] = { hex[2 * i], hex[2 * i + 1], 0 };
        unsigned long v;

        if (!g_ascii_isxdigit(byte[0]) ||
            qemu_strtoul(byte, NULL, 16, &v) < 0) {
            return -1;
        }
        key[i] = v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t key[RSS_REF_KEY_MAX];
    g_autofree uint16_t *table = NULL;
    unsigned long types, queues;
    size_t table_len, i;
    char line[256];

    if (argc < 5 || parse_key(argv[1], key) < 0 ||
        qemu_strtoul(argv[2], NULL, 0, &types) < 0 ||
        qemu_strtoul(argv[3], NULL, 0, &queues) < 0 || !queues) {
        fprintf(stderr, "usage: %s KEY-HEX(80) HASH-TYPES QUEUES "
                "TABLE-ENTRY...\n", argv[0]);
        return 2;
    }
    table_len = argc - 4;
    if (table_len & (table_len - 1)) {
        fprintf(stderr, "%s: the table length %zu is not a power of 2\n",
                argv[0], table_len);
        return 2;
    }
    table = g_new(uint16_t, table_len);
    for (i = 0; i < table_len; i++) {
        unsigned long q;

        if (qemu_strtoul(argv[4 + i], NULL, 0, &q) < 0 || q > UINT16_MAX) {
            fprintf(stderr, "%s: bad table entry '%s'\n", argv[0],
                    argv[4 + i]);
            return 2;
        }
        table[i] = q;
    }

    while (fgets(line, sizeof(line), stdin)) {
        char src_s[64], dst_s[64];
        uint8_t src[16], dst[16];
        uint8_t frame[ETH_HLEN_ + IP6_HLEN + UDP_HLEN];
        unsigned sport, dport;
        int family;
        RssRefResult res;
        size_t len;

        if (sscanf(line, "%63s %63s %u %u", src_s, dst_s, &sport,
                   &dport) != 4 || sport > UINT16_MAX || dport > UINT16_MAX) {
            fprintf(stderr, "%s: bad flow '%s'\n", argv[0], line);
            return 2;
        }
        family = strchr(src_s, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, src_s, src) != 1 ||
            inet_pton(family, dst_s, dst) != 1) {
            fprintf(stderr, "%s: bad address in '%s'\n", argv[0], line);
            return 2;
        }
        len = build_udp_frame(frame, family, src, dst, sport, dport);
        rss_ref_hash_frame(frame, len, types, key, sizeof(key), &res);
        printf("%u 0x%08x %u %u\n", sport, res.hash, res.report,
               rss_ref_queue(&res, table, table_len, 0, queues));
    }
    return 0;
}

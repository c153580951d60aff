/*
 * Inputs of the rss-diff fuzz target: an RSS configuration and a frame
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * tests/qtest/fuzz/netvirt_rss_fuzz.c fuzzes them and
 * tests/qtest/netvirt-rss-kdiff.c replays them against the kernel series;
 * both decode them here, so that they read a corpus file the same way.
 *
 * Layout: hash types (2 bytes, little endian, masked to the nine virtio
 * types), log2 of the indirection table length (1 byte, modulo 8), default
 * queue (1 byte, modulo RSS_FUZZ_NR_QUEUES), the 40-byte Toeplitz key,
 * then the Ethernet frame.  The indirection table is not in the input: it
 * is a fixed permutation that spreads the entries over all queues, so that
 * the queue shows the low hash bits.
 */

#ifndef LIBQOS_RSS_FUZZ_INPUT_H
#define LIBQOS_RSS_FUZZ_INPUT_H

#include "rss-ref.h"

#define RSS_FUZZ_HDR_LEN        (4 + RSS_REF_KEY_MAX)
#define RSS_FUZZ_NR_QUEUES      128
#define RSS_FUZZ_TABLE_MAX      128     /* VIRTIO_NET_RSS_MAX_TABLE_LEN */

typedef struct RssFuzzInput {
    /* Aligned: QEMU's Toeplitz code loads the first word directly */
    uint8_t key[RSS_REF_KEY_MAX] QEMU_ALIGNED(8);
    uint32_t hash_types;                /* VIRTIO_NET_RSS_HASH_TYPE_* */
    unsigned table_len;                 /* power of two, 1 to 128 */
    uint16_t default_queue;
    uint16_t table[RSS_FUZZ_TABLE_MAX]; /* the first table_len are used */
    const uint8_t *frame;               /* points into the input */
    size_t frame_len;
} RssFuzzInput;

/* Decode @size bytes of @data; false if too short for the configuration. */
bool rss_fuzz_input_decode(RssFuzzInput *in, const uint8_t *data,
                           size_t size);

/*
 * Write an input that decodes to the given configuration and @frame into
 * @buf (RSS_FUZZ_HDR_LEN + @frame_len bytes); returns its length.
 */
size_t rss_fuzz_input_encode(uint8_t *buf, uint32_t hash_types,
                             unsigned table_log2, uint16_t default_queue,
                             const uint8_t *key, const uint8_t *frame,
                             size_t frame_len);

/*
 * IPv6 addresses (RFC 3849 documentation prefix for home addresses) and a
 * UDP header from which the regression frames of the rss-diff findings
 * are built, by fuzz-netvirt-test and by netvirt-rss-kdiff alike.
 */
extern const uint8_t rss_fuzz_v6_src[16];
extern const uint8_t rss_fuzz_v6_dst[16];
extern const uint8_t rss_fuzz_home_a[16];
extern const uint8_t rss_fuzz_home_b[16];
extern const uint8_t rss_fuzz_udp[8];

#endif

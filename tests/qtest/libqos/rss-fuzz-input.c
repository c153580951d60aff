/*
 * Inputs of the rss-diff fuzz target: an RSS configuration and a frame
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "rss-fuzz-input.h"

bool rss_fuzz_input_decode(RssFuzzInput *in, const uint8_t *data,
                           size_t size)
{
    unsigned i;

    if (size < RSS_FUZZ_HDR_LEN) {
        return false;
    }
    in->hash_types = (data[0] | data[1] << 8) & RSS_REF_HASH_TYPES_ALL;
    in->table_len = 1u << (data[2] % 8);
    in->default_queue = data[3] % RSS_FUZZ_NR_QUEUES;
    memcpy(in->key, data + 4, RSS_REF_KEY_MAX);
    /* 37 is odd: entries 0..127 name every queue once */
    for (i = 0; i < RSS_FUZZ_TABLE_MAX; i++) {
        in->table[i] = (i * 37 + 11) % RSS_FUZZ_NR_QUEUES;
    }
    in->frame = data + RSS_FUZZ_HDR_LEN;
    in->frame_len = size - RSS_FUZZ_HDR_LEN;
    return true;
}

size_t rss_fuzz_input_encode(uint8_t *buf, uint32_t hash_types,
                             unsigned table_log2, uint16_t default_queue,
                             const uint8_t *key, const uint8_t *frame,
                             size_t frame_len)
{
    g_assert(table_log2 < 8 && default_queue < RSS_FUZZ_NR_QUEUES);
    buf[0] = hash_types;
    buf[1] = hash_types >> 8;
    buf[2] = table_log2;
    buf[3] = default_queue;
    memcpy(buf + 4, key, RSS_REF_KEY_MAX);
    memcpy(buf + RSS_FUZZ_HDR_LEN, frame, frame_len);
    return RSS_FUZZ_HDR_LEN + frame_len;
}

const uint8_t rss_fuzz_v6_src[16] = {
    0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
    0x02, 0xa0, 0xc9, 0xff, 0xfe, 0x00, 0x00, 0x01,
};
const uint8_t rss_fuzz_v6_dst[16] = {
    0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
    0x02, 0xa0, 0xc9, 0xff, 0xfe, 0x00, 0x00, 0x02,
};
const uint8_t rss_fuzz_home_a[16] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa,
};
const uint8_t rss_fuzz_home_b[16] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb,
};
/* Ports 2794 -> 1766, length 8, checksum 0 */
const uint8_t rss_fuzz_udp[8] = { 0x0a, 0xea, 0x06, 0xe6, 0, 8, 0, 0 };

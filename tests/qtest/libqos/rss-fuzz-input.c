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

/*
 * qemu-netvirt eBPF RSS steering: map layout shared by the program
 * (tools/ebpf/netvirt-rss.bpf.c), its loader (ebpf/ebpf_rss.c) and the
 * benchmark (tools/ebpf/netvirt-rss-bench.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every piece of state exists twice ("slots").  User space fills the slot
 * the program is not using, then flips nvrss_config.active with a single
 * store, so the next packet sees the new key, table and hash types
 * together.  See docs/devel/netvirt-ebpf-rss.rst.
 */

#ifndef EBPF_NETVIRT_RSS_H
#define EBPF_NETVIRT_RSS_H

#include <linux/types.h>

/* Bumped whenever the layout below changes; checked through map sizes */
#define NVRSS_ABI_VERSION   1

#define NVRSS_SLOTS         2
#define NVRSS_TABLE_MAX     128
#define NVRSS_KEY_LEN       40
/* IPv6 source and destination addresses plus both ports */
#define NVRSS_INPUT_MAX     36

/* Map names as the kernel reports them (at most 15 characters) */
#define NVRSS_MAP_CONFIG    "nvrss_config"
#define NVRSS_MAP_LUT       "nvrss_lut"
#define NVRSS_MAP_TABLE     "nvrss_table"

struct nvrss_slot {
    __u32 hash_types;       /* VIRTIO_NET_RSS_HASH_TYPE_* */
    __u16 table_mask;       /* indirection table length - 1 */
    __u16 default_queue;
    __u8 redirect;
    __u8 pad[7];
};

/* Value of the one entry of nvrss_config */
struct nvrss_config {
    __u32 active;           /* slot in use: 0 or 1 */
    __u32 abi_version;
    struct nvrss_slot slot[NVRSS_SLOTS];
};

/*
 * Value of each of the two entries of nvrss_lut: the Toeplitz hash is
 * linear over XOR, so the hash of an input is the XOR of the
 * contributions of its bytes, and the contribution of byte value b at
 * input position i only depends on the key.
 */
struct nvrss_lut {
    __u32 v[NVRSS_INPUT_MAX][256];
};

/* Value of each of the two entries of nvrss_table */
struct nvrss_table {
    __u16 queue[NVRSS_TABLE_MAX];
};

#ifndef NVRSS_BPF_PROGRAM
/*
 * Fill @lut for the 40-byte @key.  Each entry is built from the one with
 * its lowest set bit cleared, so this is 9216 XORs.
 */
static inline void nvrss_build_lut(struct nvrss_lut *lut, const __u8 *key)
{
    unsigned i, j, b;

    for (i = 0; i < NVRSS_INPUT_MAX; i++) {
        /* 40 key bits starting at byte i; i + 4 < NVRSS_KEY_LEN */
        __u64 k = ((__u64)key[i] << 32) | ((__u32)key[i + 1] << 24) |
                  ((__u32)key[i + 2] << 16) | ((__u32)key[i + 3] << 8) |
                  key[i + 4];
        __u32 window[8];

        /* window[j]: the 32 key bits that input bit j (MSB first) selects */
        for (j = 0; j < 8; j++) {
            window[j] = (__u32)(k >> (8 - j));
        }
        lut->v[i][0] = 0;
        for (b = 1; b < 256; b++) {
            lut->v[i][b] = lut->v[i][b & (b - 1)] ^
                           window[7 - __builtin_ctz(b)];
        }
    }
}
#endif

#endif

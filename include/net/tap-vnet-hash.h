/*
 * Linux tun/tap virtio-net hashing: TUNGETVNETHASHCAP, TUNSETVNETHASH and
 * TUNGETVNETHASH, as our kernel series (patches/linux/) adds them to
 * include/uapi/linux/if_tun.h.  Host headers do not have them yet, so the
 * numbers and layouts are kept here and must match that series exactly.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef NET_TAP_VNET_HASH_H
#define NET_TAP_VNET_HASH_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define TUN_VNET_HASH_F_REPORT          0x0001
#define TUN_VNET_HASH_F_RSS             0x0002

#define TUN_VNET_HASH_MAX_KEY_SIZE      40
#define TUN_VNET_HASH_MAX_TABLE_LEN     128

struct tun_vnet_hash_cap {
    __u32 hash_types;       /* VIRTIO_NET_RSS_HASH_TYPE_* */
    __u32 flags;            /* TUN_VNET_HASH_F_* */
    __u16 max_table_len;
    __u8 max_key_size;
    __u8 reserved[5];
};

struct tun_vnet_hash {
    __u32 flags;
    __u32 hash_types;
    __u16 indirection_table_mask;
    __u16 unclassified_queue;
    __u8 key_length;
    __u8 reserved[3];
    __u8 key[TUN_VNET_HASH_MAX_KEY_SIZE];
    __u16 indirection_table[TUN_VNET_HASH_MAX_TABLE_LEN];
};

#ifndef TUNGETVNETHASHCAP
#define TUNGETVNETHASHCAP _IOR('T', 228, struct tun_vnet_hash_cap)
#define TUNSETVNETHASH    _IOW('T', 229, struct tun_vnet_hash)
#define TUNGETVNETHASH    _IOR('T', 230, struct tun_vnet_hash)
#endif

/* The ioctl numbers encode the sizes: a layout change must not go unseen */
_Static_assert(sizeof(struct tun_vnet_hash_cap) == 16,
               "struct tun_vnet_hash_cap layout");
_Static_assert(sizeof(struct tun_vnet_hash) == 312,
               "struct tun_vnet_hash layout");

#endif /* NET_TAP_VNET_HASH_H */

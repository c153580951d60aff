/*
 * Reference model of virtio-net RSS hashing and queue selection
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Deliberately simple and independent of QEMU's own implementations
 * (net/eth.c, net/net_rx_pkt.c and tools/ebpf/rss.bpf.c) so that tests
 * can compare the device against something that follows the virtio
 * specification ("Hash calculation for incoming packets") literally.
 */

#ifndef LIBQOS_RSS_REF_H
#define LIBQOS_RSS_REF_H

#include "standard-headers/linux/virtio_net.h"

#define RSS_REF_KEY_MAX     40
/* IPv6 addresses plus both ports is the longest hash input */
#define RSS_REF_INPUT_MAX   36

#define RSS_REF_HASH_TYPES_ALL  0x1ff

typedef struct RssRefResult {
    uint8_t input[RSS_REF_INPUT_MAX];
    size_t input_len;
    uint32_t hash;
    uint16_t report;        /* VIRTIO_NET_HASH_REPORT_* */
} RssRefResult;

/*
 * Toeplitz hash of @len bytes of @input.  Key bits past @key_len bytes
 * count as zero.
 */
uint32_t rss_ref_toeplitz(const uint8_t *key, size_t key_len,
                          const uint8_t *input, size_t len);

/*
 * Parse the Ethernet frame @frame (no virtio header) and compute what the
 * device must report for it given the enabled @hash_types bitmap
 * (VIRTIO_NET_RSS_HASH_TYPE_*).  802.1Q/802.1ad tags are skipped.
 * A frame that gets no hash has report VIRTIO_NET_HASH_REPORT_NONE,
 * hash 0 and an empty input.
 */
void rss_ref_hash_frame(const uint8_t *frame, size_t len,
                        uint32_t hash_types,
                        const uint8_t *key, size_t key_len,
                        RssRefResult *res);

/*
 * Receive queue the frame must land on: the unclassified queue when no
 * hash was computed, else the indirection table entry selected by the
 * low bits of the hash.  @table_len must be a power of two.  Both
 * QEMU's software RSS and the tun eBPF hook reduce the result modulo
 * the number of active queues, which we model with @nr_queues.
 */
unsigned rss_ref_queue(const RssRefResult *res, const uint16_t *table,
                       size_t table_len, uint16_t unclassified_queue,
                       unsigned nr_queues);

/* The 40-byte key used by Microsoft's published verification vectors */
extern const uint8_t rss_ref_ms_key[RSS_REF_KEY_MAX];

/*
 * Check rss_ref_toeplitz() and rss_ref_hash_frame() against the
 * published Microsoft RSS verification vectors.  Returns the number of
 * mismatches; each one is described through g_test_message().
 */
int rss_ref_self_test(void);

/*
 * Hash field enables of the MRQC register of igb (Intel 82576), bits
 * 16..24.  The "Ex" variants hash every IPv6 packet of their kind and
 * only substitute the mobility addresses when the extension headers
 * carry them.
 */
#define RSS_REF_IGB_MRQC_TCP_IPV4       (1u << 16)
#define RSS_REF_IGB_MRQC_IPV4           (1u << 17)
#define RSS_REF_IGB_MRQC_TCP_IPV6_EX    (1u << 18)
#define RSS_REF_IGB_MRQC_IPV6_EX        (1u << 19)
#define RSS_REF_IGB_MRQC_IPV6           (1u << 20)
#define RSS_REF_IGB_MRQC_TCP_IPV6       (1u << 21)
#define RSS_REF_IGB_MRQC_UDP_IPV4       (1u << 22)
#define RSS_REF_IGB_MRQC_UDP_IPV6       (1u << 23)
#define RSS_REF_IGB_MRQC_UDP_IPV6_EX    (1u << 24)

/*
 * The virtio hash types (VIRTIO_NET_RSS_HASH_TYPE_*) that select the
 * same hash input as the igb MRQC field enables in @mrqc, for use with
 * rss_ref_hash_frame().
 */
uint32_t rss_ref_igb_hash_types(uint32_t mrqc);

/*
 * The RSS Type igb writes in the low 4 bits of an advanced receive
 * descriptor for a hash of kind @report (VIRTIO_NET_HASH_REPORT_*).
 */
unsigned rss_ref_igb_rss_type(uint16_t report);

#endif

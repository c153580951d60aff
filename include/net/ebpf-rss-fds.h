/*
 * eBPF RSS steering from file descriptors loaded by someone else
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A QEMU without CAP_BPF cannot load the RSS steering program, but it can
 * use one that a privileged party loaded: a management layer passing the
 * descriptors (virtio-net's ebpf-rss-fds), or qemu-ebpf-rss-helper, which
 * QEMU runs, or connects to where it runs as a service, and which sends
 * them over a unix socket.
 */

#ifndef NET_EBPF_RSS_FDS_H
#define NET_EBPF_RSS_FDS_H

#include "ebpf/ebpf_rss.h"

/*
 * The helper's one message: this magic (NUL included), then an error
 * text that is empty on success.  On success the message carries
 * EBPF_RSS_MAX_FDS descriptors (SCM_RIGHTS) in the order of the
 * EbpfRssFd enum, the order ebpf_rss_load_fds() and ebpf-rss-fds take.
 */
#define EBPF_RSS_HELPER_MAGIC   "qemu-ebpf-rss/1"
#define EBPF_RSS_HELPER_MSG_MAX 512

/* ebpf-rss-helper=unix:PATH names a helper service's socket */
#define EBPF_RSS_HELPER_UNIX_PREFIX "unix:"

/* Seconds QEMU waits to connect to the helper, and then for its answer */
#define EBPF_RSS_HELPER_TIMEOUT 10

typedef enum EbpfRssFd {
    EBPF_RSS_FD_PROGRAM,
    EBPF_RSS_FD_CONFIG,
    EBPF_RSS_FD_TOEPLITZ_KEY,
    EBPF_RSS_FD_TABLE,
} EbpfRssFd;

/*
 * Check that @fds are what ebpf_rss_load_fds() needs: a socket filter
 * program and mmap-able array maps large enough for what QEMU writes.
 * Anything else would fail obscurely, or fault on the first write.
 */
bool ebpf_rss_check_fds(const int fds[EBPF_RSS_MAX_FDS], Error **errp);

/*
 * Run the helper program @path, or connect to the helper service when
 * @path is unix:SOCKET, and receive the descriptors of the RSS program it
 * loaded into @fds.  The caller owns them on success.
 */
bool ebpf_rss_run_helper(const char *path, int fds[EBPF_RSS_MAX_FDS],
                         Error **errp);

#endif

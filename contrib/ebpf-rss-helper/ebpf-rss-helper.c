/*
 * qemu-ebpf-rss-helper: load virtio-net's RSS steering program for an
 * unprivileged QEMU
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU runs this program (virtio-net property ebpf-rss-helper=PATH) when
 * it cannot load the program itself.  Given CAP_BPF (and CAP_PERFMON) by
 * file capabilities, it loads the same program QEMU would, which the
 * kernel verifies on load, and sends the program and map descriptors back
 * over the socket QEMU passed with --fd.  It takes no other input.
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "ebpf/ebpf_rss.h"
#include "net/ebpf-rss-fds.h"

static int send_reply(int sock, const int *fds, const char *text)
{
    char buf[sizeof(EBPF_RSS_HELPER_MAGIC) + EBPF_RSS_HELPER_MSG_MAX] = { 0 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * EBPF_RSS_MAX_FDS)];
    } control;
    struct iovec iov = { .iov_base = buf };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cmsg;
    ssize_t n;

    memcpy(buf, EBPF_RSS_HELPER_MAGIC, sizeof(EBPF_RSS_HELPER_MAGIC));
    pstrcpy(buf + sizeof(EBPF_RSS_HELPER_MAGIC), EBPF_RSS_HELPER_MSG_MAX,
            text);
    iov.iov_len = sizeof(EBPF_RSS_HELPER_MAGIC) + strlen(text) + 1;

    if (fds) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = &control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * EBPF_RSS_MAX_FDS);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * EBPF_RSS_MAX_FDS);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * EBPF_RSS_MAX_FDS);
    }

    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        error_report("cannot send to QEMU: %s", strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct EBPFRSSContext ctx;
    Error *err = NULL;
    struct stat st;
    int sock, fds[EBPF_RSS_MAX_FDS], ret;

    error_init(argv[0]);

    if (argc != 2 || !g_str_has_prefix(argv[1], "--fd=") ||
        qemu_strtoi(argv[1] + strlen("--fd="), NULL, 10, &sock) ||
        sock < 0) {
        error_printf("Usage: %s --fd=SOCKET\n"
                     "Loads virtio-net's eBPF RSS steering program and "
                     "sends its file\ndescriptors to QEMU over SOCKET.  "
                     "QEMU runs this program itself,\nsee the virtio-net "
                     "property ebpf-rss-helper.\n", argv[0]);
        return 2;
    }
    if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        error_report("--fd=%d is not a socket", sock);
        return 2;
    }

    ebpf_rss_init(&ctx);
    if (!ebpf_rss_load(&ctx, &err)) {
        g_autofree char *text = g_strdup_printf(
            "%s (the helper needs CAP_BPF and CAP_PERFMON)",
            error_get_pretty(err));

        error_free(err);
        send_reply(sock, NULL, text);
        return 1;
    }

    fds[EBPF_RSS_FD_PROGRAM] = ctx.program_fd;
    fds[EBPF_RSS_FD_CONFIG] = ctx.map_configuration;
    fds[EBPF_RSS_FD_TOEPLITZ_KEY] = ctx.map_toeplitz_key;
    fds[EBPF_RSS_FD_TABLE] = ctx.map_indirections_table;
    ret = send_reply(sock, fds, "");

    /* QEMU holds its own references now */
    ebpf_rss_unload(&ctx);
    return ret;
}

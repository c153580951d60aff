/*
 * eBPF RSS steering from file descriptors loaded by someone else
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "hw/virtio/virtio-net.h"
#include "net/ebpf-rss-fds.h"

#ifdef CONFIG_LINUX
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#endif

/* Linux uapi values (linux/bpf.h) */
#define RSS_BPF_PROG_TYPE_SOCKET_FILTER 1
#define RSS_BPF_MAP_TYPE_ARRAY          2
#define RSS_BPF_F_MMAPABLE              (1u << 10)

#ifdef CONFIG_LINUX
static const char *const fd_role[EBPF_RSS_MAX_FDS] = {
    [EBPF_RSS_FD_PROGRAM] = "steering program",
    [EBPF_RSS_FD_CONFIG] = "configuration map",
    [EBPF_RSS_FD_TOEPLITZ_KEY] = "Toeplitz key map",
    [EBPF_RSS_FD_TABLE] = "indirection table map",
};

/* What each map must hold at least, for QEMU's writes to make sense */
static const size_t map_min_bytes[EBPF_RSS_MAX_FDS] = {
    [EBPF_RSS_FD_CONFIG] = sizeof(struct EBPFRSSConfig),
    [EBPF_RSS_FD_TOEPLITZ_KEY] = VIRTIO_NET_RSS_MAX_KEY_SIZE,
    [EBPF_RSS_FD_TABLE] = VIRTIO_NET_RSS_MAX_TABLE_LEN * sizeof(uint16_t),
};

/*
 * Read "key:\tvalue" from /proc/self/fdinfo: works without CAP_BPF on
 * any kernel, unlike BPF_OBJ_GET_INFO_BY_FD on older ones.
 */
static bool fdinfo_field(const char *info, const char *key, uint64_t *val)
{
    g_autofree char *needle = g_strdup_printf("\n%s:", key);
    const char *p = strstr(info, needle);

    if (!p) {
        return false;
    }
    p += strlen(needle);
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return qemu_strtou64(p, &p, 0, val) == 0;
}

static bool check_one(int fd, int role, Error **errp)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    g_autofree char *path = g_strdup_printf("/proc/self/fdinfo/%d", fd);
    g_autofree char *target = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *info = NULL;
    const char *want = role == EBPF_RSS_FD_PROGRAM ? "anon_inode:bpf-prog"
                                                   : "anon_inode:bpf-map";
    uint64_t type, key_size, value_size, entries, flags;

    target = g_file_read_link(link, NULL);
    if (!target) {
        error_setg(errp, "eBPF RSS %s: file descriptor %d is not open",
                   fd_role[role], fd);
        return false;
    }
    if (strcmp(target, want)) {
        error_setg(errp, "eBPF RSS %s: file descriptor %d is %s, not an "
                   "eBPF %s", fd_role[role], fd, target,
                   role == EBPF_RSS_FD_PROGRAM ? "program" : "map");
        return false;
    }
    if (!g_file_get_contents(path, &raw, NULL, NULL)) {
        error_setg(errp, "eBPF RSS %s: cannot read %s", fd_role[role], path);
        return false;
    }
    /* A leading newline lets every field be found as "\nkey:" */
    info = g_strconcat("\n", raw, NULL);

    if (role == EBPF_RSS_FD_PROGRAM) {
        if (!fdinfo_field(info, "prog_type", &type)) {
            error_setg(errp, "eBPF RSS %s: %s has no prog_type",
                       fd_role[role], path);
            return false;
        }
        if (type != RSS_BPF_PROG_TYPE_SOCKET_FILTER) {
            error_setg(errp, "eBPF RSS %s: file descriptor %d is an eBPF "
                       "program of type %" PRIu64 ", not a socket filter",
                       fd_role[role], fd, type);
            return false;
        }
        return true;
    }

    if (!fdinfo_field(info, "map_type", &type) ||
        !fdinfo_field(info, "key_size", &key_size) ||
        !fdinfo_field(info, "value_size", &value_size) ||
        !fdinfo_field(info, "max_entries", &entries) ||
        !fdinfo_field(info, "map_flags", &flags)) {
        error_setg(errp, "eBPF RSS %s: cannot parse %s",
                   fd_role[role], path);
        return false;
    }
    if (type != RSS_BPF_MAP_TYPE_ARRAY || key_size != sizeof(uint32_t)) {
        error_setg(errp, "eBPF RSS %s: file descriptor %d is an eBPF map "
                   "of type %" PRIu64 " (key size %" PRIu64 "), not an array",
                   fd_role[role], fd, type, key_size);
        return false;
    }
    if (!(flags & RSS_BPF_F_MMAPABLE)) {
        error_setg(errp, "eBPF RSS %s: eBPF map (file descriptor %d) "
                   "cannot be mmap()ed", fd_role[role], fd);
        return false;
    }
    if (value_size * entries < map_min_bytes[role]) {
        error_setg(errp, "eBPF RSS %s: eBPF map (file descriptor %d) holds "
                   "%" PRIu64 " bytes, needs at least %zu; are the file "
                   "descriptors in the order program, configuration, key, "
                   "indirection table?", fd_role[role], fd,
                   value_size * entries, map_min_bytes[role]);
        return false;
    }
    return true;
}

bool ebpf_rss_check_fds(const int fds[EBPF_RSS_MAX_FDS], Error **errp)
{
    int i, j;

    for (i = 0; i < EBPF_RSS_MAX_FDS; i++) {
        if (!check_one(fds[i], i, errp)) {
            return false;
        }
        for (j = 0; j < i; j++) {
            if (fds[j] == fds[i]) {
                error_setg(errp, "eBPF RSS: file descriptor %d given as "
                           "both %s and %s", fds[i], fd_role[j], fd_role[i]);
                return false;
            }
        }
    }
    return true;
}

static bool receive_fds(int sock, int fds[EBPF_RSS_MAX_FDS], char *text,
                        size_t text_size, bool *timed_out, Error **errp)
{
    char buf[sizeof(EBPF_RSS_HELPER_MAGIC) + EBPF_RSS_HELPER_MSG_MAX];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * EBPF_RSS_MAX_FDS)];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = &control,
        .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg;
    int got[EBPF_RSS_MAX_FDS * 2];
    int ngot = 0, i;
    ssize_t n;

    memset(&control, 0, sizeof(control));
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *timed_out = true;
            error_setg(errp, "no answer within %d seconds",
                       EBPF_RSS_HELPER_TIMEOUT);
        } else {
            error_setg_errno(errp, errno, "cannot receive from the helper");
        }
        return false;
    }

    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        size_t len;
        int *p;

        if (cmsg->cmsg_level != SOL_SOCKET ||
            cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        len = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        p = (int *)CMSG_DATA(cmsg);
        for (i = 0; i < len && ngot < ARRAY_SIZE(got); i++) {
            got[ngot++] = p[i];
        }
    }

    buf[n] = '\0';
    text[0] = '\0';
    if (n >= sizeof(EBPF_RSS_HELPER_MAGIC) &&
        !memcmp(buf, EBPF_RSS_HELPER_MAGIC, sizeof(EBPF_RSS_HELPER_MAGIC))) {
        pstrcpy(text, text_size, buf + sizeof(EBPF_RSS_HELPER_MAGIC));
    } else if (n > 0) {
        pstrcpy(text, text_size, "unexpected message from the helper");
    }
    /* The peer may be anyone who could bind the socket: keep logs clean */
    for (i = 0; text[i]; i++) {
        if (!g_ascii_isprint(text[i])) {
            text[i] = '?';
        }
    }

    if (ngot != EBPF_RSS_MAX_FDS || (msg.msg_flags & MSG_CTRUNC) ||
        text[0]) {
        for (i = 0; i < ngot; i++) {
            close(got[i]);
        }
        if (n == 0) {
            error_setg(errp, "the helper closed the connection without "
                       "an answer");
        } else if (msg.msg_flags & MSG_CTRUNC) {
            error_setg(errp, "the helper sent more than %d file "
                       "descriptors", EBPF_RSS_MAX_FDS);
        } else if (!text[0]) {
            error_setg(errp, "the helper sent %d file descriptors, "
                       "expected %d", ngot, EBPF_RSS_MAX_FDS);
        } else {
            error_setg(errp, "%s", text);
        }
        return false;
    }
    memcpy(fds, got, sizeof(int) * EBPF_RSS_MAX_FDS);
    return true;
}

/* A helper that hangs must not hang QEMU: bound connect() and recvmsg() */
static void set_timeout(int sock)
{
    struct timeval tv = { .tv_sec = EBPF_RSS_HELPER_TIMEOUT };

    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Ask a helper service (qemu-ebpf-rss-helper --listen) on the unix
 * socket @path.  We send nothing: connecting is the request.
 */
static bool connect_helper(const char *path, int fds[EBPF_RSS_MAX_FDS],
                           Error **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char text[EBPF_RSS_HELPER_MSG_MAX];
    bool ok, timed_out = false;
    int sock, ret;

    if (!path[0] || strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "'%s' is not a valid unix socket path", path);
        return false;
    }
    pstrcpy(sun.sun_path, sizeof(sun.sun_path), path);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        error_setg_errno(errp, errno, "socket");
        return false;
    }
    /* connect() waits for room in a full backlog up to the send timeout */
    set_timeout(sock);
    do {
        ret = connect(sock, (struct sockaddr *)&sun, sizeof(sun));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            error_setg(errp, "cannot connect: the helper service did not "
                       "accept within %d seconds", EBPF_RSS_HELPER_TIMEOUT);
        } else {
            error_setg_errno(errp, errno, "cannot connect%s",
                             errno == ENOENT || errno == ECONNREFUSED ?
                             " (is the helper service running?)" :
                             errno == EACCES ?
                             " (the socket's owner, group or mode shut "
                             "QEMU's user out)" : "");
        }
        close(sock);
        return false;
    }
    ok = receive_fds(sock, fds, text, sizeof(text), &timed_out, errp);
    close(sock);
    return ok;
}

bool ebpf_rss_run_helper(const char *path, int fds[EBPF_RSS_MAX_FDS],
                         Error **errp)
{
    g_autofree char *fd_arg = NULL;
    char text[EBPF_RSS_HELPER_MSG_MAX];
    char *argv[3];
    int sv[2], status, i;
    Error *err = NULL;
    bool ok, timed_out = false;
    pid_t pid;

    if (g_str_has_prefix(path, EBPF_RSS_HELPER_UNIX_PREFIX)) {
        if (connect_helper(path + strlen(EBPF_RSS_HELPER_UNIX_PREFIX), fds,
                           &err)) {
            return true;
        }
        error_propagate_prepend(errp, err, "eBPF RSS helper %s: ", path);
        return false;
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        error_setg_errno(errp, errno, "eBPF RSS helper: socketpair");
        return false;
    }
    fd_arg = g_strdup_printf("--fd=%d", sv[1]);
    argv[0] = (char *)path;
    argv[1] = fd_arg;
    argv[2] = NULL;

    pid = fork();
    if (pid < 0) {
        error_setg_errno(errp, errno, "eBPF RSS helper: fork");
        close(sv[0]);
        close(sv[1]);
        return false;
    }
    if (pid == 0) {
        /* The helper may be privileged: hand it nothing but its socket */
        const int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO,
                             sv[1] };

        qemu_close_all_open_fd(keep, sv[1] > STDERR_FILENO ? 4 : 3);
        fcntl(sv[1], F_SETFD, 0);
        execv(path, argv);
        _exit(127);
    }

    close(sv[1]);
    set_timeout(sv[0]);
    ok = receive_fds(sv[0], fds, text, sizeof(text), &timed_out, &err);
    close(sv[0]);
    if (timed_out) {
        kill(pid, SIGKILL);
    }

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1;
            break;
        }
    }
    if (ok && (!WIFEXITED(status) || WEXITSTATUS(status))) {
        for (i = 0; i < EBPF_RSS_MAX_FDS; i++) {
            close(fds[i]);
        }
        ok = false;
    }
    if (!ok) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
            error_free(err);
            error_setg(errp, "eBPF RSS helper %s could not be run", path);
        } else if (err) {
            error_propagate_prepend(errp, err, "eBPF RSS helper %s: ", path);
        } else {
            error_setg(errp, "eBPF RSS helper %s failed (wait status 0x%x)",
                       path, status);
        }
        return false;
    }
    return true;
}

#else /* !CONFIG_LINUX */

bool ebpf_rss_check_fds(const int fds[EBPF_RSS_MAX_FDS], Error **errp)
{
    error_setg(errp, "eBPF RSS is only supported on Linux");
    return false;
}

bool ebpf_rss_run_helper(const char *path, int fds[EBPF_RSS_MAX_FDS],
                         Error **errp)
{
    error_setg(errp, "eBPF RSS is only supported on Linux");
    return false;
}

#endif

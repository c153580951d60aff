/*
 * qemu-ebpf-rss-helper: load virtio-net's RSS steering program for an
 * unprivileged QEMU
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * It loads the same program QEMU would, which the kernel verifies on
 * load, and sends the program and map descriptors to QEMU over a unix
 * socket (the one message of include/net/ebpf-rss-fds.h).  Two ways:
 *
 * --fd=N      QEMU runs it (virtio-net ebpf-rss-helper=PATH); it gets
 *             CAP_BPF and CAP_PERFMON from file capabilities and answers
 *             on the socket QEMU passed.
 * --listen    a service started outside QEMU (by root or systemd, also
 *             with socket activation) answers every connection to a unix
 *             socket (ebpf-rss-helper=unix:PATH).  Works for a QEMU whose
 *             bounding set forbids gaining capabilities, as under
 *             libvirt.  The socket file's owner, group and mode say who
 *             may connect.
 *
 * It reads nothing from QEMU: every connection gets a program and maps
 * of its own, so that no guest can steer another's packets.
 */

#include "qemu/osdep.h"
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "ebpf/ebpf_rss.h"
#include "net/ebpf-rss-fds.h"

/* The first descriptor systemd passes (sd_listen_fds(3)) */
#define LISTEN_FDS_START 3

static volatile sig_atomic_t stop;

static void usage(const char *name)
{
    error_printf(
        "Usage: %s --fd=SOCKET\n"
        "       %s --listen=PATH [--socket-group=GROUP] "
        "[--socket-mode=MODE]\n"
        "       %s                (socket activated, LISTEN_FDS=1)\n"
        "Loads virtio-net's eBPF RSS steering program and sends its file\n"
        "descriptors to QEMU.  Needs CAP_BPF and CAP_PERFMON.\n"
        "  --fd=SOCKET   answer once on SOCKET: QEMU runs the helper itself\n"
        "                (virtio-net property ebpf-rss-helper=PATH)\n"
        "  --listen=PATH answer every connection to the unix socket PATH\n"
        "                (ebpf-rss-helper=unix:PATH); the socket is created\n"
        "                owned by the helper's user and GROUP (default: its\n"
        "                group) with MODE (octal, default 0600)\n"
        "Without arguments, under systemd socket activation, it serves the\n"
        "one socket it was passed.\n", name, name, name);
}

static int send_reply(int sock, const int *fds, const char *text, int flags)
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
    iov.iov_len = sizeof(EBPF_RSS_HELPER_MAGIC) +
                  strlen(buf + sizeof(EBPF_RSS_HELPER_MAGIC)) + 1;

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
        n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        error_report("cannot send to QEMU: %s", strerror(errno));
        return 1;
    }
    return 0;
}

/*
 * Load a fresh program and maps, send them on @sock and drop our
 * references: the receiver holds the only ones then.
 */
static int answer(int sock, bool service)
{
    struct EBPFRSSContext ctx;
    Error *err = NULL;
    int fds[EBPF_RSS_MAX_FDS], ret;

    ebpf_rss_init(&ctx);
    if (!ebpf_rss_load(&ctx, &err)) {
        g_autofree char *text = g_strdup_printf(
            "%s (the helper needs CAP_BPF and CAP_PERFMON)",
            error_get_pretty(err));

        error_free(err);
        if (service) {
            /* QEMU reports it too, but the admin reads the service's log */
            error_report("%s", text);
        }
        send_reply(sock, NULL, text, service ? MSG_DONTWAIT : 0);
        return 1;
    }

    fds[EBPF_RSS_FD_PROGRAM] = ctx.program_fd;
    fds[EBPF_RSS_FD_CONFIG] = ctx.map_configuration;
    fds[EBPF_RSS_FD_TOEPLITZ_KEY] = ctx.map_toeplitz_key;
    fds[EBPF_RSS_FD_TABLE] = ctx.map_indirections_table;
    ret = send_reply(sock, fds, "", service ? MSG_DONTWAIT : 0);

    ebpf_rss_unload(&ctx);
    return ret;
}

static bool is_listening_unix_socket(int fd)
{
    int val;
    socklen_t len = sizeof(val);

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) || val != AF_UNIX) {
        return false;
    }
    len = sizeof(val);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) ||
        val != SOCK_STREAM) {
        return false;
    }
    len = sizeof(val);
    return !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) && val;
}

/* The socket systemd passed, or -1 if it passed none (or not one) */
static int activated_socket(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *nfds = getenv("LISTEN_FDS");
    int p, n;

    if (!pid || !nfds || qemu_strtoi(pid, NULL, 10, &p) || p != getpid()) {
        return -1;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (qemu_strtoi(nfds, NULL, 10, &n) || n != 1) {
        error_report("expected one socket from systemd, got LISTEN_FDS=%s",
                     nfds);
        return -1;
    }
    if (!is_listening_unix_socket(LISTEN_FDS_START)) {
        error_report("the descriptor systemd passed is not a listening "
                     "unix stream socket");
        return -1;
    }
    qemu_set_cloexec(LISTEN_FDS_START);
    return LISTEN_FDS_START;
}

/*
 * Bind @path with @mode (through umask: no chmod that a symlink swapped
 * in could redirect), remove a stale socket of a helper that is gone, set
 * the group, and only then listen: nobody can connect before.
 */
static int listen_on(const char *path, gid_t gid, mode_t mode)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int sock, probe, ret;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_report("socket path %s is too long", path);
        return -1;
    }
    pstrcpy(sun.sun_path, sizeof(sun.sun_path), path);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        error_report("socket: %s", strerror(errno));
        return -1;
    }
    umask(~mode & 0777);
    ret = bind(sock, (struct sockaddr *)&sun, sizeof(sun));
    if (ret < 0 && errno == EADDRINUSE) {
        struct stat st;

        /* Left behind by a helper that is gone: nobody accepts on it */
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 &&
            connect(probe, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
            errno == ECONNREFUSED && !lstat(path, &st) &&
            S_ISSOCK(st.st_mode)) {
            unlink(path);
        }
        if (probe >= 0) {
            close(probe);
        }
        ret = bind(sock, (struct sockaddr *)&sun, sizeof(sun));
    }
    if (ret < 0) {
        error_report("cannot bind %s: %s%s", path, strerror(errno),
                     errno == EADDRINUSE ? " (a helper serves it, or it is "
                     "not a socket)" : "");
        goto fail;
    }
    if (gid != (gid_t)-1 && lchown(path, -1, gid) < 0) {
        error_report("cannot set the group of %s: %s", path,
                     strerror(errno));
        unlink(path);
        goto fail;
    }
    if (listen(sock, 64) < 0) {
        error_report("listen on %s: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    return sock;

fail:
    close(sock);
    return -1;
}

static void on_signal(int sig)
{
    stop = 1;
}

/*
 * Answer each connection in turn.  Loading takes milliseconds and the
 * answer fits in an empty socket buffer, so no client can stall us.
 */
static int serve(int lsock)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct pollfd pfd = { .fd = lsock, .events = POLLIN };
    sigset_t block, orig;
    int conn, served = 0;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    /* Signals arrive only inside ppoll(): none is lost before it */
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    qemu_set_blocking(lsock, false, &error_abort);

    while (!stop) {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (ppoll(&pfd, 1, NULL, &orig) < 0) {
            if (errno == EINTR) {
                continue;
            }
            error_report("poll: %s", strerror(errno));
            return 1;
        }
        conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            switch (errno) {
            case EAGAIN:
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Transient; the client waits in the backlog meanwhile */
                error_report("accept: %s", strerror(errno));
                g_usleep(100 * 1000);
                continue;
            default:
                error_report("accept: %s", strerror(errno));
                return 1;
            }
        }
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            cred.pid = 0;
            cred.uid = cred.gid = -1;
        }
        if (answer(conn, true) == 0) {
            served++;
            info_report("sent a program to pid %d uid %d (%d so far)",
                        (int)cred.pid, (int)cred.uid, served);
        } else {
            error_report("could not serve pid %d uid %d", (int)cred.pid,
                         (int)cred.uid);
        }
        close(conn);
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_FD = 256, OPT_LISTEN, OPT_GROUP, OPT_MODE, OPT_HELP };
    static const struct option opts[] = {
        { "fd", required_argument, NULL, OPT_FD },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "socket-group", required_argument, NULL, OPT_GROUP },
        { "socket-mode", required_argument, NULL, OPT_MODE },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    const char *listen_path = NULL;
    gid_t gid = -1;
    unsigned int mode = 0600;
    int sock = -1, c, ret;
    struct stat st;

    error_init(argv[0]);

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FD:
            if (qemu_strtoi(optarg, NULL, 10, &sock) || sock < 0) {
                error_report("--fd needs a descriptor number");
                return 2;
            }
            break;
        case OPT_LISTEN:
            listen_path = optarg;
            break;
        case OPT_GROUP: {
            struct group *gr = getgrnam(optarg);
            unsigned int g;

            if (gr) {
                gid = gr->gr_gid;
            } else if (!qemu_strtoui(optarg, NULL, 10, &g)) {
                gid = g;
            } else {
                error_report("no group %s", optarg);
                return 2;
            }
            break;
        }
        case OPT_MODE:
            if (qemu_strtoui(optarg, NULL, 8, &mode) || mode > 0777) {
                error_report("--socket-mode needs an octal mode, not %s",
                             optarg);
                return 2;
            }
            break;
        case OPT_HELP:
            usage(argv[0]);
            return 0;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (optind != argc || (sock >= 0 && listen_path) ||
        ((gid != (gid_t)-1 || mode != 0600) && !listen_path)) {
        usage(argv[0]);
        return 2;
    }

    if (sock >= 0) {
        if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
            error_report("--fd=%d is not a socket", sock);
            return 2;
        }
        ret = answer(sock, false);
        close(sock);
        return ret;
    }

    if (listen_path) {
        sock = listen_on(listen_path, gid, mode);
    } else if (getenv("LISTEN_FDS")) {
        sock = activated_socket();
    } else {
        usage(argv[0]);
        return 2;
    }
    if (sock < 0) {
        return 1;
    }
    ret = serve(sock);
    close(sock);
    if (listen_path) {
        unlink(listen_path);
    }
    return ret;
}

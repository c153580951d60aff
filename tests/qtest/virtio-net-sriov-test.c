/*
 * QTest cases for virtio-net SR-IOV composed from user-created functions
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The VFs are -device virtio-net-pci,sriov-pf=pf0 functions and the PF a
 * virtio-net-pci with id=pf0 added after them, all on the secondary bus of
 * a PCIe root port on q35.  Every function has a socket netdev of its own
 * whose other end the test holds, so it can check that a VF is a complete
 * virtio-net device, isolated from the PF and the other VFs.
 *
 * No firmware runs under qtest: the test numbers the buses, opens the root
 * port's windows and turns on ECAM (tests/qtest/libqos/pci-sriov.h).  VFs
 * read 0xffff as Vendor/Device ID, so libqos' virtio driver binds to them
 * through qpci_sriov_id_bus_new(), as a guest OS's SR-IOV code presents
 * them to drivers.
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "libqtest.h"
#include "qemu/bswap.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/pci-sriov.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_net.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_pci.h"

/* Secondary bus number qpci_secondary_buses_init() gives the root port */
#define NET_BUS             1
#define PF_DEVFN            (NET_BUS << 8)
#define RP_DEVFN            QPCI_DEVFN(2, 0)
#define RP_WINDOW_BASE      0xe0000000ULL
#define RP_WINDOW_SIZE      0x10000000ULL

#define VIRTIO_PCI_VENDOR   0x1af4
#define VIRTIO_NET_DID      (0x1040 + VIRTIO_ID_NET)
#define MAX_VFS_NO_ARI      7       /* functions 1..7 of device 0 */
#define MAX_VFS_ARI         255     /* every other function number of the bus */
#define MAX_VFS             MAX_VFS_ARI

#define TIMEOUT_US          (10 * G_USEC_PER_SEC)
#define BUF_SIZE            2048
#define HDR_LEN             sizeof(struct virtio_net_hdr_v1)
#define FRAME_LEN           64
#define PF_INDEX            (-1)

/* A virtio-net function (PF or VF) as the test's driver sees it */
typedef struct Vnet {
    QVirtioPCIDevice dev;
    QVirtQueue *rx, *tx;
    uint64_t rxbuf, txbuf;
    int index;              /* VF number, PF_INDEX for the PF */
    int sock;               /* host end of the function's socket netdev */
} Vnet;

typedef struct Rig {
    QTestState *qts;
    QGuestAllocator alloc;
    QPCIBus *bus;
    QPCIBus *idbus;         /* VFs with IDs, for libqos virtio */
    QPCIDevice *rp, *pf;
    QPCISriov sriov;
    int nvfs;
    int pf_sock;
    int vf_sock[MAX_VFS];
    Vnet *vf[MAX_VFS];
    Vnet *pfnet;
} Rig;

typedef struct RigOpts {
    int nvfs;
    const char *vf_props;   /* appended to every VF's -device */
    const char *extra;      /* appended to the command line */
    const char *incoming;   /* -incoming URI, or NULL */
} RigOpts;

static void vf_addr(int n, char *buf, size_t len)
{
    int devfn = n + 1;

    snprintf(buf, len, "0x%x.%x", devfn >> 3, devfn & 7);
}

/* Host end in *host; QEMU's end is returned and closed after start-up */
static int backend_pair(int *host)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpint(fcntl(sv[0], F_SETFL, O_NONBLOCK), ==, 0);
    *host = sv[0];
    return sv[1];
}

static char *rig_cmdline(Rig *r, const RigOpts *o, int *qemu_fds)
{
    GString *s = g_string_new("-M q35 -nodefaults -m 256M "
                              "-device pcie-root-port,id=rp0,bus=pcie.0,"
                              "chassis=1,addr=0x2 ");
    char addr[16];
    int i;

    /* VFs first: the PF collects them when it is realized */
    for (i = 0; i < o->nvfs; i++) {
        qemu_fds[i] = backend_pair(&r->vf_sock[i]);
        vf_addr(i, addr, sizeof(addr));
        g_string_append_printf(s,
            "-netdev socket,id=vf%d,fd=%d "
            "-device virtio-net-pci,bus=rp0,addr=%s,netdev=vf%d,"
            "sriov-pf=pf0,mac=52:54:00:00:01:%02x,romfile=%s%s ",
            i, qemu_fds[i], addr, i, i, o->vf_props ? "," : "",
            o->vf_props ? o->vf_props : "");
    }
    qemu_fds[o->nvfs] = backend_pair(&r->pf_sock);
    g_string_append_printf(s,
        "-netdev socket,id=pfn,fd=%d "
        "-device virtio-net-pci,bus=rp0,addr=0x0.0,netdev=pfn,id=pf0,"
        "mac=52:54:00:00:00:01,romfile= %s %s%s",
        qemu_fds[o->nvfs], o->extra ? o->extra : "",
        o->incoming ? "-incoming " : "", o->incoming ? o->incoming : "");
    return g_string_free(s, false);
}

/* Everything firmware and the PF driver do before SR-IOV is touched */
static void rig_bind(Rig *r)
{
    pc_alloc_init(&r->alloc, r->qts, ALLOC_NO_FLAGS);
    r->bus = qpci_new_pc(r->qts, &r->alloc);
    qpci_q35_enable_ecam(r->bus, QPCI_Q35_ECAM_BASE);
    g_assert_cmpint(qpci_secondary_buses_init(r->bus), ==, NET_BUS);
    r->rp = qpci_device_find(r->bus, RP_DEVFN);
    g_assert(r->rp);
    r->pf = qpci_device_find(r->bus, PF_DEVFN);
    g_assert(r->pf);
    r->bus->mmio_alloc_ptr = RP_WINDOW_BASE;
    r->bus->mmio_limit = RP_WINDOW_BASE + RP_WINDOW_SIZE;
    qpci_bridge_open_windows(r->rp, RP_WINDOW_BASE, RP_WINDOW_SIZE);
    g_assert(qpci_sriov_init(&r->sriov, r->pf, QPCI_Q35_ECAM_BASE));
    r->idbus = qpci_sriov_id_bus_new(&r->sriov);
}

static Rig *rig_new(const RigOpts *o)
{
    Rig *r = g_new0(Rig, 1);
    int qemu_fds[MAX_VFS + 1];
    g_autofree char *args = NULL;
    int i;

    r->nvfs = o->nvfs;
    args = rig_cmdline(r, o, qemu_fds);
    r->qts = qtest_init(args);
    for (i = 0; i <= o->nvfs; i++) {
        close(qemu_fds[i]);
    }
    if (!o->incoming) {
        rig_bind(r);
    }
    return r;
}

static void vnet_free(Vnet *v)
{
    if (v) {
        g_free(v->dev.pdev);
        g_free(v);
    }
}

static void rig_free(Rig *r)
{
    int i;

    for (i = 0; i < r->nvfs; i++) {
        vnet_free(r->vf[i]);
        close(r->vf_sock[i]);
    }
    vnet_free(r->pfnet);
    close(r->pf_sock);
    qpci_sriov_id_bus_free(r->idbus);
    g_free(r->pf);
    g_free(r->rp);
    qpci_free_pc(r->bus);
    if (r->alloc.used) {
        alloc_destroy(&r->alloc);
    }
    if (r->qts) {
        qtest_quit(r->qts);
    }
    g_free(r);
}

/* PCI side of SR-IOV */

static void vfs_enable(Rig *r, int num)
{
    qpci_sriov_set_num_vfs(&r->sriov, num);
    g_assert(qpci_sriov_set_enable(&r->sriov, true));
}

static void vfs_disable(Rig *r)
{
    g_assert(!qpci_sriov_set_enable(&r->sriov, false));
}

/* Exactly VFs 0..num-1 answer config cycles */
static void assert_vfs_present(Rig *r, int num)
{
    int n;

    for (n = 0; n < r->sriov.total_vfs; n++) {
        bool present = qpci_function_present(r->bus,
                                             qpci_sriov_vf_devfn(&r->sriov, n));

        if (present != (n < num)) {
            g_test_message("VF %d: present %d, expected %d", n, present,
                           n < num);
        }
        g_assert_cmpint(present, ==, n < num);
    }
}

static void assert_vf_config(Rig *r, int n)
{
    g_autofree QPCIDevice *vf = qpci_sriov_get_vf(&r->sriov, n);
    g_autofree QPCIDevice *idvf = NULL;

    g_assert(vf);
    /* Vendor and Device ID read as all ones on a VF by specification */
    g_assert_cmphex(qpci_config_readw(vf, PCI_VENDOR_ID), ==, 0xffff);
    g_assert_cmphex(qpci_config_readw(vf, PCI_DEVICE_ID), ==, 0xffff);
    g_assert_cmphex(qpci_config_readw(vf, PCI_CLASS_DEVICE), ==,
                    PCI_CLASS_NETWORK_ETHERNET);
    g_assert_cmphex(qpci_config_readw(vf, PCI_SUBSYSTEM_VENDOR_ID), ==,
                    VIRTIO_PCI_VENDOR);
    /* BARs are the PF's VF BARs: the VF's own registers read zero */
    g_assert_cmphex(qpci_config_readl(vf, PCI_BASE_ADDRESS_0), ==, 0);
    g_assert_cmphex(qpci_config_readl(vf, PCI_BASE_ADDRESS_4), ==, 0);

    /* What the OS (and so the virtio driver) sees */
    idvf = qpci_device_find(r->idbus, vf->devfn);
    g_assert(idvf);
    g_assert_cmphex(qpci_config_readw(idvf, PCI_VENDOR_ID), ==,
                    VIRTIO_PCI_VENDOR);
    g_assert_cmphex(qpci_config_readw(idvf, PCI_DEVICE_ID), ==,
                    VIRTIO_NET_DID);
}

static void assert_cap(Rig *r, int nvfs)
{
    QPCISriov *s = &r->sriov;
    int n;

    g_assert_cmphex(qpci_config_readw(r->pf, PCI_VENDOR_ID), ==,
                    VIRTIO_PCI_VENDOR);
    g_assert_cmphex(qpci_config_readw(r->pf, PCI_DEVICE_ID), ==,
                    VIRTIO_NET_DID);
    g_assert_cmpuint(s->total_vfs, ==, nvfs);
    g_assert_cmpuint(s->initial_vfs, ==, nvfs);
    g_assert_cmpuint(s->vf_offset, ==, 1);
    g_assert_cmpuint(s->vf_stride, ==, nvfs > 1 ? 1 : 0);
    g_assert_cmphex(s->vf_device_id, ==, VIRTIO_NET_DID);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(s), ==, 0);
    g_assert(!qpci_sriov_is_enabled(s));
    /* The PF is ARI capable, so VFs may use all function numbers */
    g_assert_cmphex(qpci_find_ext_capability(r->pf, QPCI_Q35_ECAM_BASE,
                                             PCI_EXT_CAP_ID_ARI), !=, 0);
    for (n = 0; n < nvfs; n++) {
        g_assert_cmpint(qpci_sriov_vf_devfn(s, n), ==, PF_DEVFN + 1 + n);
    }
}

/* virtio side: a driver for one function */

static void vnet_start(Rig *r, Vnet *v, uint64_t extra_features)
{
    QVirtioDevice *vdev = &v->dev.vdev;
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) |
                    (1ull << VIRTIO_NET_F_MAC) | extra_features;
    uint64_t have;

    g_assert_cmpint(vdev->device_type, ==, VIRTIO_ID_NET);
    qvirtio_start_device(vdev);
    have = qvirtio_get_features(vdev);
    g_assert_cmphex(have & want, ==, want);
    /* Only the PF offers SR-IOV: a VF cannot have VFs of its own */
    g_assert_cmpint(!!(have & (1ull << VIRTIO_F_SR_IOV)), ==,
                    v->index == PF_INDEX);
    qvirtio_set_features(vdev, want);

    v->rx = qvirtqueue_setup(vdev, &r->alloc, 0);
    v->tx = qvirtqueue_setup(vdev, &r->alloc, 1);
    qvirtqueue_pci_msix_setup(&v->dev, container_of(v->rx, QVirtQueuePCI, vq),
                              &r->alloc, 0);
    qvirtqueue_pci_msix_setup(&v->dev, container_of(v->tx, QVirtQueuePCI, vq),
                              &r->alloc, 1);
    v->rxbuf = guest_alloc(&r->alloc, BUF_SIZE);
    v->txbuf = guest_alloc(&r->alloc, BUF_SIZE);
    qvirtio_set_driver_ok(vdev);
}

static void vnet_check_mac(Vnet *v)
{
    uint8_t want[6] = { 0x52, 0x54, 0, 0, v->index == PF_INDEX ? 0 : 1,
                        v->index == PF_INDEX ? 1 : v->index };
    int i;

    for (i = 0; i < 6; i++) {
        g_assert_cmphex(qvirtio_config_readb(&v->dev.vdev,
                        offsetof(struct virtio_net_config, mac) + i),
                        ==, want[i]);
    }
}

/* Bind the test's driver to VF @n, which must be enabled */
static Vnet *vf_attach(Rig *r, int n, uint64_t extra_features)
{
    Vnet *v = g_new0(Vnet, 1);
    QPCIAddress addr = { .devfn = qpci_sriov_vf_devfn(&r->sriov, n) };

    v->index = n;
    v->sock = r->vf_sock[n];
    virtio_pci_init(&v->dev, r->idbus, &addr);
    g_assert_cmpint(v->dev.vdev.device_type, ==, VIRTIO_ID_NET);
    g_assert(v->dev.vdev.bus);
    qpci_sriov_vf_enable_decoding(v->dev.pdev);
    v->dev.bar = qpci_sriov_vf_bar(&r->sriov, n, v->dev.bar_idx);
    qpci_sriov_vf_msix_enable(&r->sriov, v->dev.pdev, n);
    vnet_start(r, v, extra_features);
    vnet_check_mac(v);
    vnet_free(r->vf[n]);
    r->vf[n] = v;
    return v;
}

static Vnet *pf_attach(Rig *r)
{
    Vnet *v = g_new0(Vnet, 1);
    QPCIAddress addr = { .devfn = PF_DEVFN };

    v->index = PF_INDEX;
    v->sock = r->pf_sock;
    virtio_pci_init(&v->dev, r->bus, &addr);
    qvirtio_pci_device_enable(&v->dev);
    qpci_msix_enable(v->dev.pdev);
    vnet_start(r, v, 0);
    vnet_check_mac(v);
    vnet_free(r->pfnet);
    r->pfnet = v;
    return v;
}

/* Frames: destination MAC of the function, payload names it and a seq */

static void make_frame(uint8_t *f, int index, uint32_t seq, bool to_host)
{
    static const uint8_t host_mac[6] = { 0x52, 0x54, 0, 0xff, 0xff, 0xfe };
    uint8_t fn_mac[6] = { 0x52, 0x54, 0, 0, index == PF_INDEX ? 0 : 1,
                          index == PF_INDEX ? 1 : index };

    memset(f, 0, FRAME_LEN);
    memcpy(f, to_host ? host_mac : fn_mac, 6);
    memcpy(f + 6, to_host ? fn_mac : host_mac, 6);
    stw_be_p(f + 12, 0x88b5);            /* local experimental ethertype */
    memcpy(f + 14, "VNSR", 4);
    stl_be_p(f + 18, (uint32_t)index);
    stl_be_p(f + 22, seq);
}

static void host_send(int sock, const uint8_t *frame)
{
    uint8_t buf[4 + FRAME_LEN];

    stl_be_p(buf, FRAME_LEN);
    memcpy(buf + 4, frame, FRAME_LEN);
    g_assert_cmpint(send(sock, buf, sizeof(buf), 0), ==, sizeof(buf));
}

static bool read_full(int sock, uint8_t *buf, size_t len, int timeout_ms)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { .fd = sock, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, timeout_ms) <= 0) {
            g_assert_cmpuint(got, ==, 0);   /* no torn frames */
            return false;
        }
        n = recv(sock, buf + got, len - got, 0);
        g_assert_cmpint(n, >, 0);
        got += n;
    }
    return true;
}

/*
 * The next frame the function sent, or false if none comes in time.
 * Skips the RARP announcements QEMU sends after a migration.
 */
static bool host_recv(int sock, uint8_t *frame, int timeout_ms)
{
    uint8_t hdr[4], buf[BUF_SIZE];
    uint32_t len;

    for (;;) {
        if (!read_full(sock, hdr, 4, timeout_ms)) {
            return false;
        }
        len = ldl_be_p(hdr);
        g_assert_cmpuint(len, <=, sizeof(buf));
        g_assert(read_full(sock, buf, len, 1000));
        if (len >= 14 && lduw_be_p(buf + 12) == 0x8035) {
            continue;
        }
        g_assert_cmpuint(len, ==, FRAME_LEN);
        memcpy(frame, buf, FRAME_LEN);
        return true;
    }
}

static void rx_post(Rig *r, Vnet *v)
{
    uint32_t head;

    v->rx->free_head = 0;
    head = qvirtqueue_add(r->qts, v->rx, v->rxbuf, BUF_SIZE, true, false);
    qvirtqueue_kick(r->qts, &v->dev.vdev, v->rx, head);
}

static void rx_expect(Rig *r, Vnet *v, const uint8_t *frame)
{
    uint8_t got[FRAME_LEN];
    uint32_t len;

    qvirtio_wait_used_elem(r->qts, &v->dev.vdev, v->rx, 0, &len, TIMEOUT_US);
    g_assert_cmpuint(len, ==, HDR_LEN + FRAME_LEN);
    qtest_memread(r->qts, v->rxbuf + HDR_LEN, got, FRAME_LEN);
    g_assert_cmpmem(got, FRAME_LEN, frame, FRAME_LEN);
}

static void rx_expect_none(Rig *r, Vnet *v)
{
    uint32_t id;

    g_assert(!qvirtqueue_get_buf(r->qts, v->rx, &id, NULL));
}

static void tx_send(Rig *r, Vnet *v, const uint8_t *frame)
{
    uint32_t head;

    qtest_memset(r->qts, v->txbuf, 0, HDR_LEN);
    qtest_memwrite(r->qts, v->txbuf + HDR_LEN, frame, FRAME_LEN);
    v->tx->free_head = 0;
    head = qvirtqueue_add(r->qts, v->tx, v->txbuf, HDR_LEN + FRAME_LEN,
                          false, false);
    qvirtqueue_kick(r->qts, &v->dev.vdev, v->tx, head);
    qvirtio_wait_used_elem(r->qts, &v->dev.vdev, v->tx, head, NULL,
                           TIMEOUT_US);
}

/* Let QEMU's main loop run so that stray deliveries would have happened */
static void settle(Rig *r)
{
    g_usleep(100 * 1000);
    qtest_qmp_assert_success(r->qts, "{'execute': 'query-status'}");
}

static Vnet *fn(Rig *r, int index)
{
    return index == PF_INDEX ? r->pfnet : r->vf[index];
}

/*
 * A frame injected into one function's backend arrives there only, and a
 * frame one function sends leaves through its backend only.  Every
 * function in @idx must be attached; the others must not.
 */
static void check_isolation(Rig *r, const int *idx, int count, uint32_t seq)
{
    uint8_t frame[FRAME_LEN], got[FRAME_LEN];
    int i, j;

    for (i = 0; i < count; i++) {
        rx_post(r, fn(r, idx[i]));
    }

    /* One at a time: only the target's ring moves */
    for (i = 0; i < count; i++) {
        Vnet *v = fn(r, idx[i]);

        make_frame(frame, v->index, seq + i, false);
        host_send(v->sock, frame);
        rx_expect(r, v, frame);
        settle(r);
        for (j = 0; j < count; j++) {
            if (j != i) {
                rx_expect_none(r, fn(r, idx[j]));
            }
        }
        rx_post(r, v);

        make_frame(frame, v->index, seq + i, true);
        tx_send(r, v, frame);
        g_assert(host_recv(v->sock, got, 5000));
        g_assert_cmpmem(got, FRAME_LEN, frame, FRAME_LEN);
        for (j = 0; j < count; j++) {
            g_assert(!host_recv(fn(r, idx[j])->sock, got, 0));
        }
    }

    /* All at once: each gets its own frame */
    for (i = 0; i < count; i++) {
        make_frame(frame, idx[i], seq + 100 + i, false);
        host_send(fn(r, idx[i])->sock, frame);
    }
    for (i = 0; i < count; i++) {
        make_frame(frame, idx[i], seq + 100 + i, false);
        rx_expect(r, fn(r, idx[i]), frame);
    }
}

/* Test cases */

static void test_cap(const void *data)
{
    int nvfs = GPOINTER_TO_INT(data);
    RigOpts o = { .nvfs = nvfs };
    Rig *r = rig_new(&o);
    int n;

    assert_cap(r, nvfs);
    qpci_sriov_map_bars(&r->sriov);
    /* Modern virtio: MSI-X table in BAR 1, the rest in 64-bit BAR 4 */
    g_assert_cmpuint(r->sriov.bar_size[1], !=, 0);
    g_assert_cmpuint(r->sriov.bar_size[4], !=, 0);
    g_assert(r->sriov.bar_is_64[4]);
    g_assert_cmpuint(r->sriov.bar_size[0], ==, 0);
    assert_vfs_present(r, 0);

    /* More VFs than TotalVFs: VF Enable is refused */
    qpci_sriov_set_num_vfs(&r->sriov, nvfs + 1);
    g_assert(!qpci_sriov_set_enable(&r->sriov, true));
    assert_vfs_present(r, 0);

    vfs_enable(r, 1);
    assert_vfs_present(r, 1);
    assert_vf_config(r, 0);
    vfs_disable(r);
    assert_vfs_present(r, 0);

    vfs_enable(r, nvfs);
    assert_vfs_present(r, nvfs);
    for (n = 0; n < nvfs; n++) {
        assert_vf_config(r, n);
    }
    /* NumVFs is read-only while VFs are enabled */
    qpci_sriov_set_num_vfs(&r->sriov, 1);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&r->sriov), ==, nvfs);
    vfs_disable(r);
    assert_vfs_present(r, 0);
    rig_free(r);
}

static void bring_up(Rig *r, int nvfs)
{
    int n;

    qpci_sriov_map_bars(&r->sriov);
    pf_attach(r);
    vfs_enable(r, nvfs);
    for (n = 0; n < nvfs; n++) {
        vf_attach(r, n, 0);
    }
}

static void test_datapath(const void *data)
{
    int nvfs = GPOINTER_TO_INT(data);
    RigOpts o = { .nvfs = nvfs };
    Rig *r = rig_new(&o);
    int idx[MAX_VFS_NO_ARI + 1];
    int n;

    bring_up(r, nvfs);
    idx[0] = PF_INDEX;
    for (n = 0; n < nvfs; n++) {
        idx[n + 1] = n;
    }
    check_isolation(r, idx, nvfs + 1, 1000);
    rig_free(r);
}

/* VFs beyond function 7: ARI, with the whole bus in use */
static void test_ari_max(void)
{
    RigOpts o = { .nvfs = MAX_VFS_ARI };
    Rig *r = rig_new(&o);
    int idx[] = { PF_INDEX, 0, 7, 8, 100, MAX_VFS_ARI - 1 };
    size_t i;

    assert_cap(r, MAX_VFS_ARI);
    qpci_sriov_map_bars(&r->sriov);
    pf_attach(r);
    vfs_enable(r, MAX_VFS_ARI);
    assert_vfs_present(r, MAX_VFS_ARI);
    for (i = 1; i < ARRAY_SIZE(idx); i++) {
        assert_vf_config(r, idx[i]);
        vf_attach(r, idx[i], 0);
    }
    check_isolation(r, idx, ARRAY_SIZE(idx), 2000);
    vfs_disable(r);
    assert_vfs_present(r, 0);
    rig_free(r);
}

static void test_reenable(void)
{
    RigOpts o = { .nvfs = 3 };
    Rig *r = rig_new(&o);
    int idx[] = { PF_INDEX, 0, 1, 2 };

    bring_up(r, 3);
    check_isolation(r, idx, 4, 3000);

    /* Fewer VFs: the rest disappear, the remaining one works again */
    vfs_disable(r);
    assert_vfs_present(r, 0);
    vfs_enable(r, 1);
    assert_vfs_present(r, 1);
    /* Disabling reset the VF: it is a new device to the driver */
    qpci_sriov_vf_enable_decoding(r->vf[0]->dev.pdev);
    g_assert_cmphex(qpci_io_readb(r->vf[0]->dev.pdev, r->vf[0]->dev.bar,
                                  r->vf[0]->dev.common_cfg_offset +
                                  offsetof(struct virtio_pci_common_cfg,
                                           device_status)), ==, 0);
    vf_attach(r, 0, 0);
    check_isolation(r, idx, 2, 3100);

    vfs_disable(r);
    vfs_enable(r, 3);
    assert_vfs_present(r, 3);
    vf_attach(r, 0, 0);
    vf_attach(r, 1, 0);
    vf_attach(r, 2, 0);
    check_isolation(r, idx, 4, 3200);
    rig_free(r);
}

static void assert_reset_state(Rig *r)
{
    g_assert(!qpci_sriov_is_enabled(&r->sriov));
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&r->sriov), ==, 0);
    assert_vfs_present(r, 0);
}

static void test_system_reset(void)
{
    RigOpts o = { .nvfs = 3 };
    Rig *r = rig_new(&o);
    int idx[] = { PF_INDEX, 0, 1, 2 };
    int n;

    bring_up(r, 3);
    check_isolation(r, idx, 4, 4000);

    qtest_qmp_assert_success(r->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(r->qts, "RESET");

    /* Firmware would redo this after a reset */
    qpci_sriov_id_bus_free(r->idbus);
    g_free(r->pf);
    g_free(r->rp);
    qpci_free_pc(r->bus);
    alloc_destroy(&r->alloc);
    rig_bind(r);
    assert_reset_state(r);

    bring_up(r, 3);
    for (n = 0; n < 3; n++) {
        assert_vf_config(r, n);
    }
    check_isolation(r, idx, 4, 4100);
    rig_free(r);
}

static void test_flr(void)
{
    RigOpts o = { .nvfs = 3 };
    Rig *r = rig_new(&o);
    int idx[] = { PF_INDEX, 0, 1, 2 };
    uint8_t exp = qpci_find_capability(r->pf, PCI_CAP_ID_EXP, 0);
    uint16_t ctl;

    g_assert_cmphex(exp, !=, 0);
    g_assert(qpci_config_readl(r->pf, exp + PCI_EXP_DEVCAP) &
             PCI_EXP_DEVCAP_FLR);
    bring_up(r, 3);
    check_isolation(r, idx, 4, 5000);

    /* Function Level Reset of the PF takes its VFs down */
    ctl = qpci_config_readw(r->pf, exp + PCI_EXP_DEVCTL);
    qpci_config_writew(r->pf, exp + PCI_EXP_DEVCTL,
                       ctl | PCI_EXP_DEVCTL_BCR_FLR);
    assert_reset_state(r);

    /* The bus numbers and windows survive; BARs must be programmed again */
    r->bus->mmio_alloc_ptr = RP_WINDOW_BASE;
    bring_up(r, 3);
    check_isolation(r, idx, 4, 5100);
    rig_free(r);
}

/* RSS config: hash IPv4 only, every hash and unclassified to queue @q */
static size_t rss_cfg(uint8_t *b, uint16_t q, uint16_t max_tx)
{
    size_t off;

    memset(b, 0, 64);
    stl_le_p(b, VIRTIO_NET_RSS_HASH_TYPE_IPv4);
    stw_le_p(b + 4, 0);             /* indirection table of one entry */
    stw_le_p(b + 6, q);             /* unclassified queue */
    stw_le_p(b + 8, q);             /* the entry */
    off = 10;
    stw_le_p(b + off, max_tx);
    b[off + 2] = 40;                /* key length */
    return off + 3 + 40;
}

static uint8_t ctrl_cmd(Rig *r, Vnet *v, QVirtQueue *cvq, uint64_t buf,
                        uint8_t class, uint8_t cmd,
                        const uint8_t *data, size_t len)
{
    uint8_t hdr[2] = { class, cmd };
    uint64_t ack = buf + BUF_SIZE - 1;
    uint32_t head;

    qtest_memwrite(r->qts, buf, hdr, 2);
    qtest_memwrite(r->qts, buf + 2, data, len);
    qtest_writeb(r->qts, ack, 0xff);
    cvq->free_head = 0;
    head = qvirtqueue_add(r->qts, cvq, buf, len + 2, false, true);
    qvirtqueue_add(r->qts, cvq, ack, 1, true, false);
    qvirtqueue_kick(r->qts, &v->dev.vdev, cvq, head);
    qvirtio_wait_used_elem(r->qts, &v->dev.vdev, cvq, head, NULL, TIMEOUT_US);
    return qtest_readb(r->qts, ack);
}

static void test_vf_mq_rss(void)
{
    RigOpts o = { .nvfs = 2, .vf_props = "mq=on,rss=on,vectors=6" };
    Rig *r = rig_new(&o);
    uint64_t mq = (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MQ) |
                  (1ull << VIRTIO_NET_F_RSS);
    uint8_t cfg[64], frame[FRAME_LEN];
    uint16_t pairs;
    size_t len;
    int n;

    qpci_sriov_map_bars(&r->sriov);
    pf_attach(r);
    vfs_enable(r, 2);
    for (n = 0; n < 2; n++) {
        Vnet *v = vf_attach(r, n, mq);
        QVirtioDevice *vdev = &v->dev.vdev;
        QVirtQueue *cvq;
        uint64_t cbuf = guest_alloc(&r->alloc, BUF_SIZE);

        /* A socket netdev has one queue pair, the control queue is next */
        pairs = qvirtio_config_readw(vdev,
                    offsetof(struct virtio_net_config, max_virtqueue_pairs));
        g_assert_cmpuint(pairs, ==, 1);
        g_assert_cmpuint(qvirtio_config_readl(vdev,
                         offsetof(struct virtio_net_config,
                                  supported_hash_types)) &
                         VIRTIO_NET_RSS_HASH_TYPE_IPv4, !=, 0);
        g_assert_cmpuint(qvirtio_config_readb(vdev,
                         offsetof(struct virtio_net_config, rss_max_key_size)),
                         >=, 40);
        cvq = qvirtqueue_setup(vdev, &r->alloc, 2);
        qvirtqueue_pci_msix_setup(&v->dev, container_of(cvq, QVirtQueuePCI, vq),
                                  &r->alloc, 2);

        len = rss_cfg(cfg, 0, 1);
        g_assert_cmpuint(ctrl_cmd(r, v, cvq, cbuf, VIRTIO_NET_CTRL_MQ,
                                  VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg, len),
                         ==, VIRTIO_NET_OK);
        /* A queue the device does not have is refused */
        len = rss_cfg(cfg, 5, 1);
        g_assert_cmpuint(ctrl_cmd(r, v, cvq, cbuf, VIRTIO_NET_CTRL_MQ,
                                  VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg, len),
                         ==, VIRTIO_NET_ERR);
        len = rss_cfg(cfg, 0, 1);
        g_assert_cmpuint(ctrl_cmd(r, v, cvq, cbuf, VIRTIO_NET_CTRL_MQ,
                                  VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg, len),
                         ==, VIRTIO_NET_OK);

        /* Receive still works with RSS on, on this VF only */
        rx_post(r, v);
        make_frame(frame, n, 6000 + n, false);
        host_send(v->sock, frame);
        rx_expect(r, v, frame);
    }
    rig_free(r);
}

/* Native PCIe hotplug of the root port, so that the test can eject */
#define NATIVE_HP "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"

static bool device_listed(Rig *r, const char *id)
{
    QDict *rsp = qtest_qmp(r->qts, "{'execute': 'qom-list', "
                           "'arguments': {'path': '/machine/peripheral'}}");
    QList *l = qdict_get_qlist(rsp, "return");
    QListEntry *e;
    bool found = false;

    g_assert(l);
    QLIST_FOREACH_ENTRY(l, e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(p, "name"), id)) {
            found = true;
        }
    }
    qobject_unref(rsp);
    return found;
}

static void test_unplug(void)
{
    RigOpts o = { .nvfs = 3, .extra = NATIVE_HP };
    Rig *r = rig_new(&o);
    int idx[] = { PF_INDEX, 0, 1, 2 };
    uint8_t exp = qpci_find_capability(r->rp, PCI_CAP_ID_EXP, 0);
    uint16_t ctl;
    QDict *rsp;

    bring_up(r, 3);
    check_isolation(r, idx, 4, 7000);

    /* Let the port signal, as a hotplug driver does, then ask for removal */
    ctl = qpci_config_readw(r->rp, exp + PCI_EXP_SLTCTL);
    qpci_config_writew(r->rp, exp + PCI_EXP_SLTCTL,
                       ctl | PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_ABPE);
    qtest_qmp_device_del_send(r->qts, "pf0");

    /* The driver answers the attention button: power the slot off */
    ctl = qpci_config_readw(r->rp, exp + PCI_EXP_SLTCTL);
    ctl &= ~(PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC);
    qpci_config_writew(r->rp, exp + PCI_EXP_SLTCTL,
                       ctl | PCI_EXP_SLTCTL_PWR_OFF |
                       PCI_EXP_SLTCTL_PWR_IND_OFF);
    qtest_qmp_eventwait(r->qts, "DEVICE_DELETED");

    /* The PF and its VFs are gone, QEMU is fine */
    g_assert(!device_listed(r, "pf0"));
    g_assert(!qpci_function_present(r->bus, PF_DEVFN));
    g_assert(!qpci_function_present(r->bus, PF_DEVFN + 1));
    rsp = qtest_qmp(r->qts, "{'execute': 'query-pci'}");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    rig_free(r);
}

/* Migration: the VFs, their state and their traffic survive */
static void test_migrate(void)
{
    g_autofree char *tmp = g_dir_make_tmp("vnet-sriov-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    RigOpts so = { .nvfs = 3 };
    RigOpts dopt = { .nvfs = 3, .incoming = uri };
    Rig *src = rig_new(&so);
    Rig *dst = rig_new(&dopt);
    int idx[] = { PF_INDEX, 0, 1, 2 };
    int n;
    QDict *rsp;
    const char *status;

    bring_up(src, 3);
    check_isolation(src, idx, 4, 8000);

    qtest_qmp_assert_success(src->qts, "{'execute': 'migrate', "
                             "'arguments': {'uri': %s}}", uri);
    for (;;) {
        rsp = qtest_qmp(src->qts, "{'execute': 'query-migrate'}");
        status = qdict_get_try_str(qdict_get_qdict(rsp, "return"), "status");
        g_assert(status);
        if (!strcmp(status, "completed")) {
            qobject_unref(rsp);
            break;
        }
        g_assert_cmpstr(status, !=, "failed");
        qobject_unref(rsp);
        g_usleep(20 * 1000);
    }
    qtest_qmp_eventwait(dst->qts, "RESUME");

    /* Take over the drivers; guest memory, rings and BARs came along */
    dst->alloc = src->alloc;
    memset(&src->alloc, 0, sizeof(src->alloc));
    dst->bus = qpci_new_pc(dst->qts, &dst->alloc);
    dst->bus->mmio_alloc_ptr = src->bus->mmio_alloc_ptr;
    dst->rp = qpci_device_find(dst->bus, RP_DEVFN);
    dst->pf = qpci_device_find(dst->bus, PF_DEVFN);
    g_assert(dst->pf);
    dst->sriov = src->sriov;
    dst->sriov.pf = dst->pf;
    dst->idbus = qpci_sriov_id_bus_new(&dst->sriov);
    g_assert(qpci_sriov_is_enabled(&dst->sriov));
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&dst->sriov), ==, 3);
    assert_vfs_present(dst, 3);

    dst->pfnet = src->pfnet;
    src->pfnet = NULL;
    dst->pfnet->dev.pdev->bus = dst->bus;
    dst->pfnet->sock = dst->pf_sock;
    for (n = 0; n < 3; n++) {
        assert_vf_config(dst, n);
        dst->vf[n] = src->vf[n];
        src->vf[n] = NULL;
        dst->vf[n]->dev.pdev->bus = dst->idbus;
        dst->vf[n]->sock = dst->vf_sock[n];
        vnet_check_mac(dst->vf[n]);
        g_assert_cmphex(qvirtio_get_features(&dst->vf[n]->dev.vdev) &
                        (1ull << VIRTIO_F_VERSION_1), !=, 0);
    }
    check_isolation(dst, idx, 4, 8100);

    rig_free(dst);
    rig_free(src);
    unlink(sock);
    rmdir(tmp);
}

/* Invalid compositions: QEMU must refuse to start, and say why */

typedef struct BadCase {
    const char *name;
    const char *args;
    const char *error;
} BadCase;

#define RP  "-M q35 -nodefaults -device pcie-root-port,id=rp0,chassis=1 "
#define VF(fn) "-device virtio-net-pci,bus=rp0,addr=" fn ",sriov-pf=pf0 "
#define PF(fn) "-device virtio-net-pci,bus=rp0,addr=" fn ",id=pf0 "

static const BadCase bad_cases[] = {
    { "pf-before-vfs", RP PF("0.0") VF("0.1"),
      "PCI device specified as SR-IOV PF already exists" },
    { "vf-below-pf", RP VF("0.1") PF("0.2"),
      "a VF function number is less than the PF function number" },
    { "stride", RP VF("0.1") VF("0.2") VF("0.4") PF("0.0"),
      "inconsistent SR-IOV stride" },
    { "missing-pf", RP VF("0.1") VF("0.2"),
      "SR-IOV PF 'pf0' of the VF at rp0:00.1 not found: no PCI device with this id "
      "was added after the VFs" },
    { "missing-pf-typo", RP VF("0.1") "-device virtio-net-pci,bus=rp0,"
      "addr=0.0,id=pf1 ", "SR-IOV PF 'pf0' of the VF at rp0:00.1 not found" },
    { "pf-not-pci", RP VF("0.1") "-object memory-backend-ram,id=pf0,size=1M ",
      "SR-IOV PF 'pf0' of the VF at rp0:00.1 not found" },
    { "pf-not-pcie", "-M q35 -nodefaults -device pcie-pci-bridge,id=br "
      "-device virtio-net-pci,bus=br,addr=1.1,sriov-pf=pf0 "
      "-device virtio-net-pci,bus=br,addr=1.0,id=pf0 ",
      "PCI Express is required for SR-IOV VF" },
    { "pf-e1000e", RP VF("0.1") "-device e1000e,bus=rp0,addr=0.0,id=pf0 ",
      "attaching user-created SR-IOV VF unsupported" },
    { "pf-igb", RP VF("0.1") "-device igb,bus=rp0,addr=0.0,id=pf0 ",
      "attaching user-created SR-IOV VF unsupported" },
    { "pf-virtio-blk", RP VF("0.1") "-drive if=none,id=d0,"
      "file=null-co://,format=raw -device virtio-blk-pci,bus=rp0,addr=0.0,"
      "id=pf0,drive=d0 ", "SR-IOV VF class code mismatches with PF" },
    { "vf-virtio-blk", RP "-drive if=none,id=d0,file=null-co://,format=raw "
      "-device virtio-blk-pci,bus=rp0,addr=0.1,sriov-pf=pf0,drive=d0 "
      PF("0.0"), "user cannot create SR-IOV VF with this device type" },
    { "vf-igb", RP "-device igb,bus=rp0,addr=0.1,sriov-pf=pf0 " PF("0.0"),
      "a device cannot be a SR-IOV PF and a VF at the same time" },
    { "vf-other-bus", RP "-device pcie-root-port,id=rp1,chassis=2 "
      VF("0.1") "-device virtio-net-pci,bus=rp1,addr=0.2,sriov-pf=pf0 "
      PF("0.0"), "SR-IOV VF parent bus mismatches with PF" },
    { "vf-bars", RP VF("0.1") "-device virtio-net-pci,bus=rp0,addr=0.2,"
      "sriov-pf=pf0,vectors=0 " PF("0.0"), "inconsistent SR-IOV BARs" },
};

/* Run QEMU with @args; return its exit status and what it said on stderr */
static int run_qemu(const char *args, char **err)
{
    g_autofree char *cmd = g_strdup_printf("%s -display none -S -qtest null "
                                           "-monitor none -serial none %s",
                                           qtest_qemu_binary(NULL), args);
    g_auto(GStrv) argv = NULL;
    GString *buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GError *error = NULL;
    GPid pid;
    int fd, status;

    g_assert(g_shell_parse_argv(cmd, NULL, &argv, &error));
    g_assert(g_spawn_async_with_pipes(NULL, argv, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD |
                                      G_SPAWN_STDOUT_TO_DEV_NULL |
                                      G_SPAWN_STDIN_FROM_DEV_NULL,
                                      NULL, NULL, &pid, NULL, NULL, &fd,
                                      &error));
    g_assert_no_error(error);

    /* stderr closes when QEMU exits; one that starts up is killed */
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char chunk[512];
        ssize_t n;
        int left = (deadline - g_get_monotonic_time()) / 1000;

        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            kill(pid, SIGKILL);
            g_string_append(buf, "[started up: killed]");
            break;
        }
        n = read(fd, chunk, sizeof(chunk));
        if (n <= 0) {
            break;
        }
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_spawn_close_pid(pid);
    *err = g_string_free(buf, false);
    return status;
}

static void test_bad(const void *data)
{
    const BadCase *c = data;
    g_autofree char *err = NULL;
    int status = run_qemu(c->args, &err);

    g_test_message("%s: %s", c->name, err);
    /* Refused with exit status 1, not crashed nor started */
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, c->error));
}

/* The documented composition starts, as a check on the cases above */
static void test_good_cmdline(void)
{
    g_autofree char *err = NULL;
    int status = run_qemu(RP VF("0.3") VF("0.2") VF("0.1") PF("0.0"), &err);

    g_assert(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    g_assert_nonnull(strstr(err, "[started up: killed]"));
}

int main(int argc, char **argv)
{
    static const int counts[] = { 1, 3, MAX_VFS_NO_ARI };
    size_t i;

    g_test_init(&argc, &argv, NULL);

    for (i = 0; i < ARRAY_SIZE(counts); i++) {
        g_autofree char *c = g_strdup_printf("/virtio-net-sriov/cap/%d",
                                             counts[i]);
        g_autofree char *d = g_strdup_printf("/virtio-net-sriov/datapath/%d",
                                             counts[i]);

        qtest_add_data_func(c, GINT_TO_POINTER(counts[i]), test_cap);
        qtest_add_data_func(d, GINT_TO_POINTER(counts[i]), test_datapath);
    }
    qtest_add_func("/virtio-net-sriov/ari-max", test_ari_max);
    qtest_add_func("/virtio-net-sriov/reenable", test_reenable);
    qtest_add_func("/virtio-net-sriov/system-reset", test_system_reset);
    qtest_add_func("/virtio-net-sriov/flr", test_flr);
    qtest_add_func("/virtio-net-sriov/vf-mq-rss", test_vf_mq_rss);
    qtest_add_func("/virtio-net-sriov/unplug", test_unplug);
    qtest_add_func("/virtio-net-sriov/migrate", test_migrate);
    qtest_add_func("/virtio-net-sriov/good-cmdline", test_good_cmdline);
    for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        g_autofree char *p = g_strdup_printf("/virtio-net-sriov/bad/%s",
                                             bad_cases[i].name);

        qtest_add_data_func(p, &bad_cases[i], test_bad);
    }
    return g_test_run();
}

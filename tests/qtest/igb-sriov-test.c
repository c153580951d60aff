/*
 * QTest cases for the SR-IOV virtual functions of the igb (82576) model
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The PF sits at function 0 behind a PCIe root port on q35, so its VFs
 * (offset 0x80, stride 2) live on the root port's secondary bus as ARI
 * functions.  No firmware runs under qtest, so the test assigns bus
 * numbers, opens the root port's windows and turns on ECAM itself.
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/pci-sriov.h"
#include "libqos/rss-ref.h"
#include "qobject/qdict.h"
#include "qemu/bitops.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "hw/net/igb_regs.h"
#include "hw/net/mii.h"
#include "net/eth.h"

#define IGB_SRIOV_TOTAL_VFS     8       /* IGB_MAX_VF_FUNCTIONS */
#define IGB_SRIOV_VF_OFFSET     0x80
#define IGB_SRIOV_VF_STRIDE     2
#define IGB_SRIOV_CAP_OFFSET    0x160
#define IGBVF_MSIX_VECTORS      3
#define IGBVF_REGS_BAR          0
#define IGBVF_MSIX_BAR          3
#define IGBVF_REGS_SIZE         (16 * 1024)

/* Window of the root port; libqos' PC allocator hands out BARs from here */
#define RP_WINDOW_BASE          0xe0000000ULL
#define RP_WINDOW_SIZE          0x10000000ULL

/* Secondary bus number qpci_secondary_buses_init() gives the root port */
#define IGB_BUS                 1
#define IGB_PF_DEVFN            (IGB_BUS << 8)

/* Guest RAM the test uses as MSI-X message target */
#define MSIX_TARGET             0x100000ULL

/* VF-relative register offsets: the VF sees queue/mailbox 0 as its own */
#define VF_CTRL                 E1000_CTRL
#define VF_STATUS               E1000_STATUS
#define VF_MAILBOX              E1000_V2PMAILBOX(0)
#define VF_MBMEM                E1000_VMBMEM(0)
#define VF_EICS                 E1000_EICS
#define VF_EIMS                 E1000_EIMS
#define VF_IVAR_MISC            E1000_IVAR_MISC
#define VF_RDBAL0               E1000_RDBAL_A(0)
#define MBX_WORDS               E1000_V2PMAILBOX_SIZE

/* Bits 0..n set: the VFs reset so far */
#define BIT_MASK_UPTO(n)        MAKE_64BIT_MASK(0, (n) + 1)

typedef struct IgbSriov {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *rp;
    QPCIDevice *pf;
    QPCIBar pf_regs;
    QPCISriov sriov;
    int sock[2];
} IgbSriov;

static char *igb_sriov_cmdline(int fd, const char *extra)
{
    return g_strdup_printf("-M q35 -nodefaults "
                           "-device pcie-root-port,id=rp0,bus=pcie.0,"
                           "chassis=1,addr=0x2 "
                           "-netdev socket,id=hs0,fd=%d "
                           "-device igb,id=pf0,bus=rp0,addr=0x0,netdev=hs0 %s",
                           fd, extra ? extra : "");
}

/* Start QEMU and find the PF; no guest visible state is changed. */
static void igb_sriov_launch(IgbSriov *t, const char *extra)
{
    g_autofree char *args = NULL;
    int ret;

    memset(t, 0, sizeof(*t));
    ret = socketpair(PF_UNIX, SOCK_STREAM, 0, t->sock);
    g_assert_cmpint(ret, ==, 0);

    args = igb_sriov_cmdline(t->sock[1], extra);
    t->qts = qtest_init(args);
    t->bus = qpci_new_pc(t->qts, NULL);
}

static void igb_sriov_bind(IgbSriov *t)
{
    t->rp = qpci_device_find(t->bus, QPCI_DEVFN(2, 0));
    g_assert(t->rp);
    t->pf = qpci_device_find(t->bus, IGB_PF_DEVFN);
    g_assert(t->pf);
}

/* Do what firmware and a PF driver do before touching SR-IOV. */
static void igb_sriov_start_args(IgbSriov *t, const char *extra)
{
    igb_sriov_launch(t, extra);

    qpci_q35_enable_ecam(t->bus, QPCI_Q35_ECAM_BASE);
    g_assert_cmpint(qpci_secondary_buses_init(t->bus), ==, IGB_BUS);
    igb_sriov_bind(t);

    t->bus->mmio_alloc_ptr = RP_WINDOW_BASE;
    t->bus->mmio_limit = RP_WINDOW_BASE + RP_WINDOW_SIZE;
    qpci_bridge_open_windows(t->rp, RP_WINDOW_BASE, RP_WINDOW_SIZE);

    g_assert_cmphex(qpci_config_readw(t->pf, PCI_VENDOR_ID), ==,
                    PCI_VENDOR_ID_INTEL);
    g_assert_cmphex(qpci_config_readw(t->pf, PCI_DEVICE_ID), ==,
                    E1000_DEV_ID_82576);
    qpci_device_enable(t->pf);
    t->pf_regs = qpci_iomap(t->pf, 0, NULL);

    g_assert(qpci_sriov_init(&t->sriov, t->pf, QPCI_Q35_ECAM_BASE));
    qpci_sriov_map_bars(&t->sriov);
}

static void igb_sriov_start(IgbSriov *t)
{
    igb_sriov_start_args(t, NULL);
}

static void igb_sriov_stop(IgbSriov *t)
{
    g_free(t->pf);
    g_free(t->rp);
    if (t->bus) {
        qpci_free_pc(t->bus);
    }
    if (t->qts) {
        qtest_quit(t->qts);
    }
    close(t->sock[0]);
    close(t->sock[1]);
    memset(t, 0, sizeof(*t));
}

static uint32_t pf_rd(IgbSriov *t, uint32_t reg)
{
    return qpci_io_readl(t->pf, t->pf_regs, reg);
}

static void pf_wr(IgbSriov *t, uint32_t reg, uint32_t val)
{
    qpci_io_writel(t->pf, t->pf_regs, reg, val);
}

static uint32_t vf_rd(IgbSriov *t, QPCIDevice *vf, int n, uint32_t reg)
{
    return qpci_io_readl(vf, qpci_sriov_vf_bar(&t->sriov, n, IGBVF_REGS_BAR),
                         reg);
}

static void vf_wr(IgbSriov *t, QPCIDevice *vf, int n, uint32_t reg,
                  uint32_t val)
{
    qpci_io_writel(vf, qpci_sriov_vf_bar(&t->sriov, n, IGBVF_REGS_BAR),
                   reg, val);
}

/* Enable @num VFs and make sure that worked. */
static void enable_vfs(IgbSriov *t, uint16_t num)
{
    qpci_sriov_set_num_vfs(&t->sriov, num);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&t->sriov), ==, num);
    g_assert_true(qpci_sriov_set_enable(&t->sriov, true));
}

/* A VF ready for MMIO; free with g_free(). */
static QPCIDevice *get_vf(IgbSriov *t, int n)
{
    QPCIDevice *vf = qpci_sriov_get_vf(&t->sriov, n);

    g_assert_nonnull(vf);
    qpci_sriov_vf_enable_decoding(vf);
    return vf;
}

/* Count the functions answering on the root port's secondary bus. */
static int count_functions(IgbSriov *t)
{
    int devfn, count = 0;

    for (devfn = 0; devfn < 256; devfn++) {
        if (qpci_function_present(t->bus, (IGB_BUS << 8) | devfn)) {
            count++;
        }
    }
    return count;
}

static bool qemu_alive(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
    bool ok = rsp && qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return ok;
}

static void test_capability(void)
{
    IgbSriov t;
    int i;

    igb_sriov_start(&t);

    g_assert_cmphex(t.sriov.cap, ==, IGB_SRIOV_CAP_OFFSET);
    g_assert_cmpuint(t.sriov.total_vfs, ==, IGB_SRIOV_TOTAL_VFS);
    g_assert_cmpuint(t.sriov.initial_vfs, ==, IGB_SRIOV_TOTAL_VFS);
    g_assert_cmphex(t.sriov.vf_offset, ==, IGB_SRIOV_VF_OFFSET);
    g_assert_cmphex(t.sriov.vf_stride, ==, IGB_SRIOV_VF_STRIDE);
    g_assert_cmphex(t.sriov.vf_device_id, ==, E1000_DEV_ID_82576_VF);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&t.sriov), ==, 0);
    g_assert_false(qpci_sriov_is_enabled(&t.sriov));

    /* VF BAR 0 (registers) and 3 (MSI-X), both 64-bit, 16 KiB each */
    for (i = 0; i < QPCI_SRIOV_NUM_BARS; i++) {
        switch (i) {
        case IGBVF_REGS_BAR:
        case IGBVF_MSIX_BAR:
            g_assert_cmphex(t.sriov.bar_size[i], ==, IGBVF_REGS_SIZE);
            g_assert_true(t.sriov.bar_is_64[i]);
            g_assert_cmphex(t.sriov.bar_addr[i] % IGBVF_REGS_SIZE, ==, 0);
            break;
        default:
            g_assert_cmphex(t.sriov.bar_size[i], ==, 0);
        }
    }

    /* Nothing but the PF is there before VF Enable */
    g_assert_cmpint(count_functions(&t), ==, 1);

    igb_sriov_stop(&t);
}

static void test_enumerate(void)
{
    IgbSriov t;
    uint16_t num, i;

    igb_sriov_start(&t);

    for (num = 1; num <= t.sriov.total_vfs; num++) {
        enable_vfs(&t, num);

        for (i = 0; i < t.sriov.total_vfs; i++) {
            int devfn = qpci_sriov_vf_devfn(&t.sriov, i);
            QPCIDevice *vf = qpci_sriov_get_vf(&t.sriov, i);

            g_assert_cmphex(devfn, ==, IGB_PF_DEVFN + IGB_SRIOV_VF_OFFSET +
                            i * IGB_SRIOV_VF_STRIDE);
            if (i >= num) {
                g_assert_null(vf);
                continue;
            }
            g_assert_nonnull(vf);
            /* Vendor and Device ID of a VF read as all ones (SR-IOV 3.4.1) */
            g_assert_cmphex(qpci_config_readw(vf, PCI_VENDOR_ID), ==, 0xffff);
            g_assert_cmphex(qpci_config_readw(vf, PCI_DEVICE_ID), ==, 0xffff);
            g_assert_cmphex(qpci_config_readw(vf, PCI_CLASS_DEVICE), ==,
                            PCI_CLASS_NETWORK_ETHERNET);
            g_assert_cmphex(qpci_find_ext_capability(vf, t.sriov.ecam,
                                                     PCI_EXT_CAP_ID_ARI),
                            !=, 0);
            g_free(vf);
        }
        /* Exactly the PF plus the enabled VFs, nothing anywhere else */
        g_assert_cmpint(count_functions(&t), ==, 1 + num);
        /* The VF device ID stays what the PF advertises */
        g_assert_cmphex(qpci_sriov_readw(&t.sriov, PCI_SRIOV_VF_DID), ==,
                        E1000_DEV_ID_82576_VF);

        g_assert_false(qpci_sriov_set_enable(&t.sriov, false));
        g_assert_cmpint(count_functions(&t), ==, 1);
    }

    igb_sriov_stop(&t);
}

/* NumVFs > TotalVFs must not enable anything (nor crash QEMU). */
static void test_numvfs_too_big(void)
{
    IgbSriov t;
    uint16_t bad;

    igb_sriov_start(&t);

    for (bad = t.sriov.total_vfs + 1; bad; bad <<= 1) {
        qpci_sriov_set_num_vfs(&t.sriov, bad);
        g_assert_false(qpci_sriov_set_enable(&t.sriov, true));
        g_assert_cmpint(count_functions(&t), ==, 1);
        g_assert_true(qemu_alive(t.qts));
    }

    /* A sane value works again afterwards */
    enable_vfs(&t, 2);
    g_assert_cmpint(count_functions(&t), ==, 3);

    igb_sriov_stop(&t);
}

/*
 * CVE-2025-54567: the VF Enable bit was acted upon from the written value
 * instead of through its write mask, so VF Enable could be "set" while it
 * is masked off because NumVFs > TotalVFs, registering VFs past the end
 * of the VF array.  Poke the bit with every access size that covers it.
 */
static void test_cve_2025_54567_vfe_mask(void)
{
    IgbSriov t;
    QPCIDevice *vf;
    uint16_t cap;

    igb_sriov_start(&t);
    cap = t.sriov.cap;

    qpci_sriov_set_num_vfs(&t.sriov, t.sriov.total_vfs + 1);

    qtest_writeb(t.qts, QPCI_Q35_ECAM_BASE + (IGB_PF_DEVFN << 12) +
                 cap + PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_VFE);
    g_assert_false(qpci_sriov_is_enabled(&t.sriov));
    qpci_sriov_writew(&t.sriov, PCI_SRIOV_CTRL,
                      PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    g_assert_false(qpci_sriov_is_enabled(&t.sriov));
    /* Control and Status share a dword */
    qpci_sriov_writel(&t.sriov, PCI_SRIOV_CTRL, 0xffff0000 |
                      PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    g_assert_false(qpci_sriov_is_enabled(&t.sriov));
    g_assert_cmpint(count_functions(&t), ==, 1);
    g_assert_true(qemu_alive(t.qts));

    /* Conversely NumVFs is frozen while VF Enable is set (SR-IOV 3.3.7) */
    enable_vfs(&t, 3);
    qpci_sriov_set_num_vfs(&t.sriov, t.sriov.total_vfs + 1);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&t.sriov), ==, 3);
    qpci_sriov_set_num_vfs(&t.sriov, 1);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&t.sriov), ==, 3);
    g_assert_cmpint(count_functions(&t), ==, 4);

    /* Writes elsewhere in the capability leave the VFs alone */
    qpci_sriov_writew(&t.sriov, PCI_SRIOV_SYS_PGSIZE, 1);
    g_assert_true(qpci_sriov_is_enabled(&t.sriov));
    vf = qpci_sriov_get_vf(&t.sriov, 2);
    g_assert_nonnull(vf);
    g_free(vf);

    g_assert_false(qpci_sriov_set_enable(&t.sriov, false));
    g_assert_cmpint(count_functions(&t), ==, 1);

    igb_sriov_stop(&t);
}

static void test_vf_bars(void)
{
    IgbSriov t;
    QPCIDevice *vf[IGB_SRIOV_TOTAL_VFS];
    const uint16_t num = 4;
    uint32_t pf_status;
    int i;

    igb_sriov_start(&t);
    pf_status = pf_rd(&t, E1000_STATUS);
    g_assert_cmphex(pf_status, !=, 0);
    g_assert_cmphex(pf_status, !=, 0xffffffff);

    /* VF BARs do not decode before VF Enable */
    g_assert_cmphex(qtest_readl(t.qts, t.sriov.bar_addr[IGBVF_REGS_BAR] +
                                VF_STATUS), !=, pf_status);

    enable_vfs(&t, num);
    /* The PF reports IOV mode and the number of VFs in STATUS */
    g_assert_cmphex(pf_rd(&t, E1000_STATUS), ==, pf_status |
                    E1000_STATUS_IOV_MODE |
                    (num << E1000_STATUS_NUM_VFS_SHIFT));
    pf_status = pf_rd(&t, E1000_STATUS);

    for (i = 0; i < num; i++) {
        vf[i] = get_vf(&t, i);
        /* The VF's own BAR registers are read-only zero */
        qpci_config_writel(vf[i], PCI_BASE_ADDRESS_0, 0xffffffff);
        g_assert_cmphex(qpci_config_readl(vf[i], PCI_BASE_ADDRESS_0), ==, 0);
    }

    for (i = 0; i < num; i++) {
        /* STATUS is shared with the PF */
        g_assert_cmphex(vf_rd(&t, vf[i], i, VF_STATUS), ==, pf_status);
        /* Queue 0 of VF i is queue i of the PF: each BAR is its own VF */
        vf_wr(&t, vf[i], i, VF_RDBAL0, 0x12340000 + (i << 8));
    }
    for (i = 0; i < num; i++) {
        g_assert_cmphex(pf_rd(&t, E1000_RDBAL(i)), ==, 0x12340000 + (i << 8));
        g_assert_cmphex(vf_rd(&t, vf[i], i, VF_RDBAL0), ==,
                        0x12340000 + (i << 8));
    }

    /* Disabling VFs takes the BARs away again */
    g_assert_false(qpci_sriov_set_enable(&t.sriov, false));
    for (i = 0; i < num; i++) {
        g_assert_cmphex(qtest_readl(t.qts, t.sriov.bar_addr[IGBVF_REGS_BAR] +
                                    i * IGBVF_REGS_SIZE + VF_STATUS),
                        !=, pf_status);
        g_free(vf[i]);
    }

    igb_sriov_stop(&t);
}

/* VF -> PF: message, REQ, PF sees it, PF ACKs, VF sees PFACK once. */
static void test_mailbox_vf_to_pf(void)
{
    IgbSriov t;
    const uint16_t num = 7;
    int n, w;

    igb_sriov_start(&t);
    enable_vfs(&t, num);
    pf_rd(&t, E1000_ICR);   /* clear */

    for (n = 0; n < num; n++) {
        QPCIDevice *vf = get_vf(&t, n);

        /* VF takes the buffer, writes a message, releases it */
        vf_wr(&t, vf, n, VF_MAILBOX, E1000_V2PMAILBOX_VFU);
        g_assert_cmphex(pf_rd(&t, E1000_P2VMAILBOX(n)) &
                        E1000_P2VMAILBOX_VFU, ==, E1000_P2VMAILBOX_VFU);
        /* ... and the PF cannot grab it meanwhile */
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_PFU);
        g_assert_cmphex(pf_rd(&t, E1000_P2VMAILBOX(n)) &
                        E1000_P2VMAILBOX_PFU, ==, 0);
        for (w = 0; w < MBX_WORDS; w++) {
            vf_wr(&t, vf, n, VF_MBMEM + w * 4, 0xa5000000 | (n << 8) | w);
        }
        g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==, 0);
        vf_wr(&t, vf, n, VF_MAILBOX, E1000_V2PMAILBOX_REQ);
        g_assert_cmphex(pf_rd(&t, E1000_P2VMAILBOX(n)) &
                        E1000_P2VMAILBOX_VFU, ==, 0);

        /* The PF sees the request of exactly this VF, and the message */
        g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==,
                        E1000_MBVFICR_VFREQ_VF1 << n);
        g_assert_cmphex(pf_rd(&t, E1000_ICR) & E1000_ICR_VMMB, ==,
                        E1000_ICR_VMMB);
        for (w = 0; w < MBX_WORDS; w++) {
            g_assert_cmphex(pf_rd(&t, E1000_VMBMEM(n) + w * 4), ==,
                            0xa5000000 | (n << 8) | w);
        }

        /* PF acks; the VF sees PFACK, read-to-clear */
        pf_wr(&t, E1000_MBVFICR, E1000_MBVFICR_VFREQ_VF1 << n);
        g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==, 0);
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_ACK);
        g_assert_cmphex(vf_rd(&t, vf, n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFACK, ==, E1000_V2PMAILBOX_PFACK);
        g_assert_cmphex(vf_rd(&t, vf, n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFACK, ==, 0);
        g_free(vf);
    }

    igb_sriov_stop(&t);
}

/* PF -> VF: RSTI/RSTD handshake, message, STS -> PFSTS, VF ACK. */
static void test_mailbox_pf_to_vf(void)
{
    IgbSriov t;
    const uint16_t num = 3;
    QPCIDevice *vf[3];
    uint32_t mbx;
    int n, w;

    igb_sriov_start(&t);
    enable_vfs(&t, num);

    for (n = 0; n < num; n++) {
        vf[n] = get_vf(&t, n);
        /* Until the PF driver is up the VFs see "PF reset in progress" */
        mbx = vf_rd(&t, vf[n], n, VF_MAILBOX);
        g_assert_cmphex(mbx & E1000_V2PMAILBOX_RSTI, ==,
                        E1000_V2PMAILBOX_RSTI);
        g_assert_cmphex(mbx & E1000_V2PMAILBOX_RSTD, ==, 0);
    }
    pf_wr(&t, E1000_CTRL_EXT,
          pf_rd(&t, E1000_CTRL_EXT) | E1000_CTRL_EXT_PFRSTD);
    for (n = 0; n < num; n++) {
        mbx = vf_rd(&t, vf[n], n, VF_MAILBOX);
        g_assert_cmphex(mbx & (E1000_V2PMAILBOX_RSTI | E1000_V2PMAILBOX_RSTD),
                        ==, E1000_V2PMAILBOX_RSTD);
        /* RSTD is read-to-clear */
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_RSTD, ==, 0);
    }

    for (n = 0; n < num; n++) {
        /* PF owns the buffer: the VF cannot take it */
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_PFU);
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFU, ==, E1000_V2PMAILBOX_PFU);
        vf_wr(&t, vf[n], n, VF_MAILBOX, E1000_V2PMAILBOX_VFU);
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_VFU, ==, 0);

        for (w = 0; w < MBX_WORDS; w++) {
            pf_wr(&t, E1000_VMBMEM(n) + w * 4, 0x5a000000 | (n << 8) | w);
        }
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFSTS, ==, 0);
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_STS);
    }

    for (n = 0; n < num; n++) {
        mbx = vf_rd(&t, vf[n], n, VF_MAILBOX);
        g_assert_cmphex(mbx & E1000_V2PMAILBOX_PFSTS, ==,
                        E1000_V2PMAILBOX_PFSTS);
        /* STS without PFU released the buffer */
        g_assert_cmphex(mbx & E1000_V2PMAILBOX_PFU, ==, 0);
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFSTS, ==, 0);
        /* Each VF reads its own message through its window */
        for (w = 0; w < MBX_WORDS; w++) {
            g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MBMEM + w * 4), ==,
                            0x5a000000 | (n << 8) | w);
        }
        vf_wr(&t, vf[n], n, VF_MAILBOX, E1000_V2PMAILBOX_ACK);
        g_assert_cmphex(pf_rd(&t, E1000_MBVFICR) &
                        (E1000_MBVFICR_VFACK_VF1 << n), ==,
                        E1000_MBVFICR_VFACK_VF1 << n);
    }
    g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==,
                    (E1000_MBVFICR_VFACK_VF1 << num) -
                    E1000_MBVFICR_VFACK_VF1);
    for (n = 0; n < num; n++) {
        g_free(vf[n]);
    }

    igb_sriov_stop(&t);
}

/* VF reset (CTRL.RST) must reach the PF through VFLRE and the mailbox IRQ */
static void test_vf_reset(void)
{
    IgbSriov t;
    const uint16_t num = 4;
    int n;

    igb_sriov_start(&t);
    enable_vfs(&t, num);
    pf_wr(&t, E1000_VFRE, 0xff);
    pf_wr(&t, E1000_VFTE, 0xff);
    pf_wr(&t, E1000_VFLRE, 0xff);
    pf_rd(&t, E1000_ICR);

    for (n = 0; n < num; n++) {
        QPCIDevice *vf = get_vf(&t, n);

        g_assert_cmphex(pf_rd(&t, E1000_VFLRE), ==, 0);
        vf_wr(&t, vf, n, VF_CTRL, E1000_CTRL_RST);

        g_assert_cmphex(pf_rd(&t, E1000_VFLRE), ==, BIT(n));
        g_assert_cmphex(pf_rd(&t, E1000_ICR) & E1000_ICR_VMMB, ==,
                        E1000_ICR_VMMB);
        /* The reset VF's RX/TX got disabled, nobody else's */
        g_assert_cmphex(pf_rd(&t, E1000_VFRE), ==, 0xff & ~BIT_MASK_UPTO(n));
        g_assert_cmphex(pf_rd(&t, E1000_VFTE), ==, 0xff & ~BIT_MASK_UPTO(n));

        pf_wr(&t, E1000_VFLRE, BIT(n));     /* write 1 to clear */
        g_free(vf);
    }
    g_assert_cmphex(pf_rd(&t, E1000_VFLRE), ==, 0);

    igb_sriov_stop(&t);
}

/* Point every MSI-X vector of the VF at its own word of guest RAM. */
static uint64_t vf_msix_setup(IgbSriov *t, QPCIDevice *vf, int n)
{
    uint64_t target = MSIX_TARGET + n * 0x100;
    int v;

    qpci_sriov_vf_msix_enable(&t->sriov, vf, n);
    g_assert_cmpuint(qpci_msix_table_size(vf), ==, IGBVF_MSIX_VECTORS);
    qtest_memset(t->qts, target, 0, 0x100);

    for (v = 0; v < IGBVF_MSIX_VECTORS; v++) {
        uint64_t entry = vf->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

        qpci_io_writel(vf, vf->msix_table_bar,
                       entry + PCI_MSIX_ENTRY_LOWER_ADDR, target + v * 4);
        qpci_io_writel(vf, vf->msix_table_bar,
                       entry + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        qpci_io_writel(vf, vf->msix_table_bar,
                       entry + PCI_MSIX_ENTRY_DATA, 0xfee10000 | (n << 4) | v);
        qpci_io_writel(vf, vf->msix_table_bar,
                       entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
    return target;
}

static uint32_t msix_seen(IgbSriov *t, uint64_t target)
{
    uint32_t seen = 0;
    int v;

    for (v = 0; v < IGBVF_MSIX_VECTORS; v++) {
        uint32_t data = qtest_readl(t->qts, target + v * 4);

        if (data) {
            g_assert_cmphex(data & 0xffff000f, ==, 0xfee10000 | v);
            seen |= BIT(v);
        }
    }
    return seen;
}

/* VF EICS raises exactly the VF vector written, as an MSI-X message */
static void test_vf_msix(void)
{
    IgbSriov t;
    const uint16_t num = 3;
    int n, v;

    igb_sriov_start(&t);
    enable_vfs(&t, num);
    pf_wr(&t, E1000_GPIE, E1000_GPIE_MSIX_MODE);

    for (n = 0; n < num; n++) {
        QPCIDevice *vf = get_vf(&t, n);
        uint64_t target = vf_msix_setup(&t, vf, n);

        vf_wr(&t, vf, n, VF_EIMS, BIT(IGBVF_MSIX_VECTORS) - 1);
        for (v = 0; v < IGBVF_MSIX_VECTORS; v++) {
            g_assert_cmphex(msix_seen(&t, target), ==, BIT(v) - 1);
            vf_wr(&t, vf, n, VF_EICS, BIT(v));
            g_assert_cmphex(msix_seen(&t, target), ==, BIT(v + 1) - 1);
            g_assert_false(qpci_msix_pending(vf, v));
        }
        g_free(vf);
    }
    /* Nothing leaked to VFs that did not ask */
    for (n = 0; n < num; n++) {
        g_assert_cmphex(msix_seen(&t, MSIX_TARGET + n * 0x100), ==,
                        BIT(IGBVF_MSIX_VECTORS) - 1);
    }

    igb_sriov_stop(&t);
}

/*
 * A PF message (STS) interrupts the VF on the vector the VF programmed in
 * its IVAR_MISC.  igb used to shift the vector *number* into the cause
 * register instead of a bit for it, so vector 0 never fired and vector 2
 * arrived as vector 1.
 */
static void test_vf_mailbox_irq(void)
{
    IgbSriov t;
    const uint16_t num = 3;
    int n;

    igb_sriov_start(&t);
    enable_vfs(&t, num);
    pf_wr(&t, E1000_GPIE, E1000_GPIE_MSIX_MODE);

    for (n = 0; n < num; n++) {
        QPCIDevice *vf = get_vf(&t, n);
        uint64_t target = vf_msix_setup(&t, vf, n);
        int v = (n + 2) % IGBVF_MSIX_VECTORS;   /* 2, 0, 1 */

        vf_wr(&t, vf, n, VF_EIMS, BIT(IGBVF_MSIX_VECTORS) - 1);
        vf_wr(&t, vf, n, VF_IVAR_MISC, E1000_IVAR_VALID | v);

        pf_wr(&t, E1000_VMBMEM(n), 0x1234);
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_STS);
        g_assert_cmphex(msix_seen(&t, target), ==, BIT(v));
        g_assert_cmphex(vf_rd(&t, vf, n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_PFSTS, ==, E1000_V2PMAILBOX_PFSTS);
        g_free(vf);
    }

    igb_sriov_stop(&t);
}

/* Migrate @src into a new QEMU (returned in @dst) through a file. */
static void migrate(IgbSriov *src, IgbSriov *dst)
{
    g_autofree char *dir = g_dir_make_tmp("igb-sriov-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "state", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    g_autofree char *incoming = g_strdup_printf("-incoming %s", uri);
    QTestState *qts;
    int i;

    g_assert(dir);
    qtest_qmp_assert_success(src->qts,
                             "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);

    for (qts = src->qts, i = 0; i < 2; qts = dst->qts, i++) {
        for (;;) {
            QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
            QDict *ret = qdict_get_qdict(rsp, "return");
            const char *status = ret ? qdict_get_try_str(ret, "status")
                                     : NULL;
            bool done = !g_strcmp0(status, "completed");

            g_assert_cmpstr(status, !=, "failed");
            qobject_unref(rsp);
            if (done) {
                break;
            }
            g_usleep(10 * 1000);
        }
        if (!i) {
            igb_sriov_launch(dst, incoming);
        }
    }

    unlink(path);
    rmdir(dir);

    /* The guest-visible setup came along; only rebind our handles */
    igb_sriov_bind(dst);
    dst->pf_regs = src->pf_regs;
    dst->sriov = src->sriov;
    dst->sriov.pf = dst->pf;
}

/*
 * CVE-2025-54566: post_load registered the VFs whether or not VF Enable
 * was set, trusting NumVFs; with NumVFs > TotalVFs in the stream that
 * overran the VF array.  The destination must end up exactly in the
 * state the source was in.
 */
static void test_cve_2025_54566_migration(void)
{
    IgbSriov src, dst;

    igb_sriov_start(&src);
    qpci_sriov_set_num_vfs(&src.sriov, src.sriov.total_vfs + 1);
    g_assert_false(qpci_sriov_set_enable(&src.sriov, true));

    migrate(&src, &dst);
    igb_sriov_stop(&src);

    g_assert_true(qemu_alive(dst.qts));
    g_assert_false(qpci_sriov_is_enabled(&dst.sriov));
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&dst.sriov), ==,
                     dst.sriov.total_vfs + 1);
    g_assert_cmpint(count_functions(&dst), ==, 1);
    /* The write masks were recomputed: VF Enable still cannot be set */
    g_assert_false(qpci_sriov_set_enable(&dst.sriov, true));
    g_assert_cmpint(count_functions(&dst), ==, 1);
    /* and NumVFs is still writable, so the device remains usable */
    enable_vfs(&dst, 2);
    g_assert_cmpint(count_functions(&dst), ==, 3);

    igb_sriov_stop(&dst);
}

/* NumVFs set but VF Enable clear must not come out enabled either */
static void test_migration_disabled(void)
{
    IgbSriov src, dst;

    igb_sriov_start(&src);
    qpci_sriov_set_num_vfs(&src.sriov, 3);

    migrate(&src, &dst);
    igb_sriov_stop(&src);

    g_assert_false(qpci_sriov_is_enabled(&dst.sriov));
    g_assert_cmpint(count_functions(&dst), ==, 1);
    /* NumVFs must still be writable while VF Enable is clear */
    qpci_sriov_set_num_vfs(&dst.sriov, 5);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&dst.sriov), ==, 5);
    g_assert_true(qpci_sriov_set_enable(&dst.sriov, true));
    g_assert_cmpint(count_functions(&dst), ==, 6);

    igb_sriov_stop(&dst);
}

/* Enabled VFs survive migration, with NumVFs still frozen */
static void test_migration_enabled(void)
{
    IgbSriov src, dst;
    QPCIDevice *vf;
    int n;

    igb_sriov_start(&src);
    enable_vfs(&src, 3);

    migrate(&src, &dst);
    igb_sriov_stop(&src);

    g_assert_true(qpci_sriov_is_enabled(&dst.sriov));
    g_assert_cmpint(count_functions(&dst), ==, 4);
    qpci_sriov_set_num_vfs(&dst.sriov, 7);
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&dst.sriov), ==, 3);

    for (n = 0; n < 3; n++) {
        vf = get_vf(&dst, n);
        g_assert_cmphex(vf_rd(&dst, vf, n, VF_STATUS), ==,
                        pf_rd(&dst, E1000_STATUS));
        g_free(vf);
    }

    g_assert_false(qpci_sriov_set_enable(&dst.sriov, false));
    g_assert_cmpint(count_functions(&dst), ==, 1);

    igb_sriov_stop(&dst);
}

/*
 * Traffic through the backend.  The test plays both drivers: it gives
 * each function descriptor rings in guest RAM, feeds frames into the
 * socket netdev and reads what the device transmits from it.
 */

#define RING_DESCS          16
#define DESC_SIZE           16
#define BUF_SIZE            2048
#define RING_AREA           0x400000ULL     /* 8 KiB of rings per queue */
#define BUF_AREA            0x800000ULL     /* 64 KiB of buffers per queue */
#define IGB_QUEUES          16
#define PF_POOL             7               /* the PF's VMDq pool */
#define RX_TIMEOUT_US       (5 * G_USEC_PER_SEC)

typedef struct Ring {
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    bool vf;            /* registers seen through a VF: its queue 0 */
    int q;              /* queue number in the PF's numbering */
    uint64_t rxr, txr, rxb, txb;
    uint32_t rx_next;   /* next descriptor the device fills */
    uint32_t rx_tail;
    uint32_t tx_next;
    /* write-back of the last frame taken */
    uint32_t rss;
    uint16_t pkt_info;
} Ring;

/* A register of the ring's queue, as its function addresses it */
#define QREG(r, name) ((r)->vf ? E1000_##name##_A(0) : E1000_##name((r)->q))

typedef struct Traffic {
    IgbSriov t;
    int num;
    QPCIDevice *vf[IGB_SRIOV_TOTAL_VFS];
    Ring ring[IGB_QUEUES];
    uint32_t active;    /* rings in use, by queue number */
} Traffic;

/* Not the device's permanent MAC, so that a reset is visible in RA[0] */
static const uint8_t pf_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0xab, 0xcd, 0x01 };
static const uint8_t peer_mac[ETH_ALEN] = { 0x02, 0, 0, 0, 0x99, 0x99 };
static const uint8_t bcast_mac[ETH_ALEN] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};

static void vf_mac(uint8_t *mac, int n)
{
    static const uint8_t base[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x10, 0 };

    memcpy(mac, base, ETH_ALEN);
    mac[5] = n;
}

static void ring_wr(Ring *r, uint32_t reg, uint32_t val)
{
    qpci_io_writel(r->dev, r->bar, reg, val);
}

static void rx_arm(Ring *r, uint32_t i)
{
    uint64_t desc = r->rxr + i * DESC_SIZE;

    qtest_writeq(r->qts, desc, r->rxb + i * BUF_SIZE);
    qtest_writeq(r->qts, desc + 8, 0);
}

/* Program RX and TX queue @q through @dev/@bar, as a driver does. */
static void ring_setup(Ring *r, QTestState *qts, QPCIDevice *dev,
                       QPCIBar bar, bool vf, int q)
{
    uint32_t i;

    memset(r, 0, sizeof(*r));
    r->qts = qts;
    r->dev = dev;
    r->bar = bar;
    r->vf = vf;
    r->q = q;
    r->rxr = RING_AREA + q * 0x2000;
    r->txr = r->rxr + 0x1000;
    r->rxb = BUF_AREA + q * 0x10000;
    r->txb = r->rxb + 0x8000;
    qtest_memset(qts, r->rxr, 0, 0x2000);

    ring_wr(r, QREG(r, RXDCTL), 0);
    ring_wr(r, QREG(r, RDBAL), r->rxr);
    ring_wr(r, QREG(r, RDBAH), r->rxr >> 32);
    ring_wr(r, QREG(r, RDLEN), RING_DESCS * DESC_SIZE);
    ring_wr(r, QREG(r, SRRCTL), E1000_SRRCTL_DESCTYPE_ADV_ONEBUF |
            (BUF_SIZE >> E1000_SRRCTL_BSIZEPKT_SHIFT));
    ring_wr(r, QREG(r, RDH), 0);
    ring_wr(r, QREG(r, RDT), 0);
    ring_wr(r, QREG(r, RXDCTL), E1000_RXDCTL_QUEUE_ENABLE);
    for (i = 0; i < RING_DESCS - 1; i++) {
        rx_arm(r, i);
    }
    r->rx_tail = RING_DESCS - 1;
    ring_wr(r, QREG(r, RDT), r->rx_tail);

    ring_wr(r, QREG(r, TXDCTL), 0);
    ring_wr(r, QREG(r, TDBAL), r->txr);
    ring_wr(r, QREG(r, TDBAH), r->txr >> 32);
    ring_wr(r, QREG(r, TDLEN), RING_DESCS * DESC_SIZE);
    ring_wr(r, QREG(r, TDH), 0);
    ring_wr(r, QREG(r, TDT), 0);
    ring_wr(r, QREG(r, TXDCTL), E1000_TXDCTL_QUEUE_ENABLE);
}

static bool rx_ready(Ring *r)
{
    return qtest_readl(r->qts, r->rxr + r->rx_next * DESC_SIZE + 8) &
           E1000_RXD_STAT_DD;
}

/* How many received frames wait in the ring */
static int rx_count(Ring *r)
{
    int n;

    for (n = 0; n < RING_DESCS - 1; n++) {
        if (!(qtest_readl(r->qts, r->rxr + ((r->rx_next + n) % RING_DESCS) *
                          DESC_SIZE + 8) & E1000_RXD_STAT_DD)) {
            break;
        }
    }
    return n;
}

/* Take the frame in the next descriptor and give the buffer back. */
static size_t rx_take(Ring *r, uint8_t *buf, size_t size)
{
    uint64_t desc = r->rxr + r->rx_next * DESC_SIZE;
    uint32_t status = qtest_readl(r->qts, desc + 8);
    size_t len = qtest_readl(r->qts, desc + 12) & 0xffff;

    g_assert_cmphex(status & (E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP), ==,
                    E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP);
    r->pkt_info = qtest_readl(r->qts, desc) & 0xffff;
    r->rss = qtest_readl(r->qts, desc + 4);
    g_assert_cmpuint(len, <=, size);
    qtest_memread(r->qts, r->rxb + r->rx_next * BUF_SIZE, buf, len);

    r->rx_next = (r->rx_next + 1) % RING_DESCS;
    rx_arm(r, r->rx_tail);
    r->rx_tail = (r->rx_tail + 1) % RING_DESCS;
    ring_wr(r, QREG(r, RDT), r->rx_tail);
    return len;
}

/* Queue a frame on the TX ring; returns the descriptor used. */
static uint64_t ring_tx(Ring *r, const uint8_t *frame, size_t len)
{
    uint64_t desc = r->txr + r->tx_next * DESC_SIZE;
    uint64_t buf = r->txb + r->tx_next * BUF_SIZE;

    qtest_memwrite(r->qts, buf, frame, len);
    qtest_writeq(r->qts, desc, buf);
    qtest_writel(r->qts, desc + 8, E1000_ADVTXD_DTYP_DATA |
                 E1000_ADVTXD_DCMD_DEXT | E1000_ADVTXD_DCMD_EOP |
                 E1000_ADVTXD_DCMD_IFCS | E1000_ADVTXD_DCMD_RS | len);
    qtest_writel(r->qts, desc + 12, len << E1000_ADVTXD_PAYLEN_SHIFT);
    r->tx_next = (r->tx_next + 1) % RING_DESCS;
    ring_wr(r, QREG(r, TDT), r->tx_next);
    return desc;
}

static bool tx_done(Ring *r, uint64_t desc)
{
    return qtest_readl(r->qts, desc + 12) & E1000_TXD_STAT_DD;
}

static void backend_send(IgbSriov *t, const uint8_t *frame, size_t len)
{
    uint32_t be_len = htonl(len);
    struct iovec iov[2] = {
        { .iov_base = &be_len, .iov_len = sizeof(be_len) },
        { .iov_base = (void *)frame, .iov_len = len },
    };

    g_assert_cmpint(writev(t->sock[0], iov, 2), ==, sizeof(be_len) + len);
}

/*
 * The next frame the device sent to the backend, or -1 if none comes
 * within @timeout_ms.
 */
static ssize_t backend_recv(IgbSriov *t, uint8_t *buf, size_t size,
                            int timeout_ms)
{
    struct pollfd pfd = { .fd = t->sock[0], .events = POLLIN };
    uint32_t be_len;
    size_t len;

    if (poll(&pfd, 1, timeout_ms) != 1) {
        return -1;
    }
    g_assert_cmpint(recv(t->sock[0], &be_len, sizeof(be_len), MSG_WAITALL),
                    ==, sizeof(be_len));
    len = ntohl(be_len);
    g_assert_cmpuint(len, <=, size);
    g_assert_cmpint(recv(t->sock[0], buf, len, MSG_WAITALL), ==, len);
    return len;
}

/* Throw away whatever the device transmitted so far. */
static void backend_flush(IgbSriov *t)
{
    uint8_t buf[65536];

    while (backend_recv(t, buf, sizeof(buf), 100) >= 0) {
        /* discard */
    }
}

/* A test frame: @dst, an experimental EtherType and @tag in the payload */
static size_t make_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                         uint32_t tag)
{
    size_t len = ETH_HLEN + 64;
    size_t i;

    memcpy(f, dst, ETH_ALEN);
    memcpy(f + ETH_ALEN, src, ETH_ALEN);
    f[12] = 0x88;
    f[13] = 0xb5;
    for (i = ETH_HLEN; i < len; i++) {
        f[i] = tag >> (8 * (i % 4));
    }
    stl_be_p(f + ETH_HLEN, tag);
    return len;
}

/*
 * Send @frame from the backend and wait until it lands somewhere.
 * Returns the rings that got it (bit n = queue n), each of which must
 * hold exactly @frame; 0 if nothing arrived in time.
 */
static uint32_t deliver(Traffic *x, const uint8_t *frame, size_t len)
{
    gint64 deadline = g_get_monotonic_time() + RX_TIMEOUT_US;
    uint32_t seen = 0;
    uint8_t buf[BUF_SIZE];
    int q;

    backend_send(&x->t, frame, len);
    do {
        /* All queues a frame goes to are filled in one go */
        for (q = 0; q < IGB_QUEUES; q++) {
            if ((x->active & BIT(q)) && rx_ready(&x->ring[q])) {
                seen |= BIT(q);
            }
        }
        if (!seen) {
            g_usleep(100);
        }
    } while (!seen && g_get_monotonic_time() < deadline);

    for (q = 0; q < IGB_QUEUES; q++) {
        if (seen & BIT(q)) {
            g_assert_cmpuint(rx_take(&x->ring[q], buf, sizeof(buf)), ==, len);
            g_assert_cmpmem(buf, len, frame, len);
        }
    }
    return seen;
}

/* @frame must be dropped: a frame to the PF sent after it arrives alone */
static void deliver_dropped(Traffic *x, const uint8_t *frame, size_t len)
{
    uint8_t marker[BUF_SIZE];
    size_t mlen = make_frame(marker, pf_mac, peer_mac, 0x4d41524b);

    backend_send(&x->t, frame, len);
    g_assert_cmphex(deliver(x, marker, mlen), ==, BIT(PF_POOL));
}

static void set_ra(IgbSriov *t, int idx, const uint8_t *mac, int pool)
{
    uint32_t reg = idx < 16 ? E1000_RA + idx * 8 : E1000_RA2 + (idx - 16) * 8;

    pf_wr(t, reg, ldl_le_p(mac));
    pf_wr(t, reg + 4, lduw_le_p(mac + 4) | E1000_RAH_AV |
          (E1000_RAH_POOL_1 << pool));
}

/* Force the link up and let auto-negotiation complete. */
static void pf_link_up(IgbSriov *t)
{
    pf_wr(t, E1000_CTRL, pf_rd(t, E1000_CTRL) | E1000_CTRL_SLU);
    pf_wr(t, E1000_MDIC, MII_BMCR_AUTOEN | MII_BMCR_ANRESTART |
          (MII_BMCR << E1000_MDIC_REG_SHIFT) | (1 << E1000_MDIC_PHY_SHIFT) |
          E1000_MDIC_OP_WRITE);
    qtest_clock_step(t->qts, 2000000000LL);
    g_assert_cmphex(pf_rd(t, E1000_STATUS) & E1000_STATUS_LU, ==,
                    E1000_STATUS_LU);
}

/*
 * What Linux' igb does with VFs: VMDq, one pool per VF plus the PF's own
 * (pool 7, also the default pool), each VF's MAC filtering into its pool.
 */
static void pf_vmdq_setup(IgbSriov *t, int num)
{
    int n, pool;
    uint8_t mac[ETH_ALEN];

    pf_link_up(t);
    pf_wr(t, E1000_CTRL_EXT,
          pf_rd(t, E1000_CTRL_EXT) | E1000_CTRL_EXT_PFRSTD);
    pf_wr(t, E1000_MRQC, E1000_MRQC_ENABLE_VMDQ);
    pf_wr(t, E1000_VT_CTL, PF_POOL << E1000_VT_CTL_DEFAULT_POOL_SHIFT);
    for (pool = 0; pool < 8; pool++) {
        pf_wr(t, E1000_VMOLR(pool), pf_rd(t, E1000_VMOLR(pool)) |
              E1000_VMOLR_BAM | E1000_VMOLR_AUPE);
    }
    set_ra(t, 0, pf_mac, PF_POOL);
    for (n = 0; n < num; n++) {
        vf_mac(mac, n);
        set_ra(t, 1 + n, mac, n);
    }
    /* VF Enable reset the VFs, which took their RX/TX enables away */
    pf_wr(t, E1000_VFRE, 0xff);
    pf_wr(t, E1000_VFTE, 0xff);
    pf_wr(t, E1000_VFLRE, 0xff);
    pf_wr(t, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_SECRC);
    pf_wr(t, E1000_TCTL, E1000_TCTL_EN);
}

static void vf_ring_setup(Traffic *x, int n)
{
    ring_setup(&x->ring[n], x->t.qts, x->vf[n],
               qpci_sriov_vf_bar(&x->t.sriov, n, IGBVF_REGS_BAR), true, n);
    x->active |= BIT(n);
}

static void pf_ring_setup(Traffic *x, int q)
{
    ring_setup(&x->ring[q], x->t.qts, x->t.pf, x->t.pf_regs, false, q);
    x->active |= BIT(q);
}

/* @num VFs and the PF, each with one RX and one TX ring */
static void traffic_start_args(Traffic *x, int num, const char *extra)
{
    int n;

    memset(x, 0, sizeof(*x));
    igb_sriov_start_args(&x->t, extra);
    x->num = num;
    enable_vfs(&x->t, num);
    pf_vmdq_setup(&x->t, num);
    pf_ring_setup(x, PF_POOL);
    for (n = 0; n < num; n++) {
        x->vf[n] = get_vf(&x->t, n);
        vf_ring_setup(x, n);
    }
}

static void traffic_start(Traffic *x, int num)
{
    traffic_start_args(x, num, NULL);
}

static void traffic_stop(Traffic *x)
{
    int n;

    for (n = 0; n < IGB_SRIOV_TOTAL_VFS; n++) {
        g_free(x->vf[n]);
    }
    igb_sriov_stop(&x->t);
}

static uint32_t all_pools(Traffic *x)
{
    return BIT(PF_POOL) | (BIT(x->num) - 1);
}

/* A frame to a VF's MAC lands in that VF's queue and nowhere else */
static void test_vf_rx_filter(void)
{
    Traffic x;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN];
    const uint8_t unknown[ETH_ALEN] = { 0x02, 0, 0, 0, 0x77, 0x77 };
    size_t len;
    int n, round;

    traffic_start(&x, 3);

    for (round = 0; round < 3; round++) {
        for (n = 0; n < x.num; n++) {
            vf_mac(mac, n);
            len = make_frame(f, mac, peer_mac, (round << 8) | n);
            g_assert_cmphex(deliver(&x, f, len), ==, BIT(n));
        }
        len = make_frame(f, pf_mac, peer_mac, 0x100 + round);
        g_assert_cmphex(deliver(&x, f, len), ==, BIT(PF_POOL));
    }

    /* Broadcast goes to every pool that accepts it */
    len = make_frame(f, bcast_mac, peer_mac, 0xb0);
    g_assert_cmphex(deliver(&x, f, len), ==, all_pools(&x));

    /* Unknown unicast goes to the default pool, the PF's... */
    len = make_frame(f, unknown, peer_mac, 0xd0);
    g_assert_cmphex(deliver(&x, f, len), ==, BIT(PF_POOL));
    /* ... unless the default pool is disabled */
    pf_wr(&x.t, E1000_VT_CTL, pf_rd(&x.t, E1000_VT_CTL) |
          E1000_VT_CTL_DISABLE_DEF_POOL);
    deliver_dropped(&x, f, len);

    /* VFRE gates a VF's receive, and only that VF's */
    pf_wr(&x.t, E1000_VFRE, 0xff & ~BIT(1));
    vf_mac(mac, 1);
    len = make_frame(f, mac, peer_mac, 0xe1);
    deliver_dropped(&x, f, len);
    len = make_frame(f, bcast_mac, peer_mac, 0xb1);
    g_assert_cmphex(deliver(&x, f, len), ==, all_pools(&x) & ~BIT(1));
    pf_wr(&x.t, E1000_VFRE, 0xff);
    vf_mac(mac, 1);
    len = make_frame(f, mac, peer_mac, 0xe2);
    g_assert_cmphex(deliver(&x, f, len), ==, BIT(1));

    /* The VFs count what they got: 3 rounds, broadcasts, 1 more */
    g_assert_cmpuint(vf_rd(&x.t, x.vf[1], 1, E1000_VFGPRC), ==, 3 + 1 + 1);
    g_assert_cmpuint(vf_rd(&x.t, x.vf[0], 0, E1000_VFGPRC), ==, 3 + 2);

    traffic_stop(&x);
}

/* A frame a VF transmits comes out of the backend unchanged */
static void test_vf_tx(void)
{
    Traffic x;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN], out[BUF_SIZE];
    uint64_t desc, stalled;
    size_t len, slen;
    int n;

    traffic_start(&x, 3);

    for (n = 0; n < x.num; n++) {
        vf_mac(mac, n);
        len = make_frame(f, peer_mac, mac, 0x7000 + n);
        desc = ring_tx(&x.ring[n], f, len);
        g_assert_true(tx_done(&x.ring[n], desc));
        g_assert_cmpint(backend_recv(&x.t, out, sizeof(out), 5000), ==, len);
        g_assert_cmpmem(out, len, f, len);
        g_assert_cmpuint(vf_rd(&x.t, x.vf[n], n, E1000_VFGPTC), ==, 1);
    }
    len = make_frame(f, peer_mac, pf_mac, 0x7007);
    desc = ring_tx(&x.ring[PF_POOL], f, len);
    g_assert_true(tx_done(&x.ring[PF_POOL], desc));
    g_assert_cmpint(backend_recv(&x.t, out, sizeof(out), 5000), ==, len);
    g_assert_cmpmem(out, len, f, len);

    /* VFTE holds a VF's transmit back; its frame waits in the ring */
    pf_wr(&x.t, E1000_VFTE, 0xff & ~BIT(1));
    vf_mac(mac, 1);
    slen = make_frame(out, peer_mac, mac, 0x7101);
    stalled = ring_tx(&x.ring[1], out, slen);
    g_assert_false(tx_done(&x.ring[1], stalled));
    len = make_frame(f, peer_mac, pf_mac, 0x7102);
    ring_tx(&x.ring[PF_POOL], f, len);
    g_assert_cmpint(backend_recv(&x.t, f, sizeof(f), 5000), ==, len);
    g_assert_cmphex(ldl_be_p(f + ETH_HLEN), ==, 0x7102);

    /* Once enabled again, the held frame leaves first, then the next */
    pf_wr(&x.t, E1000_VFTE, 0xff);
    len = make_frame(f, peer_mac, mac, 0x7103);
    desc = ring_tx(&x.ring[1], f, len);
    g_assert_true(tx_done(&x.ring[1], stalled));
    g_assert_true(tx_done(&x.ring[1], desc));
    g_assert_cmpint(backend_recv(&x.t, f, sizeof(f), 5000), ==, slen);
    g_assert_cmphex(ldl_be_p(f + ETH_HLEN), ==, 0x7101);
    g_assert_cmpint(backend_recv(&x.t, f, sizeof(f), 5000), ==, len);
    g_assert_cmphex(ldl_be_p(f + ETH_HLEN), ==, 0x7103);
    g_assert_cmpint(backend_recv(&x.t, f, sizeof(f), 100), ==, -1);

    traffic_stop(&x);
}

/* Receive one frame on VF @n and have it transmit one. */
static void vf_roundtrip(Traffic *x, int n, uint32_t tag)
{
    uint8_t f[BUF_SIZE], mac[ETH_ALEN], out[BUF_SIZE];
    size_t len;

    vf_mac(mac, n);
    len = make_frame(f, mac, peer_mac, tag);
    g_assert_cmphex(deliver(x, f, len), ==, BIT(n));
    len = make_frame(f, peer_mac, mac, tag + 1);
    ring_tx(&x->ring[n], f, len);
    g_assert_cmpint(backend_recv(&x->t, out, sizeof(out), 5000), ==, len);
    g_assert_cmpmem(out, len, f, len);
}

/* What Linux' igb does on a VF reset: re-enable the VF's RX and TX */
static void pf_ack_vf_reset(IgbSriov *t, int n)
{
    g_assert_cmphex(pf_rd(t, E1000_VFLRE) & BIT(n), ==, BIT(n));
    pf_wr(t, E1000_VFLRE, BIT(n));
    pf_wr(t, E1000_VFRE, pf_rd(t, E1000_VFRE) | BIT(n));
    pf_wr(t, E1000_VFTE, pf_rd(t, E1000_VFTE) | BIT(n));
}

/* VTCTRL.RST stops the VF's queues; after the PF and VF redo them it works */
static void test_vf_reset_traffic(void)
{
    Traffic x;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN];
    size_t len;

    traffic_start(&x, 2);
    vf_roundtrip(&x, 0, 0x100);
    vf_roundtrip(&x, 1, 0x200);

    vf_wr(&x.t, x.vf[0], 0, VF_CTRL, E1000_CTRL_RST);
    g_assert_cmphex(pf_rd(&x.t, E1000_VFLRE), ==, BIT(0));
    g_assert_cmphex(vf_rd(&x.t, x.vf[0], 0, E1000_RXDCTL_A(0)) &
                    E1000_RXDCTL_QUEUE_ENABLE, ==, 0);
    g_assert_cmphex(vf_rd(&x.t, x.vf[0], 0, E1000_TXDCTL_A(0)) &
                    E1000_TXDCTL_QUEUE_ENABLE, ==, 0);
    vf_mac(mac, 0);
    len = make_frame(f, mac, peer_mac, 0x300);
    deliver_dropped(&x, f, len);
    /* The other VF did not notice */
    vf_roundtrip(&x, 1, 0x400);

    pf_ack_vf_reset(&x.t, 0);
    vf_ring_setup(&x, 0);
    vf_roundtrip(&x, 0, 0x500);
    vf_roundtrip(&x, 1, 0x600);

    traffic_stop(&x);
}

static uint16_t pcie_cap(QPCIDevice *dev)
{
    uint8_t cap = qpci_find_capability(dev, PCI_CAP_ID_EXP, 0);

    g_assert_cmphex(cap, !=, 0);
    return cap;
}

/* Function Level Reset through the Device Control register */
static void flr(QPCIDevice *dev)
{
    uint16_t cap = pcie_cap(dev);

    g_assert_cmphex(qpci_config_readl(dev, cap + PCI_EXP_DEVCAP) &
                    PCI_EXP_DEVCAP_FLR, ==, PCI_EXP_DEVCAP_FLR);
    qpci_config_writew(dev, cap + PCI_EXP_DEVCTL,
                       qpci_config_readw(dev, cap + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    /* Initiate FLR reads back as zero */
    g_assert_cmphex(qpci_config_readw(dev, cap + PCI_EXP_DEVCTL) &
                    PCI_EXP_DEVCTL_BCR_FLR, ==, 0);
}

static bool msix_enabled(QPCIDevice *dev)
{
    uint8_t cap = qpci_find_capability(dev, PCI_CAP_ID_MSIX, 0);

    g_assert_cmphex(cap, !=, 0);
    return qpci_config_readw(dev, cap + PCI_MSIX_FLAGS) &
           PCI_MSIX_FLAGS_ENABLE;
}

/*
 * FLR of a VF: the VF's config space (decoding, bus mastering, MSI-X)
 * and its queues go back to reset, the PF is told through VFLRE, the
 * other VFs carry on.
 */
static void test_vf_flr(void)
{
    Traffic x;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN];
    size_t len;

    traffic_start(&x, 2);
    qpci_sriov_vf_msix_enable(&x.t.sriov, x.vf[0], 0);
    g_assert_true(msix_enabled(x.vf[0]));
    vf_roundtrip(&x, 0, 0x100);

    flr(x.vf[0]);

    g_assert_cmphex(qpci_config_readw(x.vf[0], PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
    g_assert_false(msix_enabled(x.vf[0]));
    g_assert_cmphex(pf_rd(&x.t, E1000_VFLRE), ==, BIT(0));
    g_assert_cmphex(pf_rd(&x.t, E1000_VFRE), ==, 0xff & ~BIT(0));
    g_assert_cmphex(pf_rd(&x.t, E1000_VFTE), ==, 0xff & ~BIT(0));
    g_assert_cmphex(pf_rd(&x.t, E1000_RXDCTL(0)) &
                    E1000_RXDCTL_QUEUE_ENABLE, ==, 0);
    g_assert_cmphex(pf_rd(&x.t, E1000_TXDCTL(0)) &
                    E1000_TXDCTL_QUEUE_ENABLE, ==, 0);
    /* The VF stays, as do its siblings and SR-IOV itself */
    g_assert_true(qpci_sriov_is_enabled(&x.t.sriov));
    g_assert_cmpint(count_functions(&x.t), ==, 3);
    vf_mac(mac, 0);
    len = make_frame(f, mac, peer_mac, 0x200);
    deliver_dropped(&x, f, len);
    vf_roundtrip(&x, 1, 0x300);

    /* The VF driver starts over */
    pf_ack_vf_reset(&x.t, 0);
    qpci_sriov_vf_enable_decoding(x.vf[0]);
    vf_ring_setup(&x, 0);
    vf_roundtrip(&x, 0, 0x400);

    traffic_stop(&x);
}

/*
 * FLR of the PF: SR-IOV is disabled (VFs gone, NumVFs 0), the PF's
 * registers and BARs go back to reset; a driver can start over.
 */
static void test_pf_flr(void)
{
    Traffic x;
    uint32_t ral;
    int n;

    traffic_start(&x, 3);
    vf_roundtrip(&x, 2, 0x100);

    flr(x.t.pf);

    g_assert_false(qpci_sriov_is_enabled(&x.t.sriov));
    g_assert_cmpuint(qpci_sriov_get_num_vfs(&x.t.sriov), ==, 0);
    g_assert_cmpint(count_functions(&x.t), ==, 1);
    g_assert_cmphex(qpci_config_readw(x.t.pf, PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
    g_assert_cmphex(qpci_config_readl(x.t.pf, PCI_BASE_ADDRESS_0) &
                    PCI_BASE_ADDRESS_MEM_MASK, ==, 0);
    for (n = 0; n < x.num; n++) {
        g_free(x.vf[n]);
        x.vf[n] = NULL;
    }

    /* Map the PF again, as a driver probing it after FLR */
    qpci_device_enable(x.t.pf);
    x.t.pf_regs = qpci_iomap(x.t.pf, 0, NULL);
    g_assert_cmphex(pf_rd(&x.t, E1000_MRQC), ==, 0);
    g_assert_cmphex(pf_rd(&x.t, E1000_VT_CTL), ==, 0);
    g_assert_cmphex(pf_rd(&x.t, E1000_RA + 8 + 4), ==, 0);
    /*
     * QEMU resets the PF first and then tears the VFs down, which it
     * reports like VF resets: the VFs that were enabled show in VFLRE
     * and lost their RX/TX enables.  A driver clears this anyway.
     */
    g_assert_cmphex(pf_rd(&x.t, E1000_VFLRE), ==, BIT(x.num) - 1);
    g_assert_cmphex(pf_rd(&x.t, E1000_VFRE), ==, 0xff & ~(BIT(x.num) - 1));
    g_assert_cmphex(pf_rd(&x.t, E1000_RCTL) & E1000_RCTL_EN, ==, 0);
    g_assert_cmphex(pf_rd(&x.t, E1000_STATUS) & E1000_STATUS_IOV_MODE, ==, 0);
    g_assert_cmphex(pf_rd(&x.t, E1000_RDBAL(PF_POOL)), ==, 0);
    /* The permanent MAC is back in RA[0] */
    ral = pf_rd(&x.t, E1000_RA);
    g_assert_cmphex(ral, !=, ldl_le_p(pf_mac));
    g_assert_cmphex(pf_rd(&x.t, E1000_RA + 4) & E1000_RAH_AV, ==,
                    E1000_RAH_AV);

    /* VF BARs were reset too; a driver sizes them again */
    qpci_sriov_map_bars(&x.t.sriov);
    x.active = 0;
    enable_vfs(&x.t, 2);
    x.num = 2;
    for (n = 0; n < x.num; n++) {
        x.vf[n] = get_vf(&x.t, n);
        /* The PF driver has not said it is done resetting */
        g_assert_cmphex(vf_rd(&x.t, x.vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_RSTI, ==, E1000_V2PMAILBOX_RSTI);
    }
    pf_vmdq_setup(&x.t, x.num);
    pf_ring_setup(&x, PF_POOL);
    for (n = 0; n < x.num; n++) {
        vf_ring_setup(&x, n);
        vf_roundtrip(&x, n, 0x200 + n * 0x10);
    }

    traffic_stop(&x);
}

/* Take frames off the PF ring until @tag arrives; returns how many. */
static int drain_pf(Traffic *x, uint32_t tag)
{
    uint8_t marker[BUF_SIZE], buf[BUF_SIZE];
    size_t len = make_frame(marker, pf_mac, peer_mac, tag);
    Ring *r = &x->ring[PF_POOL];
    gint64 deadline;
    int count = 0;

    backend_send(&x->t, marker, len);
    for (;;) {
        deadline = g_get_monotonic_time() + RX_TIMEOUT_US;
        while (!rx_ready(r)) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(100);
        }
        len = rx_take(r, buf, sizeof(buf));
        g_assert_cmpuint(len, >=, ETH_HLEN + 4);
        if (!memcmp(buf, pf_mac, ETH_ALEN) &&
            ldl_be_p(buf + ETH_HLEN) == tag) {
            return count;
        }
        /* Anything else the PF gets must have been meant for it */
        g_assert_true(!memcmp(buf, pf_mac, ETH_ALEN) ||
                      !memcmp(buf, bcast_mac, ETH_ALEN));
        count++;
    }
}

/*
 * VF Enable goes off and on while frames for the VFs and the PF keep
 * coming: no crash, the PF keeps receiving, and the VFs work again
 * once their drivers set them up anew.
 */
static void test_vfe_toggle_traffic(void)
{
    Traffic x;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN];
    size_t len;
    int i, n, got;

    traffic_start(&x, 2);

    for (i = 0; i < 20; i++) {
        for (n = 0; n < x.num; n++) {
            vf_mac(mac, n);
            len = make_frame(f, mac, peer_mac, (i << 8) | n);
            backend_send(&x.t, f, len);
        }
        len = make_frame(f, pf_mac, peer_mac, (i << 8) | 0xff);
        backend_send(&x.t, f, len);
        len = make_frame(f, bcast_mac, peer_mac, (i << 8) | 0xbb);
        backend_send(&x.t, f, len);

        g_assert_false(qpci_sriov_set_enable(&x.t.sriov, false));
        if (i % 4 == 3) {
            /* and sometimes a frame to the PF in between */
            got = drain_pf(&x, 0x10000 | i);
            g_assert_cmpint(got, >=, 1);
        }
        g_assert_true(qpci_sriov_set_enable(&x.t.sriov, true));
        g_assert_cmpint(count_functions(&x.t), ==, 1 + x.num);
    }
    drain_pf(&x, 0x20000);
    g_assert_true(qemu_alive(x.t.qts));

    /* The VFs were reset by VF Enable: their drivers start over */
    pf_vmdq_setup(&x.t, x.num);
    x.active = 0;
    pf_ring_setup(&x, PF_POOL);
    for (n = 0; n < x.num; n++) {
        qpci_sriov_vf_enable_decoding(x.vf[n]);
        vf_ring_setup(&x, n);
        vf_roundtrip(&x, n, 0x30000 + n * 0x10);
    }

    /* Disabling for good while a VF's frames are in flight */
    for (i = 0; i < 10; i++) {
        vf_mac(mac, 0);
        len = make_frame(f, mac, peer_mac, 0x40000 + i);
        backend_send(&x.t, f, len);
    }
    g_assert_false(qpci_sriov_set_enable(&x.t.sriov, false));
    got = rx_count(&x.ring[0]);
    drain_pf(&x, 0x50000);
    g_assert_cmpint(count_functions(&x.t), ==, 1);
    /* The VF queues were stopped: nothing lands in their rings anymore */
    g_assert_cmpint(rx_count(&x.ring[0]), ==, got);

    traffic_stop(&x);
}

/*
 * Hot-unplug of the PF with VFs enabled and traffic going: the VFs go
 * with it and QEMU carries on.  ACPI hotplug is off so that the root
 * port's native hotplug is used; the test powers the slot off like an
 * OS answering the attention button.
 */
static void test_pf_unplug(void)
{
    Traffic x;
    QDict *rsp;
    uint8_t f[BUF_SIZE], mac[ETH_ALEN];
    uint16_t cap, ctl;
    size_t len;
    int n;

    traffic_start_args(&x, 3, "-global ICH9-LPC.acpi-pci-hotplug-with-"
                       "bridge-support=off");
    vf_roundtrip(&x, 1, 0x100);
    for (n = 0; n < 8; n++) {
        vf_mac(mac, n % x.num);
        len = make_frame(f, mac, peer_mac, 0x200 + n);
        backend_send(&x.t, f, len);
    }

    qtest_qmp_device_del_send(x.t.qts, "pf0");
    cap = pcie_cap(x.t.rp);
    ctl = qpci_config_readw(x.t.rp, cap + PCI_EXP_SLTCTL);
    ctl &= ~(PCI_EXP_SLTCTL_PIC | PCI_EXP_SLTCTL_PCC);
    ctl |= PCI_EXP_SLTCTL_PWR_IND_OFF | PCI_EXP_SLTCTL_PWR_OFF;
    qpci_config_writew(x.t.rp, cap + PCI_EXP_SLTCTL, ctl);
    qtest_qmp_eventwait(x.t.qts, "DEVICE_DELETED");

    g_assert_true(qemu_alive(x.t.qts));
    g_assert_cmpint(count_functions(&x.t), ==, 0);
    rsp = qtest_qmp(x.t.qts, "{'execute': 'qom-list', 'arguments': "
                    "{'path': '/machine/peripheral/pf0'}}");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    /* The backend is still there; frames for nobody are fine */
    len = make_frame(f, pf_mac, peer_mac, 0x300);
    backend_send(&x.t, f, len);
    g_assert_true(qemu_alive(x.t.qts));

    traffic_stop(&x);
}

/*
 * Garbage into every register of two VFs (with their queues live), then
 * QEMU must be alive and the PF and the other VF must still work once
 * their drivers set them up again.
 */
static void test_vf_register_garbage(void)
{
    Traffic x;
    g_autoptr(GRand) rnd = g_rand_new_with_seed(0x1b5f);
    uint8_t f[BUF_SIZE];
    uint32_t off;
    size_t len;
    int n;

    traffic_start(&x, 3);
    for (n = 0; n < 2; n++) {
        for (off = 0; off < IGBVF_REGS_SIZE; off += 4) {
            vf_wr(&x.t, x.vf[n], n, off, g_rand_int(rnd));
        }
        /* Reading everything back must not hurt either */
        for (off = 0; off < IGBVF_REGS_SIZE; off += 4) {
            vf_rd(&x.t, x.vf[n], n, off);
        }
    }
    g_assert_true(qemu_alive(x.t.qts));
    backend_flush(&x.t);

    /* VF 2 was not touched and still works as it was */
    vf_roundtrip(&x, 2, 0x100);

    /* The PF is fine: reprogram everything and run traffic */
    g_assert_cmphex(pf_rd(&x.t, E1000_STATUS) & E1000_STATUS_LU, ==,
                    E1000_STATUS_LU);
    pf_vmdq_setup(&x.t, x.num);
    x.active = 0;
    pf_ring_setup(&x, PF_POOL);
    len = make_frame(f, pf_mac, peer_mac, 0x200);
    g_assert_cmphex(deliver(&x, f, len), ==, BIT(PF_POOL));
    for (n = 0; n < x.num; n++) {
        pf_wr(&x.t, E1000_VFLRE, BIT(n));
        qpci_sriov_vf_enable_decoding(x.vf[n]);
        vf_ring_setup(&x, n);
        vf_roundtrip(&x, n, 0x300 + n * 0x10);
    }

    traffic_stop(&x);
}

/*
 * VFs post requests the PF never acknowledges, thousands of times, and
 * the PF posts messages no VF reads: the state stays exactly one pending
 * request per VF, and the normal handshake works afterwards.
 */
static void test_mailbox_flood(void)
{
    IgbSriov t;
    const uint16_t num = 3;
    QPCIDevice *vf[3];
    uint64_t target;
    int n, i;

    igb_sriov_start(&t);
    enable_vfs(&t, num);
    pf_wr(&t, E1000_CTRL_EXT,
          pf_rd(&t, E1000_CTRL_EXT) | E1000_CTRL_EXT_PFRSTD);
    pf_wr(&t, E1000_GPIE, E1000_GPIE_MSIX_MODE);
    pf_rd(&t, E1000_ICR);

    for (n = 0; n < num; n++) {
        vf[n] = get_vf(&t, n);
        vf_rd(&t, vf[n], n, VF_MAILBOX);    /* clear RSTD */
    }
    for (i = 0; i < 3000; i++) {
        n = i % num;
        vf_wr(&t, vf[n], n, VF_MBMEM, i);
        vf_wr(&t, vf[n], n, VF_MAILBOX, E1000_V2PMAILBOX_REQ |
              (i & 1 ? E1000_V2PMAILBOX_VFU : 0));
    }
    g_assert_true(qemu_alive(t.qts));
    g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==,
                    (E1000_MBVFICR_VFREQ_VF1 << num) -
                    E1000_MBVFICR_VFREQ_VF1);
    g_assert_cmphex(pf_rd(&t, E1000_ICR) & E1000_ICR_VMMB, ==,
                    E1000_ICR_VMMB);
    for (n = 0; n < num; n++) {
        /* The last message of each VF is in its buffer */
        g_assert_cmpuint(pf_rd(&t, E1000_VMBMEM(n)), ==,
                         3000 - num + n);
    }

    /* And the other way round, into VF 0 with its mailbox IRQ live */
    target = vf_msix_setup(&t, vf[0], 0);
    vf_wr(&t, vf[0], 0, VF_EIMS, BIT(IGBVF_MSIX_VECTORS) - 1);
    vf_wr(&t, vf[0], 0, VF_IVAR_MISC, E1000_IVAR_VALID | 2);
    for (i = 0; i < 3000; i++) {
        pf_wr(&t, E1000_P2VMAILBOX(0), E1000_P2VMAILBOX_STS |
              (i & 1 ? E1000_P2VMAILBOX_PFU : 0));
    }
    g_assert_true(qemu_alive(t.qts));
    g_assert_cmphex(msix_seen(&t, target), ==, BIT(2));
    g_assert_cmphex(vf_rd(&t, vf[0], 0, VF_MAILBOX) &
                    E1000_V2PMAILBOX_PFSTS, ==, E1000_V2PMAILBOX_PFSTS);

    /* The handshake still works for everyone */
    pf_wr(&t, E1000_MBVFICR, 0xffffffff);
    g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==, 0);
    for (n = 0; n < num; n++) {
        pf_wr(&t, E1000_P2VMAILBOX(n), E1000_P2VMAILBOX_ACK);
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        (E1000_V2PMAILBOX_PFACK | E1000_V2PMAILBOX_PFU), ==,
                        E1000_V2PMAILBOX_PFACK);
        vf_wr(&t, vf[n], n, VF_MAILBOX, E1000_V2PMAILBOX_VFU);
        g_assert_cmphex(vf_rd(&t, vf[n], n, VF_MAILBOX) &
                        E1000_V2PMAILBOX_VFU, ==, E1000_V2PMAILBOX_VFU);
        vf_wr(&t, vf[n], n, VF_MAILBOX, E1000_V2PMAILBOX_REQ);
        g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==,
                        E1000_MBVFICR_VFREQ_VF1 << n);
        pf_wr(&t, E1000_MBVFICR, E1000_MBVFICR_VFREQ_VF1 << n);
        g_free(vf[n]);
    }
    g_assert_cmphex(pf_rd(&t, E1000_MBVFICR), ==, 0);

    igb_sriov_stop(&t);
}

/* ---- RSS of the PF ---- */

#define RSS_QUEUES      4
#define RETA_SIZE       128

enum { L4_TCP = 6, L4_UDP = 17, L4_ICMP = 1, L4_ICMP6 = 58, L2_ARP = 0 };

/* An IPv4/IPv6 frame of protocol @l4 with random addresses and ports */
static size_t make_ip_frame(uint8_t *f, GRand *rnd, bool v6, int l4)
{
    size_t off = ETH_HLEN, ip_len, l4_len, i;
    uint8_t *ip = f + ETH_HLEN;

    memcpy(f, pf_mac, ETH_ALEN);
    memcpy(f + ETH_ALEN, peer_mac, ETH_ALEN);
    if (l4 == L2_ARP) {
        stw_be_p(f + 12, ETH_P_ARP);
        memset(f + ETH_HLEN, 0, 46);
        return ETH_HLEN + 46;
    }
    l4_len = l4 == L4_TCP ? 20 : 8;
    ip_len = (v6 ? 40 : 20) + l4_len + 32;
    memset(ip, 0, ip_len);

    if (v6) {
        stw_be_p(f + 12, ETH_P_IPV6);
        ip[0] = 0x60;
        stw_be_p(ip + 4, ip_len - 40);
        ip[6] = l4 == L4_ICMP ? L4_ICMP6 : l4;
        ip[7] = 64;
        for (i = 8; i < 40; i++) {
            ip[i] = g_rand_int(rnd);
        }
        off += 40;
    } else {
        stw_be_p(f + 12, ETH_P_IP);
        ip[0] = 0x45;
        stw_be_p(ip + 2, ip_len);
        ip[8] = 64;
        ip[9] = l4;
        for (i = 12; i < 20; i++) {
            ip[i] = g_rand_int(rnd);
        }
        off += 20;
    }
    stl_be_p(f + off, g_rand_int(rnd));     /* ports, or ICMP type/code */
    if (l4 == L4_TCP) {
        f[off + 12] = 5 << 4;               /* data offset */
    } else if (l4 == L4_UDP) {
        stw_be_p(f + off + 4, l4_len + 32);
    }
    return ETH_HLEN + ip_len;
}

static void rss_program(IgbSriov *t, uint32_t mrqc, const uint8_t *key,
                        const uint16_t *table)
{
    int i;

    for (i = 0; i < RSS_REF_KEY_MAX / 4; i++) {
        pf_wr(t, E1000_RSSRK + i * 4, ldl_le_p(key + i * 4));
    }
    for (i = 0; i < RETA_SIZE / 4; i++) {
        pf_wr(t, E1000_RETA + i * 4, table[i * 4] |
              (table[i * 4 + 1] << 8) | (table[i * 4 + 2] << 16) |
              (table[i * 4 + 3] << 24));
    }
    pf_wr(t, E1000_MRQC, mrqc);
}

/*
 * The PF's own RSS: frames from the backend land on the queue the
 * reference model picks from the key, the table and the hash types, and
 * the descriptor carries the reference hash and RSS type.
 */
static void test_rss(void)
{
    static const uint32_t mrqcs[] = {
        RSS_REF_IGB_MRQC_TCP_IPV4 | RSS_REF_IGB_MRQC_IPV4 |
        RSS_REF_IGB_MRQC_UDP_IPV4 | RSS_REF_IGB_MRQC_TCP_IPV6_EX |
        RSS_REF_IGB_MRQC_IPV6 | RSS_REF_IGB_MRQC_UDP_IPV6,
        /* addresses only */
        RSS_REF_IGB_MRQC_IPV4 | RSS_REF_IGB_MRQC_IPV6,
        /* ports of some protocols, nothing for the rest */
        RSS_REF_IGB_MRQC_TCP_IPV4 | RSS_REF_IGB_MRQC_UDP_IPV6,
    };
    static const int kinds[] = { L4_TCP, L4_UDP, L4_ICMP };
    g_autoptr(GRand) rnd = g_rand_new_with_seed(0x755);
    Traffic x;
    uint8_t key[RSS_REF_KEY_MAX], f[BUF_SIZE];
    uint16_t table[RETA_SIZE];
    uint32_t per_queue[RSS_QUEUES] = { 0 };
    RssRefResult res;
    size_t len;
    int c, i, q;

    memset(&x, 0, sizeof(x));
    igb_sriov_start(&x.t);
    pf_link_up(&x.t);
    set_ra(&x.t, 0, pf_mac, 0);
    /* The hash replaces the checksum in the descriptor */
    pf_wr(&x.t, E1000_RXCSUM, E1000_RXCSUM_PCSD);
    pf_wr(&x.t, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_SECRC);
    for (q = 0; q < RSS_QUEUES; q++) {
        pf_ring_setup(&x, q);
    }

    for (c = 0; c < ARRAY_SIZE(mrqcs); c++) {
        uint32_t mrqc = mrqcs[c] | E1000_MRQC_ENABLE_RSS_MQ;
        uint32_t types = rss_ref_igb_hash_types(mrqc);

        if (c == 0) {
            memcpy(key, rss_ref_ms_key, sizeof(key));
        } else {
            for (i = 0; i < sizeof(key); i++) {
                key[i] = g_rand_int(rnd);
            }
        }
        for (i = 0; i < RETA_SIZE; i++) {
            table[i] = g_rand_int_range(rnd, 0, RSS_QUEUES);
        }
        rss_program(&x.t, mrqc, key, table);

        for (i = 0; i < 64; i++) {
            bool v6 = i & 1;
            int l4 = i % 16 == 15 ? L2_ARP : kinds[(i / 2) % 3];
            unsigned want;

            len = make_ip_frame(f, rnd, v6, l4);
            rss_ref_hash_frame(f, len, types, key, sizeof(key), &res);
            want = rss_ref_queue(&res, table, RETA_SIZE, 0, IGB_QUEUES);
            g_assert_cmphex(deliver(&x, f, len), ==, BIT(want));
            g_assert_cmphex(x.ring[want].rss, ==, res.hash);
            g_assert_cmphex(x.ring[want].pkt_info & 0xf, ==,
                            rss_ref_igb_rss_type(res.report));
            per_queue[want]++;
        }
    }
    /* Random flows must have used every queue */
    for (q = 0; q < RSS_QUEUES; q++) {
        g_assert_cmpuint(per_queue[q], >, 0);
    }

    traffic_stop(&x);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("igb-sriov/capability", test_capability);
    qtest_add_func("igb-sriov/enumerate", test_enumerate);
    qtest_add_func("igb-sriov/numvfs-too-big", test_numvfs_too_big);
    qtest_add_func("igb-sriov/cve-2025-54567-vfe-mask",
                   test_cve_2025_54567_vfe_mask);
    qtest_add_func("igb-sriov/vf-bars", test_vf_bars);
    qtest_add_func("igb-sriov/mailbox/vf-to-pf", test_mailbox_vf_to_pf);
    qtest_add_func("igb-sriov/mailbox/pf-to-vf", test_mailbox_pf_to_vf);
    qtest_add_func("igb-sriov/mailbox/vf-reset", test_vf_reset);
    qtest_add_func("igb-sriov/msix/eics", test_vf_msix);
    qtest_add_func("igb-sriov/msix/mailbox", test_vf_mailbox_irq);
    qtest_add_func("igb-sriov/migration/cve-2025-54566",
                   test_cve_2025_54566_migration);
    qtest_add_func("igb-sriov/migration/vfs-disabled",
                   test_migration_disabled);
    qtest_add_func("igb-sriov/migration/vfs-enabled",
                   test_migration_enabled);
    qtest_add_func("igb-sriov/traffic/vf-rx-filter", test_vf_rx_filter);
    qtest_add_func("igb-sriov/traffic/vf-tx", test_vf_tx);
    qtest_add_func("igb-sriov/traffic/vf-reset", test_vf_reset_traffic);
    qtest_add_func("igb-sriov/traffic/vfe-toggle", test_vfe_toggle_traffic);
    qtest_add_func("igb-sriov/flr/vf", test_vf_flr);
    qtest_add_func("igb-sriov/flr/pf", test_pf_flr);
    qtest_add_func("igb-sriov/hotplug/pf-unplug", test_pf_unplug);
    qtest_add_func("igb-sriov/rss", test_rss);
    qtest_add_func("igb-sriov/bad-input/vf-register-garbage",
                   test_vf_register_garbage);
    qtest_add_func("igb-sriov/bad-input/mailbox-flood", test_mailbox_flood);

    return g_test_run();
}

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
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/pci-sriov.h"
#include "qobject/qdict.h"
#include "qemu/bitops.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "hw/net/igb_regs.h"

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
                           "-device igb,bus=rp0,addr=0x0,netdev=hs0 %s",
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
static void igb_sriov_start(IgbSriov *t)
{
    igb_sriov_launch(t, NULL);

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

    return g_test_run();
}

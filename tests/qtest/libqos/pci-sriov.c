/*
 * libqos helper for the PCIe SR-IOV extended capability
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "pci-sriov.h"
#include "../libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qemu/bswap.h"

/* MCH register that places (and enables) the q35 ECAM window. */
#define Q35_MCH_PCIEXBAR        0x60
#define Q35_MCH_PCIEXBAR_EN     0x1     /* length field 0 selects 256 MiB */

static uint64_t ecam_addr(QPCIDevice *dev, uint64_t ecam, uint16_t offset)
{
    g_assert_cmpuint(offset, <, 0x1000);
    /* libqos devfn is (bus << 8) | devfn, i.e. the routing ID. */
    return ecam + ((uint64_t)(dev->devfn & 0xffff) << 12) + offset;
}

uint32_t qpci_ecam_readl(QPCIDevice *dev, uint64_t ecam, uint16_t offset)
{
    return qtest_readl(dev->bus->qts, ecam_addr(dev, ecam, offset));
}

uint16_t qpci_ecam_readw(QPCIDevice *dev, uint64_t ecam, uint16_t offset)
{
    return qtest_readw(dev->bus->qts, ecam_addr(dev, ecam, offset));
}

void qpci_ecam_writel(QPCIDevice *dev, uint64_t ecam, uint16_t offset,
                      uint32_t value)
{
    qtest_writel(dev->bus->qts, ecam_addr(dev, ecam, offset), value);
}

void qpci_ecam_writew(QPCIDevice *dev, uint64_t ecam, uint16_t offset,
                      uint16_t value)
{
    qtest_writew(dev->bus->qts, ecam_addr(dev, ecam, offset), value);
}

void qpci_q35_enable_ecam(QPCIBus *bus, uint64_t base)
{
    QPCIDevice *mch = qpci_device_find(bus, 0);

    g_assert(mch);
    g_assert_cmphex(base & 0x0fffffffULL, ==, 0);
    qpci_config_writel(mch, Q35_MCH_PCIEXBAR + 4, base >> 32);
    qpci_config_writel(mch, Q35_MCH_PCIEXBAR,
                       (uint32_t)base | Q35_MCH_PCIEXBAR_EN);
    g_free(mch);
}

uint16_t qpci_find_ext_capability(QPCIDevice *dev, uint64_t ecam, uint16_t id)
{
    uint16_t off = PCI_CFG_SPACE_SIZE;
    /* Bound the walk: a corrupt list must not hang the test. */
    int budget = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 4;

    while (off && budget--) {
        uint32_t hdr = qpci_ecam_readl(dev, ecam, off);

        if (hdr == 0 || hdr == 0xffffffff) {
            return 0;
        }
        if (PCI_EXT_CAP_ID(hdr) == id) {
            return off;
        }
        off = PCI_EXT_CAP_NEXT(hdr);
        if (off && off < PCI_CFG_SPACE_SIZE) {
            return 0;
        }
    }
    return 0;
}

void qpci_bridge_open_windows(QPCIDevice *bridge, uint64_t base,
                              uint64_t size)
{
    uint64_t last = base + size - 1;
    uint16_t cmd;

    g_assert_cmphex(base & 0xfffff, ==, 0);
    g_assert_cmphex(size & 0xfffff, ==, 0);
    g_assert_cmphex(last, <=, UINT32_MAX);

    /* Both windows hold address bits 31:20 in bits 15:4. */
    qpci_config_writew(bridge, PCI_MEMORY_BASE, (base >> 16) & 0xfff0);
    qpci_config_writew(bridge, PCI_MEMORY_LIMIT, (last >> 16) & 0xfff0);
    qpci_config_writew(bridge, PCI_PREF_MEMORY_BASE, (base >> 16) & 0xfff0);
    qpci_config_writew(bridge, PCI_PREF_MEMORY_LIMIT, (last >> 16) & 0xfff0);
    qpci_config_writel(bridge, PCI_PREF_BASE_UPPER32, 0);
    qpci_config_writel(bridge, PCI_PREF_LIMIT_UPPER32, 0);

    cmd = qpci_config_readw(bridge, PCI_COMMAND);
    qpci_config_writew(bridge, PCI_COMMAND,
                       cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

uint16_t qpci_sriov_readw(QPCISriov *s, uint16_t reg)
{
    return qpci_ecam_readw(s->pf, s->ecam, s->cap + reg);
}

uint32_t qpci_sriov_readl(QPCISriov *s, uint16_t reg)
{
    return qpci_ecam_readl(s->pf, s->ecam, s->cap + reg);
}

void qpci_sriov_writew(QPCISriov *s, uint16_t reg, uint16_t value)
{
    qpci_ecam_writew(s->pf, s->ecam, s->cap + reg, value);
}

void qpci_sriov_writel(QPCISriov *s, uint16_t reg, uint32_t value)
{
    qpci_ecam_writel(s->pf, s->ecam, s->cap + reg, value);
}

bool qpci_sriov_init(QPCISriov *s, QPCIDevice *pf, uint64_t ecam)
{
    memset(s, 0, sizeof(*s));
    s->pf = pf;
    s->ecam = ecam;
    s->cap = qpci_find_ext_capability(pf, ecam, PCI_EXT_CAP_ID_SRIOV);
    if (!s->cap) {
        return false;
    }

    s->total_vfs = qpci_sriov_readw(s, PCI_SRIOV_TOTAL_VF);
    s->initial_vfs = qpci_sriov_readw(s, PCI_SRIOV_INITIAL_VF);
    s->vf_offset = qpci_sriov_readw(s, PCI_SRIOV_VF_OFFSET);
    s->vf_stride = qpci_sriov_readw(s, PCI_SRIOV_VF_STRIDE);
    s->vf_device_id = qpci_sriov_readw(s, PCI_SRIOV_VF_DID);
    return true;
}

void qpci_sriov_set_num_vfs(QPCISriov *s, uint16_t num_vfs)
{
    qpci_sriov_writew(s, PCI_SRIOV_NUM_VF, num_vfs);
}

uint16_t qpci_sriov_get_num_vfs(QPCISriov *s)
{
    return qpci_sriov_readw(s, PCI_SRIOV_NUM_VF);
}

bool qpci_sriov_set_enable(QPCISriov *s, bool enable)
{
    uint16_t ctrl = qpci_sriov_readw(s, PCI_SRIOV_CTRL);

    if (enable) {
        ctrl |= PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE;
    } else {
        ctrl &= ~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    }
    qpci_sriov_writew(s, PCI_SRIOV_CTRL, ctrl);
    return qpci_sriov_is_enabled(s);
}

bool qpci_sriov_is_enabled(QPCISriov *s)
{
    return qpci_sriov_readw(s, PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE;
}

void qpci_sriov_map_bars(QPCISriov *s)
{
    QPCIBus *bus = s->pf->bus;
    int i;

    g_assert(!qpci_sriov_is_enabled(s));
    g_assert_cmpuint(s->total_vfs, >, 0);

    for (i = 0; i < QPCI_SRIOV_NUM_BARS; i++) {
        uint16_t reg = PCI_SRIOV_BAR + i * 4;
        uint32_t orig = qpci_sriov_readl(s, reg);
        uint64_t mask, size, total;

        s->bar_size[i] = 0;
        s->bar_addr[i] = 0;
        s->bar_is_64[i] = false;

        /* The spec requires memory BARs; treat I/O as unimplemented. */
        g_assert_cmphex(orig & PCI_BASE_ADDRESS_SPACE_IO, ==, 0);

        qpci_sriov_writel(s, reg, 0xffffffff);
        mask = qpci_sriov_readl(s, reg) & PCI_BASE_ADDRESS_MEM_MASK;
        qpci_sriov_writel(s, reg, orig);

        if ((orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
            PCI_BASE_ADDRESS_MEM_TYPE_64) {
            uint32_t orig_hi;

            g_assert_cmpint(i, <, QPCI_SRIOV_NUM_BARS - 1);
            orig_hi = qpci_sriov_readl(s, reg + 4);
            qpci_sriov_writel(s, reg + 4, 0xffffffff);
            mask |= (uint64_t)qpci_sriov_readl(s, reg + 4) << 32;
            qpci_sriov_writel(s, reg + 4, orig_hi);
            s->bar_is_64[i] = true;
        } else if (mask) {
            mask |= 0xffffffff00000000ULL;
        }

        if (mask) {
            size = ~mask + 1;
            total = size * s->total_vfs;

            /* Each VF's slice must be naturally aligned. */
            bus->mmio_alloc_ptr = QEMU_ALIGN_UP(bus->mmio_alloc_ptr, size);
            g_assert_cmphex(bus->mmio_alloc_ptr + total, <=, bus->mmio_limit);
            s->bar_size[i] = size;
            s->bar_addr[i] = bus->mmio_alloc_ptr;
            bus->mmio_alloc_ptr += total;

            qpci_sriov_writel(s, reg, (uint32_t)s->bar_addr[i] |
                              (orig & ~PCI_BASE_ADDRESS_MEM_MASK));
            if (s->bar_is_64[i]) {
                qpci_sriov_writel(s, reg + 4, s->bar_addr[i] >> 32);
            }
        }

        if (s->bar_is_64[i]) {
            i++;    /* the upper half is not a BAR of its own */
        }
    }
}

int qpci_sriov_vf_devfn(QPCISriov *s, uint16_t n)
{
    /* Routing IDs simply add up, carrying into the bus number. */
    return s->pf->devfn + s->vf_offset + n * s->vf_stride;
}

bool qpci_function_present(QPCIBus *bus, int devfn)
{
    return bus->config_readl(bus, devfn, PCI_VENDOR_ID) != 0xffffffff ||
           bus->config_readl(bus, devfn, PCI_CLASS_REVISION) != 0xffffffff;
}

QPCIDevice *qpci_sriov_get_vf(QPCISriov *s, uint16_t n)
{
    QPCIDevice *vf;
    int devfn = qpci_sriov_vf_devfn(s, n);

    if (!qpci_function_present(s->pf->bus, devfn)) {
        return NULL;
    }
    vf = g_new0(QPCIDevice, 1);
    vf->bus = s->pf->bus;
    vf->devfn = devfn;
    return vf;
}

void qpci_sriov_vf_enable_decoding(QPCIDevice *vf)
{
    uint16_t cmd = qpci_config_readw(vf, PCI_COMMAND);

    qpci_config_writew(vf, PCI_COMMAND,
                       cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

QPCIBar qpci_sriov_vf_bar(QPCISriov *s, uint16_t n, int barno)
{
    QPCIBar bar = { 0 };

    g_assert_cmpint(barno, >=, 0);
    g_assert_cmpint(barno, <, QPCI_SRIOV_NUM_BARS);
    g_assert_cmpuint(n, <, s->total_vfs);
    g_assert_cmphex(s->bar_size[barno], !=, 0);
    bar.addr = s->bar_addr[barno] + n * s->bar_size[barno];
    bar.is_io = false;
    return bar;
}

void qpci_sriov_vf_msix_enable(QPCISriov *s, QPCIDevice *vf, uint16_t n)
{
    uint8_t cap = qpci_find_capability(vf, PCI_CAP_ID_MSIX, 0);
    uint32_t table, pba;
    uint16_t flags;

    g_assert_cmphex(cap, !=, 0);

    table = qpci_config_readl(vf, cap + PCI_MSIX_TABLE);
    pba = qpci_config_readl(vf, cap + PCI_MSIX_PBA);
    vf->msix_table_bar = qpci_sriov_vf_bar(s, n,
                                           table & PCI_MSIX_FLAGS_BIRMASK);
    vf->msix_table_off = table & ~PCI_MSIX_FLAGS_BIRMASK;
    vf->msix_pba_bar = qpci_sriov_vf_bar(s, n, pba & PCI_MSIX_FLAGS_BIRMASK);
    vf->msix_pba_off = pba & ~PCI_MSIX_FLAGS_BIRMASK;

    flags = qpci_config_readw(vf, cap + PCI_MSIX_FLAGS);
    flags &= ~PCI_MSIX_FLAGS_MASKALL;
    qpci_config_writew(vf, cap + PCI_MSIX_FLAGS,
                       flags | PCI_MSIX_FLAGS_ENABLE);
    vf->msix_enabled = true;
}

typedef struct QPCISriovIdBus {
    QPCIBus bus;
    QPCIBus *parent;
    QPCISriov *s;
} QPCISriovIdBus;

static bool is_vf_of(QPCISriov *s, int devfn)
{
    int first = qpci_sriov_vf_devfn(s, 0);

    if (devfn < first || devfn > qpci_sriov_vf_devfn(s, s->total_vfs - 1)) {
        return false;
    }
    return s->vf_stride ? (devfn - first) % s->vf_stride == 0
                        : devfn == first;
}

/* Dword 0 of config space, with the IDs filled in for a present VF. */
static uint32_t id_bus_read(QPCIBus *bus, int devfn, uint8_t offset,
                            int size)
{
    QPCISriovIdBus *v = container_of(bus, QPCISriovIdBus, bus);
    QPCIBus *p = v->parent;
    uint32_t val;

    if (offset >= PCI_COMMAND || !is_vf_of(v->s, devfn) ||
        p->config_readw(p, devfn, PCI_VENDOR_ID) != 0xffff ||
        !qpci_function_present(p, devfn)) {
        switch (size) {
        case 1:
            return p->config_readb(p, devfn, offset);
        case 2:
            return p->config_readw(p, devfn, offset);
        default:
            return p->config_readl(p, devfn, offset);
        }
    }

    val = qpci_config_readw(v->s->pf, PCI_VENDOR_ID) |
          (uint32_t)v->s->vf_device_id << 16;
    val >>= offset * 8;
    return size == 4 ? val : val & ((1u << (size * 8)) - 1);
}

static uint8_t id_bus_readb(QPCIBus *bus, int devfn, uint8_t offset)
{
    return id_bus_read(bus, devfn, offset, 1);
}

static uint16_t id_bus_readw(QPCIBus *bus, int devfn, uint8_t offset)
{
    return id_bus_read(bus, devfn, offset, 2);
}

static uint32_t id_bus_readl(QPCIBus *bus, int devfn, uint8_t offset)
{
    return id_bus_read(bus, devfn, offset, 4);
}

QPCIBus *qpci_sriov_id_bus_new(QPCISriov *s)
{
    QPCISriovIdBus *v = g_new0(QPCISriovIdBus, 1);

    v->bus = *s->pf->bus;
    v->parent = s->pf->bus;
    v->s = s;
    v->bus.config_readb = id_bus_readb;
    v->bus.config_readw = id_bus_readw;
    v->bus.config_readl = id_bus_readl;
    return &v->bus;
}

void qpci_sriov_id_bus_free(QPCIBus *bus)
{
    if (bus) {
        g_free(container_of(bus, QPCISriovIdBus, bus));
    }
}

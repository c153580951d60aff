/*
 * libqos helper for the PCIe SR-IOV extended capability
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The SR-IOV capability lives in extended configuration space (offset
 * 0x100 and above), which the legacy 0xcf8/0xcfc mechanism behind
 * qpci_config_*() cannot reach.  Everything here therefore goes through
 * an ECAM (memory mapped configuration) window whose base the caller
 * provides; qpci_q35_enable_ecam() turns one on for the q35 machine.
 *
 * The helper is device agnostic: it only knows the layout defined by the
 * PCIe base specification, so that every SR-IOV capable device model
 * (igb, virtio-net, nvme...) can share it.
 */

#ifndef LIBQOS_PCI_SRIOV_H
#define LIBQOS_PCI_SRIOV_H

#include "pci.h"

/* Where q35 tests put the ECAM window unless they have a reason not to. */
#define QPCI_Q35_ECAM_BASE  0xb0000000ULL

/* Six BAR slots, like a type 0 header. */
#define QPCI_SRIOV_NUM_BARS 6

typedef struct QPCISriov {
    QPCIDevice *pf;         /* the physical function, not owned */
    uint64_t ecam;          /* ECAM base used for extended config space */
    uint16_t cap;           /* offset of the SR-IOV capability in the PF */

    /* Read-only fields cached by qpci_sriov_init() */
    uint16_t total_vfs;
    uint16_t initial_vfs;
    uint16_t vf_offset;
    uint16_t vf_stride;
    uint16_t vf_device_id;

    /*
     * VF BARs as sized/mapped by qpci_sriov_map_bars().  A BAR covers
     * TotalVFs consecutive copies of bar_size[i]; VF n sees its copy at
     * bar_addr[i] + n * bar_size[i].  The upper half of a 64-bit BAR has
     * bar_size 0.
     */
    uint64_t bar_size[QPCI_SRIOV_NUM_BARS];
    uint64_t bar_addr[QPCI_SRIOV_NUM_BARS];
    bool bar_is_64[QPCI_SRIOV_NUM_BARS];
} QPCISriov;

/*
 * Extended configuration space access through ECAM.  @dev->devfn carries
 * the bus number in bits 15:8 like everywhere else in libqos.
 */
uint32_t qpci_ecam_readl(QPCIDevice *dev, uint64_t ecam, uint16_t offset);
uint16_t qpci_ecam_readw(QPCIDevice *dev, uint64_t ecam, uint16_t offset);
void qpci_ecam_writel(QPCIDevice *dev, uint64_t ecam, uint16_t offset,
                      uint32_t value);
void qpci_ecam_writew(QPCIDevice *dev, uint64_t ecam, uint16_t offset,
                      uint16_t value);

/*
 * Program the q35 MCH PCIEXBAR so that a 256 MiB ECAM window decodes at
 * @base.  Firmware normally does this; under qtest nobody does.
 */
void qpci_q35_enable_ecam(QPCIBus *bus, uint64_t base);

/*
 * Walk the extended capability list starting at 0x100 and return the
 * offset of the first capability with ID @id, or 0 if there is none.
 */
uint16_t qpci_find_ext_capability(QPCIDevice *dev, uint64_t ecam, uint16_t id);

/*
 * Open the memory and prefetchable memory windows of the bridge @bridge
 * (e.g. a PCIe root port) over [@base, @base + @size) and enable memory
 * decoding and bus mastering on it.  Without firmware the windows are
 * closed, so BARs of devices behind a bridge, VF BARs included, would not
 * be reachable and their MSI-X writes would not make it upstream.
 * @base and @size must be 1 MiB aligned and below 4 GiB.
 */
void qpci_bridge_open_windows(QPCIDevice *bridge, uint64_t base,
                              uint64_t size);

/*
 * Locate the SR-IOV capability of @pf and cache its read-only fields.
 * Returns false if @pf is not SR-IOV capable.
 */
bool qpci_sriov_init(QPCISriov *s, QPCIDevice *pf, uint64_t ecam);

/* Raw accessors relative to the start of the capability (PCI_SRIOV_*). */
uint16_t qpci_sriov_readw(QPCISriov *s, uint16_t reg);
uint32_t qpci_sriov_readl(QPCISriov *s, uint16_t reg);
void qpci_sriov_writew(QPCISriov *s, uint16_t reg, uint16_t value);
void qpci_sriov_writel(QPCISriov *s, uint16_t reg, uint32_t value);

/*
 * NumVFs.  The write is not checked: tests also need to write values a
 * well-behaved driver never would, and read back what the device kept.
 */
void qpci_sriov_set_num_vfs(QPCISriov *s, uint16_t num_vfs);
uint16_t qpci_sriov_get_num_vfs(QPCISriov *s);

/*
 * Set or clear VF Enable together with VF MSE in SR-IOV Control, as a
 * driver does.  Returns whether VF Enable reads back as set, so a caller
 * can tell a refused enable from an accepted one.
 */
bool qpci_sriov_set_enable(QPCISriov *s, bool enable);
bool qpci_sriov_is_enabled(QPCISriov *s);

/*
 * Size the VF BARs (write all ones, read back, restore) and assign each
 * implemented memory BAR a range for TotalVFs VFs from the bus MMIO
 * allocator, aligned to the per-VF size as the spec requires.  Must be
 * called while VF Enable is clear.  I/O VF BARs are not supported (the
 * spec forbids them).
 */
void qpci_sriov_map_bars(QPCISriov *s);

/* Routing ID of VF @n (0-based) in libqos devfn encoding (bus << 8). */
int qpci_sriov_vf_devfn(QPCISriov *s, uint16_t n);

/*
 * Return a newly allocated QPCIDevice (free with g_free()) for VF @n.
 * This cannot use qpci_device_find(): VFs read 0xffff as Vendor ID by
 * specification, so that lookup would always fail.  Returns NULL if the
 * VF does not answer config cycles (i.e. it is not enabled).
 */
QPCIDevice *qpci_sriov_get_vf(QPCISriov *s, uint16_t n);

/*
 * Whether a function answers config cycles at @devfn.  Works for VFs
 * (which report 0xffff as Vendor ID) by looking at the Class Code too.
 */
bool qpci_function_present(QPCIBus *bus, int devfn);

/*
 * Let VF @vf decode its BARs and master (for MSI-X).  By the spec VF MSE
 * in the PF governs decoding and the VF's own Memory Space Enable is
 * read-only zero, but QEMU decodes VF BARs only when the VF's Command
 * register has it set, so set both to work either way.
 */
void qpci_sriov_vf_enable_decoding(QPCIDevice *vf);

/*
 * Token to use with qpci_io_*()/qpci_memread() for BAR @barno of VF @n;
 * qpci_sriov_map_bars() must have been called.
 */
QPCIBar qpci_sriov_vf_bar(QPCISriov *s, uint16_t n, int barno);

/*
 * Enable MSI-X on VF @vf.  qpci_msix_enable() cannot be used because it
 * maps the table BAR through the VF's own BAR registers, which are
 * read-only zero on a VF; the table and PBA are found through the VF
 * BARs of the capability instead.  Afterwards qpci_msix_pending() and
 * qpci_msix_masked() work on @vf.
 */
void qpci_sriov_vf_msix_enable(QPCISriov *s, QPCIDevice *vf, uint16_t n);

/*
 * A view of @s->pf's bus in which each VF of @s that answers config
 * cycles reports the PF's Vendor ID and the capability's VF Device ID
 * instead of 0xffff, as an operating system's SR-IOV layer presents them
 * to drivers.  Lets drivers that probe by ID (libqos virtio, for one)
 * bind to a VF; every other access goes to @s->pf's bus unchanged.
 * Allocate BARs from the real bus, not from the view.  Free with
 * qpci_sriov_id_bus_free() before @s->pf's bus.
 */
QPCIBus *qpci_sriov_id_bus_new(QPCISriov *s);
void qpci_sriov_id_bus_free(QPCIBus *bus);

#endif

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * (placeholder, filled in by the change that adds it)
 */
#include "qemu/osdep.h"
#include "pci-sriov.h"

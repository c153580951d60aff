# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-netvirt: build QEMU from the pinned upstream release plus our patch
# queue and overlay, and run our tests.  See README.md.

-include config.mak

NETVIRT_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/qemu-netvirt
BUILD_DIR ?= build
QEMU_CC ?= cc
export NETVIRT_CACHE

TOP := $(CURDIR)
SRC := $(abspath $(BUILD_DIR))/src/qemu
BLD := $(abspath $(BUILD_DIR))/qemu
QEMU := $(BLD)/qemu-system-x86_64

# ccache keyed by content, shared by every clone on this machine.
export CCACHE_DIR ?= $(NETVIRT_CACHE)/ccache
export CCACHE_BASEDIR := $(abspath $(BUILD_DIR))
export CCACHE_NOHASHDIR := 1
export CCACHE_MAXSIZE ?= 5G

QEMU_CONFIGURE_FLAGS := \
	--target-list=x86_64-softmmu \
	--python=/usr/bin/python3 \
	--cc="ccache $(QEMU_CC)" \
	--with-pkgversion=qemu-netvirt \
	--disable-install-blobs --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu \
	--without-default-features \
	--enable-tcg --enable-kvm --enable-bpf --enable-slirp \
	--enable-vhost-net --enable-vhost-kernel --enable-vhost-user \
	--enable-cap-ng --enable-attr --enable-virtfs \
	--disable-docs --disable-rust \
	$(EXTRA_QEMU_CONFIGURE)

# What `make` builds: the emulator and the qtest programs we run.
QTEST_PROGS := tests/qtest/qos-test tests/qtest/igb-sriov-test \
	tests/qtest/virtio-net-rss-test tests/qtest/virtio-net-sriov-test \
	tests/qtest/fuzz-netvirt-test
NINJA_TARGETS := qemu-system-x86_64 contrib/ebpf-rss-helper/qemu-ebpf-rss-helper \
	$(QTEST_PROGS) tools/ebpf/netvirt-rss-bench tests/qtest/rss-ref-predict \
	tests/qtest/netvirt-rss-kdiff

.PHONY: all deps prepare qemu check check-qtest check-guest demo bench \
	patches-export patches-import clean distclean help FORCE

all: qemu

help:
	@echo 'make              build qemu-system-x86_64 and the qtests'
	@echo 'make check TESTS=igb-sriov-test  run one suite'
	@echo 'make check        run every test suite (summary: N passed, N failed)'
	@echo 'make demo         boot a guest with RSS virtio-net and igb VFs'
	@echo 'make bench        time eBPF RSS (ours, upstream) and kernel RSS (root)'
	@echo 'make deps         install build dependencies from Debian (root)'
	@echo 'make patches-export  turn commits in $(SRC) into patches/qemu/'
	@echo 'make patches-import  re-apply patches/qemu/ onto a fresh upstream'

deps:
	@netvirt/install-deps

# Preparing is cheap when nothing changed, so always ask the script.
prepare: FORCE
	@netvirt/install-deps
	@netvirt/prepare $(SRC)

$(BLD)/build.ninja: | prepare
	@rm -rf $(BLD) && mkdir -p $(BLD)
	cd $(BLD) && $(SRC)/configure $(QEMU_CONFIGURE_FLAGS) > configure.log 2>&1 || \
		{ tail -30 $(BLD)/configure.log; echo "netvirt: error: upstream configure failed, see $(BLD)/configure.log"; rm -f $(BLD)/build.ninja; exit 1; }

qemu: prepare $(BLD)/build.ninja
	@# Serialise concurrent builds in one tree (ninja does not lock).
	flock $(BLD)/.ninja.lock ninja -C $(BLD) $(NINJA_TARGETS)
	@$(QEMU) --version | head -1

# The kernel suite needs the host kernel of the test VM (cached).
check: qemu kernel
	@netvirt/run-tests --qemu-build $(BLD) $(TESTS)

demo: qemu
	@netvirt/demo --qemu $(QEMU)

# Not part of check: timings say nothing on a loaded machine.
# The kernel section runs in a VM booted on the kernel of "make kernel".
bench: qemu kernel
	@k=$$(netvirt/kernel/build --src $(LINUX_SRC) --out $(LINUX_BLD) --headers $(LINUX_HDR)) && \
	netvirt/bench-ebpf-rss --qemu-build $(BLD) --src $(SRC) --out $(TOP)/bench --kernel "$$k"

# The Linux series (patches/linux/): a host kernel for the test VM, built
# and cached by netvirt/kernel/build, and its selftests run in that VM.
# KASAN=1: the same kernel with KASAN and kmemleak (opt-in: it builds and
# runs much slower; docs/devel/netvirt-testing.rst has the numbers).
LINUX_SRC := $(abspath $(BUILD_DIR))/src/linux
LINUX_BLD := $(abspath $(BUILD_DIR))/linux
LINUX_HDR := $(abspath $(BUILD_DIR))/linux-headers
KASAN ?= 0
LINUX_KASAN := $(if $(filter-out 0,$(KASAN)),--kasan)
.PHONY: kernel check-kernel

kernel:
	@netvirt/kernel/build $(LINUX_KASAN) --src $(LINUX_SRC) \
		--out $(LINUX_BLD)$(if $(LINUX_KASAN),-kasan) --headers $(LINUX_HDR)

check-kernel: qemu kernel
	@KASAN=$(KASAN) netvirt/kernel/check --qemu $(QEMU) --src $(LINUX_SRC) \
		--out $(LINUX_BLD) --headers $(LINUX_HDR)

patches-export:
	@netvirt/patch-queue export $(SRC)

patches-import:
	@netvirt/patch-queue import $(SRC)

clean:
	rm -rf $(BLD)

distclean:
	rm -rf $(abspath $(BUILD_DIR)) config.mak

FORCE:

# Fuzzing (docs/devel/netvirt-fuzzing.rst): clang + libFuzzer + ASan/UBSan
# in build/fuzz, corpora in $(NETVIRT_CACHE)/fuzz/.  FUZZ_TIME is seconds
# per campaign; FUZZ_ONLY picks campaigns (comma separated).  The last one,
# kernel-diff, replays the RSS corpus in the patched-kernel VM with programs
# of the main build.
FUZZ_TIME ?= 600
FUZZ_ONLY ?=
FUZZ_BLD := $(abspath $(BUILD_DIR))/fuzz
.PHONY: fuzz fuzz-smoke

fuzz: prepare qemu
	@netvirt/fuzz --src $(SRC) --build $(FUZZ_BLD) --qemu-build $(BLD) \
		--time $(FUZZ_TIME) --only "$(FUZZ_ONLY)" -- $(QEMU_CONFIGURE_FLAGS)

fuzz-smoke: FUZZ_TIME = 60
fuzz-smoke: fuzz

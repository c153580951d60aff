#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-netvirt driven by Debian's libvirt (11.x), not by a QEMU command
# line: a private libvirtd + virtlogd, in a network namespace and a mount
# namespace of their own, start TCG domains whose <emulator> is our QEMU.
#   nv-full    virtio-net with 4 queues, RSS and hash report; virtio-net
#              with RSS only; igb on a PCIe root port; a virtio-net SR-IOV
#              PF with two VFs (<qemu:commandline>).  QEMU runs as root.
#   nv-unpriv  virtio-net with RSS, QEMU as nobody without any capability,
#              as libvirt runs it in a normal setup: the test starts
#              qemu-ebpf-rss-helper as a service (outside libvirt) and
#              QEMU gets the eBPF steering program from it.
#   nv-kernel  rss-offload=kernel (<qemu:override>): a mode this host may
#              lack; then virsh start must fail with QEMU's reason.
#   nv-vhost   hash report asked for together with vhost-net.
# The guest reports what it sees (libvirt.guest); the host asserts.

. "$(dirname "$0")/lib.sh"

qemu=${QEMU:-$top/build/qemu/qemu-system-x86_64}
helper=$(dirname "$qemu")/contrib/ebpf-rss-helper/qemu-ebpf-rss-helper
script=$top/tests/guest/libvirt.guest

if [ "$(id -u)" -ne 0 ]; then
    tap_skip "libvirt domains" "needs root (taps, namespaces); run: sudo $0"
    tap_done
    exit
fi
if ! command -v libvirtd > /dev/null || ! command -v virtlogd > /dev/null ||
   ! command -v virsh > /dev/null; then
    tap_skip "libvirt domains" "libvirt is not installed; run netvirt/install-deps"
    tap_done
    exit
fi
lv_version=$(virsh --version)
expect_match "libvirt is 11 or newer (rss/rss_hash_report, qemu:override)" \
    '^(1[1-9]|[2-9][0-9])\.' "$lv_version"

tmp=$(mktemp -d /tmp/netvirt-libvirt.XXXXXX)
# QEMU of nv-unpriv runs as nobody: it reads the kernel and initramfs here.
chmod 755 "$tmp"
ns=nvlibvirt-$$
daemon_pid=
helper_pid=
uri="qemu:///system?socket=$tmp/run/libvirt-sock"
virsh_() { virsh -q -c "$uri" "$@"; }

cleanup() {
    local d p
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        for d in $(virsh_ list --all --name 2>/dev/null); do
            virsh_ destroy "$d" > /dev/null 2>&1
            virsh_ undefine "$d" > /dev/null 2>&1
        done
    fi
    # QEMU outlives libvirtd by design; whatever is left goes by pid file.
    for p in "$tmp"/run/qemu/*.pid "$tmp"/virtlogd.pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    fi
    if [ -n "$helper_pid" ]; then
        kill "$helper_pid" 2>/dev/null && wait "$helper_pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    if [ -n "${NETVIRT_KEEP_TMP:-}" ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
at_exit cleanup

# The daemons see $tmp as /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/log/libvirt and /var/cache/libvirt, and an empty /run (no systemd,
# no D-Bus): nothing of the host's libvirt is read or written.
mkdir -p "$tmp"/{etc,run,lib,log,cache}
cat > "$tmp/etc/libvirtd.conf" <<'EOF'
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
cat > "$tmp/etc/qemu.conf" <<'EOF'
security_driver = "none"
user = "root"
group = "root"
remember_owner = 0
namespaces = []
cgroup_controllers = []
EOF
: > "$tmp/etc/virtlogd.conf"

ip netns add "$ns"
ip netns exec "$ns" unshare --mount --propagation private sh -ec '
    d=$1
    mount -t tmpfs tmpfs /run
    mkdir /run/libvirt
    mount --bind "$d/run" /run/libvirt
    mount --bind "$d/etc" /etc/libvirt
    mount --bind "$d/lib" /var/lib/libvirt
    mount --bind "$d/log" /var/log/libvirt
    mount --bind "$d/cache" /var/cache/libvirt
    virtlogd --daemon --pid-file "$d/virtlogd.pid"
    exec libvirtd
' sh "$tmp" > "$tmp/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
    virsh_ version > /dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.2
done
if ! virsh_ version > /dev/null 2>&1; then
    tap_not_ok "private libvirtd answers on $tmp/run/libvirt-sock" \
        "$(cat "$tmp/daemon.out" "$tmp/log/libvirtd.log" 2>/dev/null | tail -n 20)"
    tap_done
    exit
fi
tap_ok "private libvirtd $lv_version answers on its own socket"

read -r kernel _ < <(guest_image "$script" "$tmp/initrd.img") || true
if [ -z "${kernel:-}" ]; then
    tap_not_ok "the test guest's initramfs is built" "netvirt/guest/build failed"
    tap_done
    exit
fi
cp "$kernel" "$tmp/vmlinuz"
chmod 644 "$tmp/vmlinuz" "$tmp/initrd.img"

# domain_xml NAME DEVICES-XML [EXTRA-XML]: a TCG q35 domain that boots the
# test guest directly, its serial console in $tmp/NAME.console.
domain_xml() {
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$tmp/vmlinuz</kernel>
    <initrd>$tmp/initrd.img</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=4</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='maximum' check='none'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$qemu</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'>
      <source path='$tmp/$1.console'/>
      <target port='0'/>
    </serial>
$2
  </devices>
${3:-}
</domain>
EOF
}

# rss_nic MAC SLOT DRIVER-ATTRS: a virtio-net on a tap libvirt creates.
rss_nic() {
    cat <<EOF
    <interface type='ethernet'>
      <mac address='$1'/>
      <model type='virtio'/>
      <driver $3/>
      <address type='pci' domain='0' bus='0' slot='$2' function='0'/>
    </interface>
EOF
}

# trace_xml NAME: QEMU traces steering changes and the RSS mode it picks
# to $tmp/NAME.trace.
trace_xml() {
    cat <<EOF
  <qemu:commandline>
    <qemu:arg value='-trace'/>
    <qemu:arg value='virtio_net_rss_attach_ebpf'/>
    <qemu:arg value='-trace'/>
    <qemu:arg value='virtio_net_rss_mode'/>
    <qemu:arg value='-D'/>
    <qemu:arg value='$tmp/$1.trace'/>
  </qemu:commandline>
EOF
}

# run_domain NAME XML-FILE: define, start, wait for the guest, destroy,
# undefine.  Facts end up in guest_out.
run_domain() {
    local name=$1 err
    if ! err=$(virsh_ define "$2" 2>&1); then
        tap_not_ok "libvirt accepts the $name domain XML" "$err"
        return 1
    fi
    tap_ok "libvirt accepts the $name domain XML"
    if ! err=$(virsh_ start "$name" 2>&1); then
        tap_not_ok "virsh start $name" "$err" \
            "$(tail -n 5 "$tmp/log/qemu/$name.log" 2>/dev/null)"
        virsh_ undefine "$name" > /dev/null 2>&1
        return 1
    fi
    tap_ok "virsh start $name"
    ip -n "$ns" -o link show > "$tmp/$name.links"
    cat "$tmp/run/qemu/$name.pid" > "$tmp/$name.qemupid"
    cat "/proc/$(cat "$tmp/run/qemu/$name.pid")/status" > "$tmp/$name.status"
    guest_collect "$script" "$tmp/$name.console" \
        --pid "$(cat "$tmp/run/qemu/$name.pid")" --timeout 150
    virsh_ destroy "$name" > /dev/null 2>&1
    expect_eq "virsh undefine $name" 0 \
        "$(virsh_ undefine "$name" > /dev/null 2>&1; echo $?)"
}

# --- nv-full: every capability, QEMU as root with all its capabilities.
full_devs="$(rss_nic 52:54:00:00:10:01 0x2 "name='qemu' queues='4' rss='on' rss_hash_report='on'")
$(rss_nic 52:54:00:00:10:02 0x3 "name='qemu' queues='4' rss='on'")
    <controller type='pci' index='1' model='pcie-root-port'>
      <address type='pci' domain='0' bus='0' slot='0x4' function='0'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <address type='pci' domain='0' bus='0' slot='0x5' function='0'/>
    </controller>
    <interface type='ethernet'>
      <mac address='52:54:00:00:20:01'/>
      <model type='igb'/>
      <address type='pci' domain='0' bus='1' slot='0' function='0'/>
    </interface>"
# The virtio-net SR-IOV PF and its VFs on root port 2 (pci.2): libvirt has
# no XML for sriov-pf=, so they go on the command line (docs/system/sriov.rst),
# in JSON: QEMU creates -device JSON after -device key=value, and libvirt
# writes the root port in JSON.
full_extra="$(trace_xml nv-full | sed '$d')"
for f in 1 2; do
    full_extra+="
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=nvvf$f,restrict=on'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='{\"driver\":\"virtio-net-pci\",\"bus\":\"pci.2\",\"addr\":\"0x0.$f\",\"netdev\":\"nvvf$f\",\"sriov-pf\":\"nvpf\",\"mac\":\"52:54:00:00:30:0$f\",\"romfile\":\"\"}'/>"
done
full_extra+="
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=nvpf0,restrict=on'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='{\"driver\":\"virtio-net-pci\",\"bus\":\"pci.2\",\"addr\":\"0x0.0\",\"netdev\":\"nvpf0\",\"id\":\"nvpf\",\"mac\":\"52:54:00:00:30:00\",\"romfile\":\"\"}'/>
  </qemu:commandline>"
domain_xml nv-full "$full_devs" "$full_extra" > "$tmp/nv-full.xml"

if run_domain nv-full "$tmp/nv-full.xml"; then
    log=$tmp/log/qemu/nv-full.log
    cmdline=$(sed -n '/^LC_ALL=/,/^-msg/p' "$log")
    expect_match "libvirt runs our QEMU" "$(basename "$qemu")" "$cmdline"
    expect_match "libvirt opens 4 tap queues and asks for mq, rss, hash" \
        '"type":"tap","fds":"[0-9]+:[0-9]+:[0-9]+:[0-9]+".*"mq":true,"vectors":10,"rss":true,"hash":true' \
        "$cmdline"
    expect_eq "libvirt made the 3 taps in the test's namespace" 3 \
        "$(grep -c ': vnet[0-9]*:' "$tmp/nv-full.links")"
    expect_eq "virtio-net (hash report) is in the guest" yes "$(fact virtio_found)"
    expect_eq "virtio-net offers 4 combined queues" 4 "$(fact virtio_max_combined)"
    expect_eq "the guest enabled 4 combined queues" 4 "$(fact virtio_combined)"
    expect_eq "VIRTIO_NET_F_RSS negotiated" 1 "$(fact virtio_f_rss)"
    expect_eq "VIRTIO_NET_F_HASH_REPORT negotiated" 1 "$(fact virtio_f_hash_report)"
    expect_eq "the guest can turn receive-hashing on" on "$(fact virtio_rxhash)"
    expect_eq "ethtool -x: indirection table over 4 rings" 4 "$(fact virtio_rss_rings)"
    expect_eq "ethtool -x: the table spreads over queues 0-3" "0 1 2 3" \
        "$(fact virtio_rss_queues)"
    expect_eq "ethtool -x: Toeplitz hash" on "$(fact virtio_rss_toeplitz)"
    expect_eq "ethtool -x: 40-byte RSS key" 40 "$(fact virtio_rss_key_len)"
    expect_eq "igb PF is in the guest" yes "$(fact igb_found)"
    expect_eq "igb driver binds the PF" igb "$(fact igb_driver)"
    expect_eq "igb PF offers 7 VFs" 7 "$(fact igb_totalvfs)"
    expect_eq "igb: 2 VFs enabled" 2 "$(fact igb_numvfs)"
    expect_eq "virtio-net SR-IOV PF is in the guest" yes "$(fact vsriov_found)"
    expect_eq "virtio-net SR-IOV PF offers 2 VFs" 2 "$(fact vsriov_totalvfs)"
    expect_eq "virtio-net SR-IOV: 2 VFs enabled" 2 "$(fact vsriov_numvfs)"
    for i in 0 1; do
        expect_eq "igb VF $i is an 82576 VF" 0x8086:0x10ca "$(fact igb_vf${i}_ids)"
        expect_eq "igb VF $i is bound to igbvf" igbvf "$(fact igb_vf${i}_driver)"
        expect_match "igb VF $i has a netdev" '^[a-z0-9]+$' "$(fact igb_vf${i}_netdev)"
        expect_eq "virtio-net VF $i is a modern virtio-net" 0x1af4:0x1041 \
            "$(fact vsriov_vf${i}_ids)"
        expect_eq "virtio-net VF $i is bound to virtio-pci" virtio-pci \
            "$(fact vsriov_vf${i}_driver)"
        expect_eq "virtio-net VF $i has its MAC from the command line" \
            "52:54:00:00:30:0$((i + 1))" "$(fact vsriov_vf${i}_mac)"
    done
    expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"
    # QEMU as root may load eBPF: the RSS-only NIC gets the steering
    # program; the hash-report NIC must not (the tap cannot report hashes
    # from eBPF, so QEMU hashes in software there).
    expect_match "eBPF steering attached to a tap under libvirt (QEMU as root)" \
        'prog-fd=[0-9]' "$(cat "$tmp/nv-full.trace" 2>/dev/null)"
fi

# --- nv-unpriv: QEMU as nobody without any capability, as libvirt runs it
# normally (user = "libvirt-qemu" in Debian's qemu.conf; nobody here).
# Debian's libvirt is built without libbpf, so it cannot load the program
# for QEMU and pass ebpf-rss-fds; a helper QEMU runs gains CAP_BPF only
# from file capabilities, which QEMU's bounding set, NoNewPrivs or a nosuid
# mount may rule out.  So the helper runs as a service, started apart
# from libvirt; its socket's group and mode let nobody's QEMU in.
# <qemu:override> points the NIC (alias net0) at it, and pins the eBPF
# mode: a host kernel with the tun hash feature would need no program.
helper_sock=$tmp/ebpf-rss-helper.sock
"$helper" --listen "$helper_sock" --socket-group 65534 --socket-mode 0660 \
    2> "$tmp/helper.log" &
helper_pid=$!
for _ in $(seq 100); do
    ss -xlH 2>/dev/null | grep -qF " $helper_sock " && break
    kill -0 "$helper_pid" 2>/dev/null || break
    sleep 0.1
done
expect_match "the eBPF RSS helper service listens, for group nogroup only" \
    '^srw-rw---- [0-9]+ root nogroup ' \
    "$(ls -l "$helper_sock" 2>&1)"

unpriv_devs=$(rss_nic 52:54:00:00:10:01 0x2 "name='qemu' queues='4' rss='on'")
unpriv_sec="  <seclabel type='static' model='dac' relabel='yes'>
    <label>+65534:+65534</label>
  </seclabel>
$(trace_xml nv-unpriv)
  <qemu:override>
    <qemu:device alias='net0'>
      <qemu:frontend>
        <qemu:property name='ebpf-rss-helper' type='string' value='unix:$helper_sock'/>
        <qemu:property name='rss-offload' type='string' value='ebpf'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>"
: > "$tmp/nv-unpriv.trace"
chown 65534:65534 "$tmp/nv-unpriv.trace"
domain_xml nv-unpriv "$unpriv_devs" "$unpriv_sec" > "$tmp/nv-unpriv.xml"
if run_domain nv-unpriv "$tmp/nv-unpriv.xml"; then
    log=$tmp/log/qemu/nv-unpriv.log
    cmdline=$(sed -n '/^LC_ALL=/,/^-msg/p' "$log")
    trace=$(cat "$tmp/nv-unpriv.trace")
    expect_match "QEMU ran as nobody" '^Uid:[[:space:]]+65534[[:space:]]' \
        "$(grep '^Uid:' "$tmp/nv-unpriv.status")"
    expect_eq "QEMU ran without capabilities (no CAP_BPF)" 0000000000000000 \
        "$(sed -n 's/^CapEff:[[:space:]]*//p' "$tmp/nv-unpriv.status")"
    expect_eq "QEMU has no permitted capabilities either" 0000000000000000 \
        "$(sed -n 's/^CapPrm:[[:space:]]*//p' "$tmp/nv-unpriv.status")"
    # libvirt 11.3 leaves the bounding set here; with one cleared (or
    # NoNewPrivs) only the service, not a helper QEMU runs, could help.
    echo "# QEMU's $(grep -E '^(CapBnd|NoNewPrivs):' "$tmp/nv-unpriv.status" | tr '\n\t' '  ')"
    expect_eq "libvirt passes no ebpf-rss-fds (built without libbpf)" 0 \
        "$(echo "$cmdline" | grep -c 'ebpf-rss-fds')"
    expect_match "libvirt passes ebpf-rss-helper from <qemu:override>" \
        "\"ebpf-rss-helper\":\"unix:$helper_sock\"" "$cmdline"
    expect_match "the helper service sent a program to QEMU (uid 65534)" \
        "sent a program to pid $(cat "$tmp/nv-unpriv.qemupid") uid 65534 " \
        "$(cat "$tmp/helper.log")"
    expect_eq "unprivileged: the guest negotiates RSS" 1 "$(fact virtio_f_rss)"
    expect_eq "unprivileged: 4 queues" 4 "$(fact virtio_combined)"
    expect_eq "unprivileged: ethtool -x spreads over queues 0-3" "0 1 2 3" \
        "$(fact virtio_rss_queues)"
    expect_match "unprivileged: virtio-net picks RSS mode ebpf" \
        'mode=ebpf ' "$(grep virtio_net_rss_mode <<< "$trace" | tail -n 1)"
    expect_match "unprivileged: the eBPF program is attached to the tap" \
        'prog-fd=[0-9]' "$(grep virtio_net_rss_attach_ebpf <<< "$trace" | tail -n 1)"
    expect_eq "unprivileged: no software RSS fallback, no helper warning" 0 \
        "$(grep -cE 'fallback to software RSS|eBPF RSS helper|Unable to load eBPF' "$log")"
fi

# --- nv-kernel: rss-offload=kernel pins the tap's own RSS (our Linux
# series).  On a host kernel without it the domain must not start, and
# virsh must say why; where the kernel has it, QEMU must use it.
kernel_devs=$(rss_nic 52:54:00:00:10:01 0x2 "name='qemu' queues='4' rss='on'")
kernel_extra="$(trace_xml nv-kernel)
  <qemu:override>
    <qemu:device alias='net0'>
      <qemu:frontend>
        <qemu:property name='rss-offload' type='string' value='kernel'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>"
domain_xml nv-kernel "$kernel_devs" "$kernel_extra" > "$tmp/nv-kernel.xml"
virsh_ define "$tmp/nv-kernel.xml" > /dev/null
if err=$(virsh_ start nv-kernel 2>&1); then
    expect_match "rss-offload=kernel: the host's tap computes the hash" \
        'mode=kernel ' "$(grep virtio_net_rss_mode "$tmp/nv-kernel.trace" 2>/dev/null)"
    virsh_ destroy nv-kernel > /dev/null 2>&1
else
    echo "$err" | sed 's/^/# virsh: /'
    expect_match "rss-offload=kernel on a stock kernel: virsh start gives QEMU's reason" \
        'rss-offload=kernel: tap: the host kernel does not compute virtio-net hashes' \
        "$err"
    expect_eq "rss-offload=kernel on a stock kernel: no QEMU is left behind" "" \
        "$(virsh_ list --name --state-running | grep -x nv-kernel)"
fi
virsh_ undefine nv-kernel > /dev/null 2>&1

# --- nv-vhost: hash report with vhost-net.  QEMU cannot report hashes
# through vhost-net unless the host's tun has the hash feature
# (patches/linux).  Such a domain must not start with the feature dropped.
vhost_devs=$(rss_nic 52:54:00:00:10:01 0x2 "name='vhost' queues='4' rss='on' rss_hash_report='on'")
domain_xml nv-vhost "$vhost_devs" > "$tmp/nv-vhost.xml"
virsh_ define "$tmp/nv-vhost.xml" > /dev/null
if err=$(virsh_ start nv-vhost 2>&1); then
    cmdline=$(sed -n '/^LC_ALL=/,/^-msg/p' "$tmp/log/qemu/nv-vhost.log")
    if [ ! -c /dev/vhost-net ]; then
        # What is true today on a host without vhost-net: libvirt drops
        # name='vhost' without a word and QEMU hashes in user space.
        expect_eq "no /dev/vhost-net: libvirt starts the domain without vhost" 0 \
            "$(echo "$cmdline" | grep -c '"vhost":true')"
    else
        tap_not_ok "hash report + vhost-net: virsh start fails with a clear error" \
            "the domain started; QEMU drops VIRTIO_NET_F_HASH_REPORT silently" \
            "unless the host's tun has the hash feature (patches/linux)"
    fi
    virsh_ destroy nv-vhost > /dev/null 2>&1
else
    expect_match "hash report + vhost-net: virsh start names the problem" \
        '[Hh]ash|vhost' "$err"
fi
virsh_ undefine nv-vhost > /dev/null 2>&1

tap_done

# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for scripts that run inside the test guest (busybox sh).  The
# host prepends this file to every guest script.

# Busybox's shell prefers its own applets; its ip lacks "ip link ... vf".
ip() { /sbin/ip "$@"; }
ethtool() { /sbin/ethtool "$@"; }

fact() {
    echo "FACT $1=$2"
}

# pci_devs VENDOR DEVICE: sysfs paths of matching PCI functions.
pci_devs() {
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] &&
            echo "$d"
    done
}

# virtio_net_devs: virtio-net functions, modern (0x1041) or transitional.
virtio_net_devs() {
    pci_devs 0x1af4 0x1041
    pci_devs 0x1af4 0x1000
}

# pci_driver PATH: name of the bound driver, or "none".
pci_driver() {
    if [ -e "$1/driver" ]; then
        basename "$(readlink "$1/driver")"
    else
        echo none
    fi
}

# pci_netdev PATH: network interfaces of a PCI function (virtio nests them
# one level deeper, under virtioN/net).
pci_netdev() {
    ls "$1"/net "$1"/virtio*/net 2>/dev/null | grep -v ':$' | grep -v '^$' |
        tr '\n' ' ' | sed 's/ $//'
}

# wait_for SECS CMD...: poll until CMD succeeds.
wait_for() {
    local tries=$(($1 * 10))
    shift
    while [ "$tries" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

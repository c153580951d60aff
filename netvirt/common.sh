# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the netvirt/ scripts.  Source it; do not run it.

: "${NETVIRT_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/qemu-netvirt}"
export NETVIRT_CACHE
mkdir -p "$NETVIRT_CACHE"

info() { echo "netvirt: $*" >&2; }
warn() { echo "netvirt: warning: $*" >&2; }
die()  { echo "netvirt: error: $*" >&2; exit 1; }

# pin_get NAME: print "kind package version pool-dir file sha256".
pin_get() {
    awk -v n="$1" '$1 == n { print $2, $3, $4, $5, $6, $7; found=1 }
                   END { exit !found }' "$top/upstream.pin"
}

# need_root WHAT: fail with the exact command to run when not root.
need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        die "$1 needs root (tap devices, /dev/net/tun); run: sudo $2"
    fi
}

# series_hash PATCHDIR: identifies the content of a patch queue, so that a
# prepared tree knows whether it is up to date.
series_hash() {
    (cat "$1/series"
     sed -e '/^#/d' -e '/^$/d' "$1/series" | while read -r p; do
         cat "$1/$p"
     done) | sha256sum | cut -d' ' -f1
}

# add_modules MODDIR ROOT NAME...: copy the kernel modules NAME and what
# they depend on (modinfo's depends=, which changes between kernel
# versions) from MODDIR into ROOT/lib/modules, decompressed because
# busybox's insmod takes plain .ko files, and list them in load order in
# ROOT/etc/modules.order.  depends= may say '-' where a file says '_'.
add_modules() {
    local moddir=$1 root=$2 m
    shift 2
    local -A _mods_done=()
    mkdir -p "$root/lib/modules" "$root/etc"
    : > "$root/etc/modules.order"
    _add_module() {
        local name=${1//-/_} f dep b
        [ -z "${_mods_done[$name]:-}" ] || return 0
        _mods_done[$name]=1
        f=$(find "$moddir" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) |
            head -n1)
        [ -n "$f" ] || die "module $name is not in $moddir"
        for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
            _add_module "$dep"
        done
        b=$(basename "$f")
        case "$b" in
        *.ko.xz)  xz -dc "$f" > "$root/lib/modules/${b%.xz}" ;;
        *.ko.zst) zstd -qdc "$f" > "$root/lib/modules/${b%.zst}" ;;
        *.ko)     cp "$f" "$root/lib/modules/$b" ;;
        *) die "unexpected module file $f" ;;
        esac
        b=${b%.xz}
        echo "${b%.zst}" >> "$root/etc/modules.order"
    }
    for m in "$@"; do
        _add_module "$m"
    done
}

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

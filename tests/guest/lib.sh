# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared code of the guest tests: boot the test guest with a script, read
# the facts it printed ("FACT name=value") and assert on them on the host.
# Results are TAP, as QEMU's qtests print them, for netvirt/run-tests.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$top/netvirt/common.sh"

tap_n=0
tap_failed=0
guest_out=
tmp_script=$(mktemp)
trap 'rm -f "$tmp_script"' EXIT

tap_ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1"
}

tap_not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $1"
    shift
    for l in "$@"; do
        echo "# $l"
    done
}

# tap_skip DESC WHY: counted as a failure by the runner when CI=true.
tap_skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

# guest_boot GUEST-SCRIPT [QEMU-ARGS...]: boot, keep the output.
guest_boot() {
    local script=$1 rc=0
    shift
    cat "$top/tests/guest/guest-lib.sh" "$script" > "$tmp_script"
    guest_out=$("$top/netvirt/guest/run" "$tmp_script" -- "$@") || rc=$?
    echo "$guest_out" | sed 's/^/# guest: /'
    if [ "$rc" -eq 0 ]; then
        tap_ok "guest script $(basename "$script") ran to completion"
    else
        tap_not_ok "guest script $(basename "$script") ran to completion" \
            "exit status $rc"
    fi
    return "$rc"
}

# fact NAME: the last value the guest printed as "FACT NAME=value".
fact() {
    echo "$guest_out" | sed -n "s/^FACT $1=//p" | tail -n1
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        tap_ok "$1"
    else
        tap_not_ok "$1" "expected: '$2'" "actual:   '$3'"
    fi
}

expect_match() {
    if [[ $3 =~ $2 ]]; then
        tap_ok "$1"
    else
        tap_not_ok "$1" "expected to match: $2" "actual: '$3'"
    fi
}

tap_done() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}

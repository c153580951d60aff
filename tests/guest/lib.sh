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

# at_exit CMD: run CMD (eval'd) when the test exits, also on failure or
# SIGTERM from the runner's timeout; the last registered runs first.
exit_hooks=()
at_exit() {
    exit_hooks=("$1" "${exit_hooks[@]}")
}
run_exit_hooks() {
    local h
    for h in "${exit_hooks[@]}"; do
        eval "$h" || true
    done
    exit_hooks=()
}
trap run_exit_hooks EXIT
at_exit 'rm -f "$tmp_script"'

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

# guest_report GUEST-SCRIPT RC: show the guest's output, pass if RC is 0.
guest_report() {
    echo "$guest_out" | sed 's/^/# guest: /'
    if [ "$2" -eq 0 ]; then
        tap_ok "guest script $(basename "$1") ran to completion"
    else
        tap_not_ok "guest script $(basename "$1") ran to completion" \
            "exit status $2"
    fi
    return "$2"
}

# guest_boot GUEST-SCRIPT [QEMU-ARGS...]: boot, keep the output.  QEMU
# runs in the network namespace $guest_netns when that is set.
guest_netns=
guest_boot() {
    local script=$1 rc=0
    local -a wrap=()
    shift
    [ -n "$guest_netns" ] && wrap=(ip netns exec "$guest_netns")
    cat "$top/tests/guest/guest-lib.sh" "$script" > "$tmp_script"
    guest_out=$("${wrap[@]}" "$top/netvirt/guest/run" "$tmp_script" -- "$@") ||
        rc=$?
    guest_report "$script" "$rc"
}

# guest_image GUEST-SCRIPT IMG: build the test guest's initramfs with the
# script in IMG, without booting it (for a VM that something else starts,
# e.g. libvirt); prints "KERNEL IMG".
guest_image() {
    cat "$top/tests/guest/guest-lib.sh" "$1" > "$tmp_script"
    "$top/netvirt/guest/build" --script "$tmp_script" --out "$2"
}

# guest_collect GUEST-SCRIPT CONSOLE-LOG [--pid PID] [--timeout SECS]: wait
# for the result of a guest booted from guest_image's IMG whose serial
# console goes to CONSOLE-LOG; keep the output, like guest_boot.
guest_collect() {
    local script=$1 log=$2 rc=0
    shift 2
    guest_out=$("$top/netvirt/guest/console" "$@" "$log") || rc=$?
    guest_report "$script" "$rc"
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

# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Boot a throw-away VM whose init reports on a serial console with
# markers, as the test harnesses do.  Source it after common.sh.
#
#   vm_run TIMEOUT MARKFILE PREFIX QEMU-ARGS...
#
# starts QEMU in the background (its own output in $vm_tmp/qemu.log),
# waits until a line "PREFIX-EXIT <status>" appears in MARKFILE, QEMU exits
# or TIMEOUT seconds pass, then stops QEMU.  Prints the lines between
# "PREFIX-START" and "PREFIX-EXIT" of MARKFILE and returns the status
# reported there: 124 when the VM did not finish in time, 125 when it
# stopped without reporting.  The caller creates $vm_tmp (a directory that
# is removed on exit, with QEMU killed first).

vm_pid=
vm_cleanup() {
    if [ -n "$vm_pid" ]; then
        kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
    fi
    [ -n "${vm_tmp:-}" ] && rm -rf "$vm_tmp"
}

vm_run() {
    local timeout=$1 mark=$2 prefix=$3 rc=124 exit_line
    shift 3
    : > "$mark"
    "$@" > "$vm_tmp/qemu.log" 2>&1 &
    vm_pid=$!
    # A deadline, not a count of polls: on a loaded machine each poll
    # takes longer than its sleep.
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$vm_pid" 2>/dev/null; then
            rc=125
            break
        fi
        # The VM powers off right after the marker; do not wait for that.
        grep -aq "^$prefix-EXIT" "$mark" && sleep 0.5 && break
        sleep 0.2
    done
    kill "$vm_pid" 2>/dev/null || true
    wait "$vm_pid" 2>/dev/null || true
    vm_pid=
    if [ -s "$vm_tmp/qemu.log" ]; then
        sed 's/^/qemu: /' "$vm_tmp/qemu.log" >&2
    fi
    tr -d '\r' < "$mark" > "$vm_tmp/mark.txt"
    if grep -aq "^$prefix-START" "$vm_tmp/mark.txt"; then
        sed -n "/^$prefix-START/,/^$prefix-EXIT/p" "$vm_tmp/mark.txt" | sed '1d;$d'
    else
        # Failed before it could run anything: show why.
        grep -av "^$prefix-EXIT" "$vm_tmp/mark.txt" >&2 || true
    fi
    exit_line=$(grep -a "^$prefix-EXIT " "$vm_tmp/mark.txt" | tail -n1 || true)
    if [ -n "$exit_line" ]; then
        return "${exit_line#"$prefix"-EXIT }"
    fi
    if [ "$rc" = 124 ]; then
        warn "the VM did not finish within ${timeout}s"
    else
        warn "the VM stopped without reporting a result"
    fi
    return "$rc"
}

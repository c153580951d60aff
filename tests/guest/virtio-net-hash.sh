# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared by virtio-net-hash-test.sh and virtio-net-hash-vhost-test.sh: a
# real guest (Debian's virtio_net) receives UDP flows over IPv4 and IPv6
# from a tap in a network namespace; each packet must arrive on the queue
# the reference model (tests/qtest/libqos/rss-ref.c, through
# rss-ref-predict) computes from the key and table the driver set, with
# the reference hash as skb->hash, and the driver's ethtool -S per-queue
# counters must agree.  Source after lib.sh.

flows4=32
flows6=32
per_flow=4
count=$(((flows4 + flows6) * per_flow))
tap=nvh0
guest_mac=52:54:00:77:00:02
predict=$top/build/qemu/tests/qtest/rss-ref-predict

# hash_tools: build the guest's rxhash once (cached by content) and the
# test guest; prints the directory rxhash is in.
hash_tools() {
    local src=$top/tests/guest/rxhash.c dir
    [ -x "$predict" ] || die "no $predict; run make"
    dir=$NETVIRT_CACHE/guest-tools/$(sha256sum "$src" | cut -c1-16)
    if [ ! -x "$dir/rxhash" ]; then
        mkdir -p "$dir"
        cc -static -O2 -Wall -o "$dir/rxhash.tmp" "$src" ||
            die "cannot build $src"
        mv "$dir/rxhash.tmp" "$dir/rxhash"
    fi
    "$top/netvirt/guest/build" > /dev/null || die "cannot build the test guest"
    echo "$dir"
}

flows() {
    local i
    for ((i = 0; i < flows4; i++)); do
        echo "10.77.0.1 10.77.0.2 $((20000 + i)) 7777"
    done
    for ((i = 0; i < flows6; i++)); do
        echo "fd77::1 fd77::2 $((30000 + i)) 7777"
    done
}

in_echos() {
    ip netns exec "$ns" awk '/^Icmp:/ {
        if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
        else print $c["InEchos"] }' /proc/net/snmp
}

# send_flows ECHOS: wait until the guest's echo request (sent once its
# receiver listens) moves the InEchos count past ECHOS, note whether QEMU
# drives the queues through vhost-net, then send every flow's packets.
send_flows() {
    local echos0=$1 pid
    while [ "$(in_echos)" = "$echos0" ]; do
        sleep 1
    done
    pid=$(pgrep -f "^[^ ]*qemu-system-x86_64 .*ifname=$tap," | head -n1)
    if [ -n "$pid" ]; then
        ls -l "/proc/$pid/fd" | grep -c /dev/vhost-net
    else
        echo "no QEMU process found"
    fi > "$vhost_fds"
    flows | ip netns exec "$ns" python3 -c '
import socket, sys
per_flow = int(sys.argv[1])
for line in sys.stdin:
    src, dst, sport, dport = line.split()
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, int(sport)))
    for _ in range(per_flow):
        s.sendto(b"netvirt", (dst, int(dport)))
    # Flushes the last test packet out of the rxhash ring; not counted
    s.sendto(b"flush" * 40, (dst, int(dport)))
    s.close()
' "$per_flow"
}

# hash_test BINDIR VHOST RSS-OFFLOAD: boot the guest on a 4-queue tap
# with vhost=VHOST and rss-offload=RSS-OFFLOAD, send the flows, check.
hash_test() {
    local bindir=$1 vhost=$2 offload=$3 rc=0 vhost_fds snd_pid= attempt
    ns=nvhash-$$
    vhost_fds=$(mktemp)
    at_exit "ip netns del $ns 2>/dev/null; rm -f $vhost_fds"

    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev "$tap" mode tap multi_queue
    ip -n "$ns" addr add 10.77.0.1/24 dev "$tap"
    ip -n "$ns" addr add fd77::1/64 dev "$tap" nodad
    ip -n "$ns" link set "$tap" up
    # No neighbour discovery: the only packets to the guest are the test's
    ip -n "$ns" neigh replace 10.77.0.2 lladdr "$guest_mac" nud permanent dev "$tap"
    ip -n "$ns" neigh replace fd77::2 lladdr "$guest_mac" nud permanent dev "$tap"

    cat "$top/tests/guest/guest-lib.sh" \
        "$top/tests/guest/virtio-net-hash.guest" > "$tmp_script"
    # A guest on KVM nested in the TCG VM sometimes ends (reset, no
    # console output) before it reports anything: boot it again, at most
    # twice.  A guest that reports is never retried.
    for attempt in 1 2 3; do
        rc=0
        : > "$vhost_fds"
        # The sender starts when the guest pings
        send_flows "$(in_echos)" &
        snd_pid=$!
        at_exit "kill $snd_pid 2>/dev/null"

        guest_out=$(ip netns exec "$ns" "$top/netvirt/guest/run" \
            --append "nvtest.count=$count" "$tmp_script" -- \
            -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,queues=4,vhost=$vhost" \
            -device "virtio-net-pci,netdev=n0,mac=$guest_mac,mq=on,rss=on,hash=on,vectors=10,rss-offload=$offload" \
            -virtfs "local,path=$bindir,mount_tag=nvbin,security_model=none,readonly=on") ||
            rc=$?
        kill "$snd_pid" 2>/dev/null
        wait "$snd_pid" 2>/dev/null
        if [ "$rc" != 125 ] || [ "${NETVIRT_GUEST_ACCEL:-tcg}" != kvm ]; then
            break
        fi
        echo "# attempt $attempt: the nested guest ended without a result"
    done
    guest_report virtio-net-hash.guest "$rc"

    if [ "$vhost" = on ]; then
        expect_eq "QEMU moves the 4 queues through vhost-net" 4 \
            "$(cat "$vhost_fds" 2>/dev/null)"
    else
        expect_eq "QEMU moves the queues itself (vhost=off)" 0 \
            "$(cat "$vhost_fds" 2>/dev/null)"
    fi
    hash_check
}

# hash_check: assert on the guest's facts and packets
hash_check() {
    local key want types sport hash report queue q fam seen=0 bad_q=0 bad_h=0
    local -a table before after expected
    local -A want_q want_h used

    expect_eq "virtio-net is in the guest" yes "$(fact virtio_found)"
    expect_eq "VIRTIO_NET_F_MQ negotiated" 1 "$(fact f_mq)"
    expect_eq "VIRTIO_NET_F_RSS negotiated" 1 "$(fact f_rss)"
    expect_eq "VIRTIO_NET_F_HASH_REPORT negotiated" 1 "$(fact f_hash_report)"
    expect_eq "the guest enabled 4 queues" 4 "$(fact combined)"
    expect_eq "receive hashing is on in the guest" on "$(fact rxhash)"
    expect_match "the driver hashes UDP over IPv4 with ports" "L4 bytes 0 & 1" \
        "$(fact udp4_fields)"
    expect_match "the driver hashes UDP over IPv6 with ports" "L4 bytes 0 & 1" \
        "$(fact udp6_fields)"

    key=$(fact key)
    read -r -a table <<< "$(fact table)"
    expect_eq "the driver shows a 40-byte key" 80 "${#key}"
    # Linux 6.12.y's virtio_net (the pinned Debian guest kernel) keeps its
    # key in an array after the 3-byte RSS trailer, 4-byte aligned, and
    # sends trailer-plus-key bytes from the trailer: the device receives a
    # zero pad byte and the first 39 key bytes.  Mainline overlays the two
    # (7.1 has it).  The device must hash with the key it received.
    case $(fact kernel) in
    6.12.*)
        echo "# the guest driver sends 00 + key[0..38] (Linux 6.12.y)"
        key=00${key:0:78}
        ;;
    esac
    expect_eq "the driver shows a 128-entry indirection table" 128 "${#table[@]}"
    expect_eq "the guest saw every packet" "done $count" \
        "$(echo "$guest_out" | grep '^done ' | tail -n1)"

    # The reference's answer per flow: "SPORT HASH REPORT QUEUE".  Types:
    # IPv4, TCPv4, UDPv4, IPv6, TCPv6, UDPv6, the driver's choice.
    types=0x3f
    if ! want=$(flows | "$predict" "$key" "$types" 4 "${table[@]}" 2>&1); then
        tap_not_ok "rss-ref-predict ran" "$want"
        want=
    fi
    while read -r sport hash report queue; do
        [ -n "$sport" ] || continue
        want_q[$sport]=$queue
        want_h[$sport]=$hash
    done <<< "$want"
    expect_eq "the reference predicted all flows" $((flows4 + flows6)) \
        "${#want_q[@]}"

    while read -r _ q fam sport hash; do
        seen=$((seen + 1))
        if [ "${want_q[$sport]:-x}" != "$q" ]; then
            bad_q=$((bad_q + 1))
            [ "$bad_q" -le 5 ] &&
                echo "# IPv$fam flow $sport: queue $q, reference ${want_q[$sport]:-?}"
        fi
        if [ "${want_h[$sport]:-x}" != "$hash" ]; then
            bad_h=$((bad_h + 1))
            [ "$bad_h" -le 5 ] &&
                echo "# IPv$fam flow $sport: hash $hash, reference ${want_h[$sport]:-?}"
        fi
        used[$q]=1
    done < <(echo "$guest_out" | grep '^rx ')
    expect_eq "packets recorded by the guest" "$count" "$seen"
    expect_eq "packets on a queue other than the reference's" 0 "$bad_q"
    expect_eq "packets whose skb hash is not the reference Toeplitz hash" 0 "$bad_h"
    expect_eq "the flows spread over all 4 queues" 4 "${#used[@]}"

    # The driver's own per-queue counters: each queue got at least the packets the
    # reference sends it, and little else (the echo reply, a stray frame).
    read -r -a before <<< "$(fact rx_before)"
    read -r -a after <<< "$(fact rx_after)"
    expected=(0 0 0 0)
    while read -r _ _ _ queue; do
        [ -n "$queue" ] || continue
        expected[queue]=$((expected[queue] + per_flow + 1))
    done <<< "$want"
    echo "$guest_out" | grep '^other ' | head -n 20 | sed 's/^/# guest got: /'
    local extra=0 short=0 delta
    for q in 0 1 2 3; do
        delta=$((${after[q]:-0} - ${before[q]:-0}))
        echo "# queue $q: the driver counted +$delta, reference ${expected[q]}"
        [ "$delta" -ge "${expected[q]}" ] || short=$((short + 1))
        extra=$((extra + delta - expected[q]))
    done
    expect_eq "driver counters: no queue got fewer packets than the reference" \
        0 "$short"
    expect_match "driver counters: at most 4 packets beyond the test's" \
        '^[0-4]$' "$extra"
    expect_eq "ethtool -S: no receive queue dropped a packet" 0 "$(fact rx_drops)"
    expect_eq "no driver errors in the guest log" 0 "$(fact kernel_errors)"
}

#!/usr/bin/env bash
# scripts/dev-net.sh: usage errors, create/list/destroy of a veth pair with
# one end in a namespace, and the af_packet checksum trap: a TCP SYN sent by
# the namespace's kernel stack must reach a packet socket on the root-side
# end with a complete, valid TCP checksum (that is what net_af_packet sees).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd ip ethtool python3

D=$PWD/scripts/dev-net.sh
name=fmqdn$$
name=${name:0:13}
peer=$name-k
ns=$name
fmq_on_cleanup "'$D' destroy '$name' >/dev/null 2>&1"

expect() { # expect RC PATTERN CMD...
	local want=$1 pat=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want; output: $out"
	grep -qE -- "$pat" <<<"$out" || fail "'$*' output lacks /$pat/: $out"
}

expect 2 'usage:' "$D"
expect 2 'unknown command' "$D" frob
expect 2 'usage:' "$D" create
expect 2 'unknown option' "$D" create "$name" --bogus
expect 1 'bad name' "$D" create averyveryverylongname
expect 1 'bad --ip' "$D" create "$name" --ip 10.79.0.1
expect 1 'refusing: lo was not created' "$D" destroy lo
[ ! -e "/sys/class/net/$name" ] || fail "a failed create left $name behind"
pass "usage errors"

expect 0 'ready' "$D" create "$name" --ip 10.79.0.1/24
[ "$(cat "/sys/class/net/$name/operstate")" != down ] || fail "$name is down"
ip -n "$ns" -o addr show dev "$peer" | grep -q 'inet 10.79.0.1/24' || fail "peer has no 10.79.0.1/24 in $ns"
ip netns exec "$ns" ethtool -k "$peer" | grep -q '^tx-checksumming: off' || fail "tx checksum offload still on on $peer"
expect 0 "^$name +up +$peer +$ns +10.79.0.1/24" "$D" list
expect 1 'already exists' "$D" create "$name"
pass "create: veth up, peer in $ns with its address, tx checksum off, listed"

# The trap itself. Pin the neighbour so the SYN goes out without anyone
# answering ARP, capture on the root side, check the TCP checksum.
capture() {
	python3 - "$name" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0))
s.settimeout(5)
def fold(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return t
try:
    while True:
        f = s.recv(65535)
        ip = f[14:]
        ihl, tot = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        if ip[9] != 6 or struct.unpack("!H", tcp[2:4])[0] != 9:
            continue
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
        print("valid" if fold(pseudo + tcp) == 0xFFFF else "bad")
        break
except socket.timeout:
    print("none")
PY
}
syn_checksum() {
	local out
	capture >"$FMQ_TMP/cap.out"
	local cpid=$!
	sleep 0.5
	ip netns exec "$ns" timeout 2 bash -c 'exec 3<>/dev/tcp/10.79.0.2/9' 2>/dev/null || true
	wait "$cpid" || true
	cat "$FMQ_TMP/cap.out"
}
mac=$(cat "/sys/class/net/$name/address")
ip -n "$ns" neigh replace 10.79.0.2 lladdr "$mac" dev "$peer" nud permanent
r=$(syn_checksum)
[ "$r" = valid ] || fail "SYN from the namespace reached $name with checksum: $r"
pass "kernel-side TCP reaches the af_packet end with valid checksums"
# Control: with offload back on the kernel leaves the checksum partial.
ip netns exec "$ns" ethtool -K "$peer" tx on >/dev/null
r=$(syn_checksum)
if [ "$r" = bad ]; then
	pass "control: with tx offload on the checksum is partial (the trap is real here)"
else
	printf 'note: with tx offload on this kernel still sent a %s checksum\n' "$r"
fi

expect 0 "removed $name and namespace $ns" "$D" destroy "$name"
[ ! -e "/sys/class/net/$name" ] || fail "$name still exists"
[ ! -e "/run/netns/$ns" ] || fail "namespace $ns still exists"
expect 0 'nothing to do' "$D" destroy "$name"
pass "destroy removes the pair and the namespace, and is idempotent"

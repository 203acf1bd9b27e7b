#!/usr/bin/env bash
# fluxmq-bench's client side against a real Kafka protocol peer
# (librdkafka's mock cluster on loopback), so the load generator is
# checked even before the broker's Kafka layer is in the build:
#  - kernel sockets: produce with acks 1, 0, -1, 1 KiB LZ4 batches, several
#    partitions and connections, then verification reads every message back
#    and compares it byte for byte;
#  - verification fails (exit 1, "missing") when an acknowledged batch is
#    not there (the --test-forge-ack hook);
#  - fetch and open-loop runs report sane figures;
#  - the DPDK transport (lib/net TCP-lite, net_tap) speaks the same Kafka
#    conversation to the mock through a kernel-side TCP relay.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd python3 ip
BENCH=$FMQ_BUILD/bench/loadgen/fluxmq-bench
MOCK=$FMQ_BUILD/bench/loadgen/fluxmq-mock-cluster
[ -x "$BENCH" ] || fail "$BENCH not built"
[ -x "$MOCK" ] || skip "fluxmq-mock-cluster not built (librdkafka-dev missing)"

"$MOCK" --topic fmqbench-v:3 >"$FMQ_TMP/mock.out" 2>"$FMQ_TMP/mock.err" &
MOCK_PID=$!
fmq_on_cleanup "kill $MOCK_PID 2>/dev/null"
for _ in $(seq 1 50); do grep -q bootstrap "$FMQ_TMP/mock.out" && break; sleep 0.1; done
BS=$(awk '/bootstrap/{print $2}' "$FMQ_TMP/mock.out" | cut -d, -f1)
[ -n "$BS" ] || fail "mock cluster printed no bootstrap address"
pass "mock cluster at $BS"

# jq-free JSON field access.
jf() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1]))' "$1"; }

run() {   # run NAME ARGS...: kernel bench, must exit 0 and verify all
	local name=$1; shift
	local out
	out=$("$BENCH" --kernel --broker "$BS" --progress 0 --warmup 0 --verify "$@" \
		2>"$FMQ_TMP/$name.err") || fail "$name: exit $? ($(tail -3 "$FMQ_TMP/$name.err"))"
	[ "$(jf 'd["verify"]["ok"]' <<<"$out")" = True ] || fail "$name: verify not ok: $out"
	[ "$(jf 'd["verify"]["missing"]' <<<"$out")" = 0 ] || fail "$name: missing: $out"
	[ "$(jf 'd["verify"]["read_back"] + d["verify"]["deleted_by_retention"] == d["verify"]["acknowledged"] > 0' <<<"$out")" = True ] ||
		fail "$name: not every acknowledged message accounted for: $out"
	[ "$(jf 'd["verify"]["read_back"] > 0' <<<"$out")" = True ] || fail "$name: nothing read back: $out"
	echo "$out"
}

# The mock keeps a bounded log: small counts stay inside it.
run acks1 --topic fmqbench-v --partitions 3 --connections 2 --batch 100 --count 20000 >/dev/null
pass "acks=1, 3 partitions, 2 connections: every message read back identical"
run acksall --topic fmqbench-v --partitions 3 --batch 1 --acks -1 --inflight 16 --count 3000 >/dev/null
pass "acks=-1, one record per request"
run acks0 --topic fmqbench-v --partitions 1 --batch 100 --acks 0 --count 20000 >/dev/null
pass "acks=0 (sent messages counted and read back)"
run lz4 --msg-size 1024 --batch 64 --compression lz4 --count 5000 >/dev/null
pass "LZ4 batches"

# Verification must be able to fail.
rc=0
out=$("$BENCH" --kernel --broker "$BS" --progress 0 --warmup 0 --verify --batch 100 \
	--count 2000 --test-forge-ack 2>"$FMQ_TMP/forge.err") || rc=$?
[ $rc = 1 ] || fail "forged acknowledgement: exit $rc, want 1"
[ "$(jf 'd["verify"]["missing"]' <<<"$out")" = 100 ] || fail "forged batch not reported missing: $out"
grep -q "FAILED" "$FMQ_TMP/forge.err" || fail "no FAILED verdict on stderr"
pass "a missing acknowledged batch fails the run (exit 1, 100 missing)"

out=$("$BENCH" --kernel --broker "$BS" --progress 0 --workload fetch --preload 20000 \
	--batch 100 --duration 1 --warmup 0.2 2>"$FMQ_TMP/fetch.err") || fail "fetch: exit $?"
[ "$(jf 'd["msgs_per_s"] > 0 and d["latency_us"]["p99"] > 0' <<<"$out")" = True ] || fail "fetch: $out"
pass "fetch workload: $(jf 'int(d["msgs_per_s"])' <<<"$out") msg/s"
out=$("$BENCH" --kernel --broker "$BS" --progress 0 --rate 20000 --batch 10 \
	--duration 1 --warmup 0.2 --cdf "$FMQ_TMP/cdf.txt" 2>"$FMQ_TMP/open.err") || fail "open loop: exit $?"
[ "$(jf 'abs(d["msgs_per_s"] - 20000) < 2000' <<<"$out")" = True ] || fail "open loop missed its rate: $out"
[ "$(wc -l <"$FMQ_TMP/cdf.txt")" -gt 20 ] || fail "no latency CDF written"
pass "open loop holds its target rate and writes a latency CDF"

# The DPDK transport: TCP-lite on net_tap -> kernel relay -> mock.
TAPB=fmqbt0
RELAY_PORT=19092
python3 - "$RELAY_PORT" "${BS%:*}" "${BS#*:}" >"$FMQ_TMP/relay.log" 2>&1 <<'PY' &
import asyncio, sys
port, rhost, rport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def pipe(r, w):
    try:
        while (d := await r.read(1 << 20)):
            w.write(d)
            await w.drain()
    finally:
        w.close()
async def handle(r, w):
    r2, w2 = await asyncio.open_connection(rhost, rport)
    await asyncio.gather(pipe(r, w2), pipe(r2, w))
async def main():
    s = await asyncio.start_server(handle, "0.0.0.0", port)
    async with s:
        await s.serve_forever()
asyncio.run(main())
PY
RELAY_PID=$!
fmq_on_cleanup "kill $RELAY_PID 2>/dev/null"
for _ in $(seq 1 100); do
	(exec 3<>/dev/tcp/127.0.0.1/$RELAY_PORT) 2>/dev/null && break
	sleep 0.1
done
fmq_on_cleanup "ip link del $TAPB 2>/dev/null"
# The tap appears once the bench's EAL is up; address it then.
( for _ in $(seq 1 100); do
	ip link show $TAPB >/dev/null 2>&1 && break; sleep 0.1
  done
  ip addr add 10.88.8.1/24 dev $TAPB && ip link set $TAPB up ) &
out=$("$BENCH" --lcores=0@0 --in-memory --file-prefix=fmqbench-vt --no-pci \
	--log-level=error --vdev=net_tap0,iface=$TAPB,mac=02:00:00:88:08:64 -- \
	--local-ip 10.88.8.100/24 --broker 10.88.8.1:$RELAY_PORT --topic fmqbench-v \
	--partitions 2 --batch 100 --count 10000 --warmup 0 --progress 0 --verify \
	--connect-timeout 20 2>"$FMQ_TMP/dpdk.err") || fail "DPDK client: exit $? ($(tail -3 "$FMQ_TMP/dpdk.err"))"
[ "$(jf 'd["transport"] == "dpdk" and d["verify"]["ok"] and d["verify"]["missing"] == 0 and d["verify"]["read_back"] > 0' <<<"$out")" = True ] ||
	fail "DPDK client: $out"
pass "DPDK transport (TCP-lite on net_tap): produce and verify against the mock"

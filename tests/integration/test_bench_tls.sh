#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fluxmq-bench's SSL mode (--security-protocol SSL: lib/sec client sessions
# over the bench's TCP-lite) against a broker on memif with SSL://:9093
# beside PLAINTEXT://:9092, certificates from the openssl CLI
# (sec_lib.sh):
#  - a short produce-fetch over SSL, verified: every acknowledged message
#    read back byte for byte, through TLS; the broker's /metrics say so
#    (fluxmq_tls_handshakes_total grew by the bench's connections,
#    fluxmq_tls_bytes_total moved both ways by at least what the bench
#    produced and fetched);
#  - the same bench in PLAINTEXT on 9092 leaves the TLS counters alone;
#  - SSL against the plaintext port, and a CA that did not sign the
#    broker's certificate, fail the run (no silent fallback, the chain
#    really checked).
# The memif socket lives in this test's temporary directory and the EAL
# prefixes carry its pid, so runs side by side never meet; the broker takes
# FMQ_IP on the memif link and FMQ_MGMT for /metrics.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/sec_lib.sh
fmq_require_root
fmq_require_cmd curl openssl python3
BENCH=$FMQ_BUILD/bench/loadgen/fluxmq-bench
[ -x "$BENCH" ] || fail "$BENCH not built"

D=$FMQ_TMP/certs
fmq_sec_certs "$D"
fmq_sec_ca "$D/other"
SOCK=$FMQ_TMP/memif.sock
LOCAL_IP=${FMQ_IP%.*}.250
[ "$LOCAL_IP" != "$FMQ_IP" ] || LOCAL_IP=${FMQ_IP%.*}.251
# On memif /health stays 503 until a client links up: wait for the data
# lcore and the socket instead (as bench/run-suite.sh does).
FMQ_HOT=/dev/hugepages/fmq-test-$$-btls
FMQ_HOT_DIRS+=("$FMQ_HOT")
"$FMQ_BIN" --lcores='0@(0-1),1@0' --in-memory --file-prefix=fmqbtls-b$$ \
	--no-pci --log-level=error \
	--vdev=net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no -- \
	--set "net.ip=$FMQ_IP/24" --set "mgmt.listen=$FMQ_MGMT" \
	--set "log.dirs=$FMQ_TMP/data" --set "log.hot.dir=$FMQ_HOT" \
	--set "listeners=PLAINTEXT://:9092,SSL://:9093" \
	--set "ssl.keystore.location=$D/broker.pem" \
	>"$FMQ_TMP/btls.log" 2>&1 </dev/null &
FMQ_PID=$!
FMQ_PIDS+=("$FMQ_PID")
for _ in $(seq 1 300); do
	fmq_alive "$FMQ_PID" || { tail -n 5 "$FMQ_TMP/btls.log" >&2; fail "broker exited while starting"; }
	[ -S "$SOCK" ] && curl -sf -o /dev/null --max-time 2 "http://$FMQ_MGMT/metrics" && break
	sleep 0.1
done
[ -S "$SOCK" ] || fail "broker on memif did not come up (log $FMQ_TMP/btls.log)"
pass "broker on memif: PLAINTEXT://:9092 and SSL://:9093"

jf() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1]))' "$1"; }
run_bench() {   # run_bench NAME PORT [ARGS...]: output in $FMQ_TMP/NAME.json
	local name=$1 port=$2
	shift 2
	timeout 60 "$BENCH" --lcores=0@1 --in-memory --file-prefix=fmqbtls-c$$ \
		--no-pci --log-level=error \
		--vdev=net_memif0,role=client,id=0,socket=$SOCK,socket-abstract=no \
		-- --broker "$FMQ_IP:$port" --local-ip "$LOCAL_IP/24" --progress 0 \
		--connect-timeout 10 "$@" >"$FMQ_TMP/$name.json" 2>"$FMQ_TMP/$name.err"
}
hs() { fmq_metric fluxmq_tls_handshakes_total 'result="ok"'; }
dec() { fmq_metric fluxmq_tls_bytes_total 'direction="decrypted"'; }
enc() { fmq_metric fluxmq_tls_bytes_total 'direction="encrypted"'; }

# SSL: produce and fetch together, then everything verified.
hs0=$(hs) dec0=$(dec) enc0=$(enc)
run_bench ssl 9093 --security-protocol SSL --ssl-ca "$D/ca.pem" \
	--workload produce-fetch --msg-size 1024 --batch 100 --connections 2 \
	--duration 1 --warmup 0.2 --verify ||
	fail "SSL run: exit $? ($(tail -n 5 "$FMQ_TMP/ssl.err"))"
out=$(cat "$FMQ_TMP/ssl.json")
[ "$(jf 'd["security_protocol"]' <<<"$out")" = SSL ] || fail "not an SSL run: $out"
[ "$(jf 'd["verify"]["ok"] and d["verify"]["missing"] == 0 and d["verify"]["corrupt"] == 0' <<<"$out")" = True ] ||
	fail "SSL run: verification failed: $out"
[ "$(jf 'd["verify"]["read_back"] == d["verify"]["acknowledged"] > 0' <<<"$out")" = True ] ||
	fail "SSL run: nothing verified, or not all: $out"
[ "$(jf 'd["fetch"]["msgs"] > 0' <<<"$out")" = True ] || fail "SSL run fetched nothing: $out"
[ "$(jf 'd["transport_stats"]["tls"]["handshakes"] == 3' <<<"$out")" = True ] ||
	fail "SSL run: want 3 client handshakes: $out"
pass "SSL produce-fetch: $(jf 'd["verify"]["read_back"]' <<<"$out") messages verified through TLS ($(jf 'd["transport_stats"]["tls"]["version"] + " " + d["transport_stats"]["tls"]["cipher"]' <<<"$out"))"

hs1=$(hs) dec1=$(dec) enc1=$(enc)
prod_bytes=$(jf 'd["msgs"] * d["msg_bytes"]' <<<"$out")
fetch_bytes=$(jf 'd["fetch"]["msgs"] * d["msg_bytes"]' <<<"$out")
[ $((hs1 - hs0)) -ge 3 ] || fail "broker counted $((hs1 - hs0)) TLS handshakes, want >= 3"
[ $((dec1 - dec0)) -ge "$prod_bytes" ] ||
	fail "broker decrypted $((dec1 - dec0)) bytes, the bench produced $prod_bytes"
[ $((enc1 - enc0)) -ge "$fetch_bytes" ] ||
	fail "broker encrypted $((enc1 - enc0)) bytes, the bench fetched $fetch_bytes"
pass "broker /metrics: $((hs1 - hs0)) handshakes, $((dec1 - dec0)) bytes decrypted, $((enc1 - enc0)) encrypted"

# PLAINTEXT on 9092 of the same broker: verified, and TLS untouched.
run_bench plain 9092 --msg-size 1024 --batch 100 --count 20000 --warmup 0 --verify ||
	fail "PLAINTEXT run: exit $? ($(tail -n 5 "$FMQ_TMP/plain.err"))"
out=$(cat "$FMQ_TMP/plain.json")
[ "$(jf 'd["security_protocol"] == "PLAINTEXT" and d["verify"]["ok"] and d["verify"]["read_back"] > 0' <<<"$out")" = True ] ||
	fail "PLAINTEXT run: $out"
[ "$(hs)" = "$hs1" ] && [ "$(dec)" = "$dec1" ] ||
	fail "a PLAINTEXT run moved the TLS counters"
pass "PLAINTEXT on 9092 beside it: verified, TLS counters unmoved"

# SSL where the broker speaks plaintext, and a CA that signed nothing of
# the broker's: both runs fail.
rc=0
run_bench wrongport 9092 --security-protocol SSL --ssl-ca "$D/ca.pem" \
	--count 1000 --warmup 0 --verify --connect-timeout 3 || rc=$?
[ $rc != 0 ] || fail "SSL against the PLAINTEXT listener succeeded"
rc=0
run_bench wrongca 9093 --security-protocol SSL --ssl-ca "$D/other/ca.pem" \
	--count 1000 --warmup 0 --verify --connect-timeout 3 || rc=$?
[ $rc != 0 ] || fail "SSL with a CA that did not sign the broker succeeded"
grep -q "closed by the broker during the TLS handshake" "$FMQ_TMP/wrongport.err" ||
	fail "SSL on the plaintext port: $(tail -n 3 "$FMQ_TMP/wrongport.err")"
grep -q "certificate verify failed" "$FMQ_TMP/wrongca.err" ||
	fail "wrong CA: no verification error: $(tail -n 3 "$FMQ_TMP/wrongca.err")"
pass "SSL against a plaintext port, and with a foreign CA, fail the run"

rc=0
fmq_stop || rc=$?
[ $rc = 0 ] || fail "broker exit status $rc"
pass "broker stopped cleanly"

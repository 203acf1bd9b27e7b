#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS on one data lcore beside the cipher, in the same run:
#   openssl speed -evp aes-128-gcm at 16 KiB (the ceiling: AES-GCM alone),
#   fluxmq-bench-tls (lib/sec/tls.c as the broker drives it: responses
#   encrypted in 16 KiB records and copied out as into mbufs; a client's
#   records decrypted from 1448-byte segments into 2 KiB buffers; server
#   handshakes per second of CPU with ECDSA P-256 and RSA-2048 keys).
# Prints each figure and the engine's share of the cipher's rate (issue 15's
# goal: >= 70 % per data lcore for 16 KiB records).
#
#   bench/tls.sh [SECONDS] [--broker] [--memif | --memif-only]
#                                         (default 3 s per figure)
#
# --broker (root) adds produce and fetch through a real broker on a TAP
# interface, kcat over SSL://:9093 beside PLAINTEXT://:9092 of the same
# broker, 100 MB of 1 KB records each way: the TAP and kcat bound these
# (one kernel client, one copy into the kernel per packet), so they show
# what TLS costs end to end, not the lcore's ceiling (the engine figures
# above are that). The broker's network names are tests/integration/lib.sh's
# (FMQ_TAP, FMQ_IP, FMQ_HOST_IP, FMQ_MGMT).
#
# --memif (root) adds fluxmq-bench over memif (TCP-lite on both sides, the
# broker's one data lcore on CPU 0, the bench on CPU 1) against one broker
# with PLAINTEXT://:9092 and SSL://:9093 (TLS_AES_128_GCM_SHA256, a
# throwaway ECDSA P-256 CA and broker certificate made with the openssl
# CLI): produce and fetch of 16 KiB records, 16 per batch, over each
# listener for SECONDS, every message verified; beside them the memif
# ceiling (TCP-lite echo of 64 KiB messages through the broker's echo
# service); per run, the broker's data lcore's busy share (/metrics) and
# the Kafka bytes it moved per second of its thread's CPU time (schedstat:
# what other work took from it left out), the figure set beside the
# cipher; then 100 SSL connections opened at once: the broker's
# handshake CPU per data lcore (fluxmq_tls_handshake_seconds_total) and the
# rate the bench saw them complete. Names, overridable: memif socket
# $FMQ_TLSB_SOCK (/tmp/fmqbench-tls.sock), subnet $FMQ_TLSB_NET
# (10.88.12), EAL prefixes $FMQ_TLSB_PREFIX (fmqbench-tls), management
# $FMQ_TLSB_MGMT (127.0.0.1:18090), hot pool $FMQ_TLSB_HUGEDIR
# (/dev/hugepages/fmqbench-tls), poll mode $FMQ_TLSB_POLL (adaptive).
# --memif-only: openssl speed and the memif runs, not the engine figures.
#
# FMQ_BUILD: the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=3
broker=0
memif=0
engine=1
for a in "$@"; do
	case $a in
	--broker) broker=1 ;;
	--memif) memif=1 ;;
	--memif-only) memif=1; engine=0 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) secs=$a ;;
	esac
done
bin=${FMQ_BUILD:-build}/bench/tls/fluxmq-bench-tls
[ -x "$bin" ] || { echo "no $bin: build first (ninja -C ${FMQ_BUILD:-build})" >&2; exit 1; }

# ---------------------------------------------------------------- memif
memif_run() {
	local SOCK=${FMQ_TLSB_SOCK:-/tmp/fmqbench-tls.sock}
	local NET=${FMQ_TLSB_NET:-10.88.12}
	local PREFIX=${FMQ_TLSB_PREFIX:-fmqbench-tls}
	local MGMT=${FMQ_TLSB_MGMT:-127.0.0.1:18090}
	local HUGEDIR=${FMQ_TLSB_HUGEDIR:-/dev/hugepages/fmqbench-tls}
	local POLL=${FMQ_TLSB_POLL:-adaptive}
	local BENCH=${FMQ_BUILD:-build}/bench/loadgen/fluxmq-bench
	local BROKER=${FMQ_BUILD:-build}/app/fluxmq/fluxmq
	local T pid rc=0 t_start=$SECONDS
	[ "$(id -u)" = 0 ] || { echo "tls.sh --memif: needs root" >&2; return 1; }
	[ -x "$BENCH" ] && [ -x "$BROKER" ] || { echo "tls.sh --memif: build first" >&2; return 1; }
	T=$(mktemp -d /tmp/fmqbench-tls.XXXXXX)
	# The throwaway CA and broker certificate (ECDSA P-256).
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 1 \
		-subj "/CN=fluxmq bench CA" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/broker.key" -out "$T/broker.csr" \
		-subj "/CN=fluxmq bench broker" 2>/dev/null &&
	printf 'subjectAltName=IP:%s.2\n' "$NET" >"$T/ext" &&
	openssl x509 -req -in "$T/broker.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
		-CAcreateserial -out "$T/broker.crt" -days 1 -extfile "$T/ext" \
		2>/dev/null ||
		{ echo "tls.sh --memif: openssl could not make certificates" >&2; return 1; }
	cat "$T/broker.key" "$T/broker.crt" >"$T/broker.pem"
	rm -f "$SOCK"
	rm -rf "$HUGEDIR"
	setsid "$BROKER" --lcores='0@(0-1),1@0' --in-memory \
		--file-prefix="$PREFIX-broker" --no-pci --log-level=error \
		--vdev=net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no \
		-- --set net.ip=$NET.2/24 --set poll.mode=$POLL \
		--set net.services=echo:7 --set mgmt.listen=$MGMT \
		--set log.hot.dir=$HUGEDIR --set log.dirs="$T/data" \
		--set net.tcp.rcv_buf=4194304 --set net.tcp.snd_buf=4194304 \
		--set "listeners=PLAINTEXT://:9092,SSL://:9093" \
		--set "ssl.keystore.location=$T/broker.pem" \
		--set ssl.cipher.suites=TLS_AES_128_GCM_SHA256 \
		>"$T/broker.log" 2>&1 </dev/null &
	pid=$!
	# shellcheck disable=SC2064  # expand now: locals are gone at exit
	trap "kill -INT $pid 2>/dev/null; sleep 1; kill -9 $pid 2>/dev/null; rm -rf '$HUGEDIR' '$SOCK'" EXIT
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && grep -q "data lcore" "$T/broker.log" && break
		sleep 0.1
	done
	[ -S "$SOCK" ] || { tail -5 "$T/broker.log" >&2; echo "tls.sh --memif: broker did not start" >&2; return 1; }
	metric() {   # metric NAME [LABEL]: summed over its series (with LABEL)
		curl -sf --max-time 5 "http://$MGMT/metrics" |
			awk -v n="$1" -v f="${2:-}" '(index($0, n "{") == 1 || index($0, n " ") == 1) &&
				(f == "" || index($0, f) > 0) { s += $NF } END { printf "%.6f", s }'
	}
	# The data lcore's thread (its CPU time excludes what other work on
	# the machine took from it).
	local tid=
	for t in /proc/"$pid"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		rte-worker-* | lcore-worker-*) tid=${t##*/} ;;
		esac
	done
	sample() {   # wall_ns busy idle kafka_bytes lcore_cpu_ns
		printf '%s %s %s %s %s\n' "$(date +%s%N)" \
			"$(metric fluxmq_lcore_busy_cycles_total)" \
			"$(metric fluxmq_lcore_idle_cycles_total)" \
			"$(awk -v a="$(metric fluxmq_kafka_request_bytes_total)" \
				-v b="$(metric fluxmq_kafka_response_bytes_total)" \
				'BEGIN { printf "%.0f", a + b }')" \
			"$(awk '{ print $1 }' "/proc/$pid/task/$tid/schedstat" 2>/dev/null || echo 0)"
	}
	# One bench run; its JSON in $T/NAME.json. Around the whole run (set-up,
	# preload and verification included) the broker's side in $T/NAME.lc:
	# the data lcore's busy share (TSC cycles of polls with work) and the
	# Kafka bytes it moved (requests and responses, plaintext) per second
	# of its CPU time.
	run() {   # run NAME ARGS...
		local name=$1 s0 s1
		shift
		printf '[tls.sh %4ds] memif: %s\n' $((SECONDS - t_start)) "$name" >&2
		s0=$(sample)
		"$BENCH" --lcores=0@1 --in-memory --file-prefix="$PREFIX-bench" \
			--no-pci --log-level=error \
			--vdev=net_memif0,role=client,id=0,socket=$SOCK,socket-abstract=no \
			-- --local-ip "$NET.100/24" --progress 0 --label "$name" "$@" \
			>"$T/$name.json" 2>"$T/$name.err" || {
			echo "tls.sh --memif: $name failed:" >&2
			tail -5 "$T/$name.err" >&2
			return 1
		}
		s1=$(sample)
		echo "$s0 $s1" | awk '{
			b = $7 - $2; i = $8 - $3; by = $9 - $4; cpu = ($10 - $5) / 1e9
			printf "%.0f %.0f %.2f\n", (b + i > 0 ? 100 * b / (b + i) : 0),
				(cpu > 0 ? by / cpu / 1e6 : 0), cpu }' >"$T/$name.lc"
	}
	jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/$1.json" "$2"; }
	local shape=(--msg-size 16384 --batch 16 --duration "$secs" --warmup 0.5 --verify)
	local ssl=(--broker "$NET.2:9093" --security-protocol SSL --ssl-ca "$T/ca.pem"
		--ssl-cipher-suites TLS_AES_128_GCM_SHA256)
	run echo --workload echo --broker "$NET.2:7" --echo-size 65536 \
		--inflight 8 --duration "$secs" --warmup 0.5 &&
	run fetch-plain --broker "$NET.2:9092" --workload fetch --preload 6000 "${shape[@]}" &&
	run fetch-ssl "${ssl[@]}" --workload fetch --preload 6000 "${shape[@]}" &&
	run produce-plain --broker "$NET.2:9092" "${shape[@]}" &&
	run produce-ssl "${ssl[@]}" "${shape[@]}" || rc=1
	if [ $rc = 0 ]; then
		local h0 s0 h1 s1
		h0=$(metric fluxmq_tls_handshakes_total 'result="ok"')
		s0=$(metric fluxmq_tls_handshake_seconds_total)
		run handshakes "${ssl[@]}" --connections 100 --batch 10 \
			--msg-size 100 --count 1000 --warmup 0 || rc=1
		h1=$(metric fluxmq_tls_handshakes_total 'result="ok"')
		s1=$(metric fluxmq_tls_handshake_seconds_total)
	fi
	kill -INT $pid 2>/dev/null
	for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	rm -rf "$HUGEDIR" "$SOCK"
	trap - EXIT
	if [ $rc != 0 ]; then
		echo "tls.sh --memif: logs kept in $T" >&2
		return 1
	fi
	local ceil name
	ceil=$(jv echo 'round(d["mb_per_s"])')
	printf '\nfluxmq-bench over memif, 16 KiB records x 16 per batch, %s s each, verified\n' "$secs"
	printf '(broker: 1 data lcore on CPU 0, poll.mode=%s; bench on CPU 1)\n' "$POLL"
	# "per lcore CPU-s": the Kafka bytes (plaintext, both ways) the data
	# lcore moved over the whole run per second of its thread's CPU time,
	# what one lcore moves when that is all it does; "of cipher" puts that
	# beside openssl speed (issue 15's goal: >= 70 %).
	local fmt='| %-38s | %6s | %-8s | %-10s | %-15s | %-9s | %-9s |\n'
	# shellcheck disable=SC2059  # the format is ours
	printf "$fmt" figure MB/s "of memif" "lcore busy" "per lcore CPU-s" "of cipher" "bench CPU"
	printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..40})" "--------" "----------" "------------" "-----------------" "-----------" "-----------"
	# shellcheck disable=SC2059
	printf "$fmt" "openssl speed -evp aes-128-gcm, 16 KiB" "$speed" "" "" "" "100 %" ""
	local r v busy per cpu
	for r in echo produce-plain produce-ssl fetch-plain fetch-ssl; do
		v=$(jv "$r" 'round(d["mb_per_s"])')
		read -r busy per _ <"$T/$r.lc"
		cpu=$(jv "$r" 'round(100 * (d["cpu"]["user_s"] + d["cpu"]["sys_s"]) / d["cpu"]["wall_s"])')
		if [ "$r" != echo ]; then
			[ "$(jv "$r" 'd["verify"]["ok"] and d["verify"]["read_back"] == d["verify"]["acknowledged"] > 0')" = True ] ||
				{ echo "tls.sh --memif: $r not verified" >&2; return 1; }
		fi
		case $r in
		echo) name="memif ceiling: TCP-lite echo, 64 KiB"; per=- ;;
		*-ssl) name="${r%-*}, SSL (TLS 1.3 AES-128-GCM)" ;;
		*) name="${r%-*}, PLAINTEXT" ;;
		esac
		# shellcheck disable=SC2059
		printf "$fmt" "$name" "$v" "$((v * 100 / ceil)) %" "$busy %" "$per" \
			"$(case $r in *-ssl) echo "$((per * 100 / speed)) %" ;; esac)" "$cpu %"
	done
	printf 'every message of each run verified (read back and compared); client: %s %s\n' \
		"$(jv produce-ssl 'd["transport_stats"]["tls"]["version"]')" "$(jv produce-ssl 'd["transport_stats"]["tls"]["cipher"]')"
	printf '100 SSL connections at once: broker %s handshakes in %.3f s of its data lcore = %.0f /s per lcore (%.2f ms each); the bench saw them complete at %s /s\n' \
		"$(awk -v a="$h1" -v b="$h0" 'BEGIN { printf "%.0f", a - b }')" \
		"$(awk -v a="$s1" -v b="$s0" 'BEGIN { print a - b }')" \
		"$(awk -v a="$s1" -v b="$s0" -v h="$h1" -v g="$h0" 'BEGIN { print (h - g) / (a - b) }')" \
		"$(awk -v a="$s1" -v b="$s0" -v h="$h1" -v g="$h0" 'BEGIN { print 1000 * (a - b) / (h - g) }')" \
		"$(jv handshakes 'round(d["transport_stats"]["tls"]["handshakes_per_s"])')"
	rm -rf "$T"
}

speed=$(openssl speed -evp aes-128-gcm -bytes 16384 -seconds "$secs" 2>/dev/null |
	awk '/^AES-128-GCM/ { v = $2; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6 }')
[ -n "$speed" ] || { echo "openssl speed gave nothing" >&2; exit 1; }
printf 'host: %s, %s cores, load %s\n' "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "$(openssl version)"
printf '%-44s %8s MB/s\n' "openssl speed -evp aes-128-gcm (16 KiB)" "$speed"
if [ "$engine" = 1 ]; then
	out=$("$bin" --seconds "$secs" --suite TLS_AES_128_GCM_SHA256)
	enc=$(awk '$1 == "encrypt_16k" { print $2 }' <<<"$out")
	dec=$(awk '$1 == "decrypt_16k" { print $2 }' <<<"$out")
	hs_ec=$(awk '$1 == "handshakes_ecdsa_p256" { print $2 }' <<<"$out")
	hs_rsa=$(awk '$1 == "handshakes_rsa_2048" { print $2 }' <<<"$out")
	printf '%-44s %8s MB/s  %3d %% of the cipher\n' \
		"TLS 1.3 encrypt (fetch), 16 KiB records" "$enc" $((enc * 100 / speed))
	printf '%-44s %8s MB/s  %3d %% of the cipher\n' \
		"TLS 1.3 decrypt (produce), 16 KiB records" "$dec" $((dec * 100 / speed))
	printf '%-44s %8s /s    (%.2f ms each)\n' "handshakes, ECDSA P-256 key" "$hs_ec" \
		"$(awk -v h="$hs_ec" 'BEGIN { print 1000 / h }')"
	printf '%-44s %8s /s    (%.2f ms each)\n' "handshakes, RSA-2048 key" "$hs_rsa" \
		"$(awk -v h="$hs_rsa" 'BEGIN { print 1000 / h }')"
fi

[ "$memif" = 1 ] && { memif_run || exit 1; }
[ "$broker" = 1 ] || exit 0

# Through the broker: kcat over TLS beside plaintext.
. tests/integration/lib.sh
. tests/integration/sec_lib.sh
fmq_require_root
fmq_require_cmd kcat openssl
fmq_sec_certs "$FMQ_TMP/certs"
fmq_start tlsbench --set "listeners=PLAINTEXT://:9092,SSL://:9093" \
	--set "ssl.keystore.location=$FMQ_TMP/certs/broker.pem" \
	--set ssl.cipher.suites=TLS_AES_128_GCM_SHA256
head -c 75000000 /dev/urandom | base64 -w 1000 | head -n 100000 >"$FMQ_TMP/rec.txt"
mb=$(($(wc -c <"$FMQ_TMP/rec.txt") / 1000000))
ms() { date +%s%3N; }
for l in plain:9092 tls:9093; do
	name=${l%%:*}
	port=${l##*:}
	x=()
	[ "$name" = tls ] && x=(-X security.protocol=SSL -X "ssl.ca.location=$FMQ_TMP/certs/ca.pem")
	t0=$(ms)
	timeout 120 kcat -b "$FMQ_IP:$port" "${x[@]}" -P -t "tb-$name" -l \
		-X linger.ms=20 -X batch.size=1000000 "$FMQ_TMP/rec.txt" ||
		fail "kcat produce ($name)"
	t1=$(ms)
	n=$(timeout 120 kcat -b "$FMQ_IP:$port" "${x[@]}" -C -t "tb-$name" -o beginning -e -q |
		wc -l)
	t2=$(ms)
	[ "$n" = 100000 ] || fail "kcat read $n of 100000 back ($name)"
	printf '%-44s %8s MB/s produce, %s MB/s fetch (%s MB, kcat over TAP)\n' \
		"through the broker, $name" \
		"$(awk -v b="$mb" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", b * 1000 / t }')" \
		"$(awk -v b="$mb" -v t=$((t2 - t1)) 'BEGIN { printf "%.0f", b * 1000 / t }')" "$mb"
done
dec=$(fmq_metric fluxmq_tls_bytes_total 'direction="decrypted"')
enc=$(fmq_metric fluxmq_tls_bytes_total 'direction="encrypted"')
hs=$(fmq_metric fluxmq_tls_handshake_seconds_total)
printf 'broker /metrics: %s bytes decrypted, %s encrypted, %s s in handshakes\n' "$dec" "$enc" "$hs"
fmq_stop >/dev/null || true

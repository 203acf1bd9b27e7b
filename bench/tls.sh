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
#   bench/tls.sh [SECONDS] [--broker]     (default 3 s per figure)
#
# --broker (root) adds produce and fetch through a real broker on a TAP
# interface, kcat over SSL://:9093 beside PLAINTEXT://:9092 of the same
# broker, 100 MB of 1 KB records each way: the TAP and kcat bound these
# (one kernel client, one copy into the kernel per packet), so they show
# what TLS costs end to end, not the lcore's ceiling (the engine figures
# above are that). The broker's network names are tests/integration/lib.sh's
# (FMQ_TAP, FMQ_IP, FMQ_HOST_IP, FMQ_MGMT).
# FMQ_BUILD: the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=3
broker=0
for a in "$@"; do
	case $a in
	--broker) broker=1 ;;
	*) secs=$a ;;
	esac
done
bin=${FMQ_BUILD:-build}/bench/tls/fluxmq-bench-tls
[ -x "$bin" ] || { echo "no $bin: build first (ninja -C ${FMQ_BUILD:-build})" >&2; exit 1; }

speed=$(openssl speed -evp aes-128-gcm -bytes 16384 -seconds "$secs" 2>/dev/null |
	awk '/^AES-128-GCM/ { v = $2; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6 }')
[ -n "$speed" ] || { echo "openssl speed gave nothing" >&2; exit 1; }
out=$("$bin" --seconds "$secs" --suite TLS_AES_128_GCM_SHA256)
enc=$(awk '$1 == "encrypt_16k" { print $2 }' <<<"$out")
dec=$(awk '$1 == "decrypt_16k" { print $2 }' <<<"$out")
hs_ec=$(awk '$1 == "handshakes_ecdsa_p256" { print $2 }' <<<"$out")
hs_rsa=$(awk '$1 == "handshakes_rsa_2048" { print $2 }' <<<"$out")
printf 'host: %s, %s cores, load %s\n' "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "$(openssl version)"
printf '%-44s %8s MB/s\n' "openssl speed -evp aes-128-gcm (16 KiB)" "$speed"
printf '%-44s %8s MB/s  %3d %% of the cipher\n' \
	"TLS 1.3 encrypt (fetch), 16 KiB records" "$enc" $((enc * 100 / speed))
printf '%-44s %8s MB/s  %3d %% of the cipher\n' \
	"TLS 1.3 decrypt (produce), 16 KiB records" "$dec" $((dec * 100 / speed))
printf '%-44s %8s /s    (%.2f ms each)\n' "handshakes, ECDSA P-256 key" "$hs_ec" \
	"$(awk -v h="$hs_ec" 'BEGIN { print 1000 / h }')"
printf '%-44s %8s /s    (%.2f ms each)\n' "handshakes, RSA-2048 key" "$hs_rsa" \
	"$(awk -v h="$hs_rsa" 'BEGIN { print 1000 / h }')"

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

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
#   bench/tls.sh [SECONDS]      (default 3 per figure)
# FMQ_BUILD: the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
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

#!/bin/bash
# Build the peer tools the benchmark suite compares against into a
# directory outside the repository (default: a fresh temporary one):
#   rdkafka_performance  from the example source Debian's librdkafka-dev
#                        ships (/usr/share/doc/librdkafka-dev/examples),
#                        compiled unchanged against the system librdkafka
#                        with our own stand-ins for the two private headers
#                        it includes (bench/peers/rdcompat).
# Nothing built here is ever committed.
#
# usage: bench/peers/build-peers.sh [OUTDIR]     prints OUTDIR on success
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d /tmp/fmqbench-peers.XXXXXX)}
mkdir -p "$out"
src=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
if [ ! -f "$src" ] && [ -f "$src.gz" ]; then
	gunzip -c "$src.gz" > "$out/rdkafka_performance.c"
	src="$out/rdkafka_performance.c"
fi
if [ ! -f "$src" ]; then
	echo "build-peers: $src not found (apt-get install librdkafka-dev)" >&2
	exit 1
fi
# The example includes "../src/rd.h" and "rd.h": lay the stand-ins out so
# both names resolve.
mkdir -p "$out/compat/src" "$out/compat/inc"
cp "$here/rdcompat/rd.h" "$here/rdcompat/rdtime.h" "$out/compat/src/"
read -r -a cflags <<< "$(pkg-config --cflags rdkafka)"
read -r -a libs <<< "$(pkg-config --libs rdkafka)"
cc -O2 -w -I"$out/compat/inc" -I"$out/compat/src" "${cflags[@]}" \
	-I/usr/include/librdkafka -o "$out/rdkafka_performance" "$src" \
	"${libs[@]}" -lpthread -lm
echo "$out"

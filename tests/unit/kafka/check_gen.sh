#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The generated Kafka codecs must be exactly what kgen.py makes of the
# schemas checked in under lib/kafka/schemas: regenerate into a temporary
# directory and fail on any difference (a changed, missing or stale file).
# Usage: check_gen.sh <python3> <source root>
set -eu
py=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib" "$tmp/test"
"$py" "$src/lib/kafka/gen/kgen.py" "$src/lib/kafka/schemas" \
	--lib-out "$tmp/lib" --test-out "$tmp/test"
rc=0
for f in "$tmp"/lib/*; do
	b=$(basename "$f")
	diff -u "$src/lib/kafka/gen/$b" "$f" || rc=1
done
diff -u "$src/tests/unit/kafka/gen/kafka_gen_fill.c" \
	"$tmp/test/kafka_gen_fill.c" || rc=1
# A generated file kgen no longer writes is stale.
for f in "$src"/lib/kafka/gen/*; do
	b=$(basename "$f")
	case $b in README.md|kgen.py) continue ;; esac
	if [ ! -e "$tmp/lib/$b" ]; then
		echo "lib/kafka/gen/$b: not generated from the schemas" >&2
		rc=1
	fi
done
if [ $rc -ne 0 ]; then
	echo "lib/kafka/gen is out of sync with lib/kafka/schemas:" \
		"run python3 lib/kafka/gen/kgen.py lib/kafka/schemas" >&2
	exit 1
fi
echo "lib/kafka/gen matches lib/kafka/schemas"

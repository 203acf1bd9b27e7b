#!/bin/sh
# docs/configuration.md must be exactly what `fluxmq --dump-config-doc`
# prints, so the key table and the docs never disagree.
# Usage: check_config_doc.sh <fluxmq binary> <docs/configuration.md>
set -eu
if ! "$1" --dump-config-doc | diff -u "$2" - ; then
	echo "docs/configuration.md is stale: run $1 --dump-config-doc > docs/configuration.md" >&2
	exit 1
fi
echo "docs/configuration.md matches the key table"

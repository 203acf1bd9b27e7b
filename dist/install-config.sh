#!/bin/sh
# meson install script: put the sample configuration in place as
# <sysconfdir>/fluxmq/server.properties unless one is there already, so that
# reinstalling never overwrites an operator's edits (the package does the
# same through dpkg's conffile handling).
#   install-config.sh SAMPLE DEST
set -eu
sample=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ]; then
	echo "fluxmq: keeping the existing $dest (sample: $sample)"
	exit 0
fi
mkdir -p "$(dirname "$dest")"
cp "$sample" "$dest"
chmod 0644 "$dest"
echo "fluxmq: installed $dest"

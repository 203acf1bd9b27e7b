#!/usr/bin/env bash
# drivers-config/: one complete, valid profile per supported PMD plus
# default.conf. Mirrors the key set the broker's profile parser accepts, so a
# typo or a missing knob fails here, before any port comes up. No root needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=drivers-config
pmds=(default net_tap net_af_packet net_memif net_virtio mlx5_pci net_i40e net_ice net_ixgbe)
declare -A allowed=(
	[rx.queues]='auto|N'
	[rx.desc]='N'
	[tx.desc]='N'
	[mtu]='N'
	[offload.rx.checksum]='auto|on|off'
	[offload.tx.checksum]='auto|on|off'
	[offload.tso]='auto|on|off'
	[rss]='off|symmetric'
	[rx.interrupts]='auto|on|off'
	[disconnect.guard]='on|off'
)
errors=0
err() { printf 'FAIL: %s\n' "$*"; errors=$((errors + 1)); }

valid() { # valid SPEC VALUE
	local alt
	IFS='|' read -r -a alts <<<"$1"
	for alt in "${alts[@]}"; do
		if [ "$alt" = N ]; then
			[[ $2 =~ ^[1-9][0-9]*$ ]] && return 0
		elif [ "$alt" = "$2" ]; then
			return 0
		fi
	done
	return 1
}

for p in "${pmds[@]}"; do
	[ -f "$dir/$p.conf" ] || err "$dir/$p.conf is missing"
done
for f in "$dir"/*.conf; do
	declare -A seen=()
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		t=$(printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
		case $t in ''|'#'*) continue ;; esac
		if [[ $t != *=* ]]; then
			err "$f:$n: not key = value: $t"
			continue
		fi
		k=$(printf '%s' "${t%%=*}" | sed 's/[[:space:]]*$//')
		v=$(printf '%s' "${t#*=}" | sed 's/^[[:space:]]*//')
		if [ -z "${allowed[$k]+x}" ]; then
			err "$f:$n: unknown key '$k'"
		elif ! valid "${allowed[$k]}" "$v"; then
			err "$f:$n: $k: '$v' is not ${allowed[$k]}"
		elif [ -n "${seen[$k]+x}" ]; then
			err "$f:$n: $k set twice"
		fi
		seen[$k]=$v
	done <"$f"
	for k in "${!allowed[@]}"; do
		[ -n "${seen[$k]+x}" ] || err "$f: does not set $k"
	done
	# Facts from the measured PMD capabilities (see README.md).
	case $(basename "$f") in
	net_af_packet.conf|net_memif.conf)
		[ "${seen[offload.tx.checksum]:-}" = off ] || err "$f: the PMD has no checksum offload, must be off"
		[ "${seen[rss]:-}" = off ] || err "$f: the PMD has no RSS, rss must be off"
		[ "${seen[rx.interrupts]:-}" = off ] || err "$f: the PMD has no RX interrupts"
		if [ "$(basename "$f")" = net_memif.conf ]; then
			[ "${seen[disconnect.guard]:-}" = on ] ||
				err "$f: memif unmaps its rings under a running burst, disconnect.guard must be on"
		fi ;;
	net_tap.conf)
		[ "${seen[rss]:-}" = off ] || err "$f: tap RSS needs the multiq qdisc, rss must be off"
		[ "${seen[mtu]:-0}" -le 1500 ] || err "$f: tap frames stop at 1522 bytes" ;;
	esac
	if [ "$(basename "$f")" != default.conf ] &&
		! printf '%s\n' "${pmds[@]}" | grep -qx "$(basename "$f" .conf)"; then
		err "$f: no such PMD in the supported list; add it to this test and README.md"
	fi
	grep -q "\`$(basename "$f")\`" "$dir/README.md" || err "$f is not described in $dir/README.md"
	unset seen
done

if [ "$errors" -gt 0 ]; then
	printf '%d problem(s) in %s/\n' "$errors" "$dir"
	exit 1
fi
printf 'PASS: %d profiles, all keys set and valid\n' "${#pmds[@]}"

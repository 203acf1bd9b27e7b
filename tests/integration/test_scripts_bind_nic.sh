#!/usr/bin/env bash
# scripts/bind-nic.sh without a spare NIC: usage errors, status, bad PCI
# addresses, refusal on the default-route device (when it is a PCI device),
# and the bind/restore bookkeeping against a fake sysfs tree with a stub
# dpdk-devbind.py. The real dpdk-devbind.py is never asked to bind anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd ip dpdk-devbind.py

B=$PWD/scripts/bind-nic.sh
t=$FMQ_TMP/bind-nic
rm -rf "$t"
mkdir -p "$t"
export FMQ_BIND_STATE=$t/state

# A stub that must not be reached by refused commands; with a fake sysfs it
# "binds" by moving the driver link.
cat >"$t/devbind" <<'STUB'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$STUB_LOG"
if [ "$1" = -b ]; then
	ln -sfn "../../drivers/$2" "$FMQ_SYSFS/bus/pci/devices/$3/driver"
fi
STUB
chmod +x "$t/devbind"
export STUB_LOG=$t/devbind.log

# expect RC PATTERN CMD...: run CMD, check exit status and output.
expect() {
	local want=$1 pat=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want; output: $out"
	grep -qE -- "$pat" <<<"$out" || fail "'$*' output lacks /$pat/: $out"
}

# --- usage errors ---
expect 2 'usage:' "$B"
expect 2 'unknown command frob' "$B" frob
expect 2 'usage:' "$B" bind
expect 2 'usage:' "$B" bind 00:03.0 vfio-pci extra
expect 2 'usage:' "$B" restore
expect 2 'usage:' "$B" status extra
pass "usage errors exit 2 with a usage line"

# --- status with the real dpdk-devbind.py ---
expect 0 'Network devices' "$B" status
pass "status lists network devices"

# --- bad PCI addresses ---
expect 1 'is not a PCI address' "$B" bind zz:zz.z
expect 1 'is not a PCI address' "$B" bind 0000:00:03.9
expect 1 'is not a PCI address' "$B" restore eth0
absent=0000:fe:1f.7
[ -e "/sys/bus/pci/devices/$absent" ] || expect 1 "no PCI device $absent" "$B" bind "$absent"
pass "bogus PCI addresses rejected"

# --- the default-route device is refused, before anything runs ---
dev=$(ip -o -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
pci=
if [ -n "$dev" ] && [ -e "/sys/class/net/$dev/device" ]; then
	pci=$(readlink -f "/sys/class/net/$dev/device" | tr / '\n' |
		grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -n 1 || true)
fi
if [ -n "$pci" ]; then
	before=$(readlink "/sys/bus/pci/devices/$pci/driver" || true)
	: >"$STUB_LOG"
	expect 1 "carries the default route" env FMQ_DEVBIND="$t/devbind" "$B" bind "$pci"
	expect 1 "carries the default route" env FMQ_DEVBIND="$t/devbind" "$B" bind "${pci#0000:}" uio_pci_generic
	[ ! -s "$STUB_LOG" ] || fail "dpdk-devbind was called for the default-route device: $(cat "$STUB_LOG")"
	[ "$(readlink "/sys/bus/pci/devices/$pci/driver" || true)" = "$before" ] || fail "driver of $pci changed"
	expect 0 "Default route via: .*$dev" "$B" status
	pass "refuses to bind $pci ($dev, default route)"
else
	printf 'note: default route not on a PCI device here; refusal check skipped\n'
fi

# --- bind / restore bookkeeping on a fake sysfs ---
S=$t/sys
d=$S/bus/pci/devices/0000:42:00.0
mkdir -p "$d" "$S/bus/pci/devices/0000:43:00.0" "$S/bus/pci/drivers/"{ixgbe,vfio-pci,uio_pci_generic,mlx5_core} \
	"$S/class/net/fake0" "$S/class/net/fake1" "$S/kernel/iommu_groups/7"
echo 'pci:v00008086d000010FBsv00008086sd00000003bc02sc00i00' >"$d/modalias"
echo 'pci:vFFFFd0000FFFFsvFFFFsd0000FFFFbcFFscFFi00' >"$S/bus/pci/devices/0000:43:00.0/modalias"
ln -s ../../drivers/ixgbe "$d/driver"
ln -s ../../drivers/mlx5_core "$S/bus/pci/devices/0000:43:00.0/driver"
ln -s ../../../bus/pci/devices/0000:42:00.0 "$S/class/net/fake0/device"
ln -s ../../../bus/pci/devices/0000:43:00.0 "$S/class/net/fake1/device"
export FMQ_SYSFS=$S FMQ_DEVBIND=$t/devbind
drv() { basename "$(readlink "$S/bus/pci/devices/$1/driver")"; }

: >"$STUB_LOG"
expect 0 'now on vfio-pci' "$B" bind 42:00.0
[ "$(drv 0000:42:00.0)" = vfio-pci ] || fail "not moved to vfio-pci"
grep -qx '0000:42:00.0 ixgbe' "$FMQ_BIND_STATE" || fail "old driver not remembered: $(cat "$FMQ_BIND_STATE")"
grep -qx -- '-b vfio-pci 0000:42:00.0' "$STUB_LOG" || fail "devbind call: $(cat "$STUB_LOG")"
pass "bind moves the device and remembers ixgbe"

expect 0 'already bound to vfio-pci' "$B" bind 0000:42:00.0
expect 0 'now on uio_pci_generic' "$B" bind 0000:42:00.0 uio_pci_generic
grep -qx '0000:42:00.0 ixgbe' "$FMQ_BIND_STATE" || fail "rebinding between DPDK drivers lost the kernel driver"
expect 0 '0000:42:00.0 ixgbe' "$B" status
pass "rebinding between userspace drivers keeps the remembered kernel driver"

expect 0 'restored to ixgbe' "$B" restore 0000:42:00.0
[ "$(drv 0000:42:00.0)" = ixgbe ] || fail "not restored to ixgbe"
grep -q '0000:42:00.0' "$FMQ_BIND_STATE" && fail "state entry not removed after restore"
pass "restore rebinds the remembered driver and forgets it"

ln -sfn ../../drivers/vfio-pci "$d/driver"
# A modalias no module claims (so no real module gets loaded by the test).
cp "$S/bus/pci/devices/0000:43:00.0/modalias" "$d/modalias"
expect 1 'no remembered driver' "$B" restore 0000:42:00.0
pass "restore without memory or a module for the modalias says what to do"

expect 1 'mlx5 is bifurcated' "$B" bind 0000:43:00.0
pass "refuses to rebind an mlx5 port"
printf 'all bind-nic.sh checks passed\n'

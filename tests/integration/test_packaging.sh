#!/usr/bin/env bash
# Packaging: `meson install --destdir` lays out the broker, the tools, the
# systemd unit, the sample configuration (never overwriting an edited one),
# the drivers-config profiles and the docs; scripts/build-deb.sh builds a
# package that dpkg installs into a throwaway root (its dpkg database starts
# as a copy of this host's, so Depends must name real installed packages;
# maintainer scripts run chrootless with DPKG_ROOT). The packaged broker
# prints --version, starts from the packaged sample configuration and
# profiles, and its /metrics has every fluxmq_* metric the packaged Grafana
# dashboard and Prometheus alert rules query. Reinstalling keeps an edited
# conffile; purge removes it.
#
# build-deb.sh builds in FMQ_DEB_BUILD (default build-deb, kept between runs:
# the first run compiles the tree once more with --prefix=/usr).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd meson ninja dpkg dpkg-deb objdump curl /usr/bin/python3

ver=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build)
[ -n "$ver" ] || fail "no version in meson.build"
if ! grep -q 'Apache License' LICENSE || ! grep -q 'Version 2.0, January 2004' LICENSE; then
	fail "LICENSE is not the Apache-2.0 text meson.build declares"
fi
grep -q "^## $ver " CHANGELOG.md || fail "CHANGELOG.md has no entry for $ver"
pass "LICENSE (Apache-2.0) and a CHANGELOG entry for $ver"

# --- meson install --destdir ---------------------------------------------------
[ -f "$FMQ_BUILD/build.ninja" ] || fail "no build directory $FMQ_BUILD"
opt() {
	meson introspect "$FMQ_BUILD" --buildoptions |
		/usr/bin/python3 -c 'import json,sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}[sys.argv[1]])' "$1"
}
prefix=$(opt prefix)
sysconf=$(opt sysconfdir)
case $sysconf in /*) ;; *) sysconf=$prefix/$sysconf ;; esac
dest=$FMQ_TMP/destdir
meson install -C "$FMQ_BUILD" --no-rebuild --quiet --destdir "$dest" >"$FMQ_TMP/install.out" 2>&1 ||
	fail "meson install: $(tail -5 "$FMQ_TMP/install.out")"
want=(
	"$prefix/bin/fluxmq" "$prefix/bin/fluxmq-bench" "$prefix/sbin/fluxmq-bind-nic"
	"$prefix/lib/systemd/system/fluxmq.service"
	"$sysconf/fluxmq/server.properties" "$prefix/share/fluxmq/server.properties"
	"$prefix/share/fluxmq/drivers-config/default.conf"
	"$prefix/share/fluxmq/drivers-config/net_tap.conf"
	"$prefix/share/doc/fluxmq/README.md" "$prefix/share/doc/fluxmq/LICENSE"
	"$prefix/share/doc/fluxmq/CHANGELOG.md" "$prefix/share/doc/fluxmq/operations.md"
	"$prefix/share/doc/fluxmq/configuration.md"
	"$prefix/share/doc/fluxmq/grafana-dashboard.json"
	"$prefix/share/doc/fluxmq/prometheus-alerts.yml"
)
for f in "${want[@]}"; do
	[ -f "$dest$f" ] || fail "meson install --destdir: no $f"
done
for f in "$prefix/bin/fluxmq" "$prefix/bin/fluxmq-bench" "$prefix/sbin/fluxmq-bind-nic"; do
	[ -x "$dest$f" ] || fail "$f is not executable"
done
unit=$dest$prefix/lib/systemd/system/fluxmq.service
for l in Type=notify NotifyAccess=main RestartPreventExitStatus=2 \
	"ExecStart=$prefix/bin/fluxmq --file-prefix fluxmq -- --config $sysconf/fluxmq/server.properties"; do
	grep -qx "$l" "$unit" || fail "unit lacks '$l'"
done
grep -q '^WatchdogSec=[1-9]' "$unit" || fail "unit has no WatchdogSec"
if command -v systemd-analyze >/dev/null 2>&1; then
	# Checks the syntax; the ExecStart binary is not installed here.
	systemd-analyze verify "$unit" >"$FMQ_TMP/verify.out" 2>&1 || true
	grep -v -e 'is not executable' -e 'No such file' -e 'Command .* not found' \
		-e 'Failed to prepare filename' -e '^$' "$FMQ_TMP/verify.out" |
		grep -i -e 'unknown' -e 'invalid' -e 'failed to parse' &&
		fail "systemd-analyze verify: $(cat "$FMQ_TMP/verify.out")"
fi
# An operator's edit survives a second install.
echo '# edited by the operator' >>"$dest$sysconf/fluxmq/server.properties"
meson install -C "$FMQ_BUILD" --no-rebuild --quiet --destdir "$dest" >"$FMQ_TMP/install2.out" 2>&1 ||
	fail "second meson install: $(tail -5 "$FMQ_TMP/install2.out")"
grep -q '^# edited by the operator' "$dest$sysconf/fluxmq/server.properties" ||
	fail "a second meson install overwrote the edited $sysconf/fluxmq/server.properties"
pass "meson install --destdir: ${#want[@]} files under $prefix and $sysconf; unit Type=notify with a watchdog; edited config kept on reinstall"

# --- the Debian package ------------------------------------------------------------
t0=$(date +%s)
bash scripts/build-deb.sh "$FMQ_TMP/deb" >"$FMQ_TMP/build-deb.out" 2>&1 ||
	fail "build-deb.sh: $(tail -20 "$FMQ_TMP/build-deb.out")"
deb=$(tail -n 1 "$FMQ_TMP/build-deb.out")
[ -f "$deb" ] || fail "build-deb.sh printed no package path: $(tail -5 "$FMQ_TMP/build-deb.out")"
[ "$(dpkg-deb -f "$deb" Version)" = "$ver" ] || fail "package version $(dpkg-deb -f "$deb" Version), want $ver"
deps=$(dpkg-deb -f "$deb" Depends)
for d in libc6 libnuma1 libmicrohttpd12 librte-eal23 librte-mempool-ring23 librte-net-tap23; do
	case " $deps," in *" $d "* | *" $d,"*) ;; *) fail "Depends lacks $d: $deps" ;; esac
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/fluxmq/server.properties ||
	fail "no conffile /etc/fluxmq/server.properties"
pass "built $(basename "$deb") in $(($(date +%s) - t0)) s; Depends: $deps"

root=$FMQ_TMP/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
# The host's package database: dependencies resolve against real packages.
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
dpk() {
	dpkg --root="$root" --force-script-chrootless --force-confold \
		--log="$FMQ_TMP/dpkg.log" "$@"
}
dpk -i "$deb" >"$FMQ_TMP/dpkg-i.out" 2>&1 || fail "dpkg -i: $(cat "$FMQ_TMP/dpkg-i.out")"
dpkg --root="$root" -s fluxmq 2>/dev/null | grep -qx 'Status: install ok installed' ||
	fail "fluxmq not 'install ok installed' in the throwaway root"
for f in /usr/bin/fluxmq /usr/bin/fluxmq-bench /usr/sbin/fluxmq-bind-nic \
	/usr/lib/systemd/system/fluxmq.service /etc/fluxmq/server.properties \
	/usr/share/fluxmq/drivers-config/net_tap.conf \
	/usr/share/doc/fluxmq/copyright /usr/share/doc/fluxmq/operations.md; do
	[ -f "$root$f" ] || fail "package did not install $f"
done
[ -d "$root/var/lib/fluxmq" ] || fail "postinst did not create /var/lib/fluxmq"
grep -qx 'ExecStart=/usr/bin/fluxmq --file-prefix fluxmq -- --config /etc/fluxmq/server.properties' \
	"$root/usr/lib/systemd/system/fluxmq.service" || fail "packaged unit's ExecStart"
"$root/usr/bin/fluxmq" --version >"$FMQ_TMP/version.out" 2>&1 || fail "installed fluxmq --version failed: $(cat "$FMQ_TMP/version.out")"
grep -qx "fluxmq $ver" "$FMQ_TMP/version.out" || fail "installed fluxmq --version: $(cat "$FMQ_TMP/version.out")"
pass "dpkg -i into a throwaway root: installed, postinst ran, /usr/bin/fluxmq --version says $ver"

# --- the packaged broker with the packaged configuration -----------------------------
FMQ_BIN=$root/usr/bin/fluxmq
# fmq_start's own --set come first; the packaged file then loads in full,
# and this test's addresses go last again.
fmq_start pkg --config "$root/etc/fluxmq/server.properties" \
	--set "drivers.config.dir=$root/usr/share/fluxmq/drivers-config" \
	--set "dev.tap.name=$FMQ_TAP" --set "net.ip=$FMQ_IP/24" \
	--set "dev.tap.host_ip=$FMQ_HOST_IP/24" --set "mgmt.listen=$FMQ_MGMT" \
	--set "log.dirs=$FMQ_TMP/data-pkg" --set "log.hot.dir=/dev/hugepages/fmq-test-$$-pkg"
grep -q "drivers-config/net_tap.conf" "$FMQ_TMP/pkg.log" ||
	fail "the packaged broker did not load the packaged net_tap profile: $(grep -i profile "$FMQ_TMP/pkg.log")"
curl -sf --max-time 5 "http://$FMQ_MGMT/metrics" >"$FMQ_TMP/metrics.txt" || fail "GET /metrics"
grep -q "^fluxmq_build_info{version=\"$ver\"," "$FMQ_TMP/metrics.txt" || fail "packaged broker's fluxmq_build_info: $(grep build_info "$FMQ_TMP/metrics.txt")"
/usr/bin/python3 - "$FMQ_TMP/metrics.txt" "$root/usr/share/doc/fluxmq/grafana-dashboard.json" \
	"$root/usr/share/doc/fluxmq/prometheus-alerts.yml" >"$FMQ_TMP/check.out" 2>&1 <<'EOF' ||
import json, re, sys
import yaml
metrics, dash_path, rules_path = sys.argv[1:4]
have = set()
for line in open(metrics):
    m = re.match(r'(?:# TYPE )?([a-zA-Z_:][a-zA-Z0-9_:]*)', line)
    if m and not line.startswith('# HELP'):
        have.add(m.group(1))
        if line.startswith('# TYPE ') and line.split()[-1] == 'histogram':
            have.update(m.group(1) + s for s in ('_bucket', '_sum', '_count'))
names = re.compile(r'\bfluxmq_[a-z0-9_]+')
bad = []
def walk(o, out):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == 'expr':
                out.append(v)
            else:
                walk(v, out)
    elif isinstance(o, list):
        for v in o:
            walk(v, out)
dash = json.load(open(dash_path))
exprs = []
walk(dash.get('panels', []), exprs)
if len(exprs) < 10:
    bad.append('dashboard: only %d queries' % len(exprs))
rules = yaml.safe_load(open(rules_path))
alerts = []
for g in rules['groups']:
    assert g['name'] and g['rules'], g
    for r in g['rules']:
        for k in ('alert', 'expr', 'labels', 'annotations'):
            if k not in r:
                bad.append('rule %s: no %s' % (r.get('alert'), k))
        if r.get('labels', {}).get('severity') not in ('critical', 'warning', 'info'):
            bad.append('rule %s: severity' % r.get('alert'))
        if 'for' in r and not re.fullmatch(r'\d+[smh]', str(r['for'])):
            bad.append('rule %s: for %r' % (r['alert'], r['for']))
        alerts.append(r['alert'])
        exprs.append(r['expr'])
for e in exprs:
    if e.count('(') != e.count(')') or e.count('{') != e.count('}') or e.count('[') != e.count(']'):
        bad.append('unbalanced: %s' % e)
    for n in names.findall(e):
        if n not in have:
            bad.append('not in /metrics: %s (in %s)' % (n, e))
if len(set(alerts)) != len(alerts):
    bad.append('duplicate alert names')
if bad:
    print('\n'.join(bad))
    sys.exit(1)
print('%d queries, %d alerts, every fluxmq_* name in /metrics' % (len(exprs), len(alerts)))
EOF
	fail "dashboard/alerts: $(cat "$FMQ_TMP/check.out")"
if command -v promtool >/dev/null 2>&1; then
	promtool check rules "$root/usr/share/doc/fluxmq/prometheus-alerts.yml" >"$FMQ_TMP/promtool.out" 2>&1 ||
		fail "promtool: $(cat "$FMQ_TMP/promtool.out")"
fi
rc=0
fmq_stop || rc=$?
[ "$rc" -eq 0 ] || fail "packaged broker exit status $rc"
pass "packaged broker ran from the packaged config and profiles: $(cat "$FMQ_TMP/check.out")"

# --- conffile handling ---------------------------------------------------------------
echo 'log.level=warn' >>"$root/etc/fluxmq/server.properties"
dpk -i "$deb" >"$FMQ_TMP/dpkg-i2.out" 2>&1 || fail "reinstall: $(cat "$FMQ_TMP/dpkg-i2.out")"
grep -qx 'log.level=warn' "$root/etc/fluxmq/server.properties" || fail "reinstall overwrote the edited conffile"
dpk -r fluxmq >"$FMQ_TMP/dpkg-r.out" 2>&1 || fail "dpkg -r: $(cat "$FMQ_TMP/dpkg-r.out")"
[ ! -e "$root/usr/bin/fluxmq" ] || fail "dpkg -r left /usr/bin/fluxmq"
[ -f "$root/etc/fluxmq/server.properties" ] || fail "dpkg -r removed the conffile (only purge should)"
dpk -P fluxmq >"$FMQ_TMP/dpkg-p.out" 2>&1 || fail "dpkg -P: $(cat "$FMQ_TMP/dpkg-p.out")"
[ ! -e "$root/etc/fluxmq/server.properties" ] || fail "purge left the conffile"
pass "reinstall keeps the edited conffile; remove keeps it; purge removes it"

#!/usr/bin/env bash
# The Debian package end to end: built with CPack from the build directory, its control data
# and files checked; then installed with dpkg -i when this runs as root on a machine where
# sitesync is not installed yet (CI), else unpacked into a scratch root. Installed, the
# postinst's user exists, the unit passes `systemd-analyze verify` where systemd is present, and
# the binary runs with the unit's arguments (as the unit's user, on the packaged config) until
# SIGTERM. Usage: package_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
installed=""
serving=""
cleanup() {
  [ -n "$serving" ] && kill "$serving" 2>/dev/null || true
  if [ -n "$installed" ]; then
    dpkg --purge sitesync >/dev/null 2>&1 || true
    rm -rf /var/lib/sitesync /etc/sitesync
    deluser --system sitesync >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package test: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/out" >/dev/null) || fail "cpack failed"
deb=$(ls "$work"/out/sitesync_*.deb)
[ "$(dpkg-deb -f "$deb" Package)" = sitesync ] || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libzmq5 liblmdb0 adduser; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
files=$(dpkg-deb -c "$deb")
for f in ./usr/bin/sitesync ./usr/lib/systemd/system/sitesync.service ./etc/sitesync/site.toml \
  ./usr/share/doc/sitesync/README.md ./usr/share/man/man1/sitesync.1; do
  grep -q " $f\$" <<<"$files" || fail "$f is not in the package"
done
grep -q "sitesync-bench" <<<"$files" && fail "the benchmarks are in the package"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/sitesync/site.toml "$work/control/conffiles" || fail "site.toml is not a conffile"
[ -x "$work/control/postinst" ] || fail "no postinst"

if [ "$(id -u)" -eq 0 ] && ! dpkg -s sitesync >/dev/null 2>&1 && [ ! -e /var/lib/sitesync ] &&
  [ ! -e /etc/sitesync ]; then
  installed=yes
  dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
  getent passwd sitesync >/dev/null || fail "the postinst made no sitesync user"
  sitesync --version | grep -q "^sitesync .*(protocol [0-9]*, store format [0-9]*)$" ||
    fail "sitesync --version: $(sitesync --version)"
  sitesync config check --config /etc/sitesync/site.toml >/dev/null || fail "packaged config"
  if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/sitesync.service || fail "systemd-analyze verify"
  fi
  # What systemd does before ExecStart (StateDirectory=sitesync), then the unit's command line.
  [ -d /var/lib/sitesync ] || fail "the postinst made no /var/lib/sitesync"
  runuser -u sitesync -- sitesync init --data /var/lib/sitesync --site "Packaged" >/dev/null
  exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/sitesync.service)
  # shellcheck disable=SC2086
  # setpriv execs (as systemd does with User=): the signal reaches the node itself.
  setpriv --reuid=sitesync --regid=sitesync --init-groups $exec_start >"$work/serve.out" \
    2>"$work/serve.err" &
  serving=$!
  for _ in $(seq 100); do
    grep -q "^serving 'Packaged' on tcp://" "$work/serve.out" && break
    kill -0 "$serving" 2>/dev/null || fail "serve ended: $(cat "$work/serve.err")"
    sleep 0.1
  done
  grep -q "^serving 'Packaged'" "$work/serve.out" || fail "serve did not start"
  kill -TERM "$serving"
  wait "$serving" || fail "serve did not stop cleanly on SIGTERM"
  serving=""
  grep -q " info stopped$" "$work/serve.err" || fail "no 'stopped' in the log: $(cat "$work/serve.err")"
  echo "package test: installed $(basename "$deb"), ran the unit's command line as sitesync"
else
  dpkg-deb -x "$deb" "$work/root"
  "$work/root/usr/bin/sitesync" --version | grep -q "^sitesync " || fail "--version"
  "$work/root/usr/bin/sitesync" config check --config "$work/root/etc/sitesync/site.toml" \
    >/dev/null || fail "packaged config"
  echo "package test: unpacked $(basename "$deb") into a scratch root (not root, or installed)"
fi

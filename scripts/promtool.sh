#!/bin/sh
# Prints the path of a promtool: the one on PATH, else Debian's (package prometheus) unpacked
# under .cache/promtool without installing it — its postinst would start a Prometheus server,
# and promtool is one static binary that needs none of the package's dependencies.
set -eu
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
root=$(cd "$(dirname "$0")/.." && pwd)
tool="$root/.cache/promtool/usr/bin/promtool"
if [ ! -x "$tool" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) || { echo "promtool: apt-get download prometheus failed" >&2; exit 1; }
  mkdir -p "$root/.cache/promtool"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  cp -a "$tmp/x/usr" "$root/.cache/promtool/"
  rm -f "$root/.cache/promtool/usr/bin/prometheus"
fi
echo "$tool"

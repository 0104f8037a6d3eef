#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus' own exposition-format checker), for the metrics tests: the one on PATH,
# else the one taken from Debian's `prometheus` package into node_modules/.cache/promtool. The package is downloaded
# with `apt-get download` and unpacked with dpkg-deb, not installed: installing it would start a Prometheus server.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
dir=node_modules/.cache/promtool
bin="$dir/usr/bin/promtool"
if [ ! -x "$bin" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 0777 "$work" # apt's sandbox user writes the download there
  if ! (cd "$work" && apt-get -o DPkg::Lock::Timeout=600 download prometheus >/dev/null 2>&1); then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    (cd "$work" && apt-get -o DPkg::Lock::Timeout=600 download prometheus >/dev/null 2>&1)
  fi
  mkdir -p "$dir"
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$dir" ./usr/bin/promtool
fi
echo "$PWD/$bin"

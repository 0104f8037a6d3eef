#!/usr/bin/env bash
# Set-up shared by `npm start`, `npm test` and `npm run bench` on a fresh clone (Debian 12, Node 20):
# system packages when missing, npm dependencies, the build, and the demo home with its SoftHSM2 token.
# Every step is skipped when already done, so later runs cost a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'p11bridge setup: %s\n' "$*" >&2; }

# 1. System packages: SoftHSM2 (the demo token), the openssl CLI (independent verification in tests), OpenSSL's
#    headers (the SM2 test token of `npm test`, softhsm/sm2-test-token, is built against them), p11-kit's
#    PKCS#11 header (the fault token of `npm test`, softhsm/fault-token, is built against it), OpenSC's
#    pkcs11-spy (tests prove the fault token behind a PKCS#11 proxy module).
need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
[ -f /usr/include/p11-kit-1/p11-kit/pkcs11.h ] || need+=(libp11-kit-dev)
[ -f /usr/lib/x86_64-linux-gnu/pkcs11-spy.so ] || need+=(opensc-pkcs11)
# p11-kit's remoting (`p11-kit server` + p11-kit-client.so): the token in another process, as a network HSM is
# (test/e2e/remoteHang.e2e.test.ts stops that process to hang every call).
command -v p11-kit >/dev/null 2>&1 || need+=(p11-kit)
[ -f /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so ] || need+=(p11-kit-modules)
# Redis (the shared replay window and rate limits of several replicas, issue 17): tests and the bench start their
# own redis-server on a free port in a temp directory; the Debian service is never used.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${need[*]}. Install them as root, then run this again:"
    say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
    exit 1
  fi
  say "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt run (a parallel set-up) rather than fail on its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. npm dependencies. pkcs11js has no prebuilt binary: node-gyp builds it against the local Node headers
#    (offline only with nodedir set; Debian/NodeSource put them in /usr/include/node).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f node_modules/pkcs11js/build/Release/pkcs11.node ]; then
  say "installing npm dependencies (npm install)"
  npm install --no-audit --no-fund --loglevel=error
fi
# pkcs11js must run from our patched source (patches/; a SIGSEGV otherwise, docs/upstream/pkcs11js-null-buffer.md):
# npm's postinstall does it, this catches a tree installed before the patch existed (or with --ignore-scripts).
bash scripts/patch-pkcs11js.sh

# 3. Build (tsc) when a source file is newer than the last build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer "$stamp" -print -quit)" ]; then
  say "building (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.build.json
  touch "$stamp"
fi

# 4. The demo home and token (provisioned on first run; reused afterwards).
node dist/main.js demo provision

#!/usr/bin/env bash
# Makes sure our patches to npm dependencies (patches/) are applied and that the native pkcs11js binary was built
# from the patched source. Run by `npm install`/`npm ci` (postinstall, after `patch-package`) and by
# scripts/bootstrap.sh; every step is skipped when already done, so it is cheap to run again.
#
# Why: pkcs11js 2.1.7 copies an attribute value from a NULL buffer when the object changes between the two calls
# of its C_GetAttributeValue, which kills the process with SIGSEGV (docs/upstream/pkcs11js-null-buffer.md). The
# patch (patches/pkcs11js+2.1.7.patch) makes that a CKR_BUFFER_TOO_SMALL Pkcs11Error after a few retries; the patched
# source also compiles a marker string into the binary, which is how this script tells a patched build from an
# unpatched one (npm builds pkcs11js before our postinstall runs, so a fresh install always needs the rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'p11bridge setup: %s\n' "$*" >&2; }

marker='p11bridge-pkcs11js-patch:get-attribute-value-changed:1'
src=node_modules/pkcs11js/src/pkcs11.cpp
bin=node_modules/pkcs11js/build/Release/pkcs11.node

if [ ! -f "$src" ]; then
  say "pkcs11js is not installed; nothing to patch"
  exit 0
fi

# 1. The source: patch-package applies every patch in patches/ (a patch already applied is left alone).
if ! grep -qF "$marker" "$src"; then
  say "patching npm dependencies (patch-package)"
  npx --no-install patch-package --error-on-fail
fi
grep -qF "$marker" "$src" || { say "pkcs11js: the patch did not apply to $src"; exit 1; }

# 2. The binary: rebuilt when it lacks the marker (offline only with nodedir set; see scripts/bootstrap.sh).
if [ ! -f "$bin" ] || ! grep -qaF "$marker" "$bin"; then
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
  say "rebuilding pkcs11js from the patched source (node-gyp)"
  npm rebuild pkcs11js --loglevel=error >&2
fi
grep -qaF "$marker" "$bin" || { say "pkcs11js: $bin was not rebuilt from the patched source"; exit 1; }

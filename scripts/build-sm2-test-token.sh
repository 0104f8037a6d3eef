#!/usr/bin/env bash
# Builds the SM2 test token (softhsm/sm2-test-token/): a PKCS#11 TEST DOUBLE for a vendor SM2 HSM, used by
# `npm test` and, on demand, by `npm start -- --sm2` (src/cli/sm2TestToken.ts). Output:
# build/sm2-test-token/libp11bridge-sm2-test.so (git-ignored); rebuilt when a source is newer. Needs a C compiler and Debian's OpenSSL 3 headers (libssl-dev, installed by scripts/bootstrap.sh).
# Prints the path of the library.
set -euo pipefail
cd "$(dirname "$0")/.."

src=softhsm/sm2-test-token
out=build/sm2-test-token/libp11bridge-sm2-test.so

if [ ! -f "$out" ] || [ "$src/sm2token.c" -nt "$out" ] || [ "$src/pkcs11.h" -nt "$out" ]; then
  if [ ! -f /usr/include/openssl/evp.h ]; then
    echo "build-sm2-test-token: OpenSSL headers missing; run scripts/bootstrap.sh (it installs libssl-dev)" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$out")"
  cc -shared -fPIC -O2 -Wall -Wextra -Wno-format-truncation -fvisibility=hidden \
    -o "$out.tmp" "$src/sm2token.c" -lcrypto -lpthread
  mv "$out.tmp" "$out"
fi
printf '%s\n' "$PWD/$out"

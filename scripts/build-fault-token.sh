#!/usr/bin/env bash
# Builds the fault token (softhsm/fault-token/): a PKCS#11 TEST DOUBLE that forwards every call to a real module
# (SoftHSM2) and injects the faults a test writes into its control file; used by `npm test` only. Output:
# build/fault-token/libp11bridge-fault.so (git-ignored); rebuilt when a source is newer. Needs a C compiler and
# p11-kit's PKCS#11 header (libp11-kit-dev, installed by scripts/bootstrap.sh). Prints the path of the library.
set -euo pipefail
cd "$(dirname "$0")/.."

src=softhsm/fault-token
out=build/fault-token/libp11bridge-fault.so
header=/usr/include/p11-kit-1/p11-kit/pkcs11.h

if [ ! -f "$out" ] || [ "$src/faulttoken.c" -nt "$out" ] || [ "$0" -nt "$out" ]; then
  if [ ! -f "$header" ]; then
    echo "build-fault-token: $header missing; run scripts/bootstrap.sh (it installs libp11-kit-dev)" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$out")"
  # -Bsymbolic: our own C_* calls bind to this library even where the real module's symbols are visible.
  cc -shared -fPIC -O2 -std=gnu11 -Wall -Wextra -fvisibility=hidden -Wl,-Bsymbolic -I/usr/include/p11-kit-1 \
    -o "$out.tmp" "$src/faulttoken.c" -ldl -lpthread
  mv "$out.tmp" "$out"
fi
printf '%s\n' "$PWD/$out"

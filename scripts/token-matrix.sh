#!/usr/bin/env bash
# The token matrix (issue 19): for each PKCS#11 implementation, set it up from Debian packages in a temp directory
# (scripts/tokens/<impl>.sh), run test/matrix/ against it (provision, serve, sign every supported algorithm through
# the official SDKs, verify with openssl, documented refusals for the rest, keys read back sensitive), and stop it.
# Called by .ci/run after npm test. Usage: scripts/token-matrix.sh [impl...]  (default: all of them)
set -uo pipefail
cd "$(dirname "$0")/.."
impls=("$@")
[ "${#impls[@]}" -gt 0 ] || impls=(softhsm2 p11-kit opencryptoki tpm2-pkcs11 nss-softoken)
[ -f dist/.build-stamp ] || bash scripts/bootstrap.sh
declare -A result
for impl in "${impls[@]}"; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/p11bridge-matrix-$impl.XXXXXX")
  started=$SECONDS
  if bash "scripts/tokens/$impl.sh" start "$dir"; then
    (
      set -a
      . "$dir/token.env"
      set +a
      MATRIX_IMPL=$impl MATRIX_DIR=$dir npx --no-install jest -c test/matrix/jest.config.cjs --runInBand
    )
    rc=$?
  else
    rc=1
    echo "token-matrix: set-up of $impl failed" >&2
  fi
  bash "scripts/tokens/$impl.sh" stop "$dir" || true
  rm -rf "$dir"
  result[$impl]="$([ "$rc" -eq 0 ] && echo pass || echo FAIL) ($((SECONDS - started)) s)"
done
status=0
echo "token matrix:"
for impl in "${impls[@]}"; do
  echo "  $impl: ${result[$impl]}"
  [[ ${result[$impl]} == pass* ]] || status=1
done
exit $status

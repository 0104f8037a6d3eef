#!/usr/bin/env bash
# SoftHSM2 2.6 (the reference token of the tests) in DIR: its own softhsm2.conf and token store.
#   start DIR   set up; writes DIR/token.env     stop DIR   nothing to stop (the store goes with DIR)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:?start|stop} dir=${2:?DIR}
[ "$cmd" = stop ] && exit 0

need_packages softhsm2
softhsm_token "$dir" p11bridge-softhsm
write_env "$dir" MODULE=/usr/lib/softhsm/libsofthsm2.so TOKEN_LABEL=p11bridge-softhsm PIN_FILE="$dir/user-pin" \
  SOFTHSM2_CONF="$dir/softhsm2.conf"
say "SoftHSM2 token p11bridge-softhsm ready in $dir"

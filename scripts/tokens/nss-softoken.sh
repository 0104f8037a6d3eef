#!/usr/bin/env bash
# NSS's softoken (libsoftokn3.so, the key store of Firefox and RHEL; Debian libnss3) on an NSS database in DIR/nssdb
# made with certutil (libnss3-tools). The module only starts with its C_Initialize parameters (moduleParameters);
# it refuses data objects, so p11bridge keeps its records in a file beside the database that the token vouches for
# (metadataStore: file, decision 0031).
#   start DIR   set up; writes DIR/token.env     stop DIR   nothing to stop (the database goes with DIR)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:?start|stop} dir=${2:?DIR}
[ "$cmd" = stop ] && exit 0

need_packages libnss3 libnss3-tools
module=$(dpkg -L libnss3 | grep '/libsoftokn3\.so$' | head -n1)
[ -n "$module" ] && [ -f "$module" ] || { say "libsoftokn3.so not found in libnss3"; exit 1; }
mkdir -p "$dir/nssdb"
pin=$(random_pin)
printf '%s' "$pin" >"$dir/user-pin"
chmod 600 "$dir/user-pin"
# The database password is the token's user PIN (NSS has no separate SO PIN for its database token).
certutil -N -d "sql:$dir/nssdb" -f "$dir/user-pin" >/dev/null
write_env "$dir" MODULE="$module" TOKEN_LABEL="NSS Certificate DB" PIN_FILE="$dir/user-pin" \
  MODULE_PARAMETERS="configdir='sql:$dir/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=" \
  METADATA_FILE="$dir/nssdb/p11bridge-records.json"
say "NSS softoken database ready in $dir/nssdb (token \"NSS Certificate DB\", module $module)"

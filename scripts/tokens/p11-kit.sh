#!/usr/bin/env bash
# A token in another process, as a network HSM is: `p11-kit server` in front of a SoftHSM2 token in DIR, and
# p11-kit's remoting client (p11-kit-client.so) as the daemon's module, reaching it over a Unix socket.
#   start DIR   set up; writes DIR/token.env     stop DIR   stops the p11-kit server
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:?start|stop} dir=${2:?DIR}
if [ "$cmd" = stop ]; then
  stop_pidfile "$dir/p11kit.pid"
  exit 0
fi

need_packages softhsm2 p11-kit p11-kit-modules
label=p11bridge-remote
softhsm_token "$dir" "$label"
socket=$dir/p11kit.sock
SOFTHSM2_CONF=$dir/softhsm2.conf p11-kit server -f -n "$socket" --provider /usr/lib/softhsm/libsofthsm2.so \
  "pkcs11:token=$label" >"$dir/p11kit.log" 2>&1 &
echo $! >"$dir/p11kit.pid"
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { say "p11-kit server did not start: $(cat "$dir/p11kit.log")"; exit 1; }
write_env "$dir" MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so TOKEN_LABEL="$label" \
  PIN_FILE="$dir/user-pin" P11_KIT_SERVER_ADDRESS="unix:path=$socket"
say "p11-kit server in front of SoftHSM2 token $label ready in $dir"

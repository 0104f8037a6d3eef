#!/usr/bin/env bash
# tpm2-pkcs11 1.9 (keys in a TPM) on a software TPM: swtpm on a TCP port, tpm2-abrmd (the resource manager) on a
# private D-Bus session bus, and a tpm2-pkcs11 store in DIR. swtpm alone runs out of object memory at the second
# key and leaks handles between processes (issue 19): the resource manager in front of it is required.
#   start DIR   set up; writes DIR/token.env     stop DIR   stops swtpm, tpm2-abrmd and the bus
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:?start|stop} dir=${2:?DIR}

if [ "$cmd" = stop ]; then
  stop_pidfile "$dir/abrmd.pid"
  stop_pidfile "$dir/swtpm.pid"
  stop_pidfile "$dir/dbus.pid"
  exit 0
fi

need_packages swtpm swtpm-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools dbus-daemon
mkdir -p "$dir/tpm" "$dir/store"
port=$(free_port)
swtpm socket --tpm2 --tpmstate "dir=$dir/tpm" --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
  --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" --flags not-need-init,startup-clear \
  --pid "file=$dir/swtpm.pid" --daemon
# A private session bus: tpm2-abrmd registers its name there, never on the system bus.
dbus-daemon --session --fork --nopidfile --print-address=3 --print-pid=4 3>"$dir/dbus.addr" 4>"$dir/dbus.pid"
bus=$(head -n1 "$dir/dbus.addr")
export DBUS_SESSION_BUS_ADDRESS=$bus
tpm2-abrmd --session --allow-root --tcti="swtpm:host=127.0.0.1,port=$port" >"$dir/abrmd.log" 2>&1 &
echo $! >"$dir/abrmd.pid"
export TPM2TOOLS_TCTI=tabrmd:bus_type=session TPM2_PKCS11_TCTI=tabrmd:bus_type=session TPM2_PKCS11_STORE=$dir/store
for _ in $(seq 100); do tpm2_ptool listprimaries >/dev/null 2>&1 && break; tpm2_ptool init >/dev/null 2>&1 && break; sleep 0.1; done
tpm2_ptool listprimaries | grep -q id || tpm2_ptool init >/dev/null
label=p11bridge-tpm2
pin=$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')
sopin=$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')
tpm2_ptool addtoken --pid=1 --label="$label" --userpin="$pin" --sopin="$sopin" >/dev/null
printf '%s' "$pin" >"$dir/user-pin"
chmod 600 "$dir/user-pin"
write_env "$dir" MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so TOKEN_LABEL="$label" \
  PIN_FILE="$dir/user-pin" DBUS_SESSION_BUS_ADDRESS="$bus" TPM2_PKCS11_TCTI=tabrmd:bus_type=session \
  TPM2_PKCS11_STORE="$dir/store"
say "tpm2-pkcs11 token $label ready in $dir (swtpm port $port)"

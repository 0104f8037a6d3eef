#!/usr/bin/env bash
# opencryptoki 3.8 with its soft token (swtok, slot 3 of the Debian opencryptoki.conf). Its paths are compiled in
# (/var/lib/opencryptoki, /var/lock/opencryptoki): start saves the soft token's directory to DIR and stop restores
# it, so the machine ends as it was. pkcsslotd (the slot daemon every opencryptoki application talks to) is started
# when not running, and stopped again by stop only if start started it. One set-up at a time per machine.
#   start DIR   set up; writes DIR/token.env     stop DIR   stops pkcsslotd (if ours), restores the soft token
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:?start|stop} dir=${2:?DIR}
state=/var/lib/opencryptoki
slot=3

if [ "$cmd" = stop ]; then
  [ -f "$dir/pkcsslotd.ours" ] && stop_pidfile /var/run/pkcsslotd.pid
  if [ -f "$dir/swtok-saved.tar" ]; then
    rm -rf "$state/swtok"
    tar -C "$state" -xpf "$dir/swtok-saved.tar"
    rm -f "$dir/swtok-saved.tar"
  fi
  # The soft token's shared-memory copy of its state would outlive the files it was made from; the other
  # segments the tokens' libraries made while we ran (slot 0's tpm token) go too, those from before stay.
  rm -f /dev/shm/var.lib.opencryptoki.swtok
  for f in /dev/shm/var.lib.opencryptoki.*; do
    [ -e "$f" ] || continue
    grep -qxF "$f" "$dir/shm-before" 2>/dev/null || rm -f "$f"
  done
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { say "opencryptoki's soft token lives in $state: run as root"; exit 1; }
need_packages opencryptoki
# As the package's tmpfiles.d entry would (no systemd-tmpfiles in a container).
for d in /var/lock/opencryptoki /var/lock/opencryptoki/swtok "$state/swtok/TOK_OBJ" /var/log/opencryptoki; do
  mkdir -p "$d"
  chgrp pkcs11 "$d"
  chmod 770 "$d"
done
[ -f "$dir/swtok-saved.tar" ] || tar -C "$state" -cpf "$dir/swtok-saved.tar" swtok
[ -f "$dir/shm-before" ] || { ls -d /dev/shm/var.lib.opencryptoki.* 2>/dev/null || true; } >"$dir/shm-before"
# A fresh soft token (opencryptoki re-creates its files with the default SO PIN 87654321); stop puts back what was.
find "$state/swtok" -mindepth 1 -delete
rm -f /dev/shm/var.lib.opencryptoki.swtok
mkdir -p "$state/swtok/TOK_OBJ"
chgrp -R pkcs11 "$state/swtok"
chmod 770 "$state/swtok" "$state/swtok/TOK_OBJ"
if ! pgrep -x pkcsslotd >/dev/null; then
  pkcsslotd
  touch "$dir/pkcsslotd.ours"
fi
# C_InitToken with the default SO PIN, then our own SO and user PINs (opencryptoki 3.8: 4 to 8 characters).
label=p11bridge-ock
so=$(random_pin | cut -c1-8)
pin=$(random_pin | cut -c1-8)
pkcsconf -I -c "$slot" -S 87654321 <<<"$label" >/dev/null
pkcsconf -P -c "$slot" -S 87654321 -n "$so" >/dev/null
pkcsconf -u -c "$slot" -S "$so" -n "$pin" >/dev/null
printf '%s' "$so" >"$dir/so-pin"
printf '%s' "$pin" >"$dir/user-pin"
chmod 600 "$dir/so-pin" "$dir/user-pin"
write_env "$dir" MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so TOKEN_LABEL="$label" \
  PIN_FILE="$dir/user-pin"
say "opencryptoki soft token $label ready in $dir (slot $slot)"

# Shared by the set-up scripts of scripts/tokens/: Debian packages installed when missing, and the token.env a
# set-up writes for the matrix (scripts/token-matrix.sh) and for operators trying an implementation by hand.
# Each script: `<impl>.sh start DIR` sets the token up in DIR (a new temp directory) and writes DIR/token.env;
# `<impl>.sh stop DIR` stops what start started and restores what it had to change. Nothing else is touched.

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# need_packages PKG... : installs the Debian packages that are missing (root only; other helpers may hold the lock).
need_packages() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]} (install them as root)"
    return 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || true
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# free_port: a TCP port nobody listens on now (the kernel's choice; a tiny race is accepted for a test set-up).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})'
}

# write_env DIR KEY=VALUE... : DIR/token.env, one shell-quoted assignment per line.
write_env() {
  local dir=$1
  shift
  : >"$dir/token.env"
  for kv in "$@"; do printf '%s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$dir/token.env"; done
}

# stop_pidfile FILE: stops the process whose id FILE holds (ours: we started it), and waits for it.
stop_pidfile() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# random_pin: 18 hexadecimal characters.
random_pin() { head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# softhsm_token DIR LABEL: a SoftHSM2 token store in DIR/tokens (DIR/softhsm2.conf) holding one token LABEL whose
# user PIN is in DIR/user-pin.
softhsm_token() {
  local dir=$1 label=$2
  mkdir -p "$dir/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir/tokens" >"$dir/softhsm2.conf"
  local pin
  pin=$(random_pin)
  printf '%s' "$pin" >"$dir/user-pin"
  chmod 600 "$dir/user-pin"
  SOFTHSM2_CONF=$dir/softhsm2.conf softhsm2-util --init-token --free --label "$label" --so-pin "$(random_pin)" \
    --pin "$pin" >/dev/null
}

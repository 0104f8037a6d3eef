#!/usr/bin/env bash
# Issue 12: "dozens of consecutive cluster starts and stops of the demo with both cores busy, without a failed
# start". Each cycle starts `p11bridge serve` (the demo's config, 2 workers, port 0) on a throwaway demo home and
# token, waits until /readyz answers 200, sends SIGTERM and expects exit status 0; meanwhile one CPU burner per
# core keeps the machine busy (the failure this guards against only showed on a loaded host: two workers opening
# the token while SoftHSM2 rewrote its file, "token not found in module").
#
# Usage: scripts/cluster-start-stop.sh [N]   (default 30; needs the build: scripts/bootstrap.sh)
# Exits non-zero when any start fails, does not become ready within READY_TIMEOUT_S, or stops with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-30}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-30}"
CLI=dist/main.js
[ -f "$CLI" ] || { echo "cluster-start-stop: $CLI missing: run scripts/bootstrap.sh first" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/p11bridge-startstop-XXXXXX")"
burners=()
serve_pid=""
cleanup() {
  for p in "${burners[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$serve_pid" ]; then kill -KILL "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway demo home: its own SoftHSM2 conf, token store, PINs, access key and demo key set.
export P11BRIDGE_HOME="$work/home"
export SOFTHSM2_CONF="$P11BRIDGE_HOME/softhsm2.conf"
node "$CLI" demo provision >/dev/null
# The demo's config with two workers (the port comes from the command line: 0, never a fixed one).
node -e '
  const fs = require("node:fs");
  const yaml = require("yaml");
  const [from, to] = process.argv.slice(1);
  const doc = yaml.parse(fs.readFileSync(from, "utf8"));
  doc.server = { ...doc.server, workers: 2 };
  fs.writeFileSync(to, yaml.stringify(doc), { mode: 0o600 });
' "$P11BRIDGE_HOME/config.yaml" "$work/config.yaml"

# Waits for the primary's "cluster listening" line, then for GET /readyz 200; prints the milliseconds it took.
cat >"$work/wait-ready.js" <<'EOF'
const fs = require('node:fs');
const http = require('node:http');
const [log, pid, timeoutS] = process.argv.slice(2);
const t0 = Date.now();
const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
const port = () => {
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    try { const l = JSON.parse(line); if (l.msg === 'cluster listening') return l.port; } catch {}
  }
  return undefined;
};
const ready = (p) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port: p, path: '/readyz', agent: false, timeout: 2000 }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200));
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => resolve(false));
});
(async () => {
  for (;;) {
    if (Date.now() - t0 > Number(timeoutS) * 1000) { console.log('timeout'); process.exit(1); }
    if (!alive()) { console.log('exited'); process.exit(1); }
    const p = port();
    if (p !== undefined && (await ready(p))) { console.log(Date.now() - t0); process.exit(0); }
    await new Promise((r) => setTimeout(r, 50));
  }
})();
EOF

cores="$(nproc 2>/dev/null || echo 2)"
for _ in $(seq 1 "$cores"); do
  yes >/dev/null &
  burners+=("$!")
done

ok=0
failed=0
ready_ms=()
t_all=$(date +%s)
for i in $(seq 1 "$N"); do
  log="$work/serve-$i.log"
  node "$CLI" serve --config "$work/config.yaml" --port 0 >"$log" 2>&1 &
  serve_pid=$!
  if took="$(node "$work/wait-ready.js" "$log" "$serve_pid" "$READY_TIMEOUT_S")"; then
    workers="$(pgrep -P "$serve_pid" || true)"
    t_stop=$(date +%s%N)
    kill -TERM "$serve_pid"
    status=0
    wait "$serve_pid" || status=$?
    stop_ms=$((($(date +%s%N) - t_stop) / 1000000))
    if [ "$status" -eq 0 ]; then
      ok=$((ok + 1))
      ready_ms+=("$took")
      echo "start $i: ready in ${took} ms, stopped (status 0) in ${stop_ms} ms"
    else
      failed=$((failed + 1))
      echo "start $i: ready in ${took} ms, but SIGTERM ended it with status $status" >&2
      tail -n 20 "$log" >&2
    fi
  else
    failed=$((failed + 1))
    workers="$(pgrep -P "$serve_pid" || true)"
    kill -KILL "$serve_pid" 2>/dev/null || true
    status=0
    wait "$serve_pid" || status=$?
    echo "start $i: FAILED ($took; exit status $status). Last log lines:" >&2
    tail -n 20 "$log" >&2
  fi
  serve_pid=""
  # No worker may outlive its primary (a worker whose primary is gone stops by itself).
  sleep 0.2
  for p in $workers; do
    if kill -0 "$p" 2>/dev/null; then
      echo "start $i: worker $p outlived its primary" >&2
      failed=$((failed + 1))
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
done

sorted="$(printf '%s\n' "${ready_ms[@]:-}" | sort -n | grep -v '^$' || true)"
count="$(printf '%s\n' "$sorted" | grep -c . || true)"
median="$(printf '%s\n' "$sorted" | sed -n "$(((count + 1) / 2))p")"
max="$(printf '%s\n' "$sorted" | tail -n 1)"
echo "cluster start/stop with ${#burners[@]} CPU burners: $N starts, $ok ready and stopped with status 0, $failed failed;" \
  "ready in median ${median:-?} ms, max ${max:-?} ms; $(($(date +%s) - t_all)) s in all"
[ "$failed" -eq 0 ]

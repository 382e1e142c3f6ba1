#!/usr/bin/env bash
# `make demo`: a local MLflow (SQLite) kept running, the plugin installed in a demo plugins
# directory, the built-in demo scenario and the real OpenClaw recording driven through it, and
# the URL of the experiment's Traces tab.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/$1"
port="$2"
experiment="$3"
uri="http://127.0.0.1:$port"
mkdir -p "$dir/plugins"
target="${CARGO_TARGET_DIR:-$root/target}"

healthy() { "$root/.venv/bin/python" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$uri/health', timeout=2).status == 200 else 1)" 2>/dev/null; }

if healthy; then
  echo "demo: using the MLflow server already at $uri"
else
  # A port held by something that is not MLflow: say so now, not after minutes of polling.
  # (SO_REUSEADDR as the server sets it: connections of a stopped server in TIME_WAIT do not count.)
  if ! "$root/.venv/bin/python" -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
    echo "demo: port $port is in use by another program (not an MLflow server); run: make demo DEMO_PORT=<a free port>" >&2
    exit 1
  fi
  echo "demo: starting MLflow at $uri (SQLite database in $dir/mlflow.db)"
  setsid "$root/.venv/bin/mlflow" server --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --default-artifact-root "$dir/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
    >"$dir/server.log" 2>&1 &
  pid=$!
  echo $pid >"$dir/server.pid"
  for _ in $(seq 1 360); do
    healthy && break
    kill -0 "$pid" 2>/dev/null || break # it died (e.g. the port was taken meanwhile): no use waiting
    sleep 0.5
  done
  healthy || { tail -20 "$dir/server.log"; echo "demo: MLflow did not start; see above" >&2; exit 1; }
fi

cp "$target/debug/libopenclaw_mlflow.so" "$dir/plugins/"
cat >"$dir/openclaw.json" <<JSON
{
  // The demo gateway's configuration (JSON5, like a real openclaw.json).
  diagnostics: {
    mlflow: {
      enabled: true,
      trackingUri: "$uri",
      experimentName: "$experiment",
      flushIntervalMs: 1000,
    },
  },
}
JSON

host="$target/debug/openclaw-host"
# The demo gateway's state directory: its spool (what waits for MLflow) is kept there.
export OPENCLAW_STATE_DIR="$dir/state"
# A cold server takes seconds to resolve the experiment and create the run: give the host's stop
# a budget that covers it (it returns as soon as everything is delivered), so that the first demo
# reports its figures and ends its run with the metrics logged.
budget=(--shutdown-ms 60000)
log="$dir/demo.log"
: >"$log"
# Runs the host with the demo's settings; its log goes to $log, and one line says what it delivered
# (from the plugin's STATS line).
drive() {
  local what="$1"; shift
  local stats
  stats=$("$host" "$@" "${budget[@]}" --config "$dir/openclaw.json" --plugins-dir "$dir/plugins" 2>>"$log" | grep '^STATS ' || true)
  "$root/.venv/bin/python" - "$what" "$stats" <<'PY'
import json, sys
what, line = sys.argv[1], sys.argv[2]
if not line:
    sys.exit(f"demo: {what}: the plugin did not report (see the log)")
s = json.loads(line.split(" ", 1)[1])
extra = s.get("extra", {})
left = f", {extra['spool_recovered']} left by an earlier run" if extra.get("spool_recovered") else ""
print(f"demo: {what}: {s['exported']} traces delivered, {s['failed']} failed, {s['dropped']} events dropped{left}")
PY
}
echo "demo: log of the runs below: $log"
drive "built-in scenario (sessions, tools, a failing tool, a failed message, a subagent)" demo
drive "real OpenClaw 2026.9.6 recording, moved to the present" \
  replay "$root/tests/fixtures/openclaw-2026.9.6/hooks.jsonl" --shift-to-now

id=$("$root/.venv/bin/python" -c "import json,urllib.request; print(json.load(urllib.request.urlopen('$uri/api/2.0/mlflow/experiments/get-by-name?experiment_name=$experiment'))['experiment']['experiment_id'])")
cat <<EOF

Open the traces: $uri/#/experiments/$id/traces
  - each row is one agent turn: Input (the prompt), Session, Duration, State (OK or Error), Tokens;
  - Display -> Columns adds User (the agent), Cost and the tag "model";
  - click a row for the span tree: tokens and cost on each model span, the error text of a failed
    message or tool in its span's Events tab;
  - Filters -> Session or User narrows to one conversation or agent;
  - the gateway's metrics (tokens, cost, latency per window) are in the run under "Evaluation runs".
(the server keeps running; 'make demo-stop' stops it)
EOF

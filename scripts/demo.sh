#!/usr/bin/env bash
# `make demo`: a local MLflow (SQLite) kept running, the plugin installed in a demo plugins
# directory, the built-in demo scenario and the real OpenClaw recording driven through it, and
# the URL of the experiment's Traces tab.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/$1"
port="$2"
uri="http://127.0.0.1:$port"
mkdir -p "$dir/plugins"
target="${CARGO_TARGET_DIR:-$root/target}"

healthy() { "$root/.venv/bin/python" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$uri/health', timeout=2).status == 200 else 1)" 2>/dev/null; }

if healthy; then
  echo "demo: using the MLflow server already at $uri"
else
  # A port held by something that is not MLflow: say so now, not after minutes of polling.
  if ! "$root/.venv/bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
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
      experimentName: "openclaw-demo",
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
echo "demo: built-in scenario (sessions, tools, a failing tool, a failed message, a subagent)"
"$host" demo "${budget[@]}" --config "$dir/openclaw.json" --plugins-dir "$dir/plugins" 2> >(grep -i mlflow >&2)
echo "demo: replay of a real OpenClaw 2026.9.6 run (tests/fixtures/openclaw-2026.9.6/hooks.jsonl), moved to the present"
"$host" replay "$root/tests/fixtures/openclaw-2026.9.6/hooks.jsonl" --shift-to-now "${budget[@]}" --config "$dir/openclaw.json" --plugins-dir "$dir/plugins" 2> >(grep -i mlflow >&2)

id=$("$root/.venv/bin/python" -c "import json,urllib.request; print(json.load(urllib.request.urlopen('$uri/api/2.0/mlflow/experiments/get-by-name?experiment_name=openclaw-demo'))['experiment']['experiment_id'])")
echo
echo "Open the traces: $uri/#/experiments/$id/traces"
echo "(the server keeps running; 'make demo-stop' stops it)"

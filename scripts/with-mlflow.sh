#!/usr/bin/env bash
# Runs a command beside a real MLflow server: a fresh SQLite database, a free port on 127.0.0.1,
# stopped (with its workers) when the command ends. The command finds it in $MLFLOW_TEST_URI.
#   scripts/with-mlflow.sh cargo test --workspace
# MLFLOW_WORKERS (default 1) sets the server's worker count; MLFLOW_VENV (default .venv, the newest
# release) the virtualenv whose MLflow runs, exported as MLFLOW_TEST_VENV for the tests that start
# servers of their own. The server prices unpriced model calls
# from the model catalog bundled with it (MLFLOW_MODEL_CATALOG_URI empty: this machine is offline,
# and tests/oracle reads the same catalog).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${MLFLOW_VENV:-$root/.venv}" && pwd)
python="$venv/bin/python"
[ -x "$venv/bin/mlflow" ] || { echo "with-mlflow: $venv has no mlflow; run 'make venv'" >&2; exit 2; }
export MLFLOW_TEST_VENV="$venv"
dir=$(mktemp -d)
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MLFLOW_MODEL_CATALOG_URI="" setsid "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$dir/mlflow.db" \
  --default-artifact-root "$dir/artifacts" --host 127.0.0.1 --port "$port" \
  --workers "${MLFLOW_WORKERS:-1}" >"$dir/server.log" 2>&1 &
pid=$!
stop() {
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT
export MLFLOW_TEST_URI="http://127.0.0.1:$port"
"$python" - "$MLFLOW_TEST_URI" "$pid" "$dir/server.log" <<'PY'
import os, sys, time, urllib.request
uri, pid, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
deadline = time.time() + 180
while time.time() < deadline:
    try:
        if urllib.request.urlopen(uri + "/health", timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.stderr.write(open(log).read())
        sys.exit("with-mlflow: the MLflow server exited")
    time.sleep(0.5)
sys.stderr.write(open(log).read())
sys.exit("with-mlflow: MLflow did not answer /health within 180 s")
PY
echo "with-mlflow: MLflow $("$venv/bin/mlflow" --version | awk '{print $NF}') at $MLFLOW_TEST_URI (SQLite, ${MLFLOW_WORKERS:-1} worker)" >&2
"$@"

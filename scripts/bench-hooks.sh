#!/usr/bin/env bash
# `make bench-hooks`: hook-call latency through the loaded release build of the plugin, exporting
# for real to a local MLflow server (started by with-mlflow.sh), from 1 and from 4 host threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$target/release/libopenclaw_mlflow.so" "$dir/plugins/"
cat >"$dir/openclaw.json" <<JSON
{ diagnostics: { mlflow: { enabled: true, trackingUri: "$MLFLOW_TEST_URI", experimentName: "bench-hooks" } } }
JSON
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# Paced at a rate the exporter sustains on this machine (so the figures are the hooks' own cost,
# not that of a saturated queue), then unpaced (a burst: the queue fills and drops are counted).
for run in "1 ${RATE:-2000}" "4 ${RATE:-2000}" "4 0"; do
  set -- $run
  "$target/release/openclaw-host" bench --sessions "${SESSIONS:-100}" --messages "${MESSAGES:-50}" --threads "$1" --rate "$2" \
    --shutdown-ms 120000 --config "$dir/openclaw.json" --plugins-dir "$dir/plugins" 2>/dev/null | grep -v '^BENCH'
done

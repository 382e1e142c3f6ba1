"""Each hook's time on the real gateway's JavaScript thread: the package's handlers timed from inside
the gateway (OpenClaw 2026.9.6, the project's mock model, turns as in BENCHMARKS.md 6c).

A copy of `dist/openclaw-mlflow` whose `index.js` times each call into the addon
(`process.hrtime.bigint()` around it) and writes the durations to a file every second; the gateway
runs `GATEWAY_WARMUP` turns, then `TURNS` more, 4 at a time over 8 conversations, until every
trace is in MLflow. Prints, per hook: calls per turn, p50, p90 and mean µs, and the sum per turn.

    bench_gateway_hook_times.py [TURNS [PACKAGE]]    (after `make bench-gateway`'s setup: package,
    gateway; PACKAGE: another build's `dist/openclaw-mlflow`, to compare builds side by side)
"""
import json
import os
import shutil
import sys
import tempfile
import time

import bench_gateway as bg
from benchlib import Server

TIMED = 'state.addon.hook(name, Date.now(), event, ctx);'
TIMING = (
    "{ const t0 = process.hrtime.bigint(); " + TIMED + " const took = Number(process.hrtime.bigint() - t0);"
    " const all = (globalThis.__hookTimes ??= {}); (all[name] ??= []).push(took);"
    " if (!globalThis.__hookTimesWriter) globalThis.__hookTimesWriter = setInterval(() =>"
    " process.getBuiltinModule('fs').writeFileSync(process.env.HOOK_TIMES, JSON.stringify(all)), 1000).unref(); }"
)


def timed_package(directory):
    """A copy of the package whose hook calls are timed."""
    shutil.copytree(bg.OURS, directory)
    path = os.path.join(directory, "index.js")
    source = open(path).read()
    if source.count(TIMED) != 1:
        raise SystemExit(f"{path}: the hook call `{TIMED}` is not there once; update this script")
    open(path, "w").write(source.replace(TIMED, TIMING))
    return directory


def read_times(path, deadline_s=10):
    """The durations written last (the gateway writes every second)."""
    started = time.time()
    while not os.path.exists(path):
        if time.time() - started > deadline_s:
            raise SystemExit(f"the gateway wrote no hook times to {path}")
        time.sleep(0.2)
    return json.load(open(path))


def main():
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    if len(sys.argv) > 2:
        bg.OURS = os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="hook-times-", dir=bg.WORK)
    bg.OURS = timed_package(os.path.join(work, "openclaw-mlflow"))
    times_path = os.path.join(work, "hook-times.json")
    server = Server(1)
    mock, mock_port = bg.mock_model()
    try:
        gateway = bg.Gateway("ours", server, mock_port, "hook-times")
        gateway.extra_env = {"HOOK_TIMES": times_path}
        gateway.start()
        gateway.load(0, bg.GATEWAY_WARMUP, bg.GATEWAY_CONCURRENCY)
        bg.wait_for_traces(server, "hook-times", bg.GATEWAY_WARMUP)
        time.sleep(1.5)  # the writer's next round, so that the warm-up's calls are all in the file
        warm = {hook: len(d) for hook, d in read_times(times_path).items()}
        gateway.load(bg.GATEWAY_WARMUP, turns, bg.GATEWAY_CONCURRENCY)
        bg.wait_for_traces(server, "hook-times", bg.GATEWAY_WARMUP + turns)
        time.sleep(1.5)
        measured = {hook: d[warm.get(hook, 0):] for hook, d in read_times(times_path).items()}
        gateway.stop()
    finally:
        mock.terminate()
        server.stop()
    print(f"{turns} turns after {bg.GATEWAY_WARMUP} warm-up turns; µs per call")
    print("| hook | calls per turn | p50 | p90 | mean |")
    print("|---|---|---|---|---|")
    per_turn = 0.0
    for hook, durations in sorted(measured.items(), key=lambda kv: -sum(kv[1])):
        if not durations:
            continue
        ordered = sorted(d / 1000 for d in durations)
        mean = sum(ordered) / len(ordered)
        per_turn += sum(ordered) / turns
        print(f"| {hook} | {len(ordered) / turns:.1f} | {ordered[len(ordered) // 2]:.1f} | "
              f"{ordered[len(ordered) * 9 // 10]:.1f} | {mean:.1f} |")
    print(f"\nIn the hooks per turn: {per_turn:.0f} µs")
    shutil.rmtree(bg.WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Two builds of the package side by side, in alternating rounds on the same machine and hour: the
per-hook cost on the gateway's JavaScript thread (MLflow down, as in BENCHMARKS.md section 6a) and
the end-to-end rate into one MLflow server (as in 6b). For telling a change from a noisy VM.

    .venv/bin/python scripts/bench_gateway_ab.py OTHER_PACKAGE_DIR [ROUNDS]

OTHER_PACKAGE_DIR is another build's `dist/openclaw-mlflow` (e.g. `scripts/package.sh` run in a
worktree of an earlier commit); it is compared with this tree's `dist/openclaw-mlflow`."""
import sys
import time

import bench_gateway as b
from benchlib import Server, api


def main():
    other, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2
    packages = {"other": other, "this": b.OURS}
    server = Server(1)
    try:
        for round_ in range(rounds):
            noop = b.harness(b.noop_package(), {}, b.HOOK_TURNS, b.HOOK_WARMUP)["steady"]["handler_us_per_turn"]
            for name, package in packages.items():
                hooks = b.harness(package, {"trackingUri": b.DOWN, "experimentName": "ab"}, b.HOOK_TURNS, b.HOOK_WARMUP)["steady"]
                worst = max(h["p99_us"] for h in hooks["per_hook"].values())
                experiment = f"ab-{round_}-{name}-{time.time_ns()}"
                api(server.uri, "/api/2.0/mlflow/experiments/create", {"name": experiment})
                e2e = b.harness(package, {"trackingUri": server.uri, "experimentName": experiment}, b.E2E_TURNS - 100, 100,
                                lambda n, e=experiment: b.wait_for_traces(server, e, n))
                rate = e2e["turns"] / (e2e["landed_ms"] / 1000)
                print(f"round {round_} {name}: handlers {hooks['handler_us_per_turn']:.1f} µs/turn (no-op harness {noop:.1f}), "
                      f"worst p99 {worst:.1f} µs; end to end {rate:.0f} traces/s", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

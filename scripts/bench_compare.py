"""Two builds of the plugin against one MLflow server, alternating, so that the server's drift (large on
a shared VM) falls on both alike: one gateway, then four at once, each build in turn, twice (the second
time the other build first). The server: MLflow on PostgreSQL with WORKERS workers (default 2); its
ceiling (`scripts/bench_ceiling.py`, 1/2/4/8 connections, each request on a new connection, then on
connections kept alive) is measured before and after; each run says how much CPU each worker used.

    .venv/bin/python scripts/bench_compare.py A.so B.so [WORKERS]   (release openclaw-host needed)
"""
import os
import sys

import bench_postgres
from benchlib import Postgres, Server, capture_bench_requests, ceilings, plugins_dir, run_host

CONNECTIONS = (1, 2, 4, 8)


def ceiling(server, captured, when):
    for keep_alive in (False, True):
        best = [ceilings(server.uri, captured, f"ceiling-{when}-{keep_alive}-{c}", (c,), keep_alive=keep_alive)[0]
                for c in CONNECTIONS]
        kind = "kept alive" if keep_alive else "a new one per request"
        print(f"ceiling {when}: " + " / ".join(f"{b:.0f}" for b in best) + f" traces/s over 1/2/4/8 connections ({kind})",
              flush=True)


def main():
    builds = {os.path.basename(path): plugins_dir(path, "compare-") for path in sys.argv[1:3]}
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    first = next(iter(builds.values()))
    captured = capture_bench_requests(bench_postgres.N, first)
    pg = Postgres()
    server = Server(workers, store=pg.database("compare"))
    try:
        run_host(["bench", "--sessions", "30", "--messages", "20", "--threads", "2", "--shutdown-ms", "600000"],
                 bench_postgres.config(server.uri, "warm-up"), first)
        ceiling(server, captured, "before")
        for turn in range(2):
            order = list(builds) if turn == 0 else list(reversed(builds))
            for count in (1, 4):
                for name in order:
                    before = server.worker_cpu_seconds()
                    run = bench_postgres.gateways(server, builds[name], count, f"{name}-{count}-{turn}", None)
                    # How evenly the server's workers shared the run: where the requests landed.
                    split = " / ".join(f"{after - b:.1f}" for after, b in zip(server.worker_cpu_seconds(), before))
                    out = "not counted by this build" if run["out"] is None else f"{run['out']:.1f}"
                    print(f"{name}: {count} gateway(s), {run['landed'] / run['seconds']:.0f} traces/s "
                          f"({run['landed']} landed, requests out: {out}, {run['retries']} retries; "
                          f"workers' CPU s: {split})", flush=True)
        ceiling(server, captured, "after")
    finally:
        server.stop()
        pg.stop()


if __name__ == "__main__":
    main()

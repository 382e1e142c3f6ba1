"""Section 11 of BENCHMARKS.md: MLflow on PostgreSQL with 1, 2 and 4 workers, the server's ceiling and the
plugin's end-to-end rate from 1 gateway and from 4 gateways at once.

For each worker count: a fresh database on one PostgreSQL server of the benchmark's own (defaults, fsync
on), an MLflow server on it, warmed up. Ceiling = the plugin's own OTLP requests for N bench messages
(captured once, given fresh ids, pre-encoded) posted as fast as the server takes them over 1, 2, 4 and 8
connections (`scripts/bench_ceiling.py`). End to end = N messages (4-span traces) sent as fast as the
hosts go, until every host has shut down with every trace delivered (counted in MLflow): one host, then
four hosts at once (`bench --name gwK`, N/4 each, one experiment, each its own run).

    .venv/bin/python scripts/bench_postgres.py [OUT]   (release build needed; `make postgres`)
"""
import os
import subprocess
import sys
import tempfile
import time

from benchlib import HOST, PLUGIN, WORK, Postgres, Server, api, capture_bench_requests, ceilings, count_traces, run_host, state_env, write_out

N = 3000
WORKERS = (1, 2, 4)
CONNECTIONS = (1, 2, 4, 8)


def config(uri, experiment):
    path = os.path.join(WORK, f"pg-{experiment}-{time.time_ns()}.json")
    with open(path, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{uri}", experimentName: "{experiment}", '
                f'queueCapacity: 100000, flushIntervalMs: 1000 }} }} }}')
    return path


def gateways(server, plugins, count, experiment):
    """`count` hosts at once, N/count messages each: traces landed, wall seconds, events dropped."""
    cfg = config(server.uri, experiment)
    sessions = {1: 30, 4: 6}[count]  # N = count x sessions x messages exactly
    procs = []
    started = time.perf_counter()
    for g in range(count):
        args = [HOST, "bench", "--name", f"gw{g + 1}", "--sessions", str(sessions), "--messages", str(N // count // sessions),
                "--threads", str(max(1, 2 // count)), "--shutdown-ms", "600000", "--config", cfg, "--plugins-dir", plugins]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=state_env()))
    outs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - started
    if any(p.returncode for p in procs):
        raise SystemExit(f"a host failed: {[p.returncode for p in procs]}")
    dropped = sum(int(l.split('"dropped":')[1].split(",")[0]) for out in outs for l in out.splitlines() if l.startswith("STATS "))
    eid = api(server.uri, f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}")["experiment"]["experiment_id"]
    return count_traces(server.uri, eid), elapsed, dropped


def section(lines):
    plugins = tempfile.mkdtemp(prefix="pg-plugins-", dir=WORK)
    subprocess.run(["cp", PLUGIN, plugins], check=True)
    captured = capture_bench_requests(N, plugins)
    pg = Postgres()
    rows = []
    try:
        for workers in WORKERS:
            server = Server(workers, store=pg.database(f"mlflow_w{workers}"))
            try:
                run_host(["bench", "--sessions", "30", "--messages", "20", "--threads", "2", "--shutdown-ms", "600000"],
                         config(server.uri, "warm-up"), plugins)
                best = {}
                for conc in CONNECTIONS:
                    best[conc] = ceilings(server.uri, captured, f"ceiling-{conc}", (conc,))[0]
                one = gateways(server, plugins, 1, "one-gateway")
                four = gateways(server, plugins, 4, "four-gateways")
                rows.append((workers, best, one, four))
            finally:
                server.stop()
    finally:
        pg.stop()
    lines += ["## 11. MLflow on PostgreSQL: workers and gateways", "",
              f"`make bench-postgres` (`scripts/bench_postgres.py`): MLflow 3.17.2 on PostgreSQL {os.path.basename(os.path.dirname(pg.bin))} "
              "(one server, default settings, fsync on; a fresh database per worker count), on this machine beside",
              f"everything else. Ceiling = the plugin's own OTLP requests for {N} bench messages (4-span traces), captured,",
              "given fresh ids and posted as fast as the server takes them over N connections. End to end = the same",
              "number of messages sent as fast as the hosts go, until every host has shut down with every trace",
              "delivered (counted in MLflow); 4 gateways = four `openclaw-host` processes at once, N/4 messages each.", "",
              "| workers | ceiling, 1 / 2 / 4 / 8 connections | 1 gateway | 4 gateways | 1 gateway / best ceiling | 4 gateways / best ceiling |",
              "|---|---|---|---|---|---|"]
    for workers, best, (l1, t1, d1), (l4, t4, d4) in rows:
        top = max(best.values())
        lines.append(f"| {workers} | {' / '.join(f'{best[c]:.0f}' for c in CONNECTIONS)} traces/s | "
                     f"{l1 / t1:.0f} traces/s ({l1}/{N}, {d1} dropped) | {l4 / t4:.0f} traces/s ({l4}/{N}, {d4} dropped) | "
                     f"{l1 / t1 / top:.0%} | {l4 / t4 / top:.0%} |")
    lines.append("")
    return rows


def main():
    lines = []
    section(lines)
    write_out(lines, sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()

"""Section 11 of BENCHMARKS.md: MLflow on PostgreSQL with 1, 2 and 4 workers, the server's ceiling and the
plugin's end-to-end rate from 1 gateway and from 4 gateways at once.

For each worker count: a fresh database on one PostgreSQL server of the benchmark's own (defaults, fsync
on), an MLflow server on it, warmed up. Ceiling = the plugin's own OTLP requests for N bench messages
(captured once, given fresh ids, pre-encoded) posted as fast as the server takes them over 1, 2, 4 and 8
connections, a new connection per request as the plugin's (`scripts/bench_ceiling.py`). End to end = N
messages (4-span traces) sent as fast as the hosts go, until every host has shut down with every trace
delivered (counted in MLflow): one host, then four hosts at once (`bench --name gwK`, N/4 each, one
experiment, each its own run).

Two layouts: everything anywhere on the machine's cores (the senders' CPU competes with the server's),
then the server (MLflow's workers and PostgreSQL) on core 1 and the senders on core 0, so that a ceiling
and a gateway meet the same server; the question there is whether one plugin keeps it busy.

    .venv/bin/python scripts/bench_postgres.py [OUT]   (release build needed; `make postgres`)
"""
import os
import resource
import subprocess
import threading
import time

from benchlib import HOST, WORK, Postgres, Server, api, capture_bench_requests, ceilings, count_traces, pinned, plugins_dir, run_host, state_env, tagged_json, main_for

N = 3000
CONNECTIONS = (1, 2, 4, 8)
# (name, worker counts, the server's cores, the senders' cores)
LAYOUTS = (("shared", (1, 2, 4), None, None), ("pinned", (1, 4), {1}, {0}))


def config(uri, experiment):
    path = os.path.join(WORK, f"pg-{experiment}-{time.time_ns()}.json")
    with open(path, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{uri}", experimentName: "{experiment}", '
                f'queueCapacity: 100000 }} }} }}')
    return path


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gateways(server, plugins, count, experiment, cpus):
    """`count` hosts at once on `cpus`, N/count messages each: {landed, seconds, dropped, cpu (the hosts'
    CPU seconds), out (trace requests out at once, on average over every host's requests), retries}."""
    cfg = config(server.uri, experiment)
    sessions = {1: 30, 4: 6}[count]  # N = count x sessions x messages exactly
    procs = []
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    for g in range(count):
        args = [HOST, "bench", "--name", f"gw{g + 1}", "--sessions", str(sessions), "--messages", str(N // count // sessions),
                "--threads", str(max(1, 2 // count)), "--shutdown-ms", "600000", "--config", cfg, "--plugins-dir", plugins]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=state_env(),
                                      preexec_fn=pinned(cpus)))
    # Each host's end, seconds from the start: a gateway left alone at the end sends at its own pace.
    ended = [None] * count
    outs = [None] * count

    def wait(g):
        outs[g] = procs[g].communicate()[0]
        ended[g] = time.perf_counter() - started

    waiters = [threading.Thread(target=wait, args=(g,)) for g in range(count)]
    for w in waiters:
        w.start()
    for w in waiters:
        w.join()
    elapsed = time.perf_counter() - started
    cpu = children_cpu_seconds() - cpu_before
    if any(p.returncode for p in procs):
        raise SystemExit(f"a host failed: {[p.returncode for p in procs]}")
    stats = [tagged_json(out, "STATS") for out in outs]
    # A build from before these counters (`bench_compare.py` runs older ones) counts none: None.
    counted = all("trace_requests_out" in s["extra"] for s in stats)
    requests = sum(s["extra"].get("trace_requests", 0) for s in stats)
    out = sum(s["extra"].get("trace_requests_out", 0) for s in stats)
    eid = api(server.uri, f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}")["experiment"]["experiment_id"]
    return {"landed": count_traces(server.uri, eid), "seconds": elapsed, "dropped": sum(s["dropped"] for s in stats),
            "cpu": cpu, "out": out / requests if counted and requests else None,
            "retries": sum(s["extra"]["export_retries"] for s in stats), "ended": sorted(ended)}


def measure(pg, workers, plugins, captured, server_cpus, sender_cpus):
    server = Server(workers, store=pg.database(f"mlflow_w{workers}"), cpus=server_cpus)
    try:
        run_host(["bench", "--sessions", "30", "--messages", "20", "--threads", "2", "--shutdown-ms", "600000"],
                 config(server.uri, "warm-up"), plugins, cpus=sender_cpus)
        best = {conc: ceilings(server.uri, captured, f"ceiling-{conc}", (conc,), cpus=sender_cpus)[0] for conc in CONNECTIONS}
        one = gateways(server, plugins, 1, "one-gateway", sender_cpus)
        four = gateways(server, plugins, 4, "four-gateways", sender_cpus)
        return workers, best, one, four
    finally:
        server.stop()


def row(workers, best, one, four):
    top = max(best.values())

    def cell(run):
        # Four gateways: when the first and the last ended (the last ones alone use less of the server).
        ended = f", ended {run['ended'][0]:.0f}-{run['ended'][-1]:.0f} s" if len(run["ended"]) > 1 else ""
        return (f"{run['landed'] / run['seconds']:.0f} traces/s ({run['landed']}/{N}, {run['dropped']} dropped; "
                f"{run['out']:.1f} requests out, {run['cpu']:.0f} CPU s{ended})")

    return (f"| {workers} | {' / '.join(f'{best[c]:.0f}' for c in CONNECTIONS)} traces/s | {cell(one)} | {cell(four)} | "
            f"{one['landed'] / one['seconds'] / top:.0%} | {four['landed'] / four['seconds'] / top:.0%} |")


def section(lines):
    plugins = plugins_dir(prefix="pg-plugins-")
    captured = capture_bench_requests(N, plugins)
    lines += ["## 11. MLflow on PostgreSQL: workers and gateways", "",
              "`make bench-postgres` (`scripts/bench_postgres.py`): MLflow 3.17.2 on PostgreSQL (one server per layout, default",
              "settings, fsync on; a fresh database per worker count). Ceiling = the plugin's own OTLP requests for "
              f"{N} bench messages",
              "(4-span traces), captured, given fresh ids and posted as fast as the server takes them over N connections,",
              "a new connection per request as the plugin's.",
              "End to end = the same number of messages sent as fast as the hosts go, until every host has shut down with",
              "every trace delivered (counted in MLflow); 4 gateways = four `openclaw-host` processes at once, N/4 messages",
              "each; the plugin's default settings but `queueCapacity` (the bench sends faster than any gateway). Requests",
              "out: the concurrency the in-flight limit used (`trace_requests_out / trace_requests`); CPU s: the hosts'",
              "CPU time; ended: when the first and the last of four gateways ended, seconds from their start.", ""]
    for name, workers_list, server_cpus, sender_cpus in LAYOUTS:
        pg = Postgres(cpus=server_cpus)
        try:
            rows = [measure(pg, w, plugins, captured, server_cpus, sender_cpus) for w in workers_list]
        finally:
            pg.stop()
        where = ("everything on any of the machine's cores" if server_cpus is None else
                 f"the server (MLflow and PostgreSQL) on core {min(server_cpus)}, the senders on core {min(sender_cpus)}")
        lines += [f"Layout `{name}`: {where} (PostgreSQL {os.path.basename(os.path.dirname(pg.bin))}).", "",
                  "| workers | ceiling, 1 / 2 / 4 / 8 connections | 1 gateway | 4 gateways | 1 gateway / best ceiling | 4 gateways / best ceiling |",
                  "|---|---|---|---|---|---|"]
        lines += [row(*r) for r in rows]
        lines.append("")


if __name__ == "__main__":
    main_for(section)

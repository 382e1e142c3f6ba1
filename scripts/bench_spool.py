"""Section 9 of BENCHMARKS.md: the durable spool.

1. An outage: a host sends 2,000 messages/s for 60 s with MLflow down (default settings: the spool
   on, 1 GiB); resident memory of the whole host process sampled every 0.5 s; then MLflow started on
   the configured port, and the host, stopping with a 30-minute budget, delivers what it spooled.
   Drain = from MLflow answering /health to the host's exit with everything delivered.
2. Throughput and hook latency with the spool on and with `spool: false`: 3,000 messages unpaced
   against a warmed-up one-worker server, the two alternating, RUNS runs each.

    .venv/bin/python scripts/bench_spool.py [OUT]   (MLflow started here; release build needed)
"""
import glob
import os
import subprocess
import sys
import time

from benchlib import HOST, PLUGIN, WORK, OutageRun, api, count_traces, free_port, section_lines, state_env, tagged_json

RUNS = 2


def write_config(uri, experiment, extra=""):
    path = os.path.join(WORK, f"spool-{experiment}-{time.time_ns()}.json")
    with open(path, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{uri}", experimentName: "{experiment}", {extra} }} }} }}')
    return path


def plugins_dir():
    d = os.path.join(WORK, "spool-plugins")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["cp", PLUGIN, d], check=True)
    return d


def spool_bytes(state_dir):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(state_dir, "mlflow", "spool", "*", "*", "*.seg")))


def outage(lines):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = state_env()
    state_dir = env["OPENCLAW_STATE_DIR"]
    cfg = write_config(uri, "outage")
    run = OutageRun(["bench", "--sessions", "100", "--messages", "1200", "--threads", "2", "--rate", "2000",
                     "--shutdown-ms", "1800000", "--config", cfg, "--plugins-dir", plugins_dir()],
                    port, env, at_outage_end=lambda: spool_bytes(state_dir))
    stats = tagged_json(run.stdout, "STATS")
    exp = api(run.server.uri, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=outage")["experiment"]["experiment_id"]
    landed = count_traces(run.server.uri, exp)
    run.server.stop()
    during, after = run.rss_during()
    samples, outage_end, back_at, exited_at, spooled = run.samples, run.outage_end, run.back_at, run.exited_at, run.at_end
    drain_s = exited_at - back_at
    sent = stats["accepted"] // 8  # 8 hook calls per bench message
    per_gib_min = (1 << 30) / (spooled / drain_s) / 60 if spooled else float("nan")
    lines += ["## 9. The durable spool", "",
              "### An outage, with the spool (defaults)", "",
              "2,000 messages/s for 60 s (120,000 messages) with MLflow down, then MLflow (one worker) started on the",
              "configured port; the host then stops with a 30-minute budget, which returns once everything is delivered.",
              "Resident memory of the whole host process (the plugin inside it), sampled every 0.5 s.", "",
              "| phase | RSS |", "|---|---|",
              f"| start | {samples[0][1] / 1024:.0f} MiB |",
              f"| peak during the outage (0 to {outage_end:.0f} s) | {max(during) / 1024:.0f} MiB |",
              f"| peak while draining (MLflow back at {back_at:.0f} s) | {max(after) / 1024:.0f} MiB |" if after else "| draining | n/a |",
              f"| last sample before exit | {samples[-1][1] / 1024:.0f} MiB |", "",
              f"Spooled at the end of the outage: {spooled / (1 << 20):.0f} MiB on disk. Delivered: {landed} traces in MLflow of "
              f"{sent} messages; `stats()`: exported {stats['exported']}, {stats['extra'].get('traces_dropped', 0)} traces dropped, "
              f"{stats['dropped']} events dropped at the queue.", "",
              f"Drain: {drain_s:.0f} s for {landed} traces ({landed / drain_s:.0f} traces/s, {spooled / (1 << 20) / drain_s:.2f} MiB/s "
              f"of spool). At that rate a full default spool (1 GiB) drains in about {per_gib_min:.0f} minutes against this "
              "server (computed from the measured rate, not run).", ""]


def throughput(server, lines):
    plugins = plugins_dir()
    n = 3000
    args = ["bench", "--sessions", "30", "--messages", str(n // 30), "--threads", "2", "--shutdown-ms", "600000"]

    def run(label, extra):
        name = f"throughput-{label}-{time.time_ns()}"
        cfg = write_config(server.uri, name, "queueCapacity: 100000, flushIntervalMs: 1000, " + extra)
        started = time.perf_counter()
        out = subprocess.run([HOST, *args, "--config", cfg, "--plugins-dir", plugins], capture_output=True, text=True,
                             check=True, env=state_env())
        elapsed = time.perf_counter() - started
        exp = api(server.uri, f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}")["experiment"]["experiment_id"]
        bench = tagged_json(out.stdout, "BENCH")
        worst_p99 = max(k["p99_ns"] for k in bench["hooks"].values())
        return count_traces(server.uri, exp) / elapsed, worst_p99

    run("warm-up", "")  # a fresh server's first requests are slower
    results = {"spool on": [], "spool: false": []}
    for _ in range(RUNS):
        results["spool on"].append(run("spool", ""))
        results["spool: false"].append(run("memory", "spool: false"))
    lines += ["### Throughput and hook latency, spool on and off", "",
              f"{n} messages (4-span traces) as fast as the host goes, end to end (until the host has shut down with every",
              f"trace delivered, counted in MLflow); one-worker server; {RUNS} runs each, alternating.", "",
              "| | traces/s per run | worst hook p99 per run |", "|---|---|---|"]
    for label, rows in results.items():
        lines.append(f"| {label} | {', '.join(f'{r:.0f}' for r, _ in rows)} | {', '.join(f'{p / 1000:.1f} µs' for _, p in rows)} |")
    lines.append("")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else None
    lines = []
    outage(lines)
    lines += section_lines(throughput)
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    print(text)


def section(server, lines):
    """For bench.py: both parts (the outage starts a server of its own)."""
    outage(lines)
    throughput(server, lines)


if __name__ == "__main__":
    main()

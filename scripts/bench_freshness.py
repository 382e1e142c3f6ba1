"""Section 8 of BENCHMARKS.md: how soon a finished turn is searchable in MLflow.

Freshness = from a message's end (the host's `message_end` call) to the first search of the
experiment (`/api/3.0/mlflow/traces/search`, as the Traces tab does) that returns its trace.
`openclaw-host bench --live` stamps each message so that it ends when its `message_end` is called;
a poller searches every POLL_S and notes when each trace first appears (the time its answer
arrived); freshness = that time - the trace's end (request_time + execution_duration). Paced at 1,
10, 100 and 1,000 messages/s with the default settings, then unpaced (full load) for the end-to-end
rate. Same machine, same clock.

    .venv/bin/python scripts/bench_freshness.py [OUT] [PLUGIN_SO LABEL]...
      (MLflow started here; release build needed; with no PLUGIN_SO the release build's plugin)
"""
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime

from benchlib import HOST, PLUGIN, WORK, api, count_traces, section_lines, state_env, tagged_json
POLL_S = 0.05
# (messages per second, messages in all)
RATES = [(1, 20), (10, 100), (100, 1000), (1000, 3000)]
FULL_LOAD = 3000
# Full-load runs per build, alternating between the builds (the rate varies from run to run).
FULL_LOAD_RUNS = 3


def end_ms(trace):
    """A trace's end in ms since the epoch, from its start and duration as the search returns them."""
    start = trace["request_time"]
    if isinstance(start, str):
        start = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() * 1000
    duration = trace.get("execution_duration", "0s")
    duration = float(duration[:-1]) * 1000 if isinstance(duration, str) else float(duration)
    return float(start) + duration


class Poller(threading.Thread):
    """Searches the whole experiment every POLL_S (all pages: under load traces land out of order);
    {trace id: (first seen ms, end ms)}."""

    def __init__(self, uri, experiment_id):
        super().__init__(daemon=True)
        self.uri, self.experiment_id = uri, experiment_id
        self.seen = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            token = None
            while True:
                body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": self.experiment_id}}],
                        "max_results": 500, "order_by": ["timestamp_ms DESC"]}
                if token:
                    body["page_token"] = token
                try:
                    page = api(self.uri, "/api/3.0/mlflow/traces/search", body)
                except Exception:
                    break
                arrived = time.time() * 1000
                for t in page.get("traces", []):
                    if t["trace_id"] not in self.seen:
                        self.seen[t["trace_id"]] = (arrived, end_ms(t))
                token = page.get("next_page_token")
                if not token:
                    break
            self.stop.wait(POLL_S)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def experiment(server, label, rate):
    """A fresh experiment and a config with the default settings that sends to it."""
    name = f"freshness-{label}-{rate}-{time.time_ns()}"
    experiment_id = api(server.uri, "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]
    cfg = os.path.join(WORK, f"{name}.json")
    with open(cfg, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{server.uri}", experimentName: "{name}" }} }} }}')
    return experiment_id, cfg


def host(cfg, plugins_dir, rate, count):
    """Runs `count` messages at `rate` per second (0: unpaced, 2 threads) until the host has shut down
    (which waits for every trace to be delivered); the host's STATS."""
    sessions = min(count, 10)
    out = subprocess.run([HOST, "bench", "--live", "--sessions", str(sessions), "--messages", str(count // sessions),
                          "--threads", "1" if rate else "2", "--rate", str(rate), "--shutdown-ms", "600000",
                          "--config", cfg, "--plugins-dir", plugins_dir], capture_output=True, text=True, check=True,
                         env=state_env())
    return tagged_json(out.stdout, "STATS")


def freshness(server, plugins_dir, label, rate, count):
    """Freshness p50/p99 in ms of `count` messages at `rate` per second, and how many were seen."""
    experiment_id, cfg = experiment(server, label, rate)
    poller = Poller(server.uri, experiment_id)
    poller.start()
    host(cfg, plugins_dir, rate, count)
    deadline = time.time() + 120
    while len(poller.seen) < count and time.time() < deadline:
        time.sleep(POLL_S)
    poller.stop.set()
    poller.join()
    ages = [seen - end for seen, end in poller.seen.values()]
    return {"p50": percentile(ages, 50), "p99": percentile(ages, 99), "seen": len(poller.seen)}


def full_load(server, plugins_dir, label, count):
    """Messages per second end to end, unpaced: from the first message until the host has shut down
    with every trace delivered, then counted in MLflow (no searching meanwhile, as in section 3)."""
    experiment_id, cfg = experiment(server, label, 0)
    started = time.perf_counter()
    stats = host(cfg, plugins_dir, 0, count)
    elapsed = time.perf_counter() - started
    landed = count_traces(server.uri, experiment_id)
    return {"rate": landed / elapsed, "landed": landed, "dropped": stats["dropped"]}


def plugins_dir_for(plugin, label):
    plugins_dir = os.path.join(WORK, f"plugins-freshness-{label.replace(' ', '-')}")
    os.makedirs(plugins_dir, exist_ok=True)
    shutil.copy(plugin, os.path.join(plugins_dir, "libopenclaw_mlflow.so"))
    return plugins_dir


def measure(server, builds):
    """{label: {rate: freshness, "full": [full-load results]}} for every build."""
    dirs = [(label, plugins_dir_for(plugin, label)) for plugin, label in builds]
    # A fresh server's first requests are slower; warm it up first.
    full_load(server, dirs[0][1], "warm", 300)
    results = {label: {rate: freshness(server, d, label, rate, count) for rate, count in RATES} for label, d in dirs}
    for label, _ in dirs:
        results[label]["full"] = []
    for _ in range(FULL_LOAD_RUNS):
        for label, d in dirs:
            results[label]["full"].append(full_load(server, d, label, FULL_LOAD))
    return results


def section(server, lines, builds):
    """`builds`: [(plugin .so, label)]; one column pair per build."""
    results = list(measure(server, builds).items())
    lines += ["## 8. Freshness: from a message's end to its trace in MLflow's search", "",
              "Default settings (`batchSize` 100, `flushIntervalMs` 5000). From the host's `message_end` call to the first",
              f"search of the experiment (all of it, every {POLL_S * 1000:.0f} ms after the last search, as the Traces tab searches) that",
              "returns the trace; 4-span traces shaped like the recording (`openclaw-host bench --live`). ms. The searches load the",
              "same server (2 cores), which shows from 100 messages/s. Full load: traces per second from the first message until the host",
              "has shut down with every trace delivered, counted in MLflow afterwards (no searching meanwhile; compare the",
              "ceiling in section 3); events the hooks could not queue (default `queueCapacity`) are counted as dropped.", "",
              "| messages/s | messages | " + " | ".join(f"{label}: p50 | {label}: p99" for label, _ in results) + " |",
              "|---|---|" + "---|---|" * len(results)]
    for rate, count in RATES:
        cells = " | ".join(f"{r[rate]['p50']:.0f} | {r[rate]['p99']:.0f}" for _, r in results)
        lines.append(f"| {rate:,} | {count:,} | {cells} |")
    def runs(full):
        rates = ", ".join(f"{f['rate']:.0f}" for f in full)
        landed = min(f["landed"] for f in full)
        return f"{rates} traces/s | fewest landed {landed}, events dropped {sum(f['dropped'] for f in full)}"
    full = " | ".join(runs(r["full"]) for _, r in results)
    lines.append(f"| full load (unpaced, 2 threads; {FULL_LOAD_RUNS} runs, alternating) | {FULL_LOAD:,} each | {full} |")
    lines.append("")
    for label, r in results:
        missing = [f"{rate}/s: {r[rate]['seen']}/{count}" for rate, count in RATES if r[rate]["seen"] < count]
        if missing:
            lines.append(f"{label}: not all traces became searchable within 120 s ({', '.join(missing)}).")
    return results


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout"
    args = sys.argv[2:]
    builds = [(args[i], args[i + 1]) for i in range(0, len(args), 2)] or [(PLUGIN, "this build")]
    lines = section_lines(lambda server, out_lines: section(server, out_lines, builds))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

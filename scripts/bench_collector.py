"""Section 12 of BENCHMARKS.md: gateways through the OpenTelemetry Collector, against the same
gateways straight to MLflow, and what each fault behind it costs.

One PostgreSQL server and one 2-worker MLflow 3.17.2 on it (its own database per run). The Collector
is the one `make collector` builds, on the guide's configuration file as it is
(deploy/kubernetes/otel-collector-config.yaml) but for its listening addresses and, in the scale part,
its traces pipeline narrowed to the MLflow exporter (no second backend is measured).

Scale: N turns (4-span traces) from 1, 4 and 8 gateways (`openclaw-host bench` processes, N/k turns
each, as fast as they go) straight to MLflow, through 1 Collector, and through 2 (gateway k to
Collector k mod 2: the plugin sends each trace whole, so no trace-aware routing is needed); the rate
is N over the time from the start until MLflow's search counts all N. The ceiling: the plugin's own
requests posted as fast as the server takes them over 1, 2, 4 and 8 connections.

Faults: 4 gateways at a steady 10 turns/s each for 90 s through 1 Collector: no fault; the Collector
killed (SIGKILL) at 30 s and started again 5 s later on the same queue directory; MLflow stopped at
20 s for 60 s. Per case: turns sent, in MLflow, lost, twice; the gateways' worst hook p99 (the
slowest hook kind of the slowest gateway).

    .venv/bin/python scripts/bench_collector.py [OUT]   (release build; `make collector postgres`)
"""
import os
import signal
import subprocess
import tempfile
import time
import urllib.request

from benchlib import (HOST, ROOT, WORK, Postgres, Server, api, capture_bench_requests, ceilings, count_traces, free_port,
                      plugins_dir, search_traces, state_env, tagged_json, main_for)

COLLECTOR = os.environ.get("OPENCLAW_TEST_COLLECTOR", os.path.join(ROOT, ".cache", "otelcol-0.165.0", "otelcol-openclaw"))
GUIDE = os.path.join(ROOT, "deploy", "kubernetes", "otel-collector-config.yaml")
N = 2400
SESSIONS = 6
GATEWAYS = (1, 4, 8)
CONNECTIONS = (1, 2, 4, 8)


class Collector:
    """The guide's Collector on free loopback ports, its queue in a directory of its own."""

    def __init__(self, mlflow_uri, experiment_id, mlflow_only):
        self.port, self.health = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.queue = tempfile.mkdtemp(prefix="collector-queue-", dir=WORK)
        self.env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_uri, MLFLOW_EXPERIMENT_ID=experiment_id,
                        OTLP_BACKEND_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                        OTLP_METRICS_ENDPOINT=f"http://127.0.0.1:{free_port()}", COLLECTOR_QUEUE_DIR=self.queue)
        self.args = [COLLECTOR, "--config", GUIDE,
                     "--config", f"yaml:receivers::otlp::protocols::http::endpoint: 127.0.0.1:{self.port}",
                     "--config", f"yaml:extensions::health_check::endpoint: 127.0.0.1:{self.health}",
                     "--config", "yaml:service::telemetry::metrics::level: none"]
        if mlflow_only:
            self.args += ["--config", "yaml:service::pipelines::traces::exporters: [otlp_http/mlflow]"]
        self.start()

    def start(self):
        self.log = open(os.path.join(self.queue, f"collector-{time.time_ns()}.log"), "w")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while not self.ready():
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the Collector did not start: {open(self.log.name).read()[-2000:]}")
            time.sleep(0.1)

    def ready(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.health}/", timeout=2).status == 200
        except Exception:
            return False

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def direct_config(uri, experiment):
    return ('{ diagnostics: { mlflow: { enabled: true, queueCapacity: 100000, '
            f'trackingUri: "{uri}", experimentName: "{experiment}" }} }} }}')


# Through a Collector: the guide's gateway settings (traces over OTLP only), with room in the queue for a
# host sending as fast as it can.
VIA_CONFIG = '{ diagnostics: { mlflow: { enabled: true, queueCapacity: 100000, otlp: { traces: true, metrics: false } } } }'


def write(text):
    path = os.path.join(WORK, f"cfg-{time.time_ns()}.json")
    with open(path, "w") as f:
        f.write(text)
    return path


def gateway(name, turns, rate, cfg, plugins, endpoint=None):
    env = state_env()
    if endpoint:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME=name)
    args = [HOST, "bench", "--name", name, "--sessions", str(SESSIONS), "--messages", str(turns // SESSIONS),
            "--threads", "1", "--rate", str(rate), "--shutdown-ms", "600000", "--config", cfg, "--plugins-dir", plugins]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


def finish(procs):
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a gateway failed: {[p.returncode for p in procs]}")
    return [(tagged_json(o, "BENCH"), tagged_json(o, "STATS")) for o in outs]


def experiment(uri, name):
    """A new experiment: its id and its name."""
    name = f"{name}-{time.time_ns()}"
    return api(uri, "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"], name


def wait_landed(uri, eid, n, started, limit=900):
    """Seconds from `started` until MLflow's search counts `n` traces (or `limit` passed), and the count."""
    while True:
        landed = count_traces(uri, eid)
        now = time.perf_counter()
        if landed >= n or now - started > limit:
            return now - started, landed
        time.sleep(0.5)


def scale_run(server, plugins, route, k):
    eid, name = experiment(server.uri, f"{route}-{k}")
    collectors = []
    if route == "direct":
        cfg = write(direct_config(server.uri, name))
    else:
        cfg = write(VIA_CONFIG)
        collectors = [Collector(server.uri, eid, mlflow_only=True) for _ in range({"1 Collector": 1, "2 Collectors": 2}[route])]
    started = time.perf_counter()
    procs = [gateway(f"gw{g}", N // k, 0, cfg, plugins, collectors[g % len(collectors)].endpoint if collectors else None)
             for g in range(k)]
    results = finish(procs)
    sent_s = time.perf_counter() - started
    seconds, landed = wait_landed(server.uri, eid, N, started)
    for c in collectors:
        c.stop()
    dropped = sum(s["dropped"] for _, s in results)
    return {"rate": landed / seconds, "landed": landed, "seconds": seconds, "sent_s": sent_s, "dropped": dropped}


def worst_p99_us(results):
    return max(max(h["p99_ns"] for h in bench["hooks"].values()) for bench, _ in results) / 1000


def turn_ids(uri, eid):
    """Every trace's `openclaw.run_id` tag (one per turn; a turn twice would show twice)."""
    return [t["tags"].get("openclaw.run_id") for t in search_traces(uri, eid)]


FAULT_GATEWAYS, FAULT_RATE, FAULT_TURNS = 4, 10, 900


def fault_run(pg, plugins, fault):
    """4 gateways at a steady rate through one Collector while `fault` happens; what landed, and the
    gateways' hook latency."""
    db = pg.database(f"fault_{fault.replace(' ', '_')}_{time.time_ns()}")
    server = Server(2, store=db)
    eid, _ = experiment(server.uri, "faults")
    collector = Collector(server.uri, eid, mlflow_only=True)
    cfg = write(VIA_CONFIG)
    started = time.perf_counter()
    procs = [gateway(f"gw{g}", FAULT_TURNS, FAULT_RATE, cfg, plugins, collector.endpoint) for g in range(FAULT_GATEWAYS)]

    def at(seconds):
        time.sleep(max(0.0, started + seconds - time.perf_counter()))

    events = []
    if fault == "Collector killed":
        at(30)
        collector.kill()
        events.append(f"killed at {time.perf_counter() - started:.0f} s")
        at(35)
        collector.start()
        events.append(f"back at {time.perf_counter() - started:.0f} s")
    elif fault == "MLflow down 60 s":
        at(20)
        server.stop()
        events.append(f"stopped at {time.perf_counter() - started:.0f} s")
        at(80)
        server = Server(2, store=db, port=server.port)
        events.append(f"back at {time.perf_counter() - started:.0f} s")
    results = finish(procs)
    total = FAULT_GATEWAYS * FAULT_TURNS
    seconds, _ = wait_landed(server.uri, eid, total, started)
    ids = turn_ids(server.uri, eid)
    collector.stop()
    server.stop()
    return {"fault": fault, "sent": total, "landed": len(set(ids)), "twice": len(ids) - len(set(ids)),
            "lost": total - len(set(ids)), "seconds": seconds, "p99_us": worst_p99_us(results),
            "dropped": sum(s["dropped"] for _, s in results), "events": ", ".join(events)}


def section(lines):
    plugins = plugins_dir(prefix="collector-plugins-")
    captured = capture_bench_requests(N, plugins)
    pg = Postgres()
    try:
        server = Server(2, store=pg.database("collector_scale"))
        try:
            best = dict(zip(CONNECTIONS, ceilings(server.uri, captured, "ceiling", CONNECTIONS)))
            routes = ("direct", "1 Collector", "2 Collectors")
            scale = {(r, k): scale_run(server, plugins, r, k) for k in GATEWAYS for r in routes}
        finally:
            server.stop()
        faults = [fault_run(pg, plugins, f) for f in ("none", "Collector killed", "MLflow down 60 s")]
    finally:
        pg.stop()

    top = max(best.values())
    lines += ["## 12. Gateways through the OpenTelemetry Collector", "",
              "`make bench-collector` (`scripts/bench_collector.py`): one 2-worker MLflow 3.17.2 on PostgreSQL; the",
              "Collector `make collector` builds (0.165.0) on the guide's configuration as it is but for its listening",
              "addresses and, here, its traces pipeline narrowed to the MLflow exporter. Gateways: `openclaw-host bench`",
              f"processes, {N} turns (4-span traces) in all, N/k each, as fast as they go; through 2 Collectors, gateway",
              "k sends to Collector k mod 2. Rate: N over the time from the start until MLflow's search counts all N",
              f"(sent: when the last gateway had handed everything on). The server's ceiling (the plugin's own requests",
              f"posted as fast as it takes them over 1 / 2 / 4 / 8 connections): "
              f"{' / '.join(f'{best[c]:.0f}' for c in CONNECTIONS)} traces/s.", "",
              "| gateways | direct | through 1 Collector | through 2 Collectors |", "|---|---|---|---|"]
    for k in GATEWAYS:
        cells = []
        for r in routes:
            run = scale[(r, k)]
            cells.append(f"{run['rate']:.0f} traces/s, {run['rate'] / top:.0%} of the ceiling ({run['landed']}/{N} in "
                         f"{run['seconds']:.0f} s, sent {run['sent_s']:.0f} s, {run['dropped']} dropped)")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", f"Faults: {FAULT_GATEWAYS} gateways at {FAULT_RATE} turns/s each, {FAULT_TURNS} turns each, through one Collector",
              "(the guide's configuration: a persistent sending queue on disk, no batching). Lost and twice: counted",
              "by each trace's `openclaw.run_id` in MLflow. Hook p99: the slowest hook kind of the slowest gateway.", "",
              "| fault | when | turns sent | in MLflow | lost | twice | all in MLflow after | worst hook p99 | dropped by the plugin |",
              "|---|---|---|---|---|---|---|---|---|"]
    for f in faults:
        lines.append(f"| {f['fault']} | {f['events'] or '-'} | {f['sent']} | {f['landed']} | {f['lost']} | {f['twice']} | "
                     f"{f['seconds']:.0f} s | {f['p99_us']:.1f} µs | {f['dropped']} |")
    lines.append("")


if __name__ == "__main__":
    main_for(section)

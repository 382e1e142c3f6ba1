"""What the benchmark scripts share: a real MLflow server of their own, and reading it back."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLFLOW = os.path.join(ROOT, ".venv", "bin", "mlflow")
WORK = tempfile.mkdtemp(prefix="openclaw-bench-")
# Servers' databases, spools and plugin copies: over a gigabyte per run, never needed afterwards
# (the figures are in the output file). Kept with OPENCLAW_BENCH_KEEP=1, to look at a run.
if not os.environ.get("OPENCLAW_BENCH_KEEP"):
    atexit.register(shutil.rmtree, WORK, True)
# The release build every benchmark measures.
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
HOST = os.path.join(TARGET, "release", "openclaw-host")
PLUGIN = os.path.join(TARGET, "release", "libopenclaw_mlflow.so")


def pinned(cpus):
    """For Popen's preexec_fn: the child (and what it starts) runs on `cpus` only (None: anywhere)."""
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


def state_env():
    """The environment for one `openclaw-host` run: a state directory (and so a spool) of its own,
    so that no run delivers what an earlier one left."""
    return dict(os.environ, OPENCLAW_STATE_DIR=tempfile.mkdtemp(prefix="state-", dir=WORK))


def rss_kb(pid):
    """A process's resident memory in KiB (None once it is gone)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None


class OutageRun:
    """A host run through an MLflow outage: the host (`host_args`, pointed at a server on `port` that
    is not there yet) drives its hooks with MLflow down; once its hooks are done (its `BENCH` line),
    `at_outage_end()` is called and MLflow is started on `port`; the host's resident memory is sampled
    every 0.5 s until it exits. What it gives: `samples` [(seconds, KiB, MLflow up)], `outage_end`,
    `back_at` and `exited_at` (seconds from the start), `at_end` (what `at_outage_end` returned),
    `stdout`, and the running `server` (the caller stops it)."""

    def __init__(self, host_args, port, env, at_outage_end=lambda: None):
        proc = subprocess.Popen([HOST, *host_args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        out_lines = []
        reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout), daemon=True)
        reader.start()
        self.samples, self.server, started = [], None, time.perf_counter()
        while proc.poll() is None:
            kb = rss_kb(proc.pid)
            if kb:
                self.samples.append((time.perf_counter() - started, kb, self.server is not None))
            if self.server is None and any(l.startswith("BENCH ") for l in out_lines):
                self.outage_end = time.perf_counter() - started
                self.at_end = at_outage_end()
                self.server = Server(1, port=port)
                self.back_at = time.perf_counter() - started
            time.sleep(0.5)
        self.exited_at = time.perf_counter() - started
        reader.join()
        self.stdout = "".join(out_lines)

    def rss_during(self):
        """KiB samples while MLflow was down, and after it came back."""
        return [kb for _, kb, up in self.samples if not up], [kb for _, kb, up in self.samples if up]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthy(uri):
    try:
        return urllib.request.urlopen(uri + "/health", timeout=2).status == 200
    except Exception:
        return False


class Server:
    """An MLflow server of the benchmark's own: a SQLite file, or `store` (a postgresql:// URL)."""

    def __init__(self, workers, port=None, db=None, store=None, cpus=None, mlflow=MLFLOW, env=None):
        self.workers = workers
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.db = db or os.path.join(tempfile.mkdtemp(dir=WORK), "mlflow.db")
        log = open(self.db + ".log", "w")
        self.proc = subprocess.Popen([mlflow, "server", "--backend-store-uri", store or f"sqlite:///{self.db}", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--workers", str(workers),
                                      "--default-artifact-root", os.path.join(os.path.dirname(self.db), "artifacts")],
                                     stdout=log, stderr=log, start_new_session=True, preexec_fn=pinned(cpus), env=env)
        deadline = time.time() + 240
        while not healthy(self.uri):
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"MLflow did not start: {open(self.db + '.log').read()[-2000:]}")
            time.sleep(0.5)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait()

    def worker_cpu_seconds(self):
        """Each uvicorn worker's CPU seconds so far (the workers: the children of the `uvicorn` process
        that `mlflow server` starts, but Python's resource tracker), oldest worker first."""
        supervisors = [c for c in child_pids(self.proc.pid) if "uvicorn" in cmdline(c)]
        workers = sorted(w for s in supervisors for w in child_pids(s) if "resource_tracker" not in cmdline(w))
        return [cpu_seconds(w) for w in workers]


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (which may hold spaces): field 3 first."""
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def child_pids(pid):
    """The processes whose parent (field 4) is `pid`."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(stat_fields(entry)[1])
            except OSError:
                continue
            if parent == pid:
                children.append(int(entry))
    return children


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return ""


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` (fields 14 and 15 of /proc/PID/stat)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plugins_dir(library=PLUGIN, prefix="plugins-"):
    """A fresh plugins directory under WORK holding `library` as the host looks for it."""
    directory = tempfile.mkdtemp(prefix=prefix, dir=WORK)
    shutil.copy(library, os.path.join(directory, "libopenclaw_mlflow.so"))
    return directory


def api(uri, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(uri + path, data=data, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))


def search_traces(uri, experiment_id, filter_=""):
    """Every trace of the experiment matching `filter_` (MLflow's search syntax), page by page."""
    traces, token = [], None
    while True:
        body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
                "filter": filter_, "max_results": 500}
        if token:
            body["page_token"] = token
        page = api(uri, "/api/3.0/mlflow/traces/search", body)
        traces += page.get("traces", [])
        token = page.get("next_page_token")
        if not token:
            return traces


def count_traces(uri, experiment_id):
    return len(search_traces(uri, experiment_id))


def timed_threads(worker, count):
    """Runs `worker` on `count` threads at once until each returns; the wall seconds that took."""
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def tagged_json(stdout, tag):
    """The JSON of `openclaw-host`'s first `TAG {...}` line (`BENCH`, `STATS`)."""
    prefix = tag + " "
    return next(json.loads(l[len(prefix):]) for l in stdout.splitlines() if l.startswith(prefix))


def run_host(args, cfg, plugins, cpus=None):
    """`openclaw-host ARGS` with `cfg` and the plugins in `plugins`, to its end: its BENCH and STATS."""
    out = subprocess.run([HOST, *args, "--config", cfg, "--plugins-dir", plugins], capture_output=True, text=True, check=True,
                         env=state_env(), preexec_fn=pinned(cpus))
    return tagged_json(out.stdout, "BENCH"), tagged_json(out.stdout, "STATS")


def capture_bench_requests(n, plugins):
    """The plugin's own OTLP requests for n bench messages (30 sessions, 2 threads), as files in a folder."""
    directory = tempfile.mkdtemp(dir=WORK)
    capture = Capture(directory)
    path = os.path.join(WORK, f"capture-{time.time_ns()}.json")
    with open(path, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, queueCapacity: 100000, flushIntervalMs: 1000, otlp: {{ endpoint: "{capture.uri}", metrics: false }} }} }} }}')
    run_host(["bench", "--sessions", "30", "--messages", str(n // 30), "--threads", "2", "--shutdown-ms", "600000"], path, plugins)
    capture.server.shutdown()
    return directory


def ceilings(uri, captured, name, connections=(1, 2), cpus=None, keep_alive=False):
    """The server's ceiling for captured requests (`bench_ceiling.py`, on `cpus`) over each number of
    `connections` (a new one per request, as the plugin's; kept alive with `keep_alive`), each into an
    experiment of its own and linked to a run, as the plugin's traces are: traces/s each."""
    found = []
    for conc in connections:
        eid = api(uri, "/api/2.0/mlflow/experiments/create", {"name": f"{name}-{conc}"})["experiment_id"]
        run_id = api(uri, "/api/2.0/mlflow/runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
        out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "scripts", "bench_ceiling.py"),
                              uri, eid, captured, str(conc), "--run-id", run_id, *(["--keep-alive"] if keep_alive else [])],
                             capture_output=True, text=True, check=True,
                             preexec_fn=pinned(cpus))
        found.append(json.loads(out.stdout.strip().splitlines()[-1])["traces_per_s"])
    return found


def write_out(lines, out=None):
    """A section's lines to `out` (a file, when given) and to stdout."""
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    print(text)


def main_for(section):
    """A section run on its own (`make bench-<name>`): its lines to the file named first on the command line, if
    any, and to stdout."""
    lines = []
    section(lines)
    write_out(lines, sys.argv[1] if len(sys.argv) > 1 else None)


def write_readme_table(readme, marker, intro, header, rows):
    """Replaces the README's section between `<!-- marker -->` and `<!-- /marker -->` with `intro` (lines)
    and a table of `header` (cells) and `rows` (cells each); prints the table where there is no such section."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    table = "\n".join([start, *intro, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                       *("| " + " | ".join(cells) + " |" for cells in rows), end])
    text = open(readme).read()
    if start in text and end in text:
        with open(readme, "w") as f:
            f.write(text[:text.index(start)] + table + text[text.index(end) + len(end):])
        print(f"compat: {readme} updated", file=sys.stderr)
    else:
        print(f"compat: {readme} has no {start} ... {end} section; the table:\n{table}", file=sys.stderr)


def section_lines(section):
    """Runs one BENCHMARKS.md section (`section(server, lines)`) beside a fresh one-worker server;
    its lines."""
    lines = []
    server = Server(1)
    try:
        section(server, lines)
    finally:
        server.stop()
    return lines


class Capture:
    """A local OTLP endpoint that keeps each /v1/traces body (the requests the plugin sends)."""

    def __init__(self, directory):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/traces":
                    with open(os.path.join(directory, f"{time.time_ns()}.pb"), "wb") as f:
                        f.write(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Postgres:
    """A PostgreSQL server of the benchmark's own (Debian's initdb and pg_ctl, as the `postgres` user
    when run as root, which PostgreSQL refuses), on a free loopback port; `database(name)` creates one
    and gives its URL. `cpus`: the server's processes run on those only."""

    def __init__(self, cpus=None):
        import glob
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
        self.root = tempfile.mkdtemp(prefix="openclaw-bench-pg-")
        self.data = os.path.join(self.root, "data")
        os.makedirs(self.data)
        self.as_postgres = os.getuid() == 0
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", self.root], check=True)
        self.port = free_port()
        self.run("initdb", "-D", self.data, "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "server.log"), "-w", "start",
                 "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=200", cpus=cpus)

    def run(self, tool, *args, cpus=None):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, cwd="/", capture_output=True, preexec_fn=pinned(cpus))

    def database(self, name):
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "mlflow", name)
        return f"postgresql://mlflow@127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "stop")
        subprocess.run(["rm", "-rf", self.root])

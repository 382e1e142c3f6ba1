"""`make compat`: the same end-to-end checks against each MLflow release, each in a virtualenv of
its own, and the README's "Supported versions" table written from what they measured.

    compat.py README.md 3.6.0=.cache/mlflow-3.6.0 ... 3.17.2=.venv

Per release: a fresh server (SQLite, one worker), the real OpenClaw recording replayed and the demo
run through `openclaw-host` with the release build of the plugin, `openclaw-host doctor`, then
everything an operator looks at read back over MLflow's REST API (the calls every release from 3.6
has). A cell is "yes" only when every trace passed that check.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import benchlib as b

FIXTURE = os.path.join(b.ROOT, "tests", "fixtures", "openclaw-2026.9.6", "hooks.jsonl")
PREVIEW = 1000  # MLflow cuts previews to this many characters, the last three "..."


def host(args, uri, experiment, plugins):
    cfg = os.path.join(tempfile.mkdtemp(dir=b.WORK), "openclaw.json")
    with open(cfg, "w") as f:
        f.write(f'{{ plugins: {{ entries: {{ mlflow: {{ hooks: {{ allowConversationAccess: true }}, config: '
                f'{{ trackingUri: "{uri}", experimentName: "{experiment}", flushIntervalMs: 200 }} }} }} }} }}')
    env = b.state_env()
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_TOKEN"):
        env.pop(var, None)
    return subprocess.run([b.HOST, *args, "--config", cfg, "--plugins-dir", plugins, "--shutdown-ms", "60000"],
                          capture_output=True, text=True, env=env)


def runs_of(events_path):
    """The hook calls of each agent run, by run id (as the host dispatched them)."""
    runs = {}
    for line in open(events_path):
        e = json.loads(line)
        if e["hook"].startswith(("message_", "model_call_", "tool_call_")):
            runs.setdefault(e["ctx"]["run_id"], []).append(e)
    return runs


def first(events, hook):
    return next(e for e in events if e["hook"] == hook)


def plain(value):
    """An OTLP AnyValue in JSON form as a plain value."""
    for key in ("string_value", "double_value", "bool_value"):
        if key in value:
            return value[key]
    if "int_value" in value:
        return int(value["int_value"])
    if "kvlist_value" in value:
        return {kv["key"]: plain(kv["value"]) for kv in value["kvlist_value"].get("values", [])}
    if "array_value" in value:
        return [plain(v) for v in value["array_value"].get("values", [])]
    return None


def trace(uri, trace_id):
    found = b.api(uri, f"/api/3.0/mlflow/traces/batchGet?trace_ids={trace_id}")["traces"][0]
    spans = [dict(s, attributes={a["key"]: plain(a["value"]) for a in s.get("attributes", [])}) for s in found["spans"]]
    return found["trace_info"], spans


def shown(preview, text):
    return preview == text if len(text) <= PREVIEW else preview == text[:PREVIEW - 3] + "..."


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


class Checks:
    """Feature -> (every trace passed, what failed first)."""

    def __init__(self):
        self.result = {}

    def check(self, feature, ok, why=""):
        passed, first_failure = self.result.get(feature, (True, ""))
        self.result[feature] = (passed and bool(ok), first_failure or ("" if ok else why))


def check_runs(uri, experiment, runs, checks):
    """What the operator sees of each agent run's trace."""
    experiment_id = b.api(uri, f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}")["experiment"]["experiment_id"]
    everything = b.search_traces(uri, experiment_id)
    checks.check("traces", len(everything) == len(runs), f"{len(everything)} traces for {len(runs)} runs")
    for run_id, events in runs.items():
        found = b.search_traces(uri, experiment_id, f"tags.`openclaw.run_id` = '{run_id}'")
        checks.check("tags", len(found) == 1, f"tags.`openclaw.run_id` found {len(found)} for {run_id}")
        if len(found) != 1:
            continue
        info, spans = trace(uri, found[0]["trace_id"])
        start, end = first(events, "message_start"), first(events, "message_end")
        metadata = info.get("trace_metadata", {})
        session, user = start["ctx"]["session_key"], start["ctx"]["agent_id"]
        checks.check("session", metadata.get("mlflow.trace.session") == session,
                     f"Session {metadata.get('mlflow.trace.session')!r}, expected {session!r}")
        checks.check("user", metadata.get("mlflow.trace.user") == user, f"User {metadata.get('mlflow.trace.user')!r}, expected {user!r}")
        by_session = b.search_traces(uri, experiment_id, f"metadata.`mlflow.trace.session` = '{session}'")
        checks.check("session", any(t["trace_id"] == info["trace_id"] for t in by_session), "the Session filter misses it")
        by_user = b.search_traces(uri, experiment_id, f"metadata.`mlflow.trace.user` = '{user}'")
        checks.check("user", any(t["trace_id"] == info["trace_id"] for t in by_user), "the User filter misses it")
        prompt, response = start["event"]["prompt"], end["event"]["response"]
        if "hunter2" not in prompt:  # the demo's secret is redacted in the preview
            checks.check("input", shown(info.get("request_preview", ""), prompt), f"Input {info.get('request_preview', '')[:60]!r}")
        checks.check("response", shown(info.get("response_preview", ""), response), f"Response {info.get('response_preview', '')[:60]!r}")
        model_calls = [e for e in events if e["hook"] == "model_call_end"]
        models = [s for s in spans if s["name"].startswith("llm.")]
        usages = [e["event"]["usage"] for e in model_calls if e["event"].get("usage")]
        if usages:
            total = sum(u["input"] + u["cache_read"] + u["cache_write"] + u["output"] for u in usages)
            trace_usage = as_json(metadata.get("mlflow.trace.tokenUsage") or "{}")
            checks.check("tokens", trace_usage.get("total_tokens") == total, f"trace tokens {trace_usage}, expected total {total}")
            checks.check("tokens", all(as_json(s["attributes"].get("mlflow.chat.tokenUsage") or "{}").get("total_tokens") for s in models),
                         "a model span without token usage")
        costs = [as_json(s["attributes"]["mlflow.llm.cost"])["total_cost"] for s in models if "mlflow.llm.cost" in s["attributes"]]
        if costs:
            trace_cost = as_json(metadata.get("mlflow.trace.cost") or "{}").get("total_cost")
            checks.check("cost", trace_cost is not None and abs(trace_cost - sum(costs)) < 1e-9, f"trace cost {trace_cost}, spans {sum(costs)}")
        if any(e["hook"] == "model_call_end" and e["event"].get("model") for e in model_calls):
            checks.check("tags", info.get("tags", {}).get("model"), "no model tag")
        failed = [s for s in spans if s.get("status", {}).get("code") == "STATUS_CODE_ERROR"]
        for span in failed:
            exception = next((ev for ev in span.get("events", []) if ev["name"] == "exception"), None)
            message = exception and {a["key"]: plain(a["value"]) for a in exception.get("attributes", [])}.get("exception.message")
            checks.check("errors", message and message == span["status"].get("message"), f"{span['name']}: no exception text")
        checks.check("errors", info["state"] == ("ERROR" if end["event"]["outcome"] != "completed" else "OK"), f"state {info['state']}")
    # The gateway's run: its traces linked to it, its metrics.
    runs_found = b.api(uri, "/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id], "max_results": 10})["runs"]
    checks.check("run", len(runs_found) == 1, f"{len(runs_found)} runs")
    if runs_found:
        run = runs_found[0]
        linked = b.search_traces(uri, experiment_id, f"trace.run_id = '{run['info']['run_id']}'")
        checks.check("run", len(linked) == len(runs), f"{len(linked)} of {len(runs)} traces linked to the run")
        checks.check("run", run["data"].get("metrics"), "the run has no metrics")


def ui_shows_cost(venv):
    """Whether the release's UI bundle reads the trace's cost at all."""
    js = subprocess.run(["bash", "-c", f"grep -l 'mlflow.trace.cost' {venv}/lib/python3*/site-packages/mlflow/server/js/build/static/js/*.js"],
                        capture_output=True, text=True)
    return bool(js.stdout.strip())


def measure(version, venv):
    env = dict(os.environ, MLFLOW_MODEL_CATALOG_URI="")
    server = b.Server(1, mlflow=os.path.join(venv, "bin", "mlflow"), env=env)
    checks = Checks()
    try:
        reported = urllib_text(server.uri + "/version")
        checks.check("traces", reported == version, f"the server says {reported}")
        plugins = b.plugins_dir()
        for name, args in (("replay", ["replay", FIXTURE]), ("demo", ["demo"])):
            events = os.path.join(b.WORK, f"{version}-{name}.jsonl")
            run = host([*args, "--events-out", events], server.uri, f"compat-{name}", plugins)
            checks.check("traces", run.returncode == 0, f"openclaw-host {name} exited {run.returncode}")
            if run.returncode == 0:
                check_runs(server.uri, f"compat-{name}", runs_of(events), checks)
        doctor = host(["doctor", "--json"], server.uri, "compat-doctor", plugins)
        report = json.loads(doctor.stdout)
        failed = [c["name"] for c in report["checks"] if c["verdict"] == "fail"]
        warned = [c["name"] for c in report["checks"] if c["verdict"] == "warn"]
        checks.check("doctor", report["ok"] and not failed, f"failed: {', '.join(failed)}")
        return checks.result, warned, ui_shows_cost(venv)
    finally:
        server.stop()


def urllib_text(url):
    return urllib.request.urlopen(url, timeout=30).read().decode().strip()


COLUMNS = [("traces", "traces land"), ("session", "Session (+ filter)"), ("user", "User (+ filter)"), ("input", "Input"),
           ("response", "Response"), ("tokens", "tokens"), ("cost", "cost"), ("tags", "tags"), ("errors", "errors shown"),
           ("run", "run: traces + metrics"), ("doctor", "doctor")]


def cells(version, result, warned, cost_in_ui):
    found = [version]
    for key, _ in COLUMNS:
        passed, why = result.get(key, (False, "not measured"))
        cell = "yes" if passed else f"**no**: {why}"
        if key == "cost" and passed and not cost_in_ui:
            cell = "stored; not in this UI"
        if key == "doctor" and passed and warned:
            cell = "pass, WARN " + ", ".join(warned)
        found.append(cell)
    return found


def main():
    readme, releases = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
    rows, all_passed = [], True
    for version, venv in releases:
        print(f"compat: MLflow {version} ({venv})", file=sys.stderr, flush=True)
        result, warned, cost_in_ui = measure(version, os.path.abspath(venv))
        rows.append(cells(version, result, warned, cost_in_ui))
        all_passed &= all(passed for passed, _ in result.values())
        print(" | ".join(rows[-1]), flush=True)
    intro = [
        f"Measured {datetime.date.today().isoformat()} by `make compat` (`scripts/compat.py`): per release a fresh server, the real OpenClaw",
        "recording replayed and the demo run through `openclaw-host`, `openclaw-host doctor`, then read back over REST.",
    ]
    b.write_readme_table(readme, "compat:mlflow", intro, ["MLflow", *(title for _, title in COLUMNS)], rows)
    sys.exit(0 if all_passed else 1)


if __name__ == "__main__":
    main()

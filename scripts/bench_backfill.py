"""Section 10 of BENCHMARKS.md: backfill, turns per second from a store of 10,000 turns, against the
server's ceiling for the very same traces.

The store is generated from the real fixture (tests/fixtures/openclaw-2026.9.6/state: a five-session
gateway run): the reader's three tables created with the fixture's own CREATE statements, its schema
row, and its sessions copied over and over, each copy with its own session ids and OpenClaw run ids
(so each copy is new turns, not the same traces again) and the transcript entries as written (zstd
rows stored decoded). End to end = `openclaw-host backfill` from start to exit, every turn delivered
(counted in MLflow). Ceiling = the OTLP requests that backfill sends for that store (captured from an
otlp-only run, given fresh ids, pre-encoded), posted as fast as the server takes them
(`scripts/bench_ceiling.py`), linked to a run.

    .venv/bin/python scripts/bench_backfill.py [OUT]   (MLflow started here; release build needed)
"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

from benchlib import HOST, PLUGIN, ROOT, WORK, Capture, api, ceilings as server_ceilings, count_traces, section_lines, state_env, write_out

TURNS = 10_000
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "openclaw-2026.9.6", "state", "agents", "main", "agent", "openclaw-agent.sqlite")
# The ids that make a turn the turn it is: OpenClaw's run id, and the idempotency key's prefix.
RUN_IDS = re.compile(r'"(?:runId|idempotencyKey)"\s*:\s*"([^":]+)')


def entries(fixture, session_id):
    """A session's transcript entries as JSON text (zstd rows decoded with the zstd tool)."""
    out = []
    for seq, text, packed, created, nav in fixture.execute(
            "SELECT seq, event_json, event_zstd, created_at, navigation_json FROM transcript_events WHERE session_id = ? ORDER BY seq",
            (session_id,)):
        if text is None:
            text = subprocess.run(["zstd", "-dc"], input=packed, capture_output=True, check=True).stdout.decode()
        out.append((seq, text, created, nav))
    return out


def planned_turns(state, plugins):
    """The turns backfill finds in a state directory (its dry run: the same reading of turns)."""
    cfg = config(os.path.join(WORK, "backfill-dry-run.json"), "")
    out = subprocess.run([HOST, "backfill", "--dry-run", "--state-dir", state, "--config", cfg, "--plugins-dir", plugins],
                         capture_output=True, text=True, check=True)
    return int(re.search(r"\(dry run\): (\d+) turns", out.stdout + out.stderr).group(1))


def make_store(copies):
    """A state directory whose agent `main` holds the fixture's sessions `copies` times over."""
    state = tempfile.mkdtemp(prefix="backfill-state-", dir=WORK)
    path = os.path.join(state, "agents", "main", "agent")
    os.makedirs(path)
    fixture = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    store = sqlite3.connect(os.path.join(path, "openclaw-agent.sqlite"))
    # OpenClaw's CHECK constraints use octet_length (SQLite 3.43); Python's SQLite here is older.
    store.create_function("octet_length", 1, lambda v: None if v is None else len(v.encode() if isinstance(v, str) else v),
                          deterministic=True)
    for table in ("schema_meta", "session_windows", "transcript_events"):
        store.execute(fixture.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0])
    meta = fixture.execute("SELECT * FROM schema_meta").fetchall()
    store.executemany(f"INSERT INTO schema_meta VALUES ({','.join('?' * len(meta[0]))})", meta)
    window_columns = [r[1] for r in fixture.execute("PRAGMA table_info(session_windows)")]
    sessions = [dict(zip(window_columns, r)) for r in fixture.execute("SELECT * FROM session_windows ORDER BY created_at")]
    shapes = [(s, entries(fixture, s["session_id"])) for s in sessions]
    for copy in range(1, copies + 1):
        for window, rows in shapes:
            new_id = f"{window['session_id']}-b{copy}"
            w = dict(window, session_id=new_id, session_key=f"{window['session_key']}-b{copy}")
            store.execute(f"INSERT INTO session_windows ({','.join(w)}) VALUES ({','.join('?' * len(w))})", list(w.values()))
            ids = {m for _, text, _, _ in rows for m in RUN_IDS.findall(text)} | {window["session_id"]}
            pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
            store.executemany(
                "INSERT INTO transcript_events (session_id, seq, event_json, created_at, navigation_json) VALUES (?, ?, ?, ?, ?)",
                [(new_id, seq, pattern.sub(lambda m: f"{m.group(0)}-b{copy}", text), created, nav) for seq, text, created, nav in rows])
    store.commit()
    return state


def config(path, settings):
    with open(path, "w") as f:
        f.write(f"{{ plugins: {{ entries: {{ mlflow: {{ config: {{ {settings} }} }} }} }} }}")
    return path


def backfill(state, cfg, plugins):
    """`openclaw-host backfill` of `state` with `cfg`: (wall seconds, its summary line)."""
    started = time.perf_counter()
    out = subprocess.run([HOST, "backfill", "--state-dir", state, "--config", cfg, "--plugins-dir", plugins, "--shutdown-ms", "600000"],
                         capture_output=True, text=True, env=state_env())
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"backfill failed: {out.stderr[-3000:]}")
    summary = next(l for l in (out.stdout + out.stderr).splitlines() if "backfill: " in l and " turns from " in l)
    return elapsed, summary[summary.index("backfill: "):]


def section(server, lines):
    plugins = tempfile.mkdtemp(prefix="backfill-plugins-", dir=WORK)
    subprocess.run(["cp", PLUGIN, plugins], check=True)
    per_copy = planned_turns(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(FIXTURE)))), plugins)
    state = make_store(-(-TURNS // per_copy))
    turns = planned_turns(state, plugins)
    # The requests backfill sends for this store, captured from an otlp-only run of the same store.
    captured = tempfile.mkdtemp(prefix="backfill-capture-", dir=WORK)
    capture = Capture(captured)
    backfill(state, config(os.path.join(WORK, "backfill-capture.json"), f'otlp: {{ endpoint: "{capture.uri}", metrics: false }}'), plugins)
    capture.server.shutdown()
    # Warm the server up (its first requests are slower), then the measured run.
    warm = make_store(50)
    backfill(warm, config(os.path.join(WORK, "backfill-warm.json"), f'trackingUri: "{server.uri}", experimentName: "backfill-warm-up"'), plugins)
    elapsed, summary = backfill(state, config(os.path.join(WORK, "backfill.json"), f'trackingUri: "{server.uri}", experimentName: "backfill"'), plugins)
    exp = api(server.uri, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=backfill")["experiment"]["experiment_id"]
    landed = count_traces(server.uri, exp)
    ceilings = server_ceilings(server.uri, captured, "backfill-ceiling")
    ours = landed / elapsed
    lines += ["## 10. Backfill", "",
              f"`make bench-backfill` (`scripts/bench_backfill.py`): a store of {turns:,} turns generated from the real fixture's",
              f"shape (its sessions, {per_copy} turns, copied with fresh session and run ids, entries as OpenClaw wrote them), backfilled into",
              "a warmed-up MLflow 3.17.2 (SQLite, one worker) with the default settings (`--chunk` 500). End to end = the",
              "`openclaw-host backfill` process from start to exit, every turn delivered (counted in MLflow). Ceiling = the",
              "very OTLP requests backfill sends for that store (captured, fresh ids, pre-encoded) posted as fast as the",
              "server takes them (`scripts/bench_ceiling.py`), linked to a run.", "",
              "| turns | backfill end to end | ceiling, 1 connection | ceiling, 2 connections | backfill / best ceiling |",
              "|---|---|---|---|---|",
              f"| {turns:,} | {ours:.0f} turns/s ({landed}/{turns} landed, {elapsed:.1f} s) | {ceilings[0]:.0f} traces/s | "
              f"{ceilings[1]:.0f} traces/s | {ours / max(ceilings):.0%} |", "",
              f"Its own summary line: `{summary.replace(state, '<state dir>')}`", ""]


def main():
    write_out(section_lines(section), sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()

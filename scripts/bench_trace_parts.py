"""Section 13 of BENCHMARKS.md: a long tool loop's trace in parts (`maxTraceBytes`).

A turn of 60 rounds (a model call, then a tool call whose result is 2-3 KB) is replayed with MLflow
unreachable, once per `maxTraceBytes`; each part waits in the spool exactly as it would be sent (one
record per trace), so the records' sizes are the parts' sizes on the wire. No server is needed.
With TRACE_PARTS_BEFORE=<libopenclaw_mlflow.so> an earlier build is measured beside this one.

    .venv/bin/python scripts/bench_trace_parts.py [OUT]   (release build needed)
"""
import glob
import json
import os
import struct
import subprocess
import tempfile

from benchlib import HOST, PLUGIN, WORK, free_port, main_for, plugins_dir, state_env

ROUNDS = 60
CAPS = [64 << 10, 256 << 10, 1 << 20, 16 << 20]
RECORD_MAGIC = b"OCER"  # a spool record's frame: magic, length, CRC (little-endian u32 each)


def loop_recording():
    """The turn, in OpenClaw's hooks.jsonl format (what `openclaw-host replay` reads)."""
    run, session, t0 = "long-loop", "agent:main:long-loop", 1_700_000_000_000
    ctx = {"runId": run, "agentId": "main", "sessionKey": session, "sessionId": "s"}
    answer = {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}],
              "usage": {"input": 10, "output": 5, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 15}}
    lines = [{"hook": "before_agent_reply", "ts": t0, "event": {"cleanedBody": "Read every file"}, "ctx": ctx}]
    for n in range(ROUNDS):
        ts = t0 + 100 * n
        call = {"runId": run, "callId": f"{run}:model:{n + 1}", "sessionKey": session, "provider": "openai", "model": "gpt-5-mini"}
        lines += [{"hook": "model_call_started", "ts": ts + 5, "event": call, "ctx": ctx},
                  {"hook": "model_call_ended", "ts": ts + 45, "event": dict(call, durationMs=40, outcome="completed"), "ctx": ctx},
                  {"hook": "before_message_write", "ts": ts + 46, "event": {"message": answer},
                   "ctx": {"agentId": "main", "sessionKey": session}}]
        if n + 1 < ROUNDS:
            tool = {"toolName": "read", "runId": run, "toolCallId": f"read-{n}"}
            lines += [{"hook": "before_tool_call", "ts": ts + 60, "ctx": ctx, "event": dict(tool, params={"path": f"{n}.txt"})},
                      {"hook": "after_tool_call", "ts": ts + 65, "ctx": ctx,
                       "event": dict(tool, params={}, durationMs=5, result={"content": [{"type": "text", "text": f"{n} " * 1024}]})}]
    lines.append({"hook": "agent_end", "ts": t0 + 100 * ROUNDS, "ctx": ctx,
                  "event": {"success": True, "durationMs": 100 * ROUNDS, "messages": [answer]}})
    text = "".join(json.dumps(line) + "\n" for line in lines)
    path = os.path.join(WORK, "long-loop.jsonl")
    with open(path, "w") as f:
        f.write(text)
    return path, len(text)


def record_sizes(spool_dir):
    """The sizes of the trace records waiting in `spool_dir`, in order."""
    sizes = []
    for segment in sorted(glob.glob(os.path.join(spool_dir, "mlflow-traces", "*", "*.seg"))):
        data, at = open(segment, "rb").read(), 0
        while (at := data.find(RECORD_MAGIC, at)) >= 0:
            length = struct.unpack_from("<I", data, at + 4)[0]
            sizes.append(length)
            at += 12 + length
    return sizes


def parts(library, recording, cap):
    """The part sizes of the replayed turn at `maxTraceBytes` = `cap`, with the plugin `library`."""
    spool_dir = tempfile.mkdtemp(prefix="spool-", dir=WORK)
    fd, cfg = tempfile.mkstemp(prefix="parts-", suffix=".json", dir=WORK)
    with os.fdopen(fd, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "http://127.0.0.1:{free_port()}", '
                f'experimentName: "parts", maxTraceBytes: {cap}, spoolDir: "{spool_dir}" }} }} }}')
    subprocess.run([HOST, "replay", recording, "--config", cfg, "--plugins-dir", plugins_dir(library, "parts-plugins-"),
                    "--shutdown-ms", "3000"], capture_output=True, text=True, check=True, env=state_env())
    return record_sizes(spool_dir)


def section(lines):
    recording, recorded = loop_recording()
    before = os.environ.get("TRACE_PARTS_BEFORE")
    builds = ([(before, "before")] if before else []) + [(PLUGIN, "this build")]
    lines += ["## 13. A long tool loop's trace in parts (`maxTraceBytes`)", "",
              f"One turn of {ROUNDS} rounds (a model call, then a tool result of 2-3 KB; {recorded / 1024:.0f} KiB of hooks as",
              "recorded) replayed by `openclaw-host replay` with MLflow unreachable, once per `maxTraceBytes`; each part waits",
              "in the spool as it would be sent, so a record's size is that part's size on the wire. Each model call's input",
              "repeats up to `maxHistoryMessages` (20) earlier messages, so the trace outgrows its hooks.", "",
              "| build | `maxTraceBytes` | parts | largest part | smallest part | all parts |", "|---|---|---|---|---|---|"]
    for library, label in builds:
        for cap in CAPS:
            sizes = parts(library, recording, cap)
            kib = [size / 1024 for size in sizes]
            lines.append(f"| {label} | {cap >> 10} KiB | {len(sizes)} | {max(kib):.0f} KiB | {min(kib):.0f} KiB | {sum(kib):.0f} KiB |")
    lines += ["", "`make bench-trace-parts` (`TRACE_PARTS_BEFORE=<an earlier libopenclaw_mlflow.so>` adds it beside).", ""]


if __name__ == "__main__":
    main_for(section)

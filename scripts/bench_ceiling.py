"""The server's raw ingestion ceiling: OTLP trace requests shaped like the plugin's (traces of 4
spans with the same attributes and content sizes, `batch` traces per request), all encoded before
the clock starts, then posted as fast as the server takes them over `concurrency` keep-alive
connections. Prints one JSON line with traces per second.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span


def filler(n, seed):
    base = f"{seed} The quick brown fox jumps over the lazy dog; 0123456789. "
    return (base * (n // len(base) + 1))[:n]


def kv(key, value):
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


PROMPT = json.dumps({"messages": [{"role": "user", "content": filler(3 * 1024, "Please summarise the report.")}]})
ANSWER = json.dumps({"messages": [{"role": "assistant", "content": filler(1024, "Summary:")}]})
RESULT = json.dumps(filler(8 * 1024, "# Report"))  # the plugin cuts the 24 KB result to 8 KB
USAGE = json.dumps({"input_tokens": 2000, "output_tokens": 150, "total_tokens": 14150, "cache_read_input_tokens": 12000, "cache_creation_input_tokens": 0})
COST = json.dumps({"input_cost": 0.0096, "output_cost": 0.00225, "total_cost": 0.01185})


def trace_spans(i, now_ns):
    tid = os.urandom(16)
    root_id = os.urandom(8)
    session = f"agent:bench{i % 8}:bench:direct:{i % 100}"

    def span(name, start, end, attrs, parent=b""):
        return Span(trace_id=tid, span_id=root_id if not parent else os.urandom(8), parent_span_id=parent, name=name,
                    start_time_unix_nano=now_ns + start * 1_000_000, end_time_unix_nano=now_ns + end * 1_000_000,
                    attributes=attrs, kind=Span.SPAN_KIND_INTERNAL)

    llm = [kv("mlflow.spanType", "CHAT_MODEL"), kv("gen_ai.provider.name", "anthropic"), kv("gen_ai.request.model", "claude-sonnet-4-5"),
           kv("mlflow.chat.tokenUsage", USAGE), kv("mlflow.llm.cost", COST)]
    return [
        span("message.process", 0, 1850, [kv("mlflow.spanType", "AGENT"), kv("session.id", session), kv("user.id", f"bench{i % 8}"),
                                            kv("mlflow.spanInputs", PROMPT), kv("mlflow.spanOutputs", ANSWER),
                                            kv("mlflow.traceTag.openclaw.run_id", f"ceiling-{i}")]),
        span("llm.anthropic.claude-sonnet-4-5", 10, 910, llm, root_id),
        span("tool.read", 915, 940, [kv("mlflow.spanType", "TOOL"), kv("mlflow.spanInputs", '{"path":"notes/report.md"}'), kv("mlflow.spanOutputs", RESULT)], root_id),
        span("llm.anthropic.claude-sonnet-4-5", 945, 1845, llm + [kv("mlflow.spanOutputs", ANSWER)], root_id),
    ]


def main():
    uri, experiment_id, n, batch, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    now_ns = time.time_ns()
    bodies = []
    for start in range(0, n, batch):
        spans = [s for i in range(start, min(n, start + batch)) for s in trace_spans(i, now_ns)]
        req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
        bodies.append(req.SerializeToString())
    host = urllib.parse.urlparse(uri)
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    failures = []

    def worker():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"traces": n, "batch": batch, "concurrency": concurrency, "requests": len(bodies), "failures": len(failures),
                      "seconds": elapsed, "traces_per_s": n / elapsed, "bytes_per_request": sum(map(len, bodies)) // len(bodies)}))


if __name__ == "__main__":
    main()

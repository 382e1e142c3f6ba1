"""The server's raw ingestion ceiling for the plugin's own traces: the OTLP requests the plugin sent
(captured by `bench.py`), given fresh trace and span ids so that MLflow stores them anew, all
encoded before the clock starts, then posted as fast as the server takes them over `concurrency`
keep-alive connections. Prints one JSON line with traces per second.

    bench_ceiling.py URI EXPERIMENT_ID CAPTURE_DIR CONCURRENCY [RUN_ID]

With RUN_ID the traces are linked to that run (`x-mlflow-run-id`), as the plugin links its traces.
"""
import http.client
import json
import os
import sys
import threading
import urllib.parse
import urllib.request

from benchlib import timed_threads
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def fresh_ids(body):
    """The request with new trace and span ids (parents remapped), so nothing is an upsert."""
    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    traces, spans = {}, {}
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                traces.setdefault(span.trace_id, os.urandom(16))
                spans.setdefault(span.span_id, os.urandom(8))
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.trace_id = traces[span.trace_id]
                span.span_id = spans[span.span_id]
                if span.parent_span_id:
                    span.parent_span_id = spans.get(span.parent_span_id, span.parent_span_id)
    return req.SerializeToString(), len(traces)


def main():
    uri, experiment_id, capture_dir, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    if len(sys.argv) > 5:
        headers["x-mlflow-run-id"] = sys.argv[5]
    bodies, n = [], 0
    for name in sorted(os.listdir(capture_dir)):
        body, traces = fresh_ids(open(os.path.join(capture_dir, name), "rb").read())
        bodies.append(body)
        n += traces
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
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)

    elapsed = timed_threads(worker, concurrency)
    print(json.dumps({"traces": n, "concurrency": concurrency, "requests": len(bodies), "failures": len(failures),
                      "seconds": elapsed, "traces_per_s": n / elapsed, "bytes_per_request": sum(map(len, bodies)) // len(bodies)}))


if __name__ == "__main__":
    main()

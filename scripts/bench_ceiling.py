"""The server's raw ingestion ceiling for the plugin's own traces: the OTLP requests the plugin sent
(captured by `bench.py`), given fresh trace and span ids so that MLflow stores them anew, all
encoded before the clock starts, then posted as fast as the server takes them over `concurrency`
connections. Prints one JSON line with traces per second.

    bench_ceiling.py URI EXPERIMENT_ID CAPTURE_DIR CONCURRENCY [--run-id RUN_ID] [--keep-alive]

With --run-id the traces are linked to that run (`x-mlflow-run-id`), as the plugin links its traces.
Each request opens a connection of its own, as the plugin's do; with --keep-alive each sender keeps
one connection, which stays with the server worker that accepted it (several senders may share one
worker of several: that ceiling measures where the connections landed as much as the server).
"""
import argparse
import http.client
import json
import os
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
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("experiment_id")
    parser.add_argument("capture_dir")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--run-id")
    parser.add_argument("--keep-alive", action="store_true")
    args = parser.parse_args()
    uri, experiment_id, capture_dir, concurrency = args.uri, args.experiment_id, args.capture_dir, args.concurrency
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    if args.run_id:
        headers["x-mlflow-run-id"] = args.run_id
    if not args.keep_alive:
        headers["Connection"] = "close"
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
            if not args.keep_alive:
                conn.close()  # the next request connects anew
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)

    elapsed = timed_threads(worker, concurrency)
    print(json.dumps({"traces": n, "concurrency": concurrency, "keep_alive": args.keep_alive, "requests": len(bodies), "failures": len(failures),
                      "seconds": elapsed, "traces_per_s": n / elapsed, "bytes_per_request": sum(map(len, bodies)) // len(bodies)}))


if __name__ == "__main__":
    main()

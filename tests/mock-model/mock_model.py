#!/usr/bin/env python3
"""An OpenAI-compatible model server for the real-gateway tests (`/v1/chat/completions`, streamed
or not). Its answers are scripted by markers in the latest user message, so a test chooses the turn
it wants by what it sends:

- (default)        ask for the `read` tool on hello.txt, then answer with what the tool returned;
- FAIL_MODEL       answer 500 to the first request of that message, 429 to every later one;
- FAILING_TOOL     ask for `read` on a file that does not exist, then answer;
- SPAWN_SUBAGENT   ask for `sessions_spawn` (directly, or through the `tool_call` wrapper when the
                   gateway offers tools that way), then answer;
- NO_TOOL          answer at once, without a tool.

Every answer reports usage OpenAI-style: prompt 1200 tokens of which 1000 cached, 20 completion
tokens (a final answer: 1300, 1100 cached, 30), so the gateway sees input 200, cacheRead 1000.

usage: mock_model.py PORT_FILE   (binds a free 127.0.0.1 port and writes it to PORT_FILE)
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "mock-model"
_failures = {}
_lock = threading.Lock()
_counter = [0]


def next_id():
    with _lock:
        _counter[0] += 1
        return _counter[0]


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def plan(body):
    """What to answer: ("error", status) | ("tool", name, args) | ("text", text)."""
    messages = body.get("messages") or []
    # OpenClaw adds user messages of its own (runtime context) after tool results: skip them.
    def is_prompt(m):
        return m.get("role") == "user" and not text_of(m.get("content")).startswith("<<<BEGIN_OPENCLAW_INTERNAL")

    last_user = max((i for i, m in enumerate(messages) if is_prompt(m)), default=-1)
    prompt = text_of(messages[last_user].get("content")) if last_user >= 0 else ""
    after = messages[last_user + 1:]
    tool_results = [text_of(m.get("content")) for m in after if m.get("role") == "tool"]
    tools = {t.get("function", {}).get("name") for t in body.get("tools") or []}

    if "FAIL_MODEL" in prompt:
        with _lock:
            n = _failures.get(prompt, 0)
            _failures[prompt] = n + 1
        return ("error", 500 if n == 0 else 429)
    if tool_results or "NO_TOOL" in prompt:
        result = tool_results[-1] if tool_results else "nothing to read"
        return ("text", "The file says: " + " ".join(result.split())[:400])
    if "SPAWN_SUBAGENT" in prompt:
        args = {"task": "Read hello.txt in the workspace and report what it says.", "label": "hello-reader"}
        if "sessions_spawn" in tools or "tool_call" not in tools:
            return ("tool", "sessions_spawn", args)
        return ("tool", "tool_call", {"id": "sessions_spawn", "args": args})
    if "FAILING_TOOL" in prompt:
        return ("tool", "read", {"path": "does-not-exist.txt"})
    return ("tool", "read", {"path": "hello.txt"})


def usage(final):
    prompt, cached, completion = (1300, 1100, 30) if final else (1200, 1000, 20)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            return self.json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        self.json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.json(404, {"error": {"message": "not found"}})
        answer = plan(body)
        if answer[0] == "error":
            status = answer[1]
            kind = "server_error" if status == 500 else "rate_limit_exceeded"
            message = "mock: internal error" if status == 500 else "429 RESOURCE_EXHAUSTED: mock quota exceeded"
            headers = {"retry-after": "0"} if status == 429 else {}
            return self.json(status, {"error": {"message": message, "type": kind, "code": kind}}, headers)
        call_id = "call_%012x" % next_id()
        final = answer[0] == "text"
        if final:
            message = {"role": "assistant", "content": answer[1]}
            finish = "stop"
        else:
            function = {"name": answer[1], "arguments": json.dumps(answer[2])}
            message = {"role": "assistant", "content": None,
                       "tool_calls": [{"id": call_id, "type": "function", "function": function}]}
            finish = "tool_calls"
        if not body.get("stream"):
            return self.json(200, {
                "id": "chatcmpl-%d" % next_id(), "object": "chat.completion", "created": int(time.time()),
                "model": MODEL, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage(final),
            })
        self.stream(message, finish, usage(final))

    def stream(self, message, finish, used):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        base = {"id": "chatcmpl-%d" % next_id(), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": MODEL}
        delta = {"role": "assistant"}
        if message.get("content"):
            delta["content"] = message["content"]
        if message.get("tool_calls"):
            delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
        chunks = [
            dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": None}]),
            dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]),
            dict(base, choices=[], usage=used),
        ]
        for chunk in chunks:
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def json(self, status, value, headers=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()

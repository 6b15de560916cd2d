"""An OpenAI-compatible stand-in for a local model server (LM Studio, llama.cpp), for benchmarks.

Every chat completion holds one of N slots *of its model* for a fixed latency, then answers —
LM Studio's "max concurrent predictions" (default 4) is per loaded model, llama.cpp's
`--parallel` per server. Calls beyond the slots queue. The answers are fixed harmless text that
ends with a line `Answer: 42`, which `:debate`'s answer extractor reads.

    python bench/fake_llm_server.py --latency 0.2 --slots 4 --port 0
    # first stdout line: the base URL, e.g. http://127.0.0.1:40123/v1

Endpoints:
  GET  /v1/models             the models (default bench-a, bench-b)
  POST /v1/chat/completions   `stream: true` (SSE chunks, a usage chunk, `data: [DONE]`) or one JSON answer
  GET  /stats                 per model: calls, max_concurrency (requests in flight at once,
                              queued ones included — what the client asked for), max_active
                              (requests holding a slot); and the same over all models
  POST /stats/reset           zero the counters
Anything else (e.g. LM Studio's /api/v0/models) answers 404 at once.
"""

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MODELS = ("bench-a", "bench-b")


def answer_text(model):
    """The fixed answer: a short reasoning line, then the final-answer line."""
    return f"Thinking it through briefly ({model}): the numbers work out.\n\nAnswer: 42"


class _Counters:
    def __init__(self):
        self.calls = 0
        self.in_flight = 0
        self.max_concurrency = 0
        self.active = 0
        self.max_active = 0

    def as_dict(self):
        return {
            "calls": self.calls,
            "max_concurrency": self.max_concurrency,
            "max_active": self.max_active,
            "in_flight": self.in_flight,
        }


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 is too short for a burst of concurrent connections.
    request_queue_size = 128
    daemon_threads = True


class FakeLLMServer:
    """The server; usable in-process (`with FakeLLMServer(...) as s: s.base_url`) or from the CLI."""

    def __init__(self, latency=0.2, slots=4, port=0, models=DEFAULT_MODELS, host="127.0.0.1"):
        self.latency = float(latency)
        self.slots = int(slots)
        self.models = tuple(models)
        self.lock = threading.Lock()
        self.sems = {m: threading.BoundedSemaphore(self.slots) for m in self.models}
        self._reset_locked()
        handler = self._handler()
        self.httpd = _Server((host, port), handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _reset_locked(self):
        self.per_model = {m: _Counters() for m in self.models}
        self.total = _Counters()

    def reset(self):
        with self.lock:
            # Requests still in flight keep being counted out correctly.
            in_flight = {m: c.in_flight for m, c in self.per_model.items()}
            active = {m: c.active for m, c in self.per_model.items()}
            self._reset_locked()
            for m in self.models:
                self.per_model[m].in_flight = in_flight[m]
                self.per_model[m].active = active[m]
            self.total.in_flight = sum(in_flight.values())
            self.total.active = sum(active.values())

    def stats(self):
        with self.lock:
            return {
                "latency": self.latency,
                "slots_per_model": self.slots,
                "models": {m: c.as_dict() for m, c in self.per_model.items()},
                "total": self.total.as_dict(),
            }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # Bookkeeping around one completion.
    def _arrive(self, model):
        with self.lock:
            for c in (self.per_model[model], self.total):
                c.calls += 1
                c.in_flight += 1
                c.max_concurrency = max(c.max_concurrency, c.in_flight)

    def _slot_taken(self, model, delta):
        with self.lock:
            for c in (self.per_model[model], self.total):
                c.active += delta
                c.max_active = max(c.max_active, c.active)

    def _leave(self, model):
        with self.lock:
            for c in (self.per_model[model], self.total):
                c.in_flight -= 1

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers set it: otherwise Nagle's algorithm and delayed ACKs
            # add about 40 ms to each keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _json(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "bench"} for m in server.models
                    ]})
                elif self.path == "/stats":
                    self._json(200, server.stats())
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                if self.path == "/stats/reset":
                    server.reset()
                    return self._json(200, server.stats())
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                try:
                    req = json.loads(raw or b"{}")
                except json.JSONDecodeError as e:
                    return self._json(400, {"error": {"message": f"invalid JSON: {e}"}})
                model = req.get("model")
                if model not in server.models:
                    return self._json(404, {"error": {"message": f"model '{model}' not found"}})
                server._arrive(model)
                try:
                    with server.sems[model]:
                        server._slot_taken(model, +1)
                        try:
                            time.sleep(server.latency)
                        finally:
                            server._slot_taken(model, -1)
                    self._answer(model, req)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    server._leave(model)

            def _answer(self, model, req):
                text = answer_text(model)
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip(" ")
                usage = {
                    "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in req.get("messages", [])),
                    "completion_tokens": len(pieces),
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
                created = int(time.time())
                if not req.get("stream"):
                    return self._json(200, {
                        "id": cid, "object": "chat.completion", "created": created, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": "stop", "logprobs": None}],
                        "usage": usage,
                    })
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()

                def event(choices, **extra):
                    chunk = {"id": cid, "object": "chat.completion.chunk", "created": created,
                             "model": model, "choices": choices, **extra}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

                event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
                for p in pieces:
                    event([{"index": 0, "delta": {"content": p}, "finish_reason": None}])
                event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
                event([], usage=usage)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds each call holds its slot (default 0.2)")
    ap.add_argument("--slots", type=int, default=4, help="concurrent calls per model (default 4)")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids")
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    with FakeLLMServer(args.latency, args.slots, args.port, models) as s:
        print(s.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

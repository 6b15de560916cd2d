"""An OpenAI-compatible fake server that misbehaves on purpose, for the fault-injection matrix in
test_faults.py. One server serves every case: the behaviour is chosen by the requested model id.
It records each `/v1/chat/completions` attempt per model, so a test can check that retries are
bounded. Harmless fixed text only.

Models (the `model` field of the request):

  ok                      a normal streamed answer
  reset-mid-stream        three content chunks, then the socket is closed with a TCP RST
  http-500                HTTP 500 once, then a normal answer
  http-503                HTTP 503 for the first two calls, then a normal answer
  http-500-always         HTTP 500 on every call
  429-retry-after         HTTP 429 with `Retry-After: 1` once, then a normal answer
  stall                   200 and SSE headers, then nothing (until the server closes)
  trickle                 one token per second for about 5 s, then [DONE]
  malformed-json          SSE `data:` lines that are not JSON
  malformed-sse           garbage bytes, no SSE framing at all
  malformed-sse-text      readable UTF-8 text (an HTML error page, NDJSON) with no SSE framing
  empty                   a role chunk, a finish_reason chunk and [DONE]: no content
  model-not-found-lmstudio   400, LM Studio's wording for an unknown model id
  model-not-found-ollama     404, Ollama's wording (its /v1 API wraps the message OpenAI-style)
  context-exceeded        400, llama.cpp server's `exceed_context_size_error`
  context-exceeded-lmstudio  400, LM Studio's context-overflow wording
  huge                    a 10 MiB answer streamed in 16 KiB chunks

`refused` is not a model: it is `closed_base_url()`, a base URL whose port nothing listens on.

Call counters restart with `reset()` (the "fails N times, then succeeds" cases count from there).

Error wordings are copied from what the servers answer (as reported in their issue trackers):
  LM Studio  400 {"error": {"message": "Invalid model identifier \"x\". Please specify a valid
             downloaded model (e.g., …).", "type": "invalid_request_error", "param": "model",
             "code": "model_not_found"}}
  LM Studio  400 "Trying to keep the first N tokens when context the overflows. However, the model
             is loaded with context length of only M tokens, which is not enough. …"
  Ollama     404 {"error": {"message": "model \"x\" not found, try pulling it first",
             "type": "api_error", "param": null, "code": null}}   (native API: {"error": "…"})
  llama.cpp  400 {"error": {"code": 400, "message": "request (N tokens) exceeds the available
             context size (M tokens), try increasing it", "type": "exceed_context_size_error",
             "n_prompt_tokens": N, "n_ctx": M}}
"""

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

from local_server import LocalServer, free_port

OK_ANSWER = "This is a harmless stand-in answer from the fault server. Answer: 5"
PARTIAL_CHUNKS = ["Partial stand-in answer, ", "part one, ", "part two, "]
TRICKLE_WORDS = [f"tick{i} " for i in range(6)]  # first at once, then one per second: ~5 s
HUGE_BYTES = 10 * 1024 * 1024
HUGE_CHUNK = 16 * 1024

# What each case does, for the generated table (docs/reliability.md).
CASES = {
    "ok": "streams a normal answer",
    "refused": "base URL on a closed port (connection refused); the cell asks for `ok`",
    "reset-mid-stream": "3 SSE content chunks, then TCP RST",
    "http-500": "HTTP 500 once, then a normal answer",
    "http-503": "HTTP 503 on the first 2 calls, then a normal answer",
    "http-500-always": "HTTP 500 on every call",
    "429-retry-after": "HTTP 429 + `Retry-After: 1` once, then a normal answer",
    "stall": "200 + SSE headers, then silence",
    "trickle": "one token per second for ~5 s",
    "malformed-json": "SSE `data:` lines that are not JSON",
    "malformed-sse": "garbage bytes, no SSE framing",
    "malformed-sse-text": "200 `text/event-stream`, but UTF-8 text with no `data:` lines (HTML, NDJSON)",
    "empty": "SSE stream with no content, just a stop chunk and [DONE]",
    "model-not-found-lmstudio": "400, LM Studio's `Invalid model identifier` (code `model_not_found`)",
    "model-not-found-ollama": "404, Ollama's `model \"…\" not found, try pulling it first`",
    "context-exceeded": "400, llama.cpp's `exceed_context_size_error`",
    "context-exceeded-lmstudio": "400, LM Studio's `Trying to keep the first N tokens when context the overflows`",
    "huge": "a 10 MiB answer in 16 KiB SSE chunks",
}
MODELS = [m for m in CASES if m != "refused"]


def closed_base_url():
    """A base URL on a port that was free a moment ago and has nobody listening now."""
    return f"http://127.0.0.1:{free_port()}/v1"


class FaultServer(LocalServer):
    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}  # model -> [monotonic time of each chat request]
        self.requests = []  # (model, request body) in arrival order
        self.closing = threading.Event()
        # Authorization headers seen, so a test can show the key was really used.
        self.authorizations = set()
        super().__init__(self._handler())

    def __exit__(self, *exc):
        self.closing.set()  # releases stalled streams
        super().__exit__(*exc)

    def reset(self):
        with self.lock:
            self.attempts.clear()
            self.requests.clear()

    def attempt_times(self, model):
        with self.lock:
            return list(self.attempts.get(model, []))

    def attempt_count(self, model):
        return len(self.attempt_times(model))

    def _record(self, model, body):
        with self.lock:
            times = self.attempts.setdefault(model, [])
            times.append(time.monotonic())
            self.requests.append((model, body))
            return len(times)  # 1 for the first call since reset()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            # -- plain answers ------------------------------------------------------------------

            def _json(self, status, obj, headers=()):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("connection", "close")
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            # -- SSE over chunked transfer encoding, as llama.cpp, LM Studio and Ollama send it --

            def _sse_headers(self):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.flush()
                self.close_connection = True

            def _raw(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _event(self, obj):
                payload = obj if isinstance(obj, str) else json.dumps(obj)
                self._raw(f"data: {payload}\n\n".encode())

            def _content(self, model, text):
                self._event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "model": model,
                             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})

            def _finish(self, model, completion_tokens):
                self._event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "model": model,
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "model": model,
                             "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": completion_tokens}})
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _stream(self, model, pieces, delay=0.0):
                self._sse_headers()
                for i, piece in enumerate(pieces):
                    if delay and i:
                        time.sleep(delay)
                    self._content(model, piece)
                self._finish(model, len(pieces))

            def _ok(self, model):
                self._stream(model, [w + " " for w in OK_ANSWER.split(" ")[:-1]] + [OK_ANSWER.split(" ")[-1]])

            # -- routes -------------------------------------------------------------------------

            def do_GET(self):
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "fault-server"} for m in MODELS]})
                else:
                    self._json(404, {"error": {"message": f"Unexpected endpoint or method. (GET {self.path})"}})

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "request body is not JSON"}})
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": f"Unexpected endpoint or method. (POST {self.path})"}})
                model = str(body.get("model"))
                with fake.lock:
                    fake.authorizations.add(self.headers.get("authorization", ""))
                n = fake._record(model, body)
                try:
                    self._dispatch(model, n)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (an interrupt, a client-side time-out)

            def _dispatch(self, model, n):
                if model == "ok":
                    return self._ok(model)
                if model == "reset-mid-stream":
                    self._sse_headers()
                    for piece in PARTIAL_CHUNKS:
                        self._content(model, piece)
                    time.sleep(0.5)  # let the client read and show the partial text first
                    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if model == "http-500":
                    if n == 1:
                        return self._json(500, {"error": {"message": "Internal Server Error (stand-in failure, once)", "type": "server_error"}})
                    return self._ok(model)
                if model == "http-503":
                    if n <= 2:
                        return self._json(503, {"error": {"message": "Service Unavailable: the model is busy (stand-in)", "type": "server_error"}})
                    return self._ok(model)
                if model == "http-500-always":
                    return self._json(500, {"error": {"message": "Internal Server Error (stand-in failure, always)", "type": "server_error"}})
                if model == "429-retry-after":
                    if n == 1:
                        return self._json(429, {"error": {"message": "Too Many Requests: slow down (stand-in)", "type": "rate_limit_error"}},
                                          headers=[("retry-after", "1")])
                    return self._ok(model)
                if model == "stall":
                    self._sse_headers()
                    fake.closing.wait(300)
                    return
                if model == "trickle":
                    return self._stream(model, TRICKLE_WORDS, delay=1.0)
                if model == "malformed-json":
                    self._sse_headers()
                    self._event('{"choices": [{"index": 0, "delta": {"content": "trunc')
                    self._event("this is not json")
                    self._event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if model == "malformed-sse":
                    self._sse_headers()
                    junk = b"\x89PNG\r\n\x1a\n\x00\x00 garbage \xff\xfe{{{ not an event stream }}}\n<html><body>502 Bad Gateway</body></html>\n"
                    for _ in range(3):
                        self._raw(junk)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if model == "malformed-sse-text":
                    self._sse_headers()
                    self._raw(b"<html><body><h1>502 Bad Gateway</h1></body></html>\n")
                    self._raw(b'{"model":"malformed-sse-text","message":{"role":"assistant","content":"Hello"},"done":false}\n')
                    self._raw(b"this is not an event stream\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if model == "empty":
                    self._sse_headers()
                    self._event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "model": model,
                                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
                    return self._finish(model, 0)
                if model == "model-not-found-lmstudio":
                    return self._json(400, {"error": {
                        "message": f'Invalid model identifier "{model}". Please specify a valid downloaded model (e.g., qwen2.5-1.5b-instruct, llama-3.2-1b-instruct).',
                        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
                if model == "model-not-found-ollama":
                    return self._json(404, {"error": {
                        "message": f'model "{model}" not found, try pulling it first',
                        "type": "api_error", "param": None, "code": None}})
                if model == "context-exceeded":
                    return self._json(400, {"error": {
                        "code": 400,
                        "message": "request (5012 tokens) exceeds the available context size (4096 tokens), try increasing it",
                        "type": "exceed_context_size_error", "n_prompt_tokens": 5012, "n_ctx": 4096}})
                if model == "context-exceeded-lmstudio":
                    return self._json(400, {"error": (
                        "Trying to keep the first 5012 tokens when context the overflows. However, the model is "
                        "loaded with context length of only 4096 tokens, which is not enough. Try to load the "
                        "model with a larger context length, or provide a shorter input")})
                if model == "huge":
                    self._sse_headers()
                    unit = "stand-in text "
                    block = (unit * (HUGE_CHUNK // len(unit) + 1))[:HUGE_CHUNK]
                    sent = 0
                    while sent < HUGE_BYTES:
                        piece = block[: min(HUGE_CHUNK, HUGE_BYTES - sent)]
                        self._content(model, piece)
                        sent += len(piece)
                    return self._finish(model, HUGE_BYTES // 4)
                return self._json(404, {"error": {"message": f"model '{model}' not found"}})

        return Handler


if __name__ == "__main__":
    with FaultServer() as f:
        print(f.base_url, flush=True)
        while True:
            time.sleep(3600)

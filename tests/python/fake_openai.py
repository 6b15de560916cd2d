"""A small OpenAI-compatible server for kernel tests: /v1/models and streaming
/v1/chat/completions. Harmless fixed text only.

Models:
  fake-model  answers "Hello from the fake model." in a few chunks
  slow-model  trickles one word every 0.2 s for about a minute (for interrupt tests)
  numbered-model  answers "Stand-in answer #0001." with a counter, so a test can find each
              answer (and its SHA-256 in a run record) again
  course-model  answers the course's five debate questions: right, except the shirts question
              in a conversation's first turn ("10 hours"); right after any earlier turn and in a
              final call that quotes the rounds — so a debate's accuracy rises from 80% to 100%
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from local_server import LocalServer


MODELS = ("fake-model", "slow-model", "numbered-model", "course-model")

COURSE_ANSWERS = (
    ("first 100 natural numbers", "Pair 1 with 100, 2 with 99 and so on: 50 pairs of 101.\nAnswer: 5050"),
    ("9 women", "Pregnancy cannot be shared between people.\nAnswer: 9 months"),
    ("14 shirts", "The shirts dry in parallel in the same sun.\nAnswer: 5 hours"),
    ("wolf, a goat", "1. Take the goat across.\n2. Go back alone.\n3. Take the wolf across.\n4. Bring the goat back.\n5. Take the cabbage across.\n6. Go back alone.\n7. Take the goat across.\nAnswer: the seven crossings above."),
    ("behind your father", "Stand so that your backs touch.\nAnswer: back to back"),
)


def course_answer(messages):
    """What course-model says: found by the conversation's first user turn (the question)."""
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    first = users[0] if users else ""
    earlier_turns = any(m.get("role") == "assistant" for m in messages)
    final_call = "Round 1" in first and "Agent 1" in first
    for key, answer in COURSE_ANSWERS:
        if key in first:
            if key == "14 shirts" and not earlier_turns and not final_call:
                return "Twice the shirts take twice as long.\nAnswer: 10 hours"
            return answer
    return "Answer: I do not know."


class FakeOpenAI(LocalServer):
    def __init__(self):
        self.open_streams = 0
        self.requests = []
        self.numbered_answers = []
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
                    self._json(200, {"data": [{"id": m} for m in MODELS]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                req = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(req)
                model = req.get("model")
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                if model not in MODELS:
                    return self._json(404, {"error": {"message": f"model '{model}' not found"}})
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                if model == "fake-model":
                    words, delay = ["Hello ", "from ", "the ", "fake ", "model."], 0.0
                elif model == "course-model":
                    answer = course_answer(req.get("messages", []))
                    words, delay = [answer[:12], answer[12:]], 0.0
                elif model == "numbered-model":
                    with fake.lock:
                        answer = f"Stand-in answer #{len(fake.numbered_answers) + 1:04d}."
                        fake.numbered_answers.append(answer)
                    words, delay = [answer[:9], answer[9:]], 0.0
                else:
                    words, delay = [f"word{i} " for i in range(300)], 0.2
                with fake.lock:
                    fake.open_streams += 1
                try:
                    for w in words:
                        chunk = {"model": model, "choices": [{"index": 0, "delta": {"content": w}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if delay:
                            time.sleep(delay)
                    usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(words)}}
                    self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with fake.lock:
                        fake.open_streams -= 1
                self.close_connection = True

        return Handler


if __name__ == "__main__":
    with FakeOpenAI() as f:
        print(f.base_url, flush=True)
        while True:
            time.sleep(3600)

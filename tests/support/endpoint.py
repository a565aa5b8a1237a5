"""A scripted OpenAI-compatible chat-completions server for tests that run real workers:
each answer is a question and answer pair that depends only on the request's seed (so a
retried slot gets the same text and every slot a different one), after a delay; every
`fail_every`-th request gets a 429 with Retry-After or a 500. It counts requests and the
most in flight at once."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_VOCABULARY = "kettle leaf steep oolong boil cup pot matcha infuse aroma grade harvest roast brew sencha chai"
WORDS = _VOCABULARY.split(" ")


class Endpoint:
    def __init__(self, *, delay_s: float = 0.3, fail_every: int = 0) -> None:
        self.delay_s, self.fail_every = delay_s, fail_every
        self.lock = threading.Lock()
        self.requests = self.failed = self.in_flight = self.peak_in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with outer.lock:
                    outer.requests += 1
                    n = outer.requests
                    outer.in_flight += 1
                    outer.peak_in_flight = max(outer.peak_in_flight, outer.in_flight)
                try:
                    time.sleep(outer.delay_s)
                    if outer.fail_every and n % outer.fail_every == 0:
                        with outer.lock:
                            outer.failed += 1
                        if n % (2 * outer.fail_every) == 0:
                            return self._send(500, {"error": {"message": "scripted failure"}})
                        return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"})
                    self._send(200, outer.completion(body))
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (a killed worker)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @staticmethod
    def completion(body: dict) -> dict:
        seed = body.get("seed", 0)
        rng = random.Random(seed)
        question = " ".join(rng.choice(WORDS) for _ in range(8))
        answer = " ".join(rng.choice(WORDS) for _ in range(30))
        text = f"Q: Question {seed}: why {question}?\nA: Answer {seed}: {answer}."
        return {
            "id": f"cmpl-{seed}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 50, "total_tokens": 90},
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

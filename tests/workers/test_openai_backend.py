"""The openai backend against a scripted local server (every failure a real server
can answer with), then against a real OpenAI-compatible server: `transformers serve`
running SmolLM2 converted by workers.generation.convert."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from workers.generation import GenerationError, SamplingParams
from workers.generation.convert import convert
from workers.generation.openai import OpenAIBackend

KEY_ENV = "ASSAY_TEST_OPENAI_KEY"
KEY = "sk-test-4242-secret"
MODEL = "tea-model"
PARAMS = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=16)


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, a str as text; None: a chat completion echoing the prompt
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    usage: bool = True


class FakeServer:
    """An OpenAI-compatible chat-completions endpoint whose answers are scripted per
    prompt (the last message's content): each request for a prompt takes the next
    scripted answer, and a prompt without a script gets a completion echoing it. It
    records every request and counts how many are in flight at once."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Answer]] = defaultdict(deque)
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with fake._lock:
                    fake.requests.append({**body, "authorization": self.headers.get("Authorization")})
                    fake.in_flight += 1
                    fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
                    script = fake.scripts[prompt]
                    answer = script.popleft() if len(script) > 1 else (script[0] if script else Answer())
                time.sleep(answer.delay_s)
                status, payload = fake.respond(self.path, self.headers.get("Authorization"), body, answer)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                # Counted out before answering: once the client has the answer it may send the
                # next request, which must not be seen overlapping this one.
                with fake._lock:
                    fake.in_flight -= 1
                try:
                    self.send_response(status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout under test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def script(self, prompt: str, *answers: Answer) -> None:
        self.scripts[prompt].extend(answers)

    def respond(self, path: str, authorization: str | None, body: dict, answer: Answer) -> tuple[int, Any]:
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        if authorization != f"Bearer {KEY}":
            return 401, {"error": {"message": f"Incorrect API key provided: {authorization}"}}
        if body["model"] != MODEL:
            return 404, {"error": {"message": f"The model `{body['model']}` does not exist."}}
        if answer.status != 200 or answer.body is not None:
            return answer.status, answer.body if answer.body is not None else {"error": {"message": "boom"}}
        text = f"  echo: {body['messages'][-1]['content']} (seed {body['seed']})\n"
        completion: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
        }
        if answer.usage:
            completion["usage"] = {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}
        return 200, completion

    def seen(self, prompt: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["messages"][-1]["content"] == prompt]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def key(monkeypatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY_ENV


@pytest.fixture
def backend(server, key) -> Iterator[OpenAIBackend]:
    engine = OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=key, concurrency=4, backoff_s=0.01)
    yield engine
    engine.close()


def test_it_sends_one_request_per_conversation_and_keeps_input_order(server, backend):
    # The first prompts answer last: completion order is not input order.
    for i in range(6):
        server.script(f"q{i}", Answer(delay_s=0.05 * (6 - i)))
    out = backend.generate([chat(f"q{i}") for i in range(6)], PARAMS, [10, 11, 12, 13, 14, 15])
    assert [g.text for g in out] == [f"echo: q{i} (seed {10 + i})" for i in range(6)]
    assert [g.seed for g in out] == [10, 11, 12, 13, 14, 15]
    assert all(g.tokens == 7 and g.finish_reason == "stop" for g in out)  # tokens from usage
    first = server.seen("q0")[0]
    assert first["messages"] == chat("q0")
    assert (first["model"], first["temperature"], first["top_p"], first["max_tokens"]) == (
        MODEL,
        0.7,
        0.9,
        16,
    )
    assert "response_format" not in first


def test_it_sends_the_json_schema_as_response_format(server, backend):
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    backend.generate([chat("json")], SamplingParams(json_schema=schema), [1])
    assert server.seen("json")[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "sample", "schema": schema, "strict": True},
    }


def test_it_counts_tokens_roughly_without_usage_and_reports_length_stops(server, backend):
    server.script("no-usage", Answer(usage=False))
    truncated = {
        "choices": [{"message": {"role": "assistant", "content": None}, "finish_reason": "length"}],
        "usage": {"completion_tokens": 16},
    }
    server.script("cut", Answer(body=truncated))
    rough, cut = backend.generate([chat("no-usage"), chat("cut")], PARAMS, [1, 2])
    assert rough.text == "echo: no-usage (seed 1)" and 3 <= rough.tokens <= 20
    assert (cut.text, cut.tokens, cut.finish_reason) == ("", 16, "length")


def test_it_never_has_more_requests_in_flight_than_its_concurrency(server, key):
    engine = OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=key, concurrency=3)
    for i in range(12):
        server.script(f"c{i}", Answer(delay_s=0.1))
    chats = [chat(f"c{i}") for i in range(12)]
    # Two threads share the engine, as two tasks in one worker process would.
    results: list[list] = []
    threads = [
        threading.Thread(target=lambda: results.append(engine.generate(chats, PARAMS, list(range(12)))))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    assert len(results) == 2 and all(len(r) == 12 for r in results)
    assert len(server.requests) == 24
    assert server.peak_in_flight == 3  # the bound is reached, and never passed


def test_it_retries_rate_limits_and_server_errors_until_an_answer(server, backend):
    server.script("flaky", Answer(500), Answer(503, body="upstream down"), Answer())
    server.script("busy", Answer(429, headers={"Retry-After": "0"}), Answer())
    flaky, busy = backend.generate([chat("flaky"), chat("busy")], PARAMS, [1, 2])
    assert flaky.text == "echo: flaky (seed 1)" and busy.text == "echo: busy (seed 2)"
    assert len(server.seen("flaky")) == 3 and len(server.seen("busy")) == 2


def test_it_waits_as_long_as_retry_after_says_in_seconds_or_as_a_date(server, backend):
    # An HTTP date has whole seconds: 2 s ahead is between 1 and 2 s from now.
    for retry_after in (lambda: "1", lambda: formatdate(time.time() + 2, usegmt=True)):
        server.script("later", Answer(429, headers={"Retry-After": retry_after()}), Answer())
        started = time.monotonic()
        [out] = backend.generate([chat("later")], PARAMS, [3])
        assert out.text == "echo: later (seed 3)"
        assert 0.9 <= time.monotonic() - started < 10  # the jitter alone (backoff_s=0.01) is milliseconds
        server.scripts.clear()


def test_a_request_that_keeps_timing_out_fails_as_transient_keeping_the_others(server, key):
    engine = OpenAIBackend(
        MODEL, base_url=server.base_url, api_key_env=key, timeout_s=0.3, max_retries=1, backoff_s=0.01
    )
    server.script("slow", Answer(delay_s=1.5))
    with pytest.raises(GenerationError) as e:
        engine.generate([chat("fast-1"), chat("slow"), chat("fast-2")], PARAMS, [1, 2, 3])
    engine.close()
    assert not e.value.permanent
    assert "1 of 3 requests failed" in str(e.value) and "timeout_s=0.3" in str(e.value)
    first, missing, last = e.value.partial
    assert missing is None and first.text == "echo: fast-1 (seed 1)" and last.text == "echo: fast-2 (seed 3)"
    assert len(server.seen("slow")) == 2  # tried, then retried once


def test_server_errors_that_outlast_the_retries_fail_as_transient_with_the_servers_words(server, key):
    engine = OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=key, max_retries=2, backoff_s=0.01)
    server.script("down", Answer(502, body={"error": {"message": "the GPU node is rebooting"}}))
    with pytest.raises(GenerationError) as e:
        engine.generate([chat("down"), chat("up")], PARAMS, [1, 2])
    engine.close()
    assert not e.value.permanent and "HTTP 502" in str(e.value) and "GPU node is rebooting" in str(e.value)
    assert e.value.partial[0] is None and e.value.partial[1].text == "echo: up (seed 2)"
    assert len(server.seen("down")) == 3


def test_a_200_that_is_not_a_chat_completion_is_a_clear_transient_error(server, key):
    engine = OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=key, max_retries=1, backoff_s=0.01)
    server.script("html", Answer(body="<html>a login page</html>"))
    server.script("empty", Answer(body={"choices": []}))
    for prompt in ("html", "empty"):
        with pytest.raises(GenerationError) as e:
            engine.generate([chat(prompt)], PARAMS, [1])
        assert not e.value.permanent and "not a chat completion" in str(e.value)
        assert len(server.seen(prompt)) == 2
    engine.close()


def test_a_wrong_key_is_permanent_and_never_shown(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-777")
    engine = OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=KEY_ENV, concurrency=1)
    with pytest.raises(GenerationError) as e:
        engine.generate([chat(f"k{i}") for i in range(6)], PARAMS, list(range(6)))
    engine.close()
    assert e.value.permanent and "HTTP 401" in str(e.value) and "Incorrect API key" in str(e.value)
    assert "sk-wrong-key-777" not in str(e.value)  # the server echoed it; the message must not
    assert len(server.requests) < 6  # requests not yet sent are dropped after a permanent failure


def test_the_key_comes_from_the_named_environment_variable(server, backend):
    backend.generate([chat("auth")], PARAMS, [1])
    assert server.seen("auth")[0]["authorization"] == f"Bearer {KEY}"


def test_a_missing_key_variable_is_a_clear_permanent_error(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(GenerationError) as e:
        OpenAIBackend(MODEL, base_url=server.base_url, api_key_env=KEY_ENV)
    assert e.value.permanent and KEY_ENV in str(e.value)


def test_an_unknown_model_is_permanent(server, key):
    engine = OpenAIBackend("no-such-model", base_url=server.base_url, api_key_env=key)
    with pytest.raises(GenerationError) as e:
        engine.generate([chat("hi")], PARAMS, [1])
    engine.close()
    assert e.value.permanent and "HTTP 404" in str(e.value) and "does not exist" in str(e.value)


def test_an_unreachable_server_fails_as_transient_after_its_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    engine = OpenAIBackend(MODEL, base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_s=0.01)
    with pytest.raises(GenerationError) as e:
        engine.generate([chat("anyone?")], PARAMS, [1])
    engine.close()
    assert not e.value.permanent and "connection error" in str(e.value) and e.value.partial == [None]


def test_it_refuses_a_base_url_without_a_scheme():
    with pytest.raises(GenerationError) as e:
        OpenAIBackend(MODEL, base_url="localhost:8000/v1")
    assert e.value.permanent and "http" in str(e.value)


# ---- a real OpenAI-compatible server -------------------------------------------------

SERVING_DEPS = ("fastapi", "uvicorn", "openai", "starlette", "rich")


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory) -> Path:
    # The converter is idempotent: test_convert.py's fixture of the same path reuses this
    # folder (or builds it first), so the GGUF is converted once per session.
    return convert(tmp_path_factory.getbasetemp() / "smollm2-hf-float32", dtype="float32")


@pytest.fixture(scope="module")
def served_smollm2(smollm2_folder, tmp_path_factory) -> Iterator[tuple[str, str]]:
    missing = [m for m in SERVING_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"transformers serve needs {', '.join(missing)} (the dev extra installs them)")
    folder = str(smollm2_folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    cli = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(cli), "serve", folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not start within 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"{base}/v1", folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_it_generates_with_a_real_openai_compatible_server(served_smollm2):
    base_url, folder = served_smollm2
    engine = OpenAIBackend(folder, base_url=base_url, concurrency=2, timeout_s=60, max_retries=1)
    questions = ["What is green tea?", "Name a fruit.", "Say hello."]
    chats = [[{"role": "user", "content": q}] for q in questions]
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=16)
    out = engine.generate(chats, greedy, [1, 2, 3])
    [last_alone] = engine.generate(chats[2:], greedy, [3])
    engine.close()
    assert len(out) == 3 and [g.seed for g in out] == [1, 2, 3]
    assert all(len(g.text) > 1 and 0 < g.tokens <= 16 and g.finish_reason in ("stop", "length") for g in out)
    # Greedy answers are reproducible, so each output sits at its own prompt's place.
    assert len({g.text for g in out}) == 3 and last_alone.text == out[2].text


@pytest.mark.slow
def test_a_real_server_refusing_the_model_name_is_permanent(served_smollm2):
    base_url, _ = served_smollm2
    engine = OpenAIBackend("another-model", base_url=base_url, max_retries=1)
    with pytest.raises(GenerationError) as e:
        engine.generate([[{"role": "user", "content": "hi"}]], PARAMS, [1])
    engine.close()
    assert e.value.permanent and "HTTP 4" in str(e.value)

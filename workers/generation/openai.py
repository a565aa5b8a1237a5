"""Any OpenAI-compatible chat-completions server: vLLM serve, SGLang, llama.cpp's server,
`transformers serve` or a hosted API.

One request per conversation, at most `concurrency` of them in flight from this
instance; each retried on 429, 408, 5xx, timeouts and connection errors with
exponential backoff and full jitter, honouring Retry-After."""

from __future__ import annotations

import logging
import os
import random
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from workers.generation.base import Generation, GenerationError, Message, SamplingParams

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429})  # and every 5xx
_BACKOFF_CAP_S = 30.0
_RETRY_AFTER_CAP_S = 120.0  # a server asking for more than this is treated as down, not busy
_EXCERPT = 300  # characters of a server's error text kept in messages


class _Retryable(Exception):
    """One failed attempt that another attempt may fix; `wait_s` is the server's Retry-After."""

    def __init__(self, problem: str, wait_s: float | None = None) -> None:
        super().__init__(problem)
        self.wait_s = wait_s


class OpenAIBackend:
    name: ClassVar[str] = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 5,
        backoff_s: float = 0.5,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise GenerationError(
                f"backend openai: base_url must start with http(s)://: {base_url!r}", permanent=True
            )
        if concurrency < 1 or timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise GenerationError(
                "backend openai: concurrency must be >= 1, timeout_s > 0 and max_retries >= 0", permanent=True
            )
        headers = {}
        self._key = ""
        if api_key_env:
            self._key = os.environ.get(api_key_env, "")
            if not self._key:
                raise GenerationError(
                    f"backend openai: the environment variable {api_key_env} (api_key_env) is not set "
                    "or empty on this worker",
                    permanent=True,
                )
            headers["Authorization"] = f"Bearer {self._key}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._url = f"{self.base_url}/chat/completions"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        # At most `concurrency` requests in flight from this instance, whichever threads call
        # generate (the registry shares one instance per process): the pool's threads send one
        # request at a time, and the semaphore states the bound where requests are sent, so it
        # holds even if the pool changes. The connection pool is as large: no request ever
        # waits for a connection (and times out there).
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai-backend")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        if len(seeds) != len(conversations):
            raise GenerationError("one seed per conversation is required", permanent=True)
        # Set on a permanent failure: a bad key or model fails every request alike, so the
        # requests not yet sent are dropped and the ones waiting to retry give up.
        stop = threading.Event()
        futures = [
            self._pool.submit(self._request, c, params, s, stop)
            for c, s in zip(conversations, seeds, strict=True)
        ]
        partial: list[Generation | None] = [None] * len(futures)
        errors: list[GenerationError] = []
        try:
            for i, future in enumerate(futures):
                try:
                    partial[i] = future.result()
                except CancelledError:
                    pass
                except GenerationError as e:
                    errors.append(e)
                    if e.permanent and not stop.is_set():
                        stop.set()
                        for f in futures:
                            f.cancel()
        except BaseException:
            # Interrupted while waiting (a task's soft time limit, a shutdown): requests not yet
            # sent are dropped and retries give up, so the slots free up for the next batch.
            stop.set()
            for f in futures:
                f.cancel()
            raise
        if not errors:
            return [g for g in partial if g is not None]
        done = sum(g is not None for g in partial)
        first = next((e for e in errors if e.permanent), errors[0])
        raise GenerationError(
            f"{len(conversations) - done} of {len(conversations)} requests failed: {first}",
            permanent=first.permanent,
            partial=partial,
        )

    def _request(
        self, messages: list[Message], params: SamplingParams, seed: int, stop: threading.Event
    ) -> Generation:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
        }
        if params.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "sample", "schema": dict(params.json_schema), "strict": True},
            }
        retry = 0
        while True:
            try:
                return self._attempt(body, seed)
            except _Retryable as e:
                if retry >= self.max_retries:
                    raise GenerationError(
                        f"{self._url}: {e} (after {retry} retries)", permanent=False
                    ) from None
                # Full jitter: retries from many workers spread out instead of arriving together.
                wait = random.uniform(0, min(_BACKOFF_CAP_S, self.backoff_s * 2**retry))  # noqa: S311
                if e.wait_s is not None:
                    wait = max(wait, e.wait_s)
                retry += 1
                logger.warning(
                    "openai backend %s: %s; retry %d/%d in %.1f s",
                    self._url,
                    e,
                    retry,
                    self.max_retries,
                    wait,
                )
                if stop.wait(wait):
                    raise GenerationError(
                        f"{self._url}: {e} (retries abandoned: another request failed for good)",
                        permanent=False,
                    ) from None

    def _attempt(self, body: dict[str, Any], seed: int) -> Generation:
        try:
            with self._slots:
                response = self._client.post(self._url, json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within timeout_s={self.timeout_s:g} s") from None
        except httpx.RequestError as e:  # refused, reset, DNS, a garbled body: the server may come back
            raise _Retryable(f"connection error: {type(e).__name__}: {self._redact(str(e))}") from None
        status = response.status_code
        if status == 200:
            return self._parse(response, seed)
        problem = f"HTTP {status}: {self._excerpt(response)}"
        if status in _RETRY_STATUS or status >= 500:
            raise _Retryable(problem, _retry_after(response.headers.get("Retry-After")))
        # 400, 401, 403, 404, 422...: a wrong model name, key or request heals by no retry.
        raise GenerationError(
            f"{self._url} refused the request for model {self.model!r}: {problem}", permanent=True
        )

    def _parse(self, response: httpx.Response, seed: int) -> Generation:
        try:
            data = response.json()
            choice = data["choices"][0]
            content = choice["message"].get("content")
            if not isinstance(content, str | None):
                raise TypeError("message.content is not a string")
            usage = data.get("usage") or {}
            tokens = usage.get("completion_tokens")
            finish = choice.get("finish_reason")
        except (ValueError, LookupError, TypeError, AttributeError) as e:
            raise _Retryable(
                f"HTTP 200 but not a chat completion ({type(e).__name__}: {e}): {self._excerpt(response)}"
            ) from None
        text = (content or "").strip()
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            tokens = len(text) // 4 + (1 if text else 0)  # a rough count: about 4 characters a token
        return Generation(text, tokens, "length" if finish == "length" else "stop", seed)

    def _excerpt(self, response: httpx.Response) -> str:
        text = response.text
        try:
            error = response.json().get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                text = error["message"]
            elif isinstance(error, str):
                text = error
        except (ValueError, AttributeError):
            pass
        text = " ".join(text.split())
        return self._redact(text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")) or "(empty body)"

    def _redact(self, text: str) -> str:
        # Some servers echo the key they refused; it must never reach logs or the UI.
        return text.replace(self._key, "***") if self._key else text


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (`120`) or an HTTP date, capped; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP_S)

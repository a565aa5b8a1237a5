"""Generation benchmarks (`make bench`): the pipeline against the raw engine, in one run, on
the same prompts, model and sampling parameters. Writes bench/results/generation.json as
CONTRACT's rows {bench, backend, model, device, metric, value, baseline, ratio, params},
ratio = ours / the baseline named in the row.

  (a) transformers on the CPU: pipeline tokens/s (a generation turn: claim, render, generate,
      store candidates with lineage, queue scoring) over a direct backend call.
  (b) openai against a local server: pipeline requests/s over a bare httpx client sending the
      same requests with the same concurrency.
  (c) transformers on the CPU: one batched call over the same prompts one at a time.

The pipeline runs in this process on a fresh SQLite database (the embedded default), with
the scoring messages published to its filesystem queue, as a worker does."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "generation.json"
sys.path.insert(0, str(ROOT))

_tmp = tempfile.mkdtemp(prefix="assay-bench-")
os.environ.update(
    DATABASE_URL=f"sqlite:///{_tmp}/bench.sqlite3",
    ASSAY_DATA_DIR=_tmp,
    DJANGO_SETTINGS_MODULE="curation.settings",
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import torch  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from curation.campaigns.config import parse_config  # noqa: E402
from curation.campaigns.services import campaign_create_or_update, campaign_start  # noqa: E402
from curation.generation.services import generation_turn  # noqa: E402
from curation.sources.services import examples_import  # noqa: E402
from workers.generation import SamplingParams, get_backend  # noqa: E402
from workers.generation.models import DEFAULT_MODEL  # noqa: E402

DATA = ROOT / "curation" / "demo" / "data" / "python_faq.jsonl"
CPU_PROMPTS = 16
CPU_TOKENS = 64
ENDPOINT_REQUESTS = 256
ENDPOINT_CONCURRENCY = 8
ENDPOINT_LATENCY_S = 0.25  # a short completion from a fast server
REPEATS = 3
TOPICS = [
    "lists",
    "dicts",
    "sets",
    "generators",
    "decorators",
    "classes",
    "exceptions",
    "modules",
    "packages",
    "typing",
    "asyncio",
    "threads",
    "files",
    "strings",
    "unicode",
    "testing",
]


def device() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"cpu: {os.cpu_count()} cores, {name}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


def row(backend: str, model: str, metric: str, value: float, baseline: float, params: dict) -> dict:
    return {
        "bench": "generation",
        "backend": backend,
        "model": model,
        "device": device(),
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4),
        "params": params,
    }


def campaign(slug: str, generator: dict[str, Any], count: int):
    config = {
        "slug": slug,
        "source": "bench",
        "count": count,
        "fewshot": 2,
        "diversity": {"topic": ["general", "programming", "design", "library", "extending"]},
        "generator": generator,
    }
    return campaign_create_or_update(config=parse_config(config))[0]


def pipeline(slug: str, generator: dict[str, Any], count: int) -> tuple[float, int, list]:
    """Seconds for the whole campaign through generation turns; tokens; (prompt, seed) pairs."""
    c = campaign(slug, generator, count)
    campaign_start(campaign=c)
    start = time.perf_counter()
    made = 0
    while made < count:  # turn after turn, as a worker takes them from the queue
        n = generation_turn(campaign_id=c.pk)
        if not n:
            raise SystemExit(f"{slug}: a turn made nothing ({made} of {count}); see the log above")
        made += n
    seconds = time.perf_counter() - start
    rows = list(c.candidates.order_by("slot").values_list("rendered_prompt", "seed"))
    tokens = sum(c.batches.values_list("tokens", flat=True))
    return seconds, tokens, rows


def bench_cpu(results: list[dict]) -> None:
    settings.ASSAY["GENERATION_BATCH_SIZE"] = CPU_PROMPTS  # one batch: the same call the direct run makes
    params = {"temperature": 0.8, "top_p": 0.95, "max_tokens": CPU_TOKENS, "seed": 11}
    generator = {"backend": "transformers", "model": DEFAULT_MODEL, "params": params}
    backend = get_backend("transformers", DEFAULT_MODEL)
    sampling = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=CPU_TOKENS)
    backend.generate([[{"role": "user", "content": "Warm up."}]], sampling, [0])
    # Interleaved runs, so drift of a shared machine falls on both sides; rates over all runs.
    ours, direct, prompts = [0, 0.0], [0, 0.0], []  # [tokens, seconds]
    for i in range(REPEATS):
        seconds, tokens, prompts = pipeline(f"bench-cpu-{i}", generator, CPU_PROMPTS)
        ours[0] += tokens
        ours[1] += seconds
        chats = [[{"role": "user", "content": p}] for p, _ in prompts]
        start = time.perf_counter()
        out = backend.generate(chats, sampling, [s for _, s in prompts])
        took = time.perf_counter() - start
        direct[0] += sum(o.tokens for o in out)
        direct[1] += took
        print(
            f"  cpu pipeline {tokens / seconds:.1f} tok/s, "
            f"direct {sum(o.tokens for o in out) / took:.1f} tok/s",
            file=sys.stderr,
        )
    results.append(
        row(
            "transformers",
            DEFAULT_MODEL,
            "pipeline_tokens_per_s",
            ours[0] / ours[1],
            direct[0] / direct[1],
            {**params, "prompts": CPU_PROMPTS, "repeats": REPEATS, "baseline": "direct backend.generate"},
        )
    )
    # (c) one batched call against the same prompts one call each: short chat prompts (decode
    # bound, where batching pays) and the campaign's few-shot prompts (prefill bound on a CPU).
    short = [f"Write one question about Python {t} and answer it." for t in TOPICS]
    for label, convs, seeds in (
        ("short chat prompts", [[{"role": "user", "content": p}] for p in short], list(range(len(short)))),
        ("the campaign's few-shot prompts", chats[:8], [s for _, s in prompts[:8]]),
    ):
        start = time.perf_counter()
        out = backend.generate(convs, sampling, seeds)
        batched = sum(o.tokens for o in out) / (time.perf_counter() - start)
        start, tokens = time.perf_counter(), 0
        for conv, seed in zip(convs, seeds, strict=True):
            tokens += backend.generate([conv], sampling, [seed])[0].tokens
        sequential = tokens / (time.perf_counter() - start)
        print(
            f"  cpu batched {batched:.1f} tok/s, one at a time {sequential:.1f} tok/s ({label})",
            file=sys.stderr,
        )
        results.append(
            row(
                "transformers",
                DEFAULT_MODEL,
                "batched_vs_sequential_tokens_per_s"
                + ("" if label.startswith("short") else "_fewshot_prompts"),
                batched,
                sequential,
                {
                    **params,
                    "prompts": len(convs),
                    "kind": label,
                    "baseline": "the same prompts, one call each",
                },
            )
        )


class Server:
    """An OpenAI-compatible server answering every request after a fixed latency."""

    def __init__(self, latency_s: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(latency_s)
                seed = body.get("seed", 0)
                text = f"Q: Question {seed} about Python?\nA: Answer {seed}, with a few words of explanation."
                data = json.dumps(
                    {
                        "id": f"c{seed}",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def bare_client(base_url: str, prompts: list[tuple[str, int]], params: dict) -> None:
    """The same requests, the same concurrency, nothing else."""
    with httpx.Client(limits=httpx.Limits(max_connections=ENDPOINT_CONCURRENCY), timeout=60) as client:

        def send(item: tuple[str, int]) -> None:
            prompt, seed = item
            body = {
                "model": "bench",
                "messages": [{"role": "user", "content": prompt}],
                "temperature": params["temperature"],
                "top_p": params["top_p"],
                "max_tokens": params["max_tokens"],
                "seed": seed,
            }
            client.post(f"{base_url}/chat/completions", json=body).raise_for_status()

        with ThreadPoolExecutor(ENDPOINT_CONCURRENCY) as pool:
            list(pool.map(send, prompts))


def bench_endpoint(results: list[dict]) -> None:
    settings.ASSAY["GENERATION_BATCH_SIZE"] = 0  # the product's own size for an endpoint
    server = Server(ENDPOINT_LATENCY_S)
    params = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 64, "seed": 21}
    generator = {
        "backend": "openai",
        "model": "bench",
        "base_url": server.base_url,
        "concurrency": ENDPOINT_CONCURRENCY,
        "params": params,
    }
    ours, bare = [], []
    for i in range(REPEATS):
        seconds, _, prompts = pipeline(f"bench-endpoint-{i}", generator, ENDPOINT_REQUESTS)
        ours.append(seconds)
        start = time.perf_counter()
        bare_client(server.base_url, prompts, params)
        bare.append(time.perf_counter() - start)
        print(
            f"  endpoint pipeline {ENDPOINT_REQUESTS / ours[-1]:.2f} req/s, "
            f"bare client {ENDPOINT_REQUESTS / bare[-1]:.2f} req/s",
            file=sys.stderr,
        )
    total = ENDPOINT_REQUESTS * REPEATS
    results.append(
        row(
            "openai",
            "bench (local OpenAI-compatible server)",
            "pipeline_requests_per_s",
            total / sum(ours),
            total / sum(bare),
            {
                **params,
                "requests": ENDPOINT_REQUESTS,
                "concurrency": ENDPOINT_CONCURRENCY,
                "server_latency_s": ENDPOINT_LATENCY_S,
                "repeats": REPEATS,
                "baseline": "bare httpx client, same requests and concurrency",
            },
        )
    )


def main() -> None:
    only = sys.argv[1:] or ["endpoint", "cpu"]
    call_command("migrate", verbosity=0)
    examples_import(path=DATA, source_name="bench", split="train", license="PSF-2.0")
    results: list[dict] = []
    print("generation benchmarks (pipeline against the raw engine)", file=sys.stderr)
    if "endpoint" in only:
        bench_endpoint(results)
    if "cpu" in only:
        bench_cpu(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # Rows measured elsewhere (vLLM on a GPU machine) are kept; this run's rows replace their own.
    kept = []
    if OUT.exists():
        ours = {(r["backend"], r["metric"]) for r in results}
        kept = [r for r in json.loads(OUT.read_text()) if (r.get("backend"), r.get("metric")) not in ours]
    OUT.write_text(json.dumps(kept + results, indent=2) + "\n")
    for r in results:
        print(
            f"{r['backend']:<13}{r['metric']:<38}{r['value']:>10} vs {r['baseline']:>10}  ratio {r['ratio']}"
        )


if __name__ == "__main__":
    main()

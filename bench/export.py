"""Export benchmark (`make bench`, issue 9): writes bench/results/export.json as CONTRACT's rows
{bench, backend, model, device, metric, value, baseline, ratio, params}, ratio = ours / the
baseline named in params["baseline"].

What is measured, for each size (--rows, total rows exported: 100,000 and 1,000,000 by default)
and each format (jsonl, parquet, hf):

  ours      curation.exports.services.export_create(campaign_slugs=[the campaign],
            source_names=[the human source], fmt=..., out=<a new folder>, balance_by="topic",
            seed=0) in a fresh Python process (this script with --child product), the campaign's
            own mixture (max_synthetic 0.3) applying: the records, manifest.json, DATASHEET.md,
            the diversity summary and the Export row, everything the export command does;
  baseline  the floor: the same rows read from the same database by two psycopg 3 server-side
            (named) cursors, fetchmany of BASE_BATCH rows (json/jsonb parsed by orjson), each
            row made into the same record shape (id, prompt, response, metadata, provenance with
            origin, source, license, campaign, generator with the batch's prompt template and
            the seed, depth, parents, critic scores, reviewers, content sha256 of the sample,
            created_at; humans, then synthetic: no seeded interleave, no mixture selection, no
            diversity summary, no manifest) and written with orjson (JSONL, sorted keys, the
            file's sha256 computed as it is written), pyarrow.parquet.ParquetWriter (zstd, the
            product's column schema, metadata and provenance as JSON text, one row group per
            batch) or a pyarrow IPC stream file (what `datasets`' save_to_disk shard is), the
            file's sha256 read back once written; also in a fresh process (--child baseline).

Per run: rows, seconds (the export call alone, or the baseline from connect to file closed and
hashed; Python start-up, django.setup() and imports are timed apart as setup_s), rows/s, and the
peak resident set (VmHWM of /proc/self/status, read by the child at its end: not ru_maxrss, which
Linux carries over from the parent through fork and exec), with the resident set once set up
(rss_ready_mb) beside it. Ours also gives its phases from its progress callback: plan_s (until
the first CHUNK rows are written: inputs, policy, the ranked plan of every row), rows_s (writing
the rows), finish_s (diversity result, datasheet, manifest, file hashes, the Export row), and a
coarse RSS timeline. Rows: rows/s ours over the baseline's (ratio; goal >= 0.8), peak MB ours
over the baseline's, and, when both 100,000 and 1,000,000 ran, peak MB at 1,000,000 over peak
MB at 100,000, ours and the baseline's (goal: flat, about 1). Each run records the load average
before and after and how busy all the machine's cores were meanwhile, since the 2 cores may be
shared. Runs of a format: the baseline, then ours, right after each other.

Data (loaded before anything is timed, its time reported apart as load_s): a throwaway PostgreSQL
database (127.0.0.1:5432, assay_bench_export, dropped at the end unless --keep), migrated by
`migrate`; one train source (bench-human) of 70% of the rows, one campaign (bench-export,
created through campaign_create_or_update from a YAML config: diversity topic x 20, mixture
max_synthetic 0.3 balanced by topic) with 30% of the rows as candidates approved by an expert
(status approved, decided_at, one accept Review each from one of EXPERTS expert users, a score
from each critic of the default panel with its version in campaigns_criticscore, a
GenerationBatch of BATCH_SIZE slots with the campaign's prompt template, metadata {topic,
persona}, the generator's lineage, a rendered few-shot prompt, 3 parents), and a stored 384-d
float32 embedding (TextEmbedding, workers.critics.embeddings.VERSION, so the export encodes
nothing) for every example and candidate. Topics cycle over 20 values on both sides, so every
stratum is exactly 70/30 and the cap keeps every candidate at sizes that are multiples of 200.
Rows go in by COPY (psycopg 3), then VACUUM ANALYZE.
Texts: prompts of 8-24 words and responses of 45-95 words (about 300-600 characters), drawn
from a bigram chain over the words of the Python FAQ demo data (curation/demo/data), one word
in TAIL_EVERY replaced by a word of a long-tail vocabulary of TAIL_WORDS made-up words with
Zipf-like frequencies, fixed seed: English-like n-gram statistics with a growing vocabulary,
so distinct n-grams grow with the rows as in real corpora (the diversity figures of the data
are recorded in params["data"]).

  --rows N,N      sizes (default 100000,1000000); --quick: 20000
  --formats F,F   default jsonl,parquet,hf
  --keep          keep the database at the end (print its URL); --reuse: use a kept one that
                  holds exactly the size asked (one size) instead of loading again
  --profile DIR   instead of the benchmark: our JSONL export at the (one) size under cProfile
                  (DIR/export-profile.txt: top 40 by cumulative and by own time, and .prof),
                  then once more under tracemalloc (DIR/export-memory.txt: the largest
                  allocations still held at the traced peak seen during the rows, and after
                  the plan)
Results merge into export.json: rows of sizes or formats not run this time are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "export.json"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DBNAME = "assay_bench_export"
DATABASE_URL = f"{PG}/{DBNAME}"
FAQ = ROOT / "curation" / "demo" / "data" / "python_faq.jsonl"

SOURCE = "bench-human"
CAMPAIGN = "bench-export"
SYNTHETIC_SHARE = 0.3
TOPICS = [
    "python-basics", "packaging", "testing", "databases", "web", "async", "typing", "performance",
    "data-science", "devops", "security", "networking", "gui", "embedded", "education", "finance",
    "games", "science", "text-processing", "windows",
]  # fmt: skip
PERSONAS = ["novice", "student", "engineer", "researcher", "maintainer"]
EXPERTS = 8
BATCH_SIZE = 32  # candidate slots per GenerationBatch
FORMATS = ("jsonl", "parquet", "hf")
SIZES = (100_000, 1_000_000)
QUICK = 20_000
BASE_BATCH = 1_000  # the baseline's fetchmany and write batch (the product writes CHUNK = 1000 too)
LOAD_CHUNK = 50_000
TAIL_EVERY = 12  # one word in this many from the long-tail vocabulary
TAIL_WORDS = 50_000
SEED = 20261209
DIM = 384
GOAL_RATIO = 0.8

CHILD_ENV = {
    "DJANGO_SETTINGS_MODULE": "curation.settings",
    "DATABASE_URL": DATABASE_URL,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "LOG_LEVEL": "WARNING",
    "DEBUG": "0",
}


# Machine and versions -------------------------------------------------------------------------


def device() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {os.cpu_count()} cores, {name}"


def ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def tree() -> dict[str, Any]:
    """The commit measured, and when the work tree differs from it, which files and a digest of
    the difference (the code under curation/ and workers/ may be changing between two runs)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    try:
        sha = git("rev-parse", "HEAD").strip()
        dirty = sorted(git("diff", "HEAD", "--name-only", "--", "curation", "workers").split())
        new = sorted(git("ls-files", "--others", "--exclude-standard", "--", "curation", "workers").split())
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown"}
    if not dirty and not new:
        return {"commit": sha}
    digest = hashlib.sha256(git("diff", "HEAD", "--", "curation", "workers").encode())
    for path in new:
        digest.update(path.encode() + b"\0" + (ROOT / path).read_bytes())
    return {
        "commit": sha + "+dirty",
        "changed": dirty + new,
        "changes_sha256": digest.hexdigest()[:16],
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("django", "psycopg", "pyarrow", "orjson", "numpy", "datasets"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def machine_busy() -> float:
    """CPU seconds every process on the machine has used so far (idle and iowait not)."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """VmRSS once a second in a daemon thread: a coarse timeline of the run's memory. Also
    the largest VmHWM of this process's children, read every quarter second: the export's
    forked reader of the human rows (ru_maxrss cannot tell it: a child's starts from its
    parent's, and a `git` the export runs at its end carries the parent's over)."""

    def __init__(self, period: float = 1.0) -> None:
        self.t0, self.period, self.samples = time.perf_counter(), period, []
        self.child_peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self.period / 4):
            self.child_peak_kb = max(self.child_peak_kb, *self._children_hwm_kb())
            ticks += 1
            if ticks % 4 == 0:
                self.samples.append(
                    (round(time.perf_counter() - self.t0, 1), round(status_kb("VmRSS") / 1024))
                )

    @staticmethod
    def _children_hwm_kb() -> list[int]:
        out = [0]
        for children in Path("/proc/self/task").glob("*/children"):
            for pid in children.read_text().split():
                try:
                    text = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue  # gone meanwhile
                out += [int(line.split()[1]) for line in text.splitlines() if line.startswith("VmHWM:")]
        return out

    def stop(self, points: int = 40) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join()
        step = max(1, len(self.samples) // points)
        return self.samples[::step]


# The database ----------------------------------------------------------------------------------


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def db_create() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DBNAME}"')


def db_drop() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


def db_exists() -> bool:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DBNAME]).fetchone() is not None


def campaign_yaml(count: int) -> str:
    topics = ", ".join(TOPICS)
    personas = ", ".join(PERSONAS)
    return (
        f"slug: {CAMPAIGN}\nname: Export bench\ntask: instruction\nsource: {SOURCE}\ncount: {count}\n"
        f"diversity:\n  topic: [{topics}]\n  persona: [{personas}]\n"
        f"mixture:\n  max_synthetic: {SYNTHETIC_SHARE}\n  balance_by: topic\n"
    )


def setup_product(count: int) -> dict[str, Any]:
    """Schema, the source, the campaign (through the product's config and service), the experts."""
    from django.core.management import call_command

    from curation.accounts.services import user_create
    from curation.campaigns.config import load_yaml
    from curation.campaigns.models import Campaign
    from curation.campaigns.services import campaign_create_or_update
    from curation.sources.models import Split
    from curation.sources.services import source_get_or_create

    call_command("migrate", "--noinput", verbosity=0)
    source = source_get_or_create(name=SOURCE, split=Split.TRAIN, license="CC-BY-4.0")
    campaign, _ = campaign_create_or_update(config=load_yaml(campaign_yaml(count), origin="bench"))
    Campaign.objects.filter(pk=campaign.pk).update(status="done")
    experts = [user_create(username=f"bench-expert-{i}", role="expert").pk for i in range(EXPERTS)]
    return {"source": source.pk, "campaign": campaign.pk, "config": campaign.config, "experts": experts}


class Texts:
    """English-like texts: a bigram chain over the FAQ's words, with long-tail words mixed in."""

    def __init__(self) -> None:
        import numpy as np

        docs = []
        for line in FAQ.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            docs.append(f"{r['prompt']} {r['response']}".split())
        vocab = sorted({w for d in docs for w in d})
        index = {w: i for i, w in enumerate(vocab)}
        seq = np.array([index[w] for d in docs for w in d], dtype=np.int64)
        nxt = np.roll(seq, -1)  # the last word of a text leads to the first of the next
        order = np.argsort(seq, kind="stable")
        self.succ = nxt[order]
        self.count = np.bincount(seq, minlength=len(vocab))
        self.start = np.cumsum(self.count) - self.count
        firsts = [0] + [i + 1 for i, w in enumerate(seq[:-1]) if vocab[w][-1:] in ".?!"]
        self.starts = np.unique(seq[firsts])
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
        rng = np.random.default_rng(SEED)
        tail = set()
        while len(tail) < TAIL_WORDS:
            k = int(rng.integers(2, 5))
            tail.add("".join(syllables[j] for j in rng.integers(0, len(syllables), k)))
        self.vocab_size = len(vocab)
        self.words = np.array(vocab + sorted(tail), dtype=object)

    def make(self, rng, n: int, lo: int, hi: int) -> list[str]:
        import numpy as np

        lengths = rng.integers(lo, hi + 1, n)
        width = int(lengths.max())
        out = np.empty((n, width), dtype=np.int64)
        cur = rng.choice(self.starts, n)
        for j in range(width):
            out[:, j] = cur
            pick = (rng.random(n) * self.count[cur]).astype(np.int64)
            cur = self.succ[self.start[cur] + pick]
        mask = rng.random((n, width)) < 1 / TAIL_EVERY
        ranks = np.minimum(rng.zipf(1.3, int(mask.sum())) - 1, TAIL_WORDS - 1)
        out[mask] = self.vocab_size + ranks
        words = self.words
        return [" ".join(words[row[:k]]) for row, k in zip(out, lengths.tolist(), strict=True)]


def _vectors(rng, centres, topics):
    import numpy as np

    x = centres[topics] + 0.08 * rng.standard_normal((len(topics), DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype("<f4")


def _sha(sample: dict) -> str:
    canonical = json.dumps(sample, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


TABLES = [
    "sources_example",
    "campaigns_candidate",
    "campaigns_generationbatch",
    "campaigns_criticscore",
    "review_review",
    "scoring_textembedding",
    "exports_export",
]


def load(total: int, ids: dict[str, Any]) -> dict[str, Any]:
    """TOTAL rows: humans and approved candidates with their lineage, reviews, scores and
    embeddings, by COPY; the tables emptied first."""
    import numpy as np
    import psycopg

    from workers.critics import CRITICS, embeddings
    from workers.critics.text import text_key

    n_s = round(total * SYNTHETIC_SHARE)
    n_h = total - n_s
    texts = Texts()
    rng = np.random.default_rng(SEED + total)
    centres = rng.standard_normal((len(TOPICS), DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    config = ids["config"]
    gen = config["generator"]
    generator = json.dumps({"backend": gen["backend"], "model": gen["model"], "params": gen["params"]})
    template = config["prompt_template"]
    panel = sorted((c.name, c.version) for c in CRITICS.values())
    experts = ids["experts"]
    now = datetime.now(UTC)
    seen: set[str] = set()
    emb_id = 0
    t0 = time.perf_counter()
    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        conn.execute("UPDATE campaigns_campaign SET count = %s WHERE id = %s", [max(n_s, 1), ids["campaign"]])
        cur = conn.cursor()
        # Humans.
        few_shot: list[tuple[str, str]] = []
        for lo in range(0, n_h, LOAD_CHUNK):
            n = min(LOAD_CHUNK, n_h - lo)
            prompts = [p + "?" for p in texts.make(rng, n, 8, 24)]
            responses = texts.make(rng, n, 45, 95)
            topics = (np.arange(lo, lo + n) % len(TOPICS)).tolist()
            levels = rng.integers(0, 3, n).tolist()
            vectors = _vectors(rng, centres, np.asarray(topics))
            if not few_shot:
                few_shot = list(zip(prompts[:60], responses[:60], strict=True))
            with cur.copy(
                "COPY sources_example (id, source_id, external_id, kind, prompt, response, messages, "
                "metadata, content_sha256, text_key, row_number, created_at) FROM STDIN"
            ) as copy:
                for i in range(n):
                    pk = lo + i + 1
                    p, r = prompts[i], responses[i]
                    sha = _sha({"prompt": p, "response": r})
                    while sha in seen:  # never in practice; the unique constraint would refuse it
                        r += " again"
                        sha = _sha({"prompt": p, "response": r})
                    seen.add(sha)
                    meta = {"topic": TOPICS[topics[i]], "level": ("easy", "medium", "hard")[levels[i]]}
                    copy.write_row(
                        (
                            pk,
                            ids["source"],
                            "",
                            "instruction",
                            p,
                            r,
                            None,
                            json.dumps(meta),
                            sha,
                            text_key(r),
                            pk,
                            now,
                        )
                    )
            _embeddings(cur, [(emb_id + i + 1, lo + i + 1, None, vectors[i].tobytes()) for i in range(n)])
            emb_id += n
            print(f"  humans {lo + n:,}/{n_h:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
        seen.clear()
        # Generation batches.
        batches = (n_s + BATCH_SIZE - 1) // BATCH_SIZE
        with cur.copy(
            "COPY campaigns_generationbatch (id, campaign_id, index, start, size, status, attempts, error, "
            "prompt_template, claimed_by, started_at, finished_at, updated_at, tokens) FROM STDIN"
        ) as copy:
            for b in range(batches):
                size = min(BATCH_SIZE, n_s - b * BATCH_SIZE)
                copy.write_row(
                    (
                        b + 1,
                        ids["campaign"],
                        b,
                        b * BATCH_SIZE,
                        size,
                        "done",
                        1,
                        "",
                        template,
                        "",
                        now,
                        now,
                        now,
                        size * 150,
                    )
                )
        # Candidates, their reviews, scores and embeddings.
        score_id = 0
        for lo in range(0, n_s, LOAD_CHUNK):
            n = min(LOAD_CHUNK, n_s - lo)
            prompts = [p + "?" for p in texts.make(rng, n, 8, 24)]
            responses = texts.make(rng, n, 45, 95)
            topics = (np.arange(lo, lo + n) % len(TOPICS)).tolist()
            personas = rng.integers(0, len(PERSONAS), n).tolist()
            parents = rng.integers(1, max(n_h, 1) + 1, (n, 3)).tolist()
            shots = rng.integers(0, len(few_shot), (n, 3)).tolist()
            scores = np.round(rng.uniform(0.55, 1.0, (n, len(panel))), 6).tolist()
            priority = rng.random(n).tolist()
            seconds = np.round(rng.uniform(4, 90, n), 1).tolist()
            vectors = _vectors(rng, centres, np.asarray(topics))
            with cur.copy(
                "COPY campaigns_candidate (id, campaign_id, batch_id, slot, import_key, external_id, prompt, "
                "response, messages, raw_output, finish_reason, revised_from_id, metadata, generator, seed, "
                "rendered_prompt, parents, generation_depth, content_sha256, text_key, status, reasons, "
                "priority, edited_response, edited_prompt, needed, decisions, holders, decided_at, "
                "created_at) FROM STDIN"
            ) as copy:
                for i in range(n):
                    slot = lo + i
                    pk = slot + 1
                    p, r = prompts[i], responses[i]
                    sha = _sha({"prompt": p, "response": r})
                    while sha in seen:
                        r += " again"
                        sha = _sha({"prompt": p, "response": r})
                    seen.add(sha)
                    meta = {"topic": TOPICS[topics[i]], "persona": PERSONAS[personas[i]]}
                    shown = "\n\n".join(
                        f"Question: {q}\nAnswer: {a}" for q, a in (few_shot[k] for k in shots[i])
                    )
                    rendered = f"{shown}\n\nWrite a new question about {meta['topic']} and its answer.\n"
                    raw = f"Question: {p}\nAnswer: {r}"
                    copy.write_row(
                        (
                            pk,
                            ids["campaign"],
                            slot // BATCH_SIZE + 1,
                            slot,
                            None,
                            "",
                            p,
                            r,
                            None,
                            raw,
                            "stop",
                            None,
                            json.dumps(meta),
                            generator,
                            1000 + slot,
                            rendered,
                            json.dumps([f"example-{x}" for x in parents[i]]),
                            1,
                            sha,
                            text_key(r),
                            "approved",
                            "[]",
                            priority[i],
                            None,
                            None,
                            1,
                            1,
                            0,
                            now,
                            now,
                        )
                    )
            with cur.copy(
                "COPY review_review (id, candidate_id, reviewer_id, decision, edited_response, "
                "edited_prompt, reasons, note, seconds_spent, edit_distance, created_at) FROM STDIN"
            ) as copy:
                for i in range(n):
                    pk = lo + i + 1
                    copy.write_row(
                        (
                            pk,
                            pk,
                            experts[pk % len(experts)],
                            "accept",
                            None,
                            None,
                            "[]",
                            "",
                            seconds[i],
                            0,
                            now,
                        )
                    )
            with cur.copy(
                "COPY campaigns_criticscore (id, candidate_id, critic, version, score, passed, label, "
                "rationale, details, created_at) FROM STDIN"
            ) as copy:
                for i in range(n):
                    for (name, version), score in zip(panel, scores[i], strict=True):
                        score_id += 1
                        copy.write_row((score_id, lo + i + 1, name, version, score, True, "", "", "{}", now))
            _embeddings(cur, [(emb_id + i + 1, None, lo + i + 1, vectors[i].tobytes()) for i in range(n)])
            emb_id += n
            print(f"  candidates {lo + n:,}/{n_s:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for table in TABLES:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "  # noqa: S608
                f"FROM {table}"
            )
        conn.commit()
    copy_s = time.perf_counter() - t0
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        for table in TABLES[:-1]:
            conn.execute(f"VACUUM ANALYZE {table}")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        version = conn.execute(
            "SELECT count(*) FROM scoring_textembedding WHERE version = %s", [embeddings.VERSION]
        ).fetchone()[0]
    if version != total:
        raise SystemExit(f"load: {version} embeddings of version {embeddings.VERSION}, expected {total}")
    return {
        "humans": n_h,
        "synthetic": n_s,
        "critics_per_candidate": len(panel),
        "copy_s": round(copy_s, 1),
        "load_s": round(time.perf_counter() - t0, 1),
        "database_mb": round(size / 2**20),
    }


def _embeddings(cur, rows: list[tuple]) -> None:
    from workers.critics import embeddings

    with cur.copy(
        "COPY scoring_textembedding (id, example_id, candidate_id, version, vector) "
        "FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "int8", "int8", "varchar", "bytea"])
        for pk, example, candidate, vector in rows:
            copy.write_row((pk, example, candidate, embeddings.VERSION, vector))


def loaded_rows() -> int | None:
    """Rows a kept database holds (humans + approved candidates), None when it has no schema."""
    import psycopg

    try:
        with psycopg.connect(DATABASE_URL) as conn:
            h = conn.execute("SELECT count(*) FROM sources_example").fetchone()[0]
            s = conn.execute("SELECT count(*) FROM campaigns_candidate WHERE status = 'approved'").fetchone()[
                0
            ]
            return h + s
    except psycopg.Error:
        return None


# The children ----------------------------------------------------------------------------------


def child_product(fmt: str, out: Path, mode: str, report: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    import django

    django.setup()
    from curation.exports.services import export_create

    ready = time.perf_counter()
    rss_ready = status_kb("VmRSS")
    marks: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if "first" not in marks:
            marks["first"] = (now, done, status_kb("VmRSS"))
        if done == total:
            marks["last"] = (now, done, status_kb("VmRSS"))
        if tracer is not None:
            tracer.tick(done, total)

    tracer = Tracer() if mode == "tracemalloc" else None
    profiler = None
    if mode == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
    sampler = RssSampler()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    export = export_create(
        campaign_slugs=[CAMPAIGN],
        source_names=[SOURCE],
        fmt=fmt,
        out=out,
        balance_by="topic",
        seed=0,
        progress=progress,
    )
    if profiler:
        profiler.disable()
    end = time.perf_counter()
    timeline = sampler.stop()
    rows = sum(f["rows"] for f in export.files)
    result: dict[str, Any] = {
        "rows": rows,
        "seconds": end - start,
        "setup_s": ready - t0,
        "rss_ready_mb": rss_ready / 1024,
        # The export's forked reader of the human rows (curation/exports/parallel.py) has a
        # peak of its own (pages it shares with this process counted in both); the peak is
        # the larger of the two.
        "own_peak_mb": status_kb("VmHWM") / 1024,
        "child_peak_mb": sampler.child_peak_kb / 1024,
        "counts": export.manifest["counts"],
        "diversity": export.manifest["diversity"]["whole"],
        "rss_timeline": timeline,
        "out_bytes": sum((out / f["name"]).stat().st_size for f in export.files),
    }
    result["peak_mb"] = max(result["own_peak_mb"], result["child_peak_mb"])
    if "first" in marks and "last" in marks:
        (t1, d1, r1), (t2, d2, r2) = marks["first"], marks["last"]
        per_row = (t2 - t1) / max(d2 - d1, 1)
        result["phases"] = {
            "plan_s": round(t1 - start - per_row * d1, 2),
            "rows_s": round(t2 - t1 + per_row * d1, 2),
            "finish_s": round(end - t2, 2),
            "rss_after_plan_mb": round(r1 / 1024),
            "rss_after_rows_mb": round(r2 / 1024),
        }
    if profiler:
        _profile_report(profiler, report, result)
    if tracer is not None:
        tracer.report(report, result)
    return result


def _profile_report(profiler, report: Path, result: dict[str, Any]) -> None:
    import io
    import pstats

    profiler.dump_stats(str(report.with_suffix(".prof")))
    buf = io.StringIO()
    buf.write(
        f"cProfile of export_create, JSONL, {result['rows']:,} rows: {result['seconds']:.1f} s under the "
        f"profiler (phases {result.get('phases')})\n\n"
    )
    for key in ("cumulative", "tottime"):
        buf.write(f"==== top 40 by {key} ====\n")
        pstats.Stats(profiler, stream=buf).sort_stats(key).print_stats(40)
    report.write_text(buf.getvalue(), encoding="utf-8")


class Tracer:
    """tracemalloc over the export: a snapshot after the plan (first progress call) and
    each time the traced memory has grown by a quarter since the last one, the largest kept."""

    def __init__(self) -> None:
        import tracemalloc

        tracemalloc.start(6)
        self.first = None
        self.best = None
        self.best_size = 0
        self.best_at = 0
        self.snaps = 0

    def tick(self, done: int, total: int) -> None:
        import tracemalloc

        current, _ = tracemalloc.get_traced_memory()
        if self.first is None:
            self.first = (done, current, tracemalloc.take_snapshot())
            self.best, self.best_size, self.best_at = self.first[2], current, done
            return
        if current > self.best_size * 1.25 or (done == total and current > self.best_size):
            self.best, self.best_size, self.best_at = tracemalloc.take_snapshot(), current, done
            self.snaps += 1

    def report(self, report: Path, result: dict[str, Any]) -> None:
        import tracemalloc

        _, peak = tracemalloc.get_traced_memory()
        lines = [
            f"tracemalloc over export_create, JSONL, {result['rows']:,} rows "
            f"({result['seconds']:.1f} s traced); "
            f"traced peak over the whole call {peak / 2**20:.1f} MB; VmHWM {result['peak_mb']:.0f} MB "
            f"(with tracemalloc's own overhead)",
            "",
        ]
        cases = []
        if self.first:
            cases.append((f"after the plan ({self.first[0]:,} rows written)", self.first[1], self.first[2]))
        if self.best is not None and self.best_at != (self.first or (None,))[0]:
            cases.append(
                (f"largest seen during the rows ({self.best_at:,} rows written)", self.best_size, self.best)
            )
        for title, size, snap in cases:
            snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            lines.append(f"==== {title}: {size / 2**20:.1f} MB traced ====")
            lines.append("-- by line (the allocating line) --")
            for stat in snap.statistics("lineno")[:30]:
                frame = stat.traceback[0]
                lines.append(
                    f"{stat.size / 2**20:9.1f} MB {stat.count:>10,} blocks  "
                    f"{_short(frame.filename)}:{frame.lineno}"
                )
            lines.append("-- by traceback (6 frames, innermost last), top 12 --")
            for stat in snap.statistics("traceback")[:12]:
                lines.append(f"{stat.size / 2**20:9.1f} MB {stat.count:>10,} blocks")
                for frame in stat.traceback:
                    lines.append(f"              {_short(frame.filename)}:{frame.lineno}")
            lines.append("")
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result["traced_peak_mb"] = round(peak / 2**20, 1)


def _short(path: str) -> str:
    for marker in ("/site-packages/", str(ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


HUMANS_SQL = """
SELECT e.id, e.external_id, e.prompt, e.response, e.messages, e.metadata, e.created_at, s.name, s.license
FROM sources_example e JOIN sources_source s ON s.id = e.source_id
WHERE s.name = ANY(%s) AND s.split = 'train'
"""

SYNTHETIC_SQL = """
SELECT c.id, c.external_id, c.prompt, c.response, c.messages, c.edited_prompt, c.edited_response,
       c.metadata, c.generator, c.seed, c.parents, c.generation_depth, c.created_at,
       k.slug, s.name, coalesce(b.prompt_template, ''),
       (SELECT json_object_agg(x.critic, x.score ORDER BY x.critic)
        FROM campaigns_criticscore x WHERE x.candidate_id = c.id),
       (SELECT array_agg(u.username ORDER BY u.username)
        FROM review_review r JOIN accounts_user u ON u.id = r.reviewer_id
        WHERE r.candidate_id = c.id AND r.decision <> 'skip'),
       (SELECT u.username FROM review_adjudication a JOIN accounts_user u ON u.id = a.by_id
        WHERE a.candidate_id = c.id)
FROM campaigns_candidate c
JOIN campaigns_campaign k ON k.id = c.campaign_id
JOIN sources_source s ON s.id = k.source_id
LEFT JOIN campaigns_generationbatch b ON b.id = c.batch_id
WHERE k.slug = ANY(%s) AND c.status = 'approved' AND c.generation_depth <= 1
"""


def child_baseline(fmt: str, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    import orjson
    import psycopg
    import pyarrow as pa
    import pyarrow.parquet as pq
    from psycopg.types.json import set_json_loads

    ready = time.perf_counter()
    rss_ready = status_kb("VmRSS")
    sampler = RssSampler()
    start = time.perf_counter()
    dumps, sort = orjson.dumps, orjson.OPT_SORT_KEYS

    def sample_of(prompt, response, messages):
        return {"messages": messages} if messages is not None else {"prompt": prompt, "response": response}

    def sha(sample) -> str:
        return hashlib.sha256(dumps(sample, option=sort)).hexdigest()

    def humans(rows):
        for pk, ext, prompt, response, messages, meta, created, source, license_ in rows:
            sample = sample_of(prompt, response, messages)
            yield {
                "id": ext or f"example-{pk}",
                **sample,
                "metadata": meta,
                "provenance": {
                    "origin": "human",
                    "source": source,
                    "license": license_,
                    "campaign": None,
                    "generator": None,
                    "generation_depth": 0,
                    "parents": [],
                    "critics": {},
                    "review": None,
                    "content_sha256": sha(sample),
                    "created_at": created,
                },
            }

    def synthetic(rows):
        from rapidfuzz.distance import Levenshtein

        for (
            pk,
            ext,
            prompt,
            response,
            messages,
            e_prompt,
            e_response,
            meta,
            generator,
            seed,
            parents,
            depth,
            created,
            campaign,
            source,
            template,
            critics,
            reviewers,
            adjudicated,
        ) in rows:
            edited = e_prompt is not None or e_response is not None
            if messages is not None and edited:
                messages = [dict(m) for m in messages]
                for m in messages:
                    if m["role"] == "assistant" and e_response is not None:
                        m["content"] = e_response
            sample = sample_of(
                e_prompt if e_prompt is not None else prompt,
                e_response if e_response is not None else response,
                messages,
            )
            review = {
                "decision": "edit" if edited else "accept",
                "reviewers": reviewers or [],
                "edited": edited,
                "edit_distance": sum(
                    Levenshtein.distance(o.split(), e.split())
                    for o, e in ((prompt, e_prompt), (response, e_response))
                    if e is not None
                ),
            }
            if adjudicated:
                review["adjudicated_by"] = adjudicated
            if edited:
                review["original"] = {"prompt": prompt, "response": response}
            yield {
                "id": ext or f"candidate-{pk}",
                **sample,
                "metadata": meta,
                "provenance": {
                    "origin": "synthetic_edited" if edited else "synthetic",
                    "source": source,
                    "campaign": campaign,
                    "generator": {**generator, "prompt_template": template, "seed": seed},
                    "generation_depth": depth,
                    "parents": parents,
                    "critics": critics or {},
                    "review": review,
                    "content_sha256": sha(sample),
                    "created_at": created,
                },
            }

    def batches():
        with psycopg.connect(DATABASE_URL) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            set_json_loads(orjson.loads, conn)
            for sql, build in ((HUMANS_SQL, humans), (SYNTHETIC_SQL, synthetic)):
                names = [SOURCE] if build is humans else [CAMPAIGN]
                with conn.cursor(name=f"bench_{build.__name__}") as cur:
                    cur.itersize = BASE_BATCH
                    cur.execute(sql, [names])
                    while rows := cur.fetchmany(BASE_BATCH):
                        yield list(build(rows))

    out.mkdir(parents=True)
    n = 0
    if fmt == "jsonl":
        digest = hashlib.sha256()
        option = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
        with (out / "data.jsonl").open("wb") as fh:
            for batch in batches():
                data = b"".join([dumps(r, option=option) for r in batch])
                fh.write(data)
                digest.update(data)
                n += len(batch)
        file_sha = digest.hexdigest()
    else:
        message = pa.struct([("role", pa.string()), ("content", pa.string())])
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("prompt", pa.string()),
                ("response", pa.string()),
                ("messages", pa.list_(message)),
                ("metadata", pa.string()),
                ("provenance", pa.string()),
            ]
        )
        path = out / ("data.parquet" if fmt == "parquet" else "data-00000-of-00001.arrow")
        writer = (
            pq.ParquetWriter(path, schema, compression="zstd")
            if fmt == "parquet"
            else pa.ipc.new_stream(str(path), schema)
        )
        for batch in batches():
            columns = [
                pa.array([r["id"] for r in batch], pa.string()),
                pa.array([r.get("prompt") for r in batch], pa.string()),
                pa.array([r.get("response") for r in batch], pa.string()),
                pa.array([r.get("messages") for r in batch], schema.field("messages").type),
                pa.array([dumps(r["metadata"] or {}, option=sort) for r in batch], pa.string()),
                pa.array([dumps(r["provenance"], option=sort) for r in batch], pa.string()),
            ]
            writer.write_batch(pa.record_batch(columns, schema=schema))
            n += len(batch)
        writer.close()
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        file_sha = digest.hexdigest()
    end = time.perf_counter()
    timeline = sampler.stop()
    return {
        "rows": n,
        "seconds": end - start,
        "setup_s": ready - t0,
        "rss_ready_mb": rss_ready / 1024,
        "peak_mb": status_kb("VmHWM") / 1024,
        "sha256": file_sha,
        "rss_timeline": timeline,
        "out_bytes": sum(p.stat().st_size for p in out.iterdir()),
    }


def child_main(args: argparse.Namespace) -> None:
    os.environ.update(CHILD_ENV)
    sys.path.insert(0, str(ROOT))
    out = Path(args.dir)
    if args.child == "baseline":
        result = child_baseline(args.fmt, out)
    else:
        result = child_product(
            args.fmt, out, args.child, Path(args.report) if args.report else Path("/dev/null")
        )
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")


def run_child(kind: str, fmt: str, tmp: Path, report: Path | None = None) -> dict[str, Any]:
    """One export in a fresh process; its result with the machine's load meanwhile."""
    out = tmp / f"{kind}-{fmt}"
    shutil.rmtree(out, ignore_errors=True)
    result_file = tmp / f"{kind}-{fmt}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--fmt", fmt, "--dir", str(out)]
    cmd += ["--result", str(result_file)]
    if report:
        cmd += ["--report", str(report)]
    env = {**os.environ, **CHILD_ENV}
    load_before = os.getloadavg()[0]
    busy_before = machine_busy()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {fmt} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy() - busy_before
    result = json.loads(result_file.read_text())
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    result.update(
        {
            "process_wall_s": round(wall, 2),
            "process_cpu_s": round(cpu, 2),
            "machine_load": {
                "cores": os.cpu_count(),
                "busy_cores_all": round(busy / wall, 2),
                "busy_cores_this_process": round(cpu / wall, 2),
                "load_average_1min_before": round(load_before, 2),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
            },
        }
    )
    shutil.rmtree(out, ignore_errors=True)
    return result


# Rows ------------------------------------------------------------------------------------------


def rps(r: dict[str, Any]) -> float:
    return r["rows"] / r["seconds"]


def row(
    metric: str, value: float, baseline: float, params: dict[str, Any], env: dict[str, Any]
) -> dict[str, Any]:
    return {
        "bench": "export",
        "backend": "postgresql",
        "model": "",
        "device": env["device"],
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4) if baseline else None,
        "params": {**params, **env["params"]},
    }


def _run_params(r: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "rows",
        "setup_s",
        "rss_ready_mb",
        "peak_mb",
        "own_peak_mb",
        "child_peak_mb",
        "process_wall_s",
        "process_cpu_s",
        "out_bytes",
    )
    out = {k: round(r[k], 2) if isinstance(r[k], float) else r[k] for k in keep if k in r}
    out["seconds"] = round(r["seconds"], 2)
    out["rows_per_s"] = round(rps(r), 1)
    for k in ("phases", "machine_load", "rss_timeline", "counts"):
        if k in r:
            out[k] = r[k]
    return out


BASELINE = (
    "psycopg 3 named cursors (fetchmany {b}) over the same rows, the same record shape built in Python, "
    "written with {w}"
)
WRITERS = {
    "jsonl": "orjson (sorted keys), sha256 as written",
    "parquet": "pyarrow ParquetWriter (zstd, the product's schema, a row group per batch), sha256 read back",
    "hf": "a pyarrow IPC stream file (the save_to_disk shard), sha256 read back",
}


def size_rows(n: int, fmt: str, ours: dict, base: dict, data: dict, env: dict) -> list[dict[str, Any]]:
    common = {
        "format": fmt,
        "rows": n,
        "baseline": BASELINE.format(b=BASE_BATCH, w=WRITERS[fmt]),
        "ours": "export_create(balance_by='topic', seed=0), the campaign's mixture (max_synthetic 0.3), "
        "in a fresh process",
        "data": data,
    }
    return [
        row(
            f"{fmt}, {n:,} rows: rows/s (goal: ratio >= {GOAL_RATIO})",
            rps(ours),
            rps(base),
            {**common, "ours_run": _run_params(ours), "baseline_run": _run_params(base)},
            env,
        ),
        row(
            f"{fmt}, {n:,} rows: peak MB (VmHWM of the process, or of its forked reader if larger)",
            ours["peak_mb"],
            base["peak_mb"],
            {
                **common,
                "lower_is_better": True,
                "ours_rss_ready_mb": round(ours["rss_ready_mb"]),
                "baseline_rss_ready_mb": round(base["rss_ready_mb"]),
            },
            env,
        ),
    ]


def growth_rows(runs: dict, env: dict) -> list[dict[str, Any]]:
    """Peak MB at the largest size over the smallest, per format, ours and the baseline's."""
    out = []
    sizes = sorted({n for n, _ in runs})
    if len(sizes) < 2:
        return out
    small, large = sizes[0], sizes[-1]
    for fmt in FORMATS:
        if (small, fmt) in runs and (large, fmt) in runs:
            (o1, b1), (o2, b2) = runs[(small, fmt)], runs[(large, fmt)]
            out.append(
                row(
                    f"{fmt}: peak MB at {large:,} rows over peak MB at {small:,} (goal: flat, about 1)",
                    o2["peak_mb"] / o1["peak_mb"],
                    b2["peak_mb"] / b1["peak_mb"],
                    {
                        "format": fmt,
                        "lower_is_better": True,
                        "value_is": "ours: peak at the large size / peak at the small size",
                        "baseline_is": "the baseline's, the same way",
                        "ours_peak_mb": [round(o1["peak_mb"]), round(o2["peak_mb"])],
                        "baseline_peak_mb": [round(b1["peak_mb"]), round(b2["peak_mb"])],
                    },
                    env,
                )
            )
    return out


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new rows, and the old ones of a metric not measured this time."""
    fresh = {r["metric"] for r in new}
    return [r for r in old if r.get("metric") not in fresh] + new


# Main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", default=",".join(map(str, SIZES)), help="sizes, total rows (comma-separated)"
    )
    parser.add_argument("--quick", action="store_true", help=f"one size of {QUICK:,} rows")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="use a kept database of the one size asked")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="profile our JSONL export instead")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--child", choices=("product", "baseline", "cprofile", "tracemalloc"), help=argparse.SUPPRESS
    )
    parser.add_argument("--fmt", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    try:
        import orjson  # noqa: F401
    except ImportError:
        raise SystemExit("bench/export.py: the baseline needs orjson (pip install orjson)") from None
    sizes = [QUICK] if args.quick else sorted(int(s.replace("_", "")) for s in args.rows.split(","))
    formats = [f for f in args.formats.split(",") if f]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise SystemExit(f"--formats: {bad[0]} is not one of {', '.join(FORMATS)}")
    if args.profile and len(sizes) != 1:
        raise SystemExit("--profile: give one size (--rows N or --quick)")
    if args.reuse and len(sizes) != 1:
        raise SystemExit("--reuse: give one size (--rows N or --quick)")

    os.environ.update(CHILD_ENV)
    sys.path.insert(0, str(ROOT))
    reuse = args.reuse and db_exists() and loaded_rows() == sizes[0]
    if not reuse:
        db_create()
    import django

    django.setup()
    from django.db import connection

    ids = setup_product(round(sizes[0] * SYNTHETIC_SHARE) or 1)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    connection.close()
    env = {
        "device": device(),
        "params": {
            "machine": {"device": device(), "ram_gb": ram_gb(), "cores": os.cpu_count()},
            "postgres": pg_version,
            "versions": versions(),
            **tree(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }
    rows: list[dict[str, Any]] = []
    runs: dict[tuple[int, str], tuple[dict, dict]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp_name:
            tmp = Path(tmp_name)
            for n in sizes:
                if reuse:
                    data = {"rows": n, "loaded": "reused a kept database"}
                    print(f"{n:,} rows: reusing {DATABASE_URL}", flush=True)
                else:
                    print(f"{n:,} rows: loading", flush=True)
                    data = {"rows": n, **load(n, ids)}
                    print(f"  loaded in {data['load_s']} s ({data['database_mb']} MB)", flush=True)
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    for kind, name in (
                        ("cprofile", "export-profile.txt"),
                        ("tracemalloc", "export-memory.txt"),
                    ):
                        print(f"  {kind}: our jsonl export", flush=True)
                        state = tree()
                        r = run_child(kind, "jsonl", tmp, args.profile / name)
                        report = args.profile / name
                        report.write_text(
                            f"code: {json.dumps(state)}\n{report.read_text()}", encoding="utf-8"
                        )
                        print(
                            f"    {r['rows']:,} rows in {r['seconds']:.1f} s, phases {r.get('phases')}, "
                            f"wrote {args.profile / name}",
                            flush=True,
                        )
                    continue
                for fmt in formats:
                    base = run_child("baseline", fmt, tmp)
                    print(
                        f"  {fmt} baseline: {base['rows']:,} rows in {base['seconds']:.1f} s "
                        f"({rps(base):,.0f} rows/s), peak {base['peak_mb']:.0f} MB",
                        flush=True,
                    )
                    ours = run_child("product", fmt, tmp)
                    print(
                        f"  {fmt} ours:     {ours['rows']:,} rows in {ours['seconds']:.1f} s "
                        f"({rps(ours):,.0f} rows/s), peak {ours['peak_mb']:.0f} MB, "
                        f"ratio {rps(ours) / rps(base):.3f}, phases {ours.get('phases')}",
                        flush=True,
                    )
                    if ours["rows"] != base["rows"]:
                        print(
                            f"  note: ours wrote {ours['rows']:,} rows, the baseline {base['rows']:,}",
                            flush=True,
                        )
                    data.setdefault("diversity_whole", ours["diversity"])
                    runs[(n, fmt)] = (ours, base)
                    rows += size_rows(n, fmt, ours, base, data, env)
    finally:
        if args.keep:
            print(f"kept: {DATABASE_URL}")
        else:
            db_drop()
    if args.profile:
        return
    rows += growth_rows(runs, env)
    old = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merge(old, rows), indent=2) + "\n")
    print(
        f"\n{'rows':>10} {'format':>8} {'ours s':>8} {'ours r/s':>9} {'base s':>8} {'base r/s':>9} "
        f"{'ratio':>6} {'ours MB':>8} {'base MB':>8}"
    )
    for (n, fmt), (o, b) in sorted(runs.items()):
        print(
            f"{n:>10,} {fmt:>8} {o['seconds']:>8.1f} {rps(o):>9,.0f} {b['seconds']:>8.1f} {rps(b):>9,.0f} "
            f"{rps(o) / rps(b):>6.3f} {o['peak_mb']:>8.0f} {b['peak_mb']:>8.0f}"
        )
    for r in growth_rows(runs, env):
        print(f"{r['metric']}: ours {r['value']:.2f}, baseline {r['baseline']:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

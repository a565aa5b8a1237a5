"""Critics benchmarks (`make bench`): writes bench/results/critics.json as CONTRACT's rows
{bench, backend, model, device, metric, value, baseline, ratio, params}, ratio = ours / the
baseline named in params["baseline"].

  - stage docs/s on this machine, through the scoring service on a fresh SQLite database (the
    embedded default), against the raw engines on the same texts with nothing stored:
      stage 1, the cheap critics (form and exact copies);
      stage 2, near copies, contamination and embeddings (signatures, bands, n-grams and
      vectors stored, index lookups, verification), the example indexes already built;
  - MinHash signatures/s against datasketch's MinHash.bulk, rensa, and LSH lookup latency at
    100,000 and 1,000,000 indexed texts (bench/critics_minhash.py);
  - embedding throughput against a raw sentence-transformers encode, vector search latency
    (bench/critics_embeddings.py)."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "critics.json"
sys.path.insert(0, str(ROOT))

_tmp = tempfile.mkdtemp(prefix="assay-bench-critics-")
os.environ.update(
    DATABASE_URL=f"sqlite:///{_tmp}/bench.sqlite3",
    ASSAY_DATA_DIR=_tmp,
    DJANGO_SETTINGS_MODULE="curation.settings",
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402
import numpy as np  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from curation.campaigns.config import parse_config  # noqa: E402
from curation.campaigns.imports import candidates_import  # noqa: E402
from curation.campaigns.services import campaign_create_or_update  # noqa: E402
from curation.scoring import indexes  # noqa: E402
from curation.scoring.services import candidates_score  # noqa: E402
from curation.sources.services import examples_import  # noqa: E402
from workers.critics import build_panel, embeddings, minhash, ngrams  # noqa: E402
from workers.critics.base import Item  # noqa: E402
from workers.critics.text import text_key  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import critics_embeddings  # noqa: E402
import critics_minhash  # noqa: E402

DATA = ROOT / "curation" / "demo" / "data" / "python_faq.jsonl"
CANDIDATES = 512
STAGE2 = {"near_duplicate", "contamination", "semantic"}


class _NoCorpus:
    def sightings(self, items):
        return {}


def _texts() -> list[tuple[str, str]]:
    """Candidate-like answers: sentences of the FAQ recombined, one word in six replaced."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    sentences = [s for r in rows for s in r["response"].replace("\n", " ").split(". ") if len(s.split()) > 4]
    vocab = sorted({w for s in sentences for w in s.split()})
    rng = random.Random(7)  # noqa: S311 - reproducible test texts, not secrets
    out = []
    for i in range(CANDIDATES):
        words = " ".join(rng.sample(sentences, 6)).split()
        for j in range(0, len(words), 6):
            words[j] = rng.choice(vocab)
        out.append((f"Question {i} about {rng.choice(rows)['prompt']}", " ".join(words) + "."))
    return out


def _row(metric: str, value: float, baseline: float, baseline_name: str, params: dict[str, Any]) -> dict:
    return {
        "bench": "critics",
        "backend": "cpu",
        "model": embeddings.MODEL_NAME if "stage 2" in metric else "",
        "device": critics_minhash.device(),
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4),
        "params": {"baseline": baseline_name, **params},
    }


def stages() -> list[dict]:
    call_command("migrate", verbosity=0)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    for name, split, part in (("bench", "train", rows[:140]), ("bench-heldout", "heldout", rows[140:])):
        path = Path(_tmp) / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        examples_import(path=path, source_name=name, split=split)
    indexes.examples_index()
    indexes.examples_embed()
    texts = _texts()
    embeddings.get_encoder().encode(["warm up"])

    def pipeline(slug: str, critics: dict) -> float:
        campaign, _ = campaign_create_or_update(
            config=parse_config({"slug": slug, "source": "bench", "count": 1, "critics": critics})
        )
        path = Path(_tmp) / f"{slug}.jsonl"
        path.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in texts))
        candidates_import(path=path, campaign=campaign)
        ids = list(campaign.candidates.order_by("pk").values_list("pk", flat=True))
        start = time.perf_counter()
        for i in range(0, len(ids), 64):  # as the workers do: tasks of SCORING_BATCH_SIZE
            candidates_score(candidate_ids=ids[i : i + 64])
        return len(ids) / (time.perf_counter() - start)

    off = {"enabled": False}
    only_cheap = pipeline("cheap", {name: off for name in STAGE2})
    both = pipeline("both", {})
    items = [Item(i, p, r, text_key(r)) for i, (p, r) in enumerate(texts)]
    start = time.perf_counter()
    for critic in [c for c in build_panel() if c.stage == 1 and c.name != "duplicate"]:
        critic.judge(items, _NoCorpus())
    raw_cheap = len(items) / (time.perf_counter() - start)
    start = time.perf_counter()
    answers = [r for _, r in texts]
    minhash.band_keys(minhash.signatures(answers))
    for r in answers:
        ngrams.ngram_hashes(r)
    embeddings.get_encoder().encode(answers)
    raw_index = len(items) / (time.perf_counter() - start)
    # Stage 2 alone: the time of both stages less the cheap stage's, per document.
    stage2 = 1 / (1 / both - 1 / only_cheap)
    params = {"candidates": CANDIDATES, "examples": len(rows), "batch": 64, "database": "sqlite"}
    return [
        _row(
            "stage 1 (cheap critics) docs/s",
            only_cheap,
            raw_cheap,
            "the same critics called directly",
            params,
        ),
        _row(
            "stage 2 (near copies, contamination, embeddings) docs/s",
            stage2,
            raw_index,
            "signatures, n-grams and MiniLM vectors computed directly (nothing stored or looked up)",
            params,
        ),
    ]


def db_lookups() -> list[dict]:
    """Near-copy lookup as scoring does it, in the stored index (the LshBand table, SQLite):
    one text's signature, its 32 band keys looked up, the suspects loaded and verified. The
    index holds the FAQ's examples plus filler texts up to 100,000 and 1,000,000 (random band
    keys written straight into the table: their text plays no part in a lookup's cost)."""
    from django.db import connection, transaction

    from curation.scoring.corpus import DatabaseCorpus
    from curation.scoring.models import LshBand
    from curation.sources.models import Example

    texts = [r for _, r in _texts()][:200]
    items = [Item(10_000_000 + i, "q", t, text_key(t)) for i, t in enumerate(texts)]
    filler_owner = Example.objects.order_by("pk").values_list("pk", flat=True).first()
    rng = np.random.default_rng(11)  # filler keys
    table = LshBand._meta.db_table
    out, indexed, base = [], LshBand.objects.values("example_id", "candidate_id").distinct().count(), None
    for size in (100_000, 1_000_000):
        # Sorted keys: the index B-tree is filled in order (random order took minutes per million).
        keys = np.sort(rng.integers(0, 2**63 - 1, size=(size - indexed) * minhash.BANDS, dtype=np.int64))
        with transaction.atomic(), connection.cursor() as cursor:  # one commit, not one per row
            for i in range(0, len(keys), 1_000_000):
                rows = [(int(k), filler_owner) for k in keys[i : i + 1_000_000]]
                cursor.executemany(f"INSERT INTO {table} (key, example_id) VALUES (%s, %s)", rows)  # noqa: S608
        indexed = size
        corpus = DatabaseCorpus(None)
        corpus._near(items[:10])  # warm the page cache
        times = []
        for item in items:
            start = time.perf_counter()
            corpus._near([item])
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        median = times[len(times) // 2]
        base = base or median
        out.append(
            _row(
                f"near-copy lookup in the stored index, {size:,} texts: median ms per text",
                median,
                base,
                "the same lookup at 100,000 texts",
                {
                    "indexed_texts": size,
                    "band_rows": size * minhash.BANDS,
                    "queries": len(items),
                    "p90_ms": round(times[int(len(times) * 0.9)], 3),
                    "database": "sqlite",
                },
            )
        )
    return out


def main() -> None:
    results = []
    for part in (stages, db_lookups, critics_minhash.rows, critics_embeddings.rows):
        start = time.perf_counter()
        results += part()
        print(f"{part.__module__}.{part.__name__}: {time.perf_counter() - start:.0f} s", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['metric']}: {r['value']} vs {r['baseline']} ({r['params']['baseline']}): x{r['ratio']}")


if __name__ == "__main__":
    main()

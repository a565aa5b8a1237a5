"""The stored indexes the critics look things up in: MinHash signatures with their LSH
bands, held-out word n-grams, and MiniLM embeddings. Each text is indexed once, when it is
first needed, and the rows outlive any worker; a version change re-indexes the texts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef

from curation.campaigns.models import Candidate
from curation.scoring.models import HeldoutNgram, LshBand, TextEmbedding, TextSignature
from curation.sources.models import Example, Source, Split
from workers.critics import embeddings, minhash, ngrams

SIGNATURE_VERSION = f"{minhash.VERSION}.{ngrams.VERSION}"
CHUNK = 256  # texts indexed per round trip: bounded memory on any corpus size


def examples_index() -> int:
    """Sign every example not signed at the current version (held-out ones also get their
    n-grams). Under the sources' row locks, so two workers never index the same rows."""
    n = 0
    stale = TextSignature.objects.filter(example__isnull=False).exclude(version=SIGNATURE_VERSION)
    # Every scoring batch asks; the answer is almost always "nothing to do", so find that out
    # before locking the sources.
    if not stale.exists() and not Example.objects.filter(_unsigned("example")).exists():
        return 0
    while True:
        with transaction.atomic():
            list(Source.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
            if stale.exists():
                ids = list(stale.values_list("example_id", flat=True)[:10_000])
                _forget(Example, ids)
            todo = list(
                Example.objects.filter(_unsigned("example"))
                .order_by("pk")
                .values_list("pk", "response", "source__split")[:CHUNK]
            )
            if not todo:
                return n
            heldout = [(pk, text) for pk, text, split in todo if split == Split.HELDOUT]
            counts = _ngrams_store(heldout)
            _sign([("example", pk, text) for pk, text, _ in todo], counts)
            n += len(todo)


def candidates_index(candidates: Sequence[Candidate]) -> None:
    """Sign the given candidates (their final text) once; already signed ones are left alone."""
    done = set(
        TextSignature.objects.filter(candidate__in=candidates, version=SIGNATURE_VERSION).values_list(
            "candidate_id", flat=True
        )
    )
    todo = [c for c in candidates if c.pk not in done]
    if not todo:
        return
    with transaction.atomic():
        _forget(Candidate, [c.pk for c in todo])
        _sign([("candidate", c.pk, c.final_response) for c in todo], {})


def _unsigned(owner: str) -> Exists:
    return ~Exists(TextSignature.objects.filter(**{owner: OuterRef("pk")}))


def _forget(model: type, ids: list[int]) -> None:
    owner = "example" if model is Example else "candidate"
    for table in (TextSignature, LshBand):
        table.objects.filter(**{f"{owner}_id__in": ids}).delete()
    if owner == "example":
        HeldoutNgram.objects.filter(example_id__in=ids).delete()


def _sign(texts: list[tuple[str, int, str]], ngram_counts: dict[int, int]) -> None:
    sigs = minhash.signatures([t for _, _, t in texts])
    keys = minhash.band_keys(sigs)
    signatures, bands = [], []
    for (owner, pk, _), sig, row in zip(texts, sigs, keys, strict=True):
        signatures.append(
            TextSignature(
                **{f"{owner}_id": pk},
                version=SIGNATURE_VERSION,
                minhash=minhash.to_bytes(sig),
                ngrams=ngram_counts.get(pk, 0),
            )
        )
        if not wordless(sig):  # texts without words share every band: they are nobody's near copy
            bands += [LshBand(**{f"{owner}_id": pk}, key=int(k)) for k in set(row.tolist())]
    TextSignature.objects.bulk_create(signatures)
    LshBand.objects.bulk_create(bands, batch_size=2000)


def wordless(sig: np.ndarray) -> bool:
    """A text without words: its signature is all maxima and shares every band."""
    return bool((sig == np.iinfo(sig.dtype).max).all())


def _ngrams_store(examples: list[tuple[int, str]]) -> dict[int, int]:
    counts, rows = {}, []
    for pk, text in examples:
        hashes = ngrams.ngram_hashes(text)
        counts[pk] = len(hashes)
        rows += [HeldoutNgram(example_id=pk, key=int(h)) for h in hashes]
    HeldoutNgram.objects.bulk_create(rows, batch_size=2000)
    return counts


def examples_embed() -> int:
    """Embed every example without a current embedding (once; the rows are kept)."""
    n = 0
    stale = TextEmbedding.objects.filter(example__isnull=False).exclude(version=embeddings.VERSION)
    if not stale.exists() and not Example.objects.filter(_unembedded("example")).exists():
        return 0
    stale.delete()
    while True:
        with transaction.atomic():
            list(Source.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
            todo = list(
                Example.objects.filter(_unembedded("example"))
                .order_by("pk")
                .values_list("pk", "response")[:CHUNK]
            )
            if not todo:
                return n
            _embed([("example", pk, text) for pk, text in todo])
            n += len(todo)


def candidates_embed(candidates: Sequence[Candidate]) -> dict[int, np.ndarray]:
    """The candidates' embeddings, computing only the missing ones."""
    have = {
        cid: embeddings.from_bytes(bytes(v))
        for cid, v in TextEmbedding.objects.filter(
            candidate__in=candidates, version=embeddings.VERSION
        ).values_list("candidate_id", "vector")
    }
    todo = [c for c in candidates if c.pk not in have]
    if todo:
        TextEmbedding.objects.filter(candidate__in=todo).delete()
        have.update(_embed([("candidate", c.pk, c.final_response) for c in todo]))
    return have


def _unembedded(owner: str) -> Exists:
    return ~Exists(TextEmbedding.objects.filter(**{owner: OuterRef("pk")}))


def _embed(texts: Iterable[tuple[str, int, str]]) -> dict[int, np.ndarray]:
    texts = list(texts)
    vectors = embeddings.get_encoder().encode([t for _, _, t in texts])
    TextEmbedding.objects.bulk_create(
        [
            TextEmbedding(**{f"{owner}_id": pk}, version=embeddings.VERSION, vector=embeddings.to_bytes(v))
            for (owner, pk, _), v in zip(texts, vectors, strict=True)
        ],
        ignore_conflicts=True,
    )
    return {pk: v for (_, pk, _), v in zip(texts, vectors, strict=True)}

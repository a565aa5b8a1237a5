"""The human reference of a source: its embeddings' k-means clusters (what coverage counts
against), its whole-corpus figures and its bottom-k sample. Fitted once per source content;
a source that gains or loses examples is refitted on the next update."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from django.db import IntegrityError, transaction

from curation.metrics.models import ReferenceClusters
from curation.scoring import indexes
from curation.scoring.models import TextEmbedding
from curation.sources.models import Example, Source
from workers.critics import embeddings
from workers.metrics import coverage, sample
from workers.metrics.summary import Summary

VERSION = f"{embeddings.VERSION}.k{coverage.MAX_CLUSTERS}.t{coverage.TAIL_MASS}.c{coverage.COVERED}"
CHUNK = 2000
LABEL = 80  # characters of a cluster's representative prompt


def reference_key(ref: ReferenceClusters) -> str:
    return f"{ref.pk}:{ref.examples}:{ref.version}"


def reference_ensure(source: Source) -> ReferenceClusters | None:
    """The source's current reference, fitted now if missing or stale; None for a source
    without examples."""
    indexes.examples_embed()
    count = TextEmbedding.objects.filter(example__source=source, version=embeddings.VERSION).count()
    if not count:
        return None
    row = ReferenceClusters.objects.filter(source=source).first()
    if row and row.version == VERSION and row.examples == count:
        return row
    ids, X = source_vectors(source)
    clusters = coverage.fit(X, seed=0)
    prompts = dict(
        Example.objects.filter(pk__in=[ids[i] for i in clusters.representatives]).values_list("pk", "prompt")
    )
    whole = Summary(embeddings.DIM)
    for texts, vectors in source_chunks(source):
        whole.add(texts, vectors)
    fields = {
        "version": VERSION,
        "examples": len(ids),
        "centroids": clusters.centroids.astype("<f4").tobytes(),
        "counts": [int(c) for c in clusters.counts],
        "labels": [_label(prompts.get(ids[i], "")) for i in clusters.representatives],
        "sample": sample.bottom_k(ids),
        "metrics": whole.result(),
    }
    try:  # the fit is deterministic: of two workers fitting at once, either result is the same
        with transaction.atomic():
            row, _ = ReferenceClusters.objects.update_or_create(source=source, defaults=fields)
    except IntegrityError:
        row = ReferenceClusters.objects.get(source=source)
    return row


def centroids(ref: ReferenceClusters) -> np.ndarray:
    return np.frombuffer(bytes(ref.centroids), dtype="<f4").reshape(len(ref.counts), -1).astype(np.float32)


def source_vectors(source: Source) -> tuple[list[int], np.ndarray]:
    rows = (
        TextEmbedding.objects.filter(example__source=source, version=embeddings.VERSION)
        .order_by("example_id")
        .values_list("example_id", "vector")
    )
    ids, vectors = [], []
    for pk, v in rows.iterator(chunk_size=CHUNK):
        ids.append(pk)
        vectors.append(embeddings.from_bytes(bytes(v)))
    return ids, np.stack(vectors) if vectors else np.zeros((0, embeddings.DIM), np.float32)


def source_chunks(source: Source) -> Iterator[tuple[list[str], np.ndarray]]:
    """The source's responses with their stored embeddings, in id order, CHUNK at a time."""
    last = 0
    while True:
        part = list(
            Example.objects.filter(source=source, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "response")[:CHUNK]
        )
        if not part:
            return
        last = part[-1][0]
        found = example_vectors([pk for pk, _ in part])
        kept = [(text, found[pk]) for pk, text in part if pk in found]
        yield [t for t, _ in kept], np.stack([v for _, v in kept]) if kept else np.zeros((0, embeddings.DIM))


def example_vectors(ids: list[int]) -> dict[int, np.ndarray]:
    rows = TextEmbedding.objects.filter(example_id__in=ids, version=embeddings.VERSION)
    return {pk: embeddings.from_bytes(bytes(v)) for pk, v in rows.values_list("example_id", "vector")}


def candidate_vectors(ids: list[int]) -> dict[int, np.ndarray]:
    rows = TextEmbedding.objects.filter(candidate_id__in=ids, version=embeddings.VERSION)
    return {pk: embeddings.from_bytes(bytes(v)) for pk, v in rows.values_list("candidate_id", "vector")}


def _label(prompt: str) -> str:
    prompt = " ".join(prompt.split())
    return prompt if len(prompt) <= LABEL else prompt[: LABEL - 1] + "…"

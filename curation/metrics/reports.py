"""`diversity_report` and the diversity summary of exports: every metric over a whole corpus
(a source, a campaign, an export), read once in chunks beside the critics' stored embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from curation.campaigns.models import Campaign, Candidate
from curation.core.errors import InvalidInput, NotFound
from curation.exports.models import Export
from curation.metrics.models import ALL_DEPTHS, DiversityInclusion, DiversityState
from curation.metrics.reference import centroids, example_vectors, reference_ensure, source_chunks
from curation.metrics.services import diversity_update
from curation.scoring import indexes
from curation.scoring.models import TextEmbedding
from curation.sources.models import Source
from workers.critics import embeddings
from workers.metrics import collapse
from workers.metrics.summary import Summary

CHUNK = 1000
DIGITS = 6  # figures are rounded so a manifest is byte-identical on a rerun


def rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, DIGITS) if isinstance(v, float) else v for k, v in figures.items()}


def source_report(*, name: str) -> dict[str, Any]:
    source = Source.objects.filter(name=name).first()
    if source is None:
        raise NotFound(f"no source named {name!r}")
    if not source.examples.exists():
        raise InvalidInput(f"source {name!r} has no examples")
    indexes.examples_embed()
    whole = Summary(embeddings.DIM)
    for texts, vectors in source_chunks(source):
        whole.add(texts, vectors)
    figures = rounded(whole.result())
    return {
        "scope": {"source": name, "split": source.split},
        **figures,
        "groups": [{"name": name, **figures}],
    }


def campaign_report(*, slug: str) -> dict[str, Any]:
    """Every candidate the critics are done with, overall and by generation depth, beside the
    human data of the campaign's source; the alarms are those the dashboard shows."""
    campaign = Campaign.objects.select_related("source").filter(slug=slug).first()
    if campaign is None:
        raise NotFound(f"no campaign {slug!r}")
    diversity_update(campaign_id=campaign.pk, force=True)  # brings the stored figures up to date first
    ref = reference_ensure(campaign.source)
    cents, real = (centroids(ref), np.asarray(ref.counts)) if ref else (None, None)
    whole = Summary(embeddings.DIM, cents, real)
    depths: dict[int, Summary] = {}
    for depth, texts, vectors in _campaign_chunks(campaign):
        whole.add(texts, vectors)
        depths.setdefault(depth, Summary(embeddings.DIM, cents, real)).add(texts, vectors)
    state = DiversityState.objects.filter(campaign=campaign, depth=ALL_DEPTHS).first()
    stored = state.metrics if state else {}
    groups = [{"name": f"human ({campaign.source.name})", **rounded(ref.metrics)}] if ref else []
    groups += [{"name": f"depth {d}", **rounded(s.result())} for d, s in sorted(depths.items())]
    figures = rounded(whole.result())
    groups.append({"name": "campaign", **figures})
    return {
        "scope": {"campaign": slug, "source": campaign.source.name},
        **figures,
        "groups": groups,
        "versus_human": (stored.get("versus_human") or {}).get("change", {}),
        "sample": (stored.get("versus_human") or {}).get("n", 0),
        "drop": stored.get("drop", collapse.DEFAULT_DROP),
        "alarms": stored.get("alarms", []),
        "advice": stored.get("advice", []),
        "coverage": stored.get("coverage", {}),
    }


def _campaign_chunks(campaign: Campaign) -> Iterator[tuple[int, list[str], np.ndarray]]:
    """(depth, responses, stored vectors) of the counted candidates, CHUNK at a time."""
    last = 0
    counted = DiversityInclusion.objects.filter(campaign=campaign)
    while True:
        ids = list(
            counted.filter(candidate_id__gt=last)
            .order_by("candidate_id")
            .values_list("candidate_id", flat=True)[:CHUNK]
        )
        if not ids:
            return
        last = ids[-1]
        rows = Candidate.objects.filter(pk__in=ids).values_list("pk", "generation_depth", "response")
        vectors = dict(
            TextEmbedding.objects.filter(candidate_id__in=ids, version=embeddings.VERSION).values_list(
                "candidate_id", "vector"
            )
        )
        by_depth: dict[int, list[tuple[str, np.ndarray]]] = {}
        for pk, depth, text in rows:
            if pk in vectors:
                by_depth.setdefault(depth, []).append((text, embeddings.from_bytes(bytes(vectors[pk]))))
        for depth, pairs in sorted(by_depth.items()):
            yield depth, [t for t, _ in pairs], np.stack([v for _, v in pairs])


def export_report(*, export_id: int) -> dict[str, Any]:
    export = Export.objects.filter(pk=export_id).first()
    if export is None:
        raise NotFound(f"no export {export_id}")
    steps = export.manifest.get("ladder")
    parts = (
        [(f"synthetic-{s['max_synthetic']:.2f}", s.get("diversity")) for s in steps]
        if steps
        else [("", export.manifest.get("diversity"))]
    )
    if any(not d or "whole" not in d for _, d in parts):
        raise InvalidInput(
            f"export {export_id} was written before exports carried a diversity summary; export again"
        )
    groups = [
        {"name": f"{prefix} {side}".strip(), **d[side]}
        for prefix, d in parts
        for side in ("human", "synthetic", "whole")
    ]
    top = parts[-1][1]["whole"]  # a ladder's largest step holds every row of the others
    return {"scope": {"export": export_id, "out_dir": export.out_dir}, **top, "groups": groups}


class ExportTally:
    """The diversity of an export as its records stream by: the human part, the synthetic
    part and the whole, each a Summary. A part of more than SAMPLE rows is measured on a
    uniform sample of about SAMPLE of them (a row is in it when its hash, drawn by the
    caller in [0, 1), falls below SAMPLE / rows), so the cost and memory stay flat in the
    rows and figures of exports of different sizes compare; `rows` beside `n` says so.
    Vectors are the stored ones; an edited response (not what was embedded), or a row not
    embedded yet, is encoded here and not stored."""

    SAMPLE = 2000

    def __init__(self, rows: dict[str, int] | None = None) -> None:
        self.parts = {side: Summary(embeddings.DIM) for side in ("human", "synthetic", "whole")}
        rows = rows or {}
        self.rows = {part: rows.get(part) for part in self.parts}
        self.rates = {part: min(1.0, self.SAMPLE / n) if n else 1.0 for part, n in self.rows.items()}
        self.seen = dict.fromkeys(self.parts, 0)
        # Not indexes.examples_embed(): its two checks scan every example and embedding (seconds
        # at a million rows), and the sampled rows without a stored vector are encoded in _flush.
        self._buf: list[tuple[tuple[str, ...], str, int, str, bool]] = []

    def wants(self, side: str, draw: float) -> bool:
        """Whether a row of `side` with this draw is in a sample (else `skip` it)."""
        return draw < self.rates[side] or draw < self.rates["whole"]

    def skip(self, side: str) -> None:
        self.seen[side] += 1
        self.seen["whole"] += 1

    def add(self, side: str, pk: int, text: str, edited: bool = False, draw: float = 0.0) -> None:
        self.skip(side)
        parts = tuple(part for part in (side, "whole") if draw < self.rates[part])
        if parts:
            self._buf.append((parts, side, pk, text, edited))
        if len(self._buf) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        buf, self._buf = self._buf, []
        if not buf:
            return
        humans = example_vectors([pk for _, side, pk, _, _ in buf if side == "human"])
        plain = [pk for _, side, pk, _, edited in buf if side != "human" and not edited]
        stored = {
            pk: embeddings.from_bytes(bytes(v))
            for pk, v in TextEmbedding.objects.filter(
                candidate_id__in=plain, version=embeddings.VERSION
            ).values_list("candidate_id", "vector")
        }
        vectors = []
        missing = []
        for i, (_, side, pk, _, edited) in enumerate(buf):
            v = humans.get(pk) if side == "human" else (None if edited else stored.get(pk))
            vectors.append(v)
            if v is None:
                missing.append(i)
        if missing:
            fresh = embeddings.get_encoder().encode([buf[i][3] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                vectors[i] = v
        for part, summary in self.parts.items():
            idx = [i for i, row in enumerate(buf) if part in row[0]]
            if idx:
                summary.add([buf[i][3] for i in idx], np.stack([vectors[i] for i in idx]))

    def result(self) -> dict[str, dict[str, Any]]:
        self._flush()
        return {part: {**rounded(s.result()), "rows": self.seen[part]} for part, s in self.parts.items()}

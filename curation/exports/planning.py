"""An export's plan: which rows it holds, before a byte is written. The human rows are
counted per stratum; the approved synthetic rows are ranked (the human decision, then critic
quality in bands, then a seeded tie-break) into a mixture.Pool the selection cuts under the
caps. Read from the database, nothing written; shared by an export and its preview."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from django.db import connection
from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.exports import mixture, passes, rows
from curation.exports.policy import Policy
from curation.metrics.reference import candidate_vectors
from curation.review.models import Decision, Review
from curation.review.selectors import campaign_agreement
from curation.scoring.models import CriticScore
from curation.sources.models import Example, Source
from workers.critics import embeddings

CHUNK = 1000  # candidates per query of their vectors
QUALITY_BAND = 0.1  # critic means this close are one tier: diversity decides between them
# The plan's columns of approved rows, each lower-is-better: array typecode and numpy dtype.
COLUMNS = {
    "pk": ("q", np.int64),
    "stratum": ("i", np.int32),
    "edited": ("b", np.int8),
    "accepts": ("q", np.int64),
    "band": ("q", np.int64),
    "quality": ("d", np.float64),
    "rank": ("Q", np.uint64),
    "generator": ("i", np.int32),
}


@dataclass
class Plan:
    policy: Policy
    inputs: dict[str, Any]
    campaigns: list[Campaign]
    sources: list[Source]
    humans: int  # human rows, all exported
    humans_by_stratum: Counter
    pool: mixture.Pool  # approved synthetic within the depth limit, ranked
    excluded_depth: int
    agreement: dict[str, Any]  # campaign -> its experts' agreement (items two or more decided)
    steps: list[float] = field(default_factory=list)  # the ladder's caps; none: the policy's cap
    selection: mixture.Selection | None = None


def stratum_sql(model, field: str | None) -> tuple[str, list]:
    """SQL of the stratum field's value as JSON text (NULL when absent), read in the
    database: the rest of the metadata is not decoded for a million rows to plan them.
    The same text on PostgreSQL and SQLite, so `passes.stratum` of it is the label the
    row's decoded metadata gives."""
    if not field:
        return "NULL", []
    column = f"{rows.table(model)}.{rows.column(model, 'metadata')}"
    return (f"({column} -> %s)::text" if connection.vendor == "postgresql" else f"{column} -> %s"), [field]


def label(text: str | None, field: str | None) -> str:
    return passes.stratum({field: None if text is None else orjson.loads(text)} if field else {}, field)


def plan_rows(campaigns: list[Campaign], sources: list[Source], policy: Policy) -> Plan:
    field = policy.balance_by
    # Counted in the database, one row a value; the rows themselves are read when written.
    sql, params = stratum_sql(Example, field)
    humans_by_stratum: Counter = Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql}, COUNT(*) FROM {rows.table(Example)} "  # noqa: S608
            f"WHERE {rows.in_ids(rows.column(Example, 'source_id'))} GROUP BY 1",
            [*params, rows.ids_param([s.pk for s in sources])],
        )
        for text, n in cursor.fetchall():
            humans_by_stratum[label(text, field)] += n

    approved = Candidate.objects.filter(campaign__in=campaigns, status=CandidateStatus.APPROVED)
    excluded_depth = approved.filter(generation_depth__gt=policy.max_depth).count()
    # One subquery each on their indexes, not a join of reviews with scores (their product).
    accepts = (
        Review.objects.filter(candidate=OuterRef("pk"), decision__in=[Decision.ACCEPT, Decision.EDIT])
        .order_by()
        .values("candidate")
        .annotate(n=Count("pk"))
        .values("n")
    )
    quality = (
        CriticScore.objects.filter(candidate=OuterRef("pk"))
        .order_by()
        .values("candidate")
        .annotate(mean=Avg("score"))
        .values("mean")
    )
    stats = (
        approved.filter(generation_depth__lte=policy.max_depth)
        .annotate(
            accepts=Coalesce(Subquery(accepts), 0),
            quality=Subquery(quality),
            edited=Q(edited_response__isnull=False) | Q(edited_prompt__isnull=False),
        )
        .annotate(stratum=RawSQL(*stratum_sql(Candidate, field)))  # noqa: S611 (names from the models)
        .values_list("pk", "external_id", "stratum", "accepts", "quality", "edited", "generator__model")
    )
    # Columns, not objects: a million approved rows stay tens of megabytes.
    cols = {name: array(code) for name, (code, _) in COLUMNS.items()}
    labels: dict[str, int] = {}
    generators: dict[str, int] = {}
    for pk, ext, value, accepts, quality, edited, model in stats.iterator(chunk_size=5000):
        q = quality if quality is not None else -1.0
        cols["pk"].append(pk)
        cols["stratum"].append(labels.setdefault(label(value, field), len(labels)))
        cols["edited"].append(-int(edited))
        cols["accepts"].append(-accepts)
        cols["band"].append(-math.floor(round(q / QUALITY_BAND, 9)))
        cols["quality"].append(-q)
        cols["rank"].append(mixture.seeded_rank(policy.seed, ext or f"candidate-{pk}"))
        cols["generator"].append(generators.setdefault(model or "unknown", len(generators)))
    a = {name: np.frombuffer(cols[name], dtype) for name, (_, dtype) in COLUMNS.items()}
    pool = mixture.Pool.ranked(
        a["pk"],
        a["stratum"],
        list(labels),
        [a["edited"], a["accepts"], a["band"], a["quality"], a["rank"]],
        3,  # decision, approvals and quality band make the tier
        a["generator"],
        list(generators),
    )
    inputs = {
        "campaigns": sorted(c.slug for c in campaigns),
        "sources": [{"name": s.name, "license": s.license} for s in sorted(sources, key=lambda s: s.name)],
    }
    agreement = {}
    for c in sorted(campaigns, key=lambda c: c.slug):
        figures = campaign_agreement(campaign=c)
        agreement[c.slug] = {k: figures[k] for k in ("items", "percent", "kappa", "alpha")}
    return Plan(
        policy,
        inputs,
        campaigns,
        sources,
        sum(humans_by_stratum.values()),
        humans_by_stratum,
        pool,
        excluded_depth,
        agreement,
    )


def vectors(keys: list[int]) -> np.ndarray:
    """The candidates' embeddings as exported, in the keys' order: the stored one of the
    response, or, for a response an expert edited (the stored vector is the generator's
    text) or one not stored (a scorer without the embedding critic), encoded here from the
    text the export writes, and not stored."""
    ids = [int(k) for k in keys]
    found: dict[int, np.ndarray] = {}
    edited: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        found.update(candidate_vectors(part))
        edited.update(
            Candidate.objects.filter(pk__in=part, edited_response__isnull=False).values_list(
                "pk", "edited_response"
            )
        )
    for pk in edited:
        found.pop(pk, None)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        texts = dict(Candidate.objects.filter(pk__in=missing).values_list("pk", "response"))
        texts.update(edited)
        fresh = embeddings.get_encoder().encode([texts[pk] for pk in missing])
        found.update(zip(missing, fresh, strict=True))
    return np.stack([found[pk] for pk in ids]) if ids else np.zeros((0, embeddings.DIM), np.float32)

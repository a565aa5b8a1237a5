"""Keeping a campaign's diversity current as its batches land. A `cpu` task adds each newly
scored candidate to running sums (per generation depth and overall) exactly once, then
compares bounded samples with the human data and with the previous depth, stores the
figures and, now and then, a snapshot. Pages and commands only read what it stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign, Candidate
from curation.core.queue import enqueue_on_commit
from curation.metrics.models import (
    ALL_DEPTHS,
    DiversityInclusion,
    DiversitySnapshot,
    DiversityState,
    ReferenceClusters,
)
from curation.metrics.reference import centroids, example_vectors, reference_ensure, reference_key
from curation.metrics.selectors import pending
from curation.scoring import indexes
from curation.scoring.models import TextEmbedding
from workers.critics import embeddings
from workers.critics.text import words
from workers.metrics import collapse, coverage, lexical, sample
from workers.metrics.semantic import Moments

UPDATE_TASK = "workers.update_diversity"
CHUNK = 1000  # candidates added per transaction
SNAPSHOT_EVERY = timedelta(seconds=30)
EVALUATE_EVERY = timedelta(seconds=10)  # reading the samples back costs about a second


def diversity_queue(*, campaign_id: int) -> None:
    enqueue_on_commit(UPDATE_TASK, campaign_id)


def diversity_update(*, campaign_id: int, force: bool = False) -> int:
    """Count every pending candidate once, then refresh the campaign's figures. Safe to rerun
    and to run twice at once: each chunk is counted under the states' row locks and marked
    in the same transaction. The figures are evaluated again when the counts moved, at most
    every EVALUATE_EVERY (`force`: now). Returns how many candidates were added."""
    campaign = Campaign.objects.select_related("source").filter(pk=campaign_id).first()
    ref = reference_ensure(campaign.source) if campaign else None  # a deleted campaign: nothing to do
    if ref is None:
        return 0
    key = reference_key(ref)
    cents = centroids(ref)
    with transaction.atomic():  # counted against older clusters: start again before counting more
        _locked_states(campaign, key, len(cents))
    added = 0
    while True:
        ids = list(pending(campaign_id).values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        rows = list(
            Candidate.objects.filter(pk__in=ids).only("pk", "response", "edited_response", "generation_depth")
        )
        vectors = indexes.candidates_embed(rows)  # the critics' stored vectors; missing ones made once
        with transaction.atomic():
            states = _locked_states(campaign, key, len(cents))
            counted = set(
                DiversityInclusion.objects.filter(candidate_id__in=ids).values_list("candidate_id", flat=True)
            )
            fresh = [c for c in rows if c.pk not in counted]
            by_depth: dict[int, list[Candidate]] = {}
            for c in fresh:
                by_depth.setdefault(c.generation_depth, []).append(c)
            for depth, group in [(ALL_DEPTHS, fresh), *by_depth.items()]:
                state = states.get(depth) or _new_state(campaign, depth, key, len(cents))
                _add(state, group, vectors, cents)
                state.save()
            DiversityInclusion.objects.bulk_create(
                [DiversityInclusion(candidate_id=c.pk, campaign_id=campaign_id) for c in fresh]
            )
            added += len(fresh)
    # Touched even when nothing was new: the sweeper compares this with the last scoring.
    DiversityState.objects.filter(campaign=campaign, depth=ALL_DEPTHS).update(updated_at=timezone.now())
    whole = DiversityState.objects.filter(campaign=campaign, depth=ALL_DEPTHS).first()
    shown = whole.metrics if whole else {}
    if whole and whole.n and (shown.get("n") != whole.n or shown.get("reference") != key):
        last = shown.get("updated_at")
        if force or not last or timezone.now() - datetime.fromisoformat(last) >= EVALUATE_EVERY:
            diversity_evaluate(campaign=campaign, ref=ref)
        else:  # a busy campaign is evaluated every EVALUATE_EVERY, not after each scoring batch
            enqueue_on_commit(UPDATE_TASK, campaign_id, countdown=EVALUATE_EVERY.total_seconds())
    return added


def _locked_states(campaign: Campaign, key: str, k: int) -> dict[int, DiversityState]:
    """The campaign's states under row locks. Counted against other clusters (the source
    changed): every state and mark is dropped and the campaign is counted again."""
    _new_state(campaign, ALL_DEPTHS, key, k, save=True)  # a row to lock, even on the first run
    states = {s.depth: s for s in DiversityState.objects.select_for_update().filter(campaign=campaign)}
    if all(s.reference == key for s in states.values()):
        return states
    DiversityState.objects.filter(campaign=campaign).delete()
    DiversityInclusion.objects.filter(campaign=campaign).delete()
    return {ALL_DEPTHS: _new_state(campaign, ALL_DEPTHS, key, k, save=True)}


def _new_state(campaign: Campaign, depth: int, key: str, k: int, save: bool = False) -> DiversityState:
    defaults = {"reference": key, "moments": Moments(embeddings.DIM).to_bytes(), "clusters": [0] * k}
    if save:
        return DiversityState.objects.get_or_create(campaign=campaign, depth=depth, defaults=defaults)[0]
    return DiversityState(campaign=campaign, depth=depth, **defaults)


def _add(
    state: DiversityState, group: Sequence[Candidate], vectors: dict[int, np.ndarray], cents: np.ndarray
) -> None:
    if not group:
        return
    X = np.stack([vectors[c.pk] for c in group])
    texts = [c.response for c in group]
    state.moments = Moments.from_bytes(bytes(state.moments)).add(X).to_bytes()
    sums = dict(state.sums)
    for text in texts:
        m = lexical.mattr(words(text))
        if m is not None:
            sums["mattr_sum"] = sums.get("mattr_sum", 0.0) + m
            sums["mattr_n"] = sums.get("mattr_n", 0) + 1
    raw, packed = lexical.compressed_sizes(texts)
    sums["raw_bytes"] = sums.get("raw_bytes", 0) + raw
    sums["packed_bytes"] = sums.get("packed_bytes", 0) + packed
    state.sums = sums
    state.clusters = (np.asarray(state.clusters, dtype=np.int64) + coverage.histogram(X, cents)).tolist()
    state.sample = sample.bottom_k([c.pk for c in group], keep=state.sample)
    state.n += len(group)


def _whole(state: DiversityState, real_counts: np.ndarray) -> dict[str, float]:
    """The figures the running sums give over every candidate counted."""
    m = Moments.from_bytes(bytes(state.moments))
    s = state.sums
    cov = coverage.compare(real_counts, np.asarray(state.clusters))
    return {
        "vendi": m.vendi(),
        "mean_distance": m.mean_distance(),
        "mattr": s["mattr_sum"] / s["mattr_n"] if s.get("mattr_n") else 0.0,
        "compression_ratio": s["raw_bytes"] / s["packed_bytes"] if s.get("packed_bytes") else 0.0,
        "coverage": cov.covered,
        "tail_coverage": cov.tail_coverage,
        "jsd": cov.jsd,
    }


class _Profiles:
    """Figures of sample prefixes, each computed once per evaluation."""

    def __init__(self, ref: ReferenceClusters, cents: np.ndarray) -> None:
        self.ref, self.cents, self.real = ref, cents, np.asarray(ref.counts)
        self._done: dict[tuple[str, int, int], dict[str, float]] = {}

    def get(self, kind: str, key: int, ids: list[int]) -> dict[str, float]:
        cache = (kind, key, len(ids))
        if cache not in self._done:
            texts, X = _examples(ids) if kind == "human" else _candidates(ids)
            self._done[cache] = collapse.profile(texts, X, self.cents, self.real)
        return self._done[cache]


def _examples(ids: list[int]) -> tuple[list[str], np.ndarray]:
    from curation.sources.models import Example

    texts = dict(Example.objects.filter(pk__in=ids).values_list("pk", "response"))
    found = example_vectors(ids)
    kept = [pk for pk in ids if pk in texts and pk in found]
    return [texts[pk] for pk in kept], _stack([found[pk] for pk in kept])


def _candidates(ids: list[int]) -> tuple[list[str], np.ndarray]:
    texts = dict(Candidate.objects.filter(pk__in=ids).values_list("pk", "response"))
    rows = TextEmbedding.objects.filter(candidate_id__in=ids, version=embeddings.VERSION)
    found = {pk: embeddings.from_bytes(bytes(v)) for pk, v in rows.values_list("candidate_id", "vector")}
    kept = [pk for pk in ids if pk in texts and pk in found]
    return [texts[pk] for pk in kept], _stack([found[pk] for pk in kept])


def _stack(vectors: list[np.ndarray]) -> np.ndarray:
    return np.stack(vectors) if vectors else np.zeros((0, embeddings.DIM), np.float32)


def _versus(
    profiles: _Profiles, group: tuple[str, int, list[int]], reference: tuple[str, int, list[int]], drop: float
) -> dict[str, Any]:
    """A group against a reference on samples of one size (the bottom-k prefixes)."""
    size = min(len(group[2]), len(reference[2]))
    mine = profiles.get(group[0], group[1], group[2][:size])
    theirs = profiles.get(reference[0], reference[1], reference[2][:size])
    change = collapse.compare(mine, theirs)
    return {
        "n": size,
        "sample": mine,
        "reference": theirs,
        "change": change,
        "alarms": collapse.alarms(change, drop, size),
    }


def diversity_evaluate(*, campaign: Campaign, ref: ReferenceClusters) -> dict[str, Any]:
    """Recompute the stored figures from the sums and samples (bounded work: the sums are
    d x d, the samples at most sample.SIZE texts each)."""
    drop = stored_config(campaign.config).alarm.drop
    cents = centroids(ref)
    real = np.asarray(ref.counts)
    profiles = _Profiles(ref, cents)
    states = {s.depth: s for s in DiversityState.objects.filter(campaign=campaign)}
    whole_state = states.pop(ALL_DEPTHS)
    human = ("human", 0, ref.sample)
    depths = []
    previous = human
    for depth in sorted(states):
        s = states[depth]
        mine = ("depth", depth, s.sample)
        depths.append(
            {
                "depth": depth,
                "n": s.n,
                "whole": _whole(s, real),
                "versus_human": _versus(profiles, mine, human, drop),
                "versus_previous": _versus(profiles, mine, previous, drop),
                "previous": previous[1] if previous[0] == "depth" else 0,
            }
        )
        previous = mine
    overall = _versus(profiles, ("all", 0, whole_state.sample), human, drop)
    cov = coverage.compare(real, np.asarray(whole_state.clusters))
    alarms = [
        {"scope": "campaign", "against": "human", "metric": m, "change": overall["change"][m]}
        for m in overall["alarms"]
    ]
    for d in depths:
        if d["previous"]:  # depth 1's previous is the human data, already reported above
            alarms += [
                {
                    "scope": f"depth {d['depth']}",
                    "against": f"depth {d['previous']}",
                    "metric": m,
                    "change": d["versus_previous"]["change"][m],
                }
                for m in d["versus_previous"]["alarms"]
            ]
    labels = ref.labels
    figures = {
        "reference": reference_key(ref),
        "source": campaign.source.name,
        "n": whole_state.n,
        "drop": drop,
        "human": {"n": ref.examples, "whole": ref.metrics},
        "whole": _whole(whole_state, real),
        "versus_human": overall,
        "depths": depths,
        "coverage": {
            "clusters": len(real),
            "tail": [{"cluster": c, "label": labels[c], "real": int(real[c])} for c in cov.tail],
            "under": [{"cluster": c, "label": labels[c], "ratio": r} for c, r in cov.under[:5]],
            "over": [{"cluster": c, "label": labels[c], "ratio": r} for c, r in cov.over[:5]],
        },
        "alarms": alarms,
        "advice": list(collapse.ADVICE) if alarms else [],
        "updated_at": timezone.now().isoformat(),
    }
    with transaction.atomic():
        DiversityState.objects.filter(pk=whole_state.pk).update(metrics=figures)
        last = DiversitySnapshot.objects.filter(campaign=campaign).order_by("-created_at", "-id").first()
        n = whole_state.n
        if last is None or (
            last.n != n and (last.n * 2 <= n or timezone.now() - last.created_at >= SNAPSHOT_EVERY)
        ):
            DiversitySnapshot.objects.create(campaign=campaign, n=whole_state.n, metrics=_snapshot(figures))
    return figures


def _snapshot(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "change": figures["versus_human"]["change"],
        "sample": figures["versus_human"]["n"],
        "whole": figures["whole"],
        "depths": {str(d["depth"]): d["versus_human"]["change"] for d in figures["depths"]},
    }


def diversity_sweep() -> int:
    """Queue an update for campaigns scored since their last update, a while ago: the task
    that would have counted them died with its worker. Campaign rows only: cheap at any size."""
    cutoff = timezone.now() - timedelta(seconds=settings.ASSAY["STALE_SECONDS"])
    last = DiversityState.objects.filter(campaign=OuterRef("pk"), depth=ALL_DEPTHS).values("updated_at")
    stale = (
        Campaign.objects.filter(scored_at__lt=cutoff)
        .annotate(counted_at=Subquery(last[:1]))
        .filter(Q(counted_at__isnull=True) | Q(counted_at__lt=F("scored_at")))
        .values_list("pk", flat=True)
    )
    ids = list(stale)
    # Counted but not evaluated: the throttled evaluation's own message was lost.
    lagging = DiversityState.objects.filter(depth=ALL_DEPTHS, n__gt=0, updated_at__lt=cutoff)
    ids += [pk for pk, n, shown in lagging.values_list("campaign_id", "n", "metrics__n") if shown != n]
    ids = sorted(set(ids))
    for campaign_id in ids:
        diversity_queue(campaign_id=campaign_id)
    return len(ids)

"""Reads about critics: how far each agrees with the experts (calibration), and what the
review page shows about one candidate."""

from __future__ import annotations

from collections import defaultdict

from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.scoring.models import CriticScore, LearnedCritic, Reinstatement
from workers.critics import CRITICS
from workers.critics.calibration import critic_calibration, spearman

CALIBRATION_MIN = 20  # expert decisions before any figure is shown (CONTRACT)
DECIDED = (CandidateStatus.APPROVED, CandidateStatus.REJECTED)
KINDS = {name: cls.kind for name, cls in CRITICS.items()} | {"judge": "quality", "learned": "quality"}


def campaign_calibration(*, campaign: Campaign) -> dict[str, dict] | None:
    """Per critic, agreement with the experts' decisions on this campaign's candidates:
    {critic: {auc, precision, recall, n, confusion}}, the judge also with `spearman` (its
    score against the decisions). None below CALIBRATION_MIN decisions.

    Only candidates an expert decided count, so a critic that auto-rejects is measured on
    the ones it let through and on reinstated ones: its precision is exact, its recall is
    an upper bound."""
    outcome = dict(
        Candidate.objects.filter(campaign=campaign, status__in=DECIDED).values_list("pk", "status")
    )
    if len(outcome) < CALIBRATION_MIN:
        return None
    newest: dict[tuple[int, str], tuple[float | None, bool]] = {}
    for cid, critic, score, passed in (
        CriticScore.objects.filter(candidate_id__in=outcome)
        .order_by("created_at", "pk")
        .values_list("candidate_id", "critic", "score", "passed")
    ):
        newest[(cid, critic)] = (score, passed)
    rows: dict[str, list[tuple[float | None, bool, bool]]] = defaultdict(list)
    for (cid, critic), (score, passed) in newest.items():
        rows[critic].append((score, passed, outcome[cid] == CandidateStatus.APPROVED))
    out = {critic: critic_calibration(r).as_dict() for critic, r in sorted(rows.items())}
    if "judge" in rows:
        pairs = [(s, float(h)) for s, _, h in rows["judge"] if s is not None]
        rho, n = spearman([a for a, _ in pairs], [b for _, b in pairs])
        out["judge"]["spearman"] = rho
        out["judge"]["spearman_n"] = n
    return out


def learned_status(*, campaign: Campaign) -> dict | None:
    row = LearnedCritic.objects.filter(campaign=campaign).first()
    if row is None:
        return None
    return {"version": row.version, "trained_on": row.trained_on, "trained_at": row.created_at, **row.quality}


def candidate_critics(*, candidate: Candidate) -> dict[str, list[CriticScore]]:
    """The newest verdict of each critic, grouped by what it judges: `form`, `novelty`,
    `quality` (the page must not present checks of form as a judgement of quality)."""
    newest: dict[str, CriticScore] = {}
    for s in candidate.scores.order_by("created_at", "pk"):
        newest[s.critic] = s
    groups: dict[str, list[CriticScore]] = {"quality": [], "novelty": [], "form": []}
    for name, s in sorted(newest.items()):
        groups[KINDS.get(name, "form")].append(s)
    return groups


def candidate_reinstatements(*, candidate: Candidate):
    return Reinstatement.objects.filter(candidate=candidate).select_related("by").order_by("created_at")

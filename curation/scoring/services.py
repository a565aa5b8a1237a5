"""Scoring and triage in stages, each an idempotent 'ensure' (one CriticScore per candidate,
critic and version), so a crash mid-stage redoes only what is missing:

1. cheap checks of form and exact copies, on every candidate (cpu queue);
2. near-duplicate, contamination and embedding critics on the survivors of 1 (cpu queue);
3. the LLM judge on the survivors of 2, when the campaign has one (the judge's queue);
then the learned critic, once trained, and triage: `auto_rejected` with reasons, or
`in_review` with a priority. Nothing is auto-approved."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.campaigns.status import UNSCORED, campaign_fail, campaign_settle
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.core.queue import enqueue_on_commit
from curation.scoring import indexes, learning
from curation.scoring.corpus import DatabaseCorpus
from curation.scoring.models import CriticScore, Reinstatement
from curation.scoring.revisions import candidates_revise
from curation.sources.models import Example
from workers.critics import Critic, Item, Verdict, build_panel, judge
from workers.critics.text import text_key
from workers.critics.truncation import stopped_in_answer
from workers.generation import GenerationError, get_backend

SCORE_TASK = "workers.score_candidates"
JUDGE_TASK = "workers.judge_candidates"
DIVERSITY_TASK = "workers.update_diversity"  # counts triaged candidates into the diversity figures
SWEEP_TASKS = 50  # scoring tasks one sweep queues per campaign at most


def candidates_score(*, candidate_ids: list[int]) -> int:
    """Stages 1 and 2 and, without a judge, triage, for the given candidates still unscored;
    survivors that need the judge are handed to its queue. Returns how many were triaged."""
    by_campaign: dict[int, list[Candidate]] = defaultdict(list)
    for c in Candidate.objects.filter(pk__in=candidate_ids, status__in=UNSCORED).select_related("campaign"):
        by_campaign[c.campaign_id].append(c)
    triaged = 0
    for campaign_id, candidates in by_campaign.items():
        config = stored_config(candidates[0].campaign.config)
        panel = build_panel(config.critics)
        _ensure_stages(campaign_id, candidates, panel)
        triaged += _triage(candidates, panel, config)
        waiting = _waiting_for_judge(candidates, panel, config)  # one query, not one per candidate
        if waiting:
            enqueue_on_commit(JUDGE_TASK, sorted(waiting), queue=config.judge.generator.queue)
        Campaign.objects.filter(pk=campaign_id).update(scored_at=timezone.now())
        campaign_settle(campaign_id=campaign_id)
        enqueue_on_commit(DIVERSITY_TASK, campaign_id)
    return triaged


def candidates_judge(*, candidate_ids: list[int]) -> int:
    """Stage 3: the LLM judge on the given survivors, then triage. A permanent backend error
    (no such model) fails the campaign; a transient one propagates, for the task to retry."""
    by_campaign: dict[int, list[Candidate]] = defaultdict(list)
    for c in Candidate.objects.filter(pk__in=candidate_ids, status__in=UNSCORED).select_related("campaign"):
        by_campaign[c.campaign_id].append(c)
    triaged = 0
    for campaign_id, candidates in by_campaign.items():
        config = stored_config(candidates[0].campaign.config)
        panel = build_panel(config.critics)
        todo = _waiting_for_judge(candidates, panel, config)
        judge_config = config.judge
        if judge_config:
            try:
                if todo:
                    _judge([c for c in candidates if c.pk in todo], config)
                if judge_config.revise:  # also after a retry of a task that died having judged
                    _revise(candidates, config)
            except GenerationError as e:
                if not e.permanent:
                    raise
                campaign_fail(campaign_id=campaign_id, error=f"judge: {e}")
                continue
        triaged += _triage(candidates, panel, config)
        Campaign.objects.filter(pk=campaign_id).update(scored_at=timezone.now())
        campaign_settle(campaign_id=campaign_id)
        enqueue_on_commit(DIVERSITY_TASK, campaign_id)
    return triaged


def judge_version(config: CampaignConfig) -> str:
    """The stored version of the judge's scores: engine, rubric and judge model, so a changed
    rubric or model scores again instead of reusing another judge's verdicts."""
    j = config.judge
    return f"{judge.VERSION}.{j.rubric().key()}.{_short(j.generator.backend + j.generator.model)}"


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _judge(candidates: list[Candidate], config: CampaignConfig) -> None:
    j = config.judge
    backend = get_backend(j.generator.backend, j.generator.model, **j.generator.backend_options())
    verdicts = judge.judge(
        backend,
        j.rubric(),
        [(c.prompt, c.final_response) for c in candidates],
        max_tokens=j.max_tokens,
        seed=j.generator.params.seed,
    )
    version = judge_version(config)
    CriticScore.objects.bulk_create(
        [
            CriticScore(
                candidate_id=c.pk,
                critic="judge",
                version=version,
                score=None if v.score is None else round(v.score, 6),
                passed=v.passed,
                label="" if v.passed else "judge",
                rationale=v.rationale,
                details={
                    "malformed": v.malformed,
                    "principles": [
                        {"name": p.name, "score": p.score, "critique": p.critique} for p in v.principles
                    ],
                    "raw": v.raw[:4000],
                },
            )
            for c, v in zip(candidates, verdicts, strict=True)
        ],
        ignore_conflicts=True,
    )


def _revise(candidates: list[Candidate], config: CampaignConfig) -> None:
    """Critique and revise, as an 'ensure': every candidate here whose stored judge verdict
    failed gets its one revision, so a task that died after judging revises on its retry."""
    version = judge_version(config)
    failed = {
        s.candidate_id: s
        for s in CriticScore.objects.filter(
            candidate__in=candidates, critic="judge", version=version, passed=False
        )
    }
    todo = [c for c in candidates if c.pk in failed and not failed[c.pk].details.get("malformed")]
    judgements = [_stored_judgement(failed[c.pk]) for c in todo]
    candidates_revise(candidates=todo, judgements=judgements, config=config)


def _stored_judgement(s: CriticScore) -> judge.Judgement:
    principles = tuple(judge.PrincipleScore(**p) for p in s.details.get("principles", []))
    return judge.Judgement(s.score, s.passed, False, principles, s.rationale, s.details.get("raw", ""))


def _items(candidates: Sequence[Candidate]) -> list[Item]:
    shots = _shots(candidates)
    return [
        Item(
            c.pk,
            c.prompt,
            c.final_response,
            c.text_key,
            stopped_in_answer(c.finish_reason, c.raw_output, c.response),
            shots.get(c.pk, ()),
        )
        for c in candidates
    ]


def _shots(candidates: Sequence[Candidate]) -> dict[int, tuple[str, ...]]:
    """The few-shot answers each generated candidate was shown (its parents)."""
    ids: dict[int, list[int]] = {}
    for c in candidates:
        ids[c.pk] = [int(p.split("-")[1]) for p in c.parents if str(p).startswith("example-")]
    texts = dict(
        Example.objects.filter(pk__in={i for v in ids.values() for i in v}).values_list("pk", "response")
    )
    return {pk: tuple(texts[i] for i in v if i in texts) for pk, v in ids.items()}


def _ensure_stages(campaign_id: int, candidates: list[Candidate], panel: list[Critic]) -> None:
    done = _done(candidates)
    corpus = DatabaseCorpus(campaign_id)
    _run(candidates, [c for c in panel if c.stage == 1], corpus, done)
    stage2 = [c for c in panel if c.stage == 2]
    failed = _failed(candidates)
    survivors = [c for c in candidates if c.pk not in failed]
    if stage2 and survivors:
        indexes.examples_index()
        needs_vectors = any(c.name == "semantic" for c in stage2)
        if needs_vectors:
            indexes.examples_embed()
            corpus.vectors = indexes.candidates_embed(survivors)  # the model runs outside the lock
        with transaction.atomic():
            _campaign_lock(campaign_id)
            indexes.candidates_index(survivors)
            _run(survivors, stage2, corpus, done)
    # scored: every stage-1/2 critic has spoken; triage follows (a crash here resumes from this state).
    Candidate.objects.filter(pk__in=[c.pk for c in candidates], status=CandidateStatus.GENERATED).update(
        status=CandidateStatus.SCORED
    )


def _campaign_lock(campaign_id: int) -> None:
    """Sign-and-look-up runs one batch at a time per campaign, so of two near copies scored at
    once the later always sees the earlier. SQLite has one writer at a time already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7411, campaign_id])


def _done(candidates: Sequence[Candidate]) -> set[tuple[int, str, str]]:
    return set(
        CriticScore.objects.filter(candidate__in=candidates).values_list("candidate_id", "critic", "version")
    )


def _failed(candidates: Sequence[Candidate]) -> set[int]:
    return set(
        CriticScore.objects.filter(candidate__in=candidates, passed=False).values_list(
            "candidate_id", flat=True
        )
    )


def _run(candidates: list[Candidate], critics: list[Critic], corpus, done: set) -> None:
    for critic in critics:
        todo = [c for c in candidates if (c.pk, critic.name, critic.version) not in done]
        if not todo:
            continue
        verdicts = critic.judge(_items(todo), corpus)
        CriticScore.objects.bulk_create(
            [_score_row(c.pk, critic, v) for c, v in zip(todo, verdicts, strict=True)], ignore_conflicts=True
        )


def _score_row(candidate_id: int, critic: Critic, v: Verdict) -> CriticScore:
    label = ",".join((v.label, *v.extra_labels)) if not v.passed else ""
    return CriticScore(
        candidate_id=candidate_id,
        critic=critic.name,
        version=critic.version,
        score=None if v.score is None else round(float(v.score), 6),
        passed=v.passed,
        label=label,
        rationale=v.rationale,
        details=dict(v.details),
    )


def _current(config: CampaignConfig, panel: list[Critic]) -> set[tuple[str, str]]:
    current = {(c.name, c.version) for c in panel}
    if config.judge:
        current.add(("judge", judge_version(config)))
    return current


def _scores(candidates: Sequence[Candidate], current: set[tuple[str, str]]) -> dict[int, list[CriticScore]]:
    scores: dict[int, list[CriticScore]] = defaultdict(list)
    for s in CriticScore.objects.filter(candidate__in=candidates):
        if (s.critic, s.version) in current:
            scores[s.candidate_id].append(s)
    return scores


def _waiting_for_judge(
    candidates: Sequence[Candidate], panel: list[Critic], config: CampaignConfig
) -> set[int]:
    """Survivors of stages 1 and 2 without the judge's verdict yet."""
    if not config.judge:
        return set()
    scores = _scores(candidates, _current(config, panel))
    return {
        c.pk
        for c in candidates
        if not any(not s.passed for s in scores[c.pk]) and not any(s.critic == "judge" for s in scores[c.pk])
    }


def _triage(candidates: list[Candidate], panel: list[Critic], config: CampaignConfig) -> int:
    """Any failed critic: `auto_rejected` with the reasons. All passed (and the judge spoken,
    when there is one): `in_review`, with the learned critic's verdict when it is trained."""
    scores = _scores(candidates, _current(config, panel))
    waiting = _waiting_for_judge(candidates, panel, config)
    ready = [c for c in candidates if c.pk not in waiting]
    survivors = [c for c in ready if all(s.passed for s in scores[c.pk])]
    learned = learning.learned_verdicts(
        campaign_id=candidates[0].campaign_id, candidates=survivors, config=config
    )
    n = 0
    for c in ready:
        mine = scores[c.pk]
        reasons = sorted({r for s in mine if not s.passed for r in s.label.split(",") if r})
        verdict = learned.get(c.pk)
        if verdict and not reasons and verdict.rejects:
            reasons = ["learned"]
        status = CandidateStatus.AUTO_REJECTED if reasons else CandidateStatus.IN_REVIEW
        priority = verdict.priority if verdict else _priority(mine)
        n += Candidate.objects.filter(pk=c.pk, status__in=UNSCORED).update(
            status=status,
            reasons=reasons,
            priority=round(priority, 6),
            needed=config.review.needed(f"{c.campaign_id}:{c.pk}"),
        )
    return n


def _priority(scores: list[CriticScore]) -> float:
    """Without a learned critic: the judge's score when there is one, else the mean of the
    critics' scores (the likeliest good first: approved data reaches training sooner)."""
    judged = [s.score for s in scores if s.critic == "judge" and s.score is not None]
    if judged:
        return judged[0]
    known = [s.score for s in scores if s.score is not None]
    return sum(known) / len(known) if known else 0.0


def samples_judge(*, config: CampaignConfig, samples: Sequence[tuple[str, str, str, str]]) -> list[Judged]:
    """The campaign's cheap critics (stage 1) on (prompt, response, finish_reason, raw output)
    samples that are not stored (a preview): the same checks as scoring, nothing written.
    Index lookups and the judge run when the campaign runs."""
    panel = [c for c in build_panel(config.critics) if c.stage == 1]
    items = [
        Item(i + 1, p, r, text_key(r), stopped_in_answer(finish, raw, r))
        for i, (p, r, finish, raw) in enumerate(samples)
    ]
    corpus = DatabaseCorpus(None)
    by_critic = {critic.name: critic.judge(items, corpus) for critic in panel}
    out = []
    for i in range(len(items)):
        verdicts = {name: v[i] for name, v in by_critic.items()}
        failed = [v for v in verdicts.values() if not v.passed]
        reasons = sorted({r for v in failed for r in (v.label, *v.extra_labels) if r})
        out.append(Judged(reasons, verdicts))
    return out


@dataclass(frozen=True)
class Judged:
    reasons: list[str]  # empty: it would go to review
    verdicts: dict[str, Verdict]  # critic name -> verdict


def scoring_queue(*, campaign: Campaign, limit: int | None = None) -> int:
    """Queue the critics for the campaign's unscored candidates (imported ones included),
    in tasks of SCORING_BATCH_SIZE; at most `limit` tasks. Returns how many candidates."""
    size = settings.ASSAY["SCORING_BATCH_SIZE"]
    ids = campaign.candidates.filter(status__in=UNSCORED).order_by("id").values_list("id", flat=True)
    if limit is not None:
        ids = ids[: limit * size]
    ids = list(ids)
    if ids:
        Campaign.objects.filter(pk=campaign.pk).update(scored_at=timezone.now())
    for i in range(0, len(ids), size):
        enqueue_on_commit(SCORE_TASK, ids[i : i + size])
    return len(ids)


def scoring_fail(*, candidate_ids: list[int], error: str) -> None:
    """A scoring task out of retries: its campaigns fail with the error; the candidates stay
    unscored (visible in the counts) until the campaign is run or scored again."""
    campaigns = Candidate.objects.filter(pk__in=candidate_ids).values_list("campaign_id", flat=True)
    for campaign_id in set(campaigns):
        campaign_fail(campaign_id=campaign_id, error=f"scoring failed: {error}")


def scoring_sweep() -> int:
    """Queue scoring again where it was lost: a campaign (not failed) with candidates unscored
    for STALE_SECONDS and no scoring progress for as long (a worker killed mid-task, a broker
    that lost its messages). Scoring is idempotent, so a slow task scored twice costs time,
    never a duplicate; a candidate waiting for the judge is handed to the judge again.
    Bounded: at most a few tasks' worth per campaign and sweep."""
    stale = timezone.now() - timedelta(seconds=settings.ASSAY["STALE_SECONDS"])
    quiet = (
        Campaign.objects.exclude(status=CampaignStatus.FAILED)
        .filter(Q(scored_at__isnull=True) | Q(scored_at__lt=stale))
        # A draft's imported candidates wait for score_campaign, which stamps scored_at.
        .exclude(status=CampaignStatus.DRAFT, scored_at__isnull=True)
    )
    n = 0
    for campaign in quiet:
        # Per campaign, so the (campaign, status) index answers; campaigns are few.
        if not campaign.candidates.filter(status__in=UNSCORED, created_at__lt=stale).exists():
            continue
        with transaction.atomic():
            # The stamp first, so concurrent sweepers do not both queue it.
            if Campaign.objects.filter(pk=campaign.pk, scored_at=campaign.scored_at).update(
                scored_at=timezone.now()
            ):
                n += scoring_queue(campaign=campaign, limit=SWEEP_TASKS)
    return n


def candidate_reinstate(*, user, candidate_id: int, reason: str) -> Candidate:
    """An admin sends an auto-rejected candidate to review; who, why and the critics' reasons
    are recorded. Only an auto-rejected candidate can be reinstated (409 otherwise)."""
    if not user.is_admin_role:
        raise Forbidden(f"{user.username} is a {user.role}: only admins reinstate")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reinstatement needs a reason")
    with transaction.atomic():
        try:
            candidate = Candidate.objects.select_for_update().select_related("campaign").get(pk=candidate_id)
        except Candidate.DoesNotExist:
            raise NotFound(f"no candidate {candidate_id}") from None
        if candidate.status != CandidateStatus.AUTO_REJECTED:
            raise Conflict(f"candidate {candidate_id} is {candidate.status}, not auto_rejected")
        Reinstatement.objects.create(
            candidate=candidate, by=user, reason=reason, reasons_before=list(candidate.reasons)
        )
        needed = stored_config(candidate.campaign.config).review.needed(
            f"{candidate.campaign_id}:{candidate.pk}"
        )
        Candidate.objects.filter(pk=candidate.pk, status=CandidateStatus.AUTO_REJECTED).update(
            status=CandidateStatus.IN_REVIEW, reasons=[], needed=needed
        )
        candidate.refresh_from_db()
    return candidate

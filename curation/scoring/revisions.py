"""Critique and revise (`critics.judge.revise: true`): a candidate the judge scores below the
rubric's floor goes back to the campaign's generator with the judge's critique, and the
answer it rewrites becomes a new candidate, linked to the original (`revised_from`) and
marked machine-revised in its generator record (so in every export's provenance). The
revision is scored like any candidate, judge included, and is never revised again."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from curation.campaigns.config import CampaignConfig
from curation.campaigns.models import Candidate, CandidateStatus
from curation.core.queue import enqueue_on_commit
from workers.critics import judge
from workers.critics.text import content_sha256, text_key
from workers.generation import SamplingParams, get_backend

SCORE_TASK = "workers.score_candidates"


def candidates_revise(
    *, candidates: Sequence[Candidate], judgements: Sequence[judge.Judgement], config: CampaignConfig
) -> list[Candidate]:
    """Revise each (candidate, judgement) that failed the floor, once. Returns the new ones."""
    todo = [
        (c, j)
        for c, j in zip(candidates, judgements, strict=True)
        if not j.passed and not j.malformed and c.revised_from_id is None and not c.revisions.exists()
    ]
    if not todo:
        return []
    gen = config.generator
    backend = get_backend(gen.backend, gen.model, **gen.backend_options())
    conversations = [judge.revise_messages(c.prompt, c.final_response, j) for c, j in todo]
    params = SamplingParams(
        temperature=gen.params.temperature, top_p=gen.params.top_p, max_tokens=gen.params.max_tokens
    )
    # A revision's seed is its original's, offset: reproducible, and never the original's own.
    seeds = [((c.seed or 0) + 1_000_003) % 2**31 for c, _ in todo]
    outputs = backend.generate(conversations, params, seeds)
    made = []
    for (c, j), conversation, out in zip(todo, conversations, outputs, strict=True):
        response = out.text.strip()
        sample = {"prompt": c.prompt, "response": response, "revised_from": c.public_id}
        revision = Candidate(
            campaign_id=c.campaign_id,
            prompt=c.prompt,
            response=response,
            raw_output=out.text,
            finish_reason=out.finish_reason,
            metadata=c.metadata,
            generator={
                **c.generator,
                "backend": gen.backend,
                "model": gen.model,
                "revised": {"from": c.public_id, "judge_score": j.score, "critique": j.rationale[:2000]},
            },
            seed=out.seed,
            rendered_prompt="\n\n".join(m["content"] for m in conversation),
            parents=[c.public_id, *c.parents],
            generation_depth=c.generation_depth,
            content_sha256=content_sha256(sample),
            text_key=text_key(response),
            status=CandidateStatus.GENERATED,
            revised_from=c,
        )
        try:
            with transaction.atomic():
                revision.save()
        except IntegrityError:  # revised by a concurrent or earlier attempt of this task
            continue
        made.append(revision)
    if made:
        enqueue_on_commit(SCORE_TASK, [r.pk for r in made])
    return made

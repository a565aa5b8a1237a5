"""Generating one batch: render prompts, call the engine, store candidates.

An 'ensure' operation: it fills only the batch's missing slots, and a unique
(campaign, slot) constraint makes a concurrent or retried run harmless."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from curation.campaigns.config import CampaignConfig
from curation.campaigns.models import Campaign, CampaignStatus, Candidate
from curation.campaigns.services import campaign_fail, campaign_settle, stale_before
from curation.core.queue import enqueue_on_commit
from curation.generation.models import BatchStatus, GenerationBatch
from curation.sources.models import Example, Split
from workers.critics.text import content_sha256, text_key
from workers.generation import GenerationError, SamplingParams, get_backend
from workers.generation.parsing import parse_pair
from workers.generation.prompts import TemplateProblem, attributes_for, fewshot_for, render

log = logging.getLogger(__name__)


class RetryableGenerationError(Exception):
    """A transient engine failure: the task retries it with backoff."""


def _claim(batch_id: int) -> GenerationBatch | None:
    """pending (or running but abandoned) -> running; None when another worker has it or it is done."""
    claimable = Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.RUNNING, updated_at__lt=stale_before())
    rows = GenerationBatch.objects.filter(claimable, pk=batch_id).update(
        status=BatchStatus.RUNNING, updated_at=timezone.now()
    )
    if not rows:
        return None
    return GenerationBatch.objects.select_related("campaign__source").get(pk=batch_id)


def _example_context(example: Example) -> dict[str, Any]:
    return {
        **example.metadata,
        "id": example.public_id,
        "prompt": example.prompt,
        "response": example.response,
        "messages": example.messages,
    }


def _to_sample(task: str, text: str) -> tuple[str, str, list | None]:
    pair = parse_pair(text)
    prompt, response = pair if pair else ("", text)  # unparsed: the format critic rejects it, text kept
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return prompt, response, (messages if task == "chat" and pair else None)


def batch_generate(*, batch_id: int) -> int:
    """Generate the batch's missing candidates; returns how many were stored.
    Raises RetryableGenerationError for transient engine errors; permanent ones fail
    the batch and the campaign with the engine's message."""
    batch = _claim(batch_id)
    if batch is None:
        return 0
    campaign = batch.campaign
    if campaign.status == CampaignStatus.FAILED:
        GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.PENDING)
        return 0
    config = CampaignConfig.model_validate(campaign.config)
    GenerationBatch.objects.filter(pk=batch.pk).update(
        attempts=batch.attempts + 1, prompt_template=config.prompt_template
    )
    slots = range(batch.start, batch.start + batch.size)
    have = set(Candidate.objects.filter(campaign=campaign, slot__in=slots).values_list("slot", flat=True))
    missing = [s for s in slots if s not in have]
    try:
        stored = _generate_slots(batch, campaign, config, missing)
    except GenerationError as e:
        if e.permanent:
            batch_fail(batch_id=batch.pk, error=str(e))
            return 0
        GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.PENDING, error=str(e))
        raise RetryableGenerationError(str(e)) from e
    except TemplateProblem as e:
        batch_fail(batch_id=batch.pk, error=str(e))
        return 0
    campaign_settle(campaign_id=campaign.pk)
    return stored


def batch_fail(*, batch_id: int, error: str) -> None:
    batch = GenerationBatch.objects.get(pk=batch_id)
    GenerationBatch.objects.filter(pk=batch_id).update(status=BatchStatus.FAILED, error=error[:4000])
    campaign_fail(campaign_id=batch.campaign_id, error=f"generation failed: {error}")


def _generate_slots(
    batch: GenerationBatch, campaign: Campaign, config: CampaignConfig, slots: list[int]
) -> int:
    if not slots:
        GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, error="")
        return 0
    gen = config.generator
    seed = gen.params.seed
    # Only train data seeds prompts: held-out rows must not leak into what we generate.
    pool = list(
        Example.objects.filter(source=campaign.source, source__split=Split.TRAIN).values_list(
            "id", "metadata"
        )
    )
    plans = []
    for slot in slots:
        attrs = attributes_for(slot, config.diversity)
        ids = fewshot_for(slot, seed, pool, config.fewshot, attrs)
        plans.append((slot, attrs, ids))
    examples = Example.objects.in_bulk([i for _, _, ids in plans for i in ids])
    prompts, parents = [], []
    for _slot, attrs, ids in plans:
        shots = [examples[i] for i in ids]
        prompts.append(
            render(config.prompt_template, {"examples": [_example_context(e) for e in shots], **attrs})
        )
        parents.append([e.public_id for e in shots])

    backend = get_backend(gen.backend, gen.model)
    params = SamplingParams(
        temperature=gen.params.temperature, top_p=gen.params.top_p, max_tokens=gen.params.max_tokens
    )
    outputs = backend.generate(
        [[{"role": "user", "content": p}] for p in prompts], params, [seed + s for s in slots]
    )
    generator = {"backend": gen.backend, "model": gen.model, "params": gen.params.model_dump()}
    rows = []
    for (slot, attrs, _), prompt_text, parent_ids, out in zip(plans, prompts, parents, outputs, strict=True):
        prompt, response, messages = _to_sample(campaign.task, out.text)
        sample = {"messages": messages} if messages else {"prompt": prompt, "response": response}
        rows.append(
            Candidate(
                campaign=campaign,
                batch=batch,
                slot=slot,
                prompt=prompt,
                response=response,
                messages=messages,
                raw_output=out.text,
                metadata=attrs,
                generator=generator,
                seed=out.seed,
                rendered_prompt=prompt_text,
                parents=parent_ids,
                generation_depth=1,
                content_sha256=content_sha256(sample),
                text_key=text_key(response),
            )
        )
    with transaction.atomic():
        Candidate.objects.bulk_create(rows, ignore_conflicts=True)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.DONE, error="", updated_at=timezone.now()
        )
        new_ids = list(
            Candidate.objects.filter(campaign=campaign, slot__in=slots).values_list("id", flat=True)
        )
        enqueue_on_commit("workers.score_candidates", new_ids)
    log.info("campaign %s batch %s: %d candidates", campaign.slug, batch.index, len(rows))
    return len(rows)

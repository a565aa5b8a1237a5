"""Generating: a turn claims batches of a campaign (generation/batches.py), renders their
prompts, calls the engine, stores the candidates with their lineage and queues their
scoring. An 'ensure' operation: a batch fills only its missing slots, and the unique
(campaign, slot) constraint makes a concurrent or repeated run harmless."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max

from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, Candidate
from curation.campaigns.status import campaign_settle
from curation.core import leases
from curation.core.errors import describe
from curation.core.queue import enqueue_on_commit
from curation.generation.batches import (
    batch_attempt_failed,
    batch_claim,
    batch_done,
    generation_pass_turn,
)
from curation.generation.models import GenerationBatch
from curation.sources.models import Example, Split
from workers.critics.text import content_sha256, text_key
from workers.generation import Generation, GenerationError, SamplingParams, get_backend
from workers.generation.parsing import parse_pair
from workers.generation.prompts import TemplateProblem, attributes_for, fewshot_for, render

log = logging.getLogger(__name__)

# A turn works batches back to back this long before it passes the turn on through the
# queue: fast batches (an endpoint, a GPU) share one message, while a slow CPU batch is a
# turn of its own, so a worker that serves both queues scores each batch as it comes.
TURN_SECONDS = 10.0

# `generator.output: json`: the engine may only write this object (guided decoding).
SAMPLE_SCHEMA = {
    "type": "object",
    "properties": {"prompt": {"type": "string"}, "response": {"type": "string"}},
    "required": ["prompt", "response"],
    "additionalProperties": False,
}


def generation_turn(*, campaign_id: int, seconds: float = TURN_SECONDS) -> int:
    """One message's work: claim and generate the campaign's batches for up to `seconds`,
    then publish the next turn if work is left. Returns the candidates stored."""
    deadline = time.monotonic() + seconds
    stored = 0
    while (batch := batch_claim(campaign_id=campaign_id)) is not None:
        stored += batch_generate(batch=batch)
        if time.monotonic() >= deadline:
            break
    generation_pass_turn(campaign_id=campaign_id)
    return stored


def batch_generate(*, batch: GenerationBatch) -> int:
    """Generate a claimed batch's missing slots; returns how many candidates were stored.

    Every failure ends the attempt, never the worker: a permanent engine error (a missing
    model, a backend that cannot run) fails the batch and the campaign at once; anything
    else (a transient engine error, CUDA out of memory, a bug, the soft time limit) is
    retried with backoff a bounded number of times (generation/batches.py)."""
    try:
        return _generate(batch)
    except GenerationError as e:
        batch_attempt_failed(batch=batch, error=str(e), permanent=e.permanent)
    except TemplateProblem as e:
        batch_attempt_failed(batch=batch, error=str(e), permanent=True)
    except Exception as e:
        log.exception("campaign %s batch %s: unexpected error", batch.campaign_id, batch.index)
        batch_attempt_failed(batch=batch, error=describe(e), permanent=False)
    finally:
        leases.release(GenerationBatch, batch.pk)
    return 0


@dataclass(frozen=True)
class _Plan:
    slot: int
    attributes: dict[str, str]
    prompt: str
    parents: list[str]
    seed: int


def _generate(batch: GenerationBatch) -> int:
    campaign = batch.campaign
    config = stored_config(campaign.config)
    GenerationBatch.objects.filter(pk=batch.pk).update(prompt_template=config.prompt_template)
    slots = range(batch.start, batch.start + batch.size)
    have = set(Candidate.objects.filter(campaign=campaign, slot__in=slots).values_list("slot", flat=True))
    plans = _plan(campaign.source_id, config, [s for s in slots if s not in have])
    outputs: Sequence[Generation | None] = []
    error: GenerationError | None = None
    tokens = 0
    if plans:
        try:
            outputs = _call_engine(config, plans)
        except GenerationError as e:
            if not e.partial:
                raise
            outputs, error = e.partial, e  # keep what succeeded; the retry makes only the rest
        tokens = sum(out.tokens for out in outputs if out is not None)
    rows = [
        _candidate(batch, campaign, config, plan, out)
        for plan, out in zip(plans, outputs, strict=True)
        if out is not None
    ]
    with transaction.atomic():
        Candidate.objects.bulk_create(rows, ignore_conflicts=True)
        if error is None:
            batch_done(batch=batch, tokens=tokens)
        new_ids = list(
            Candidate.objects.filter(campaign=campaign, slot__in=[r.slot for r in rows]).values_list(
                "id", flat=True
            )
        )
        if new_ids:
            enqueue_on_commit("workers.score_candidates", new_ids)
    log.info("campaign %s batch %s: %d candidates, %d tokens", campaign.slug, batch.index, len(rows), tokens)
    if error is not None:
        GenerationBatch.objects.filter(pk=batch.pk).update(tokens=F("tokens") + tokens)
        raise error
    campaign_settle(campaign_id=campaign.pk)
    return len(rows)


def _call_engine(config: CampaignConfig, plans: list[_Plan]) -> list[Generation]:
    gen = config.generator
    backend = get_backend(gen.backend, gen.model, **gen.backend_options())
    params = SamplingParams(
        temperature=gen.params.temperature,
        top_p=gen.params.top_p,
        max_tokens=gen.params.max_tokens,
        json_schema=SAMPLE_SCHEMA if gen.output == "json" else None,
    )
    return backend.generate(
        [[{"role": "user", "content": p.prompt}] for p in plans], params, [p.seed for p in plans]
    )


@dataclass(frozen=True)
class PreviewSample:
    slot: int
    attributes: dict[str, str]
    rendered_prompt: str
    output: Generation
    prompt: str  # as parsed from the output ("" when it could not be read)
    response: str


def generation_preview(*, config: CampaignConfig, source_id: int, n: int) -> list[PreviewSample]:
    """Render the first n prompts of a campaign config and generate them, storing nothing,
    so an admin can tune a template before spending a GPU hour on it. Engine errors are
    raised as they are (GenerationError, TemplateProblem)."""
    plans = _plan(source_id, config, list(range(min(n, config.count))))
    outputs = _call_engine(config, plans) if plans else []
    samples = []
    for plan, out in zip(plans, outputs, strict=True):
        prompt, response, _ = _to_sample(config.task, out.text, config.generator.output)
        samples.append(PreviewSample(plan.slot, plan.attributes, plan.prompt, out, prompt, response))
    return samples


# The few-shot pool per source, loaded once per worker process and reloaded only when the
# source's examples change (a new import), never per batch.
_pools: dict[int, tuple[tuple[int, Any], list[tuple[int, dict[str, Any]]]]] = {}


def _pool(source_id: int) -> list[tuple[int, dict[str, Any]]]:
    # Only train data seeds prompts: held-out rows must not leak into what we generate.
    examples = Example.objects.filter(source_id=source_id, source__split=Split.TRAIN)
    version = tuple(examples.aggregate(n=Count("id"), last=Max("id")).values())
    cached = _pools.get(source_id)
    if cached is None or cached[0] != version:
        _pools[source_id] = (version, list(examples.order_by("id").values_list("id", "metadata")))
    return _pools[source_id][1]


def _plan(source_id: int, config: CampaignConfig, slots: list[int]) -> list[_Plan]:
    """Each slot's prompt, parents and seed: pure functions of (seed, slot), so a retry
    renders the same prompts. With `n` samples per prompt, n consecutive slots share one
    prompt (its few-shot seeds and attributes) and each has its own seed."""
    if not slots:
        return []
    n, seed = config.generator.params.n, config.generator.params.seed
    pool = _pool(source_id)
    chosen = {}
    for group in sorted({s // n for s in slots}):
        attrs = attributes_for(group, config.diversity)
        chosen[group] = (attrs, fewshot_for(group, seed, pool, config.fewshot, attrs))
    examples = Example.objects.in_bulk([i for _, ids in chosen.values() for i in ids])
    rendered = {}
    for group, (attrs, ids) in chosen.items():
        shots = [examples[i] for i in ids]
        prompt = render(config.prompt_template, {"examples": [_example_context(e) for e in shots], **attrs})
        rendered[group] = (attrs, prompt, [e.public_id for e in shots])
    return [_Plan(s, *rendered[s // n], seed=seed + s) for s in slots]


def _example_context(example: Example) -> dict[str, Any]:
    return {
        **example.metadata,
        "id": example.public_id,
        "prompt": example.prompt,
        "response": example.response,
        "messages": example.messages,
    }


def _to_sample(task: str, text: str, output: str) -> tuple[str, str, list | None]:
    pair = _json_pair(text) if output == "json" else parse_pair(text)
    prompt, response = pair if pair else ("", text)  # unparsed: the format critic rejects it, text kept
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return prompt, response, (messages if task == "chat" and pair else None)


def _json_pair(text: str) -> tuple[str, str] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    prompt, response = data.get("prompt"), data.get("response")
    if (
        not isinstance(prompt, str)
        or not isinstance(response, str)
        or not prompt.strip()
        or not response.strip()
    ):
        return None
    return prompt.strip(), response.strip()


def _candidate(
    batch: GenerationBatch, campaign: Campaign, config: CampaignConfig, plan: _Plan, out: Generation
) -> Candidate:
    gen = config.generator
    prompt, response, messages = _to_sample(campaign.task, out.text, gen.output)
    sample = {"messages": messages} if messages else {"prompt": prompt, "response": response}
    generator: dict[str, Any] = {
        "backend": gen.backend,
        "model": gen.model,
        "params": gen.params.model_dump(),
    }
    if gen.backend == "openai":
        generator["base_url"] = gen.base_url
    if gen.output != "text":
        generator["output"] = gen.output
    return Candidate(
        campaign=campaign,
        batch=batch,
        slot=plan.slot,
        prompt=prompt,
        response=response,
        messages=messages,
        raw_output=out.text,
        finish_reason=out.finish_reason,
        metadata=plan.attributes,
        generator=generator,
        seed=out.seed,
        rendered_prompt=plan.prompt,
        parents=plan.parents,
        generation_depth=1,
        content_sha256=content_sha256(sample),
        text_key=text_key(response),
    )

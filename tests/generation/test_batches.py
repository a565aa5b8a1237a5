"""Generation as a worker runs it, in-process: turns claim batches from the database, batches
carry the full lineage, retries fill only missing slots, failures are bounded and visible,
and nothing is published before its transaction commits. The engine is a tiny real model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.campaigns.config import parse_config
from curation.campaigns.models import Campaign, CampaignStatus, Candidate
from curation.campaigns.services import campaign_create_or_update, campaign_start
from curation.core import leases
from curation.core.models import WorkerHeartbeat
from curation.core.sweeper import sweep
from curation.generation.batches import batch_claim, batches_sweep
from curation.generation.models import BatchStatus, GenerationBatch
from curation.generation.selectors import campaign_progress
from curation.generation.services import generation_turn
from curation.scoring.services import candidates_score
from curation.sources.models import Example
from workers.celery_app import app as celery_app


def tea_config(model: str, **overrides) -> dict:
    config = {
        "slug": "tea-gen",
        "source": "tea",
        "count": 5,
        "fewshot": 2,
        "diversity": {"topic": ["brewing", "kinds", "storage"]},
        "generator": {"model": model, "params": {"max_tokens": 8, "seed": 3}},
    }
    return {**config, **overrides}


@pytest.fixture
def campaign(tea_sources, tiny_model, settings):
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4}
    return campaign_create_or_update(config=parse_config(tea_config(tiny_model)))[0]


def queued(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=False).message_count


def purge(*queues: str) -> None:
    with celery_app.connection_for_write() as conn:
        for q in queues:
            conn.default_channel.queue_declare(q)
            conn.default_channel.queue_purge(q)


def run(campaign: Campaign) -> int:
    """What a worker does with the campaign's messages: turns until nothing is claimable."""
    return generation_turn(campaign_id=campaign.pk)


def test_it_publishes_turns_only_after_the_transaction_commits(campaign, django_capture_on_commit_callbacks):
    purge("gpu", "cpu")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert campaign_start(campaign=campaign) == 2  # 5 slots, batches of 4: two turns' worth
        assert queued("gpu") == 0
    assert len(callbacks) == 2
    for send in callbacks:
        send()
    assert queued("gpu") == 2
    purge("gpu", "cpu")


def test_a_million_candidate_campaign_starts_with_a_bounded_number_of_messages(
    tea_sources, tiny_model, settings, django_capture_on_commit_callbacks
):
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4, "GENERATION_FANOUT": 8}
    purge("gpu", "cpu")
    big = campaign_create_or_update(
        config=parse_config(tea_config(tiny_model, slug="tea-1m", count=1_000_000))
    )[0]
    with django_capture_on_commit_callbacks(execute=True):
        campaign_start(campaign=big)  # the admin's "Run" action and run_campaign call this
    assert queued("gpu") == 8  # the fanout, not 250,000 batch messages
    assert not big.batches.exists()  # batch rows are made as workers claim them
    purge("gpu", "cpu")


def test_a_turn_stores_candidates_with_their_full_lineage(campaign, django_capture_on_commit_callbacks):
    campaign_start(campaign=campaign)
    with django_capture_on_commit_callbacks() as callbacks:
        assert run(campaign) == 5
    assert len(callbacks) >= 2  # the scoring of each batch, published after its commit
    train_ids = {e.public_id for e in Example.objects.filter(source__name="tea")}
    rows = list(campaign.candidates.order_by("slot"))
    assert [c.slot for c in rows] == [0, 1, 2, 3, 4]
    assert [c.metadata["topic"] for c in rows] == ["brewing", "kinds", "storage", "brewing", "kinds"]
    for c in rows:
        assert c.generator == {
            "backend": "transformers",
            "model": campaign.config["generator"]["model"],
            "params": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 8, "seed": 3, "n": 1},
        }
        # Each sample's own seed: the campaign's seed plus its slot, really used by the engine.
        assert c.seed == 3 + c.slot and c.generation_depth == 1 and len(c.content_sha256) == 64
        assert len(c.parents) == 2 and set(c.parents) <= train_ids  # never held-out seeds
        assert c.metadata["topic"] in c.rendered_prompt and c.raw_output
    batches = list(campaign.batches.order_by("index"))
    assert [(b.start, b.size, b.status, b.attempts) for b in batches] == [
        (0, 4, BatchStatus.DONE, 1),
        (4, 1, BatchStatus.DONE, 1),
    ]
    assert all(b.finished_at and b.tokens > 0 and "examples" in b.prompt_template for b in batches)


def test_n_samples_share_a_prompt_each_with_its_own_seed(tea_sources, tiny_model, settings):
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4}
    config = tea_config(tiny_model, count=6)
    config["generator"]["params"]["n"] = 3
    campaign = campaign_create_or_update(config=parse_config(config))[0]
    campaign_start(campaign=campaign)
    run(campaign)
    rows = list(campaign.candidates.order_by("slot"))
    prompts = [c.rendered_prompt for c in rows]
    assert prompts[0] == prompts[1] == prompts[2] != prompts[3] == prompts[4] == prompts[5]
    assert [c.metadata["topic"] for c in rows] == ["brewing"] * 3 + ["kinds"] * 3
    assert [c.seed for c in rows] == [3, 4, 5, 6, 7, 8]


def test_a_retried_batch_fills_only_its_missing_slots(campaign):
    campaign_start(campaign=campaign)
    run(campaign)
    assert run(campaign) == 0  # a duplicated or redelivered message finds nothing to do
    lost = campaign.candidates.get(slot=2)
    kept = set(campaign.candidates.exclude(pk=lost.pk).values_list("pk", flat=True))
    lost.delete()
    GenerationBatch.objects.filter(campaign=campaign, index=0).update(status=BatchStatus.PENDING)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    assert run(campaign) == 1
    assert sorted(campaign.candidates.values_list("slot", flat=True)) == [0, 1, 2, 3, 4]
    assert kept < set(campaign.candidates.values_list("pk", flat=True))


def test_a_dead_workers_batch_is_handed_on_and_a_live_one_is_not(campaign):
    campaign_start(campaign=campaign)
    batch = batch_claim(campaign_id=campaign.pk)
    assert batch.status == BatchStatus.RUNNING and batch.claimed_by == leases.worker_id()
    leases.release(GenerationBatch, batch.pk)
    assert batches_sweep()["batches_handed_on"] == 0  # its lease is fresh: its worker is alive
    GenerationBatch.objects.filter(pk=batch.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1), claimed_by="gone:1:x"
    )
    result = sweep()  # what beat runs
    assert result["generation"]["batches_handed_on"] == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING and "stopped while generating" in batch.error
    assert run(campaign) == 5
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == (BatchStatus.DONE, 2)


def test_a_dead_workers_batch_of_a_cancelled_campaign_is_cancelled_not_handed_on(campaign):
    from curation.campaigns.services import campaign_cancel

    campaign_start(campaign=campaign)
    batch = batch_claim(campaign_id=campaign.pk)
    leases.release(GenerationBatch, batch.pk)
    campaign_cancel(campaign=campaign)
    GenerationBatch.objects.filter(pk=batch.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with_turns = batches_sweep()
    assert with_turns["batches_handed_on"] == 1 and with_turns["turns_published"] == 0
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED


def test_a_worker_that_dies_with_a_batch_every_time_fails_it_after_the_attempts(campaign, settings):
    campaign_start(campaign=campaign)
    for _ in range(settings.ASSAY["GENERATION_MAX_ATTEMPTS"]):
        batch = batch_claim(campaign_id=campaign.pk)
        assert batch.index == 0
        leases.release(GenerationBatch, batch.pk)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1), claimed_by="gone:1:x"
        )
        batches_sweep()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED
    assert "batch 0 after 3 attempts" in campaign.error and "stopped while generating" in campaign.error


def test_a_backend_that_cannot_run_fails_the_campaign_at_once_with_its_reason(campaign):
    campaign.config["generator"]["backend"] = "vllm"
    campaign.save(update_fields=["config"])
    campaign_start(campaign=campaign)
    assert run(campaign) == 0
    campaign.refresh_from_db()
    batch = campaign.batches.get(index=0)
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.error.startswith("generation failed (batch 0): ") and "vllm" in campaign.error
    assert (batch.status, batch.attempts) == (BatchStatus.FAILED, 1) and batch.error
    assert batch_claim(campaign_id=campaign.pk) is None  # nothing more starts on a failed campaign
    # Running it again (after fixing the config) retries the failed batch from scratch.
    campaign.config["generator"]["backend"] = "transformers"
    campaign.save(update_fields=["config"])
    assert campaign_start(campaign=campaign) == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.error == ""
    assert run(campaign) == 5


def test_an_unexpected_error_is_retried_with_backoff_then_fails_batch_and_campaign(
    tea_sources, broken_model, settings
):
    """A model that crashes inside generate (positions past its table: an IndexError deep in
    torch, like a CUDA OOM or a bug) is neither permanent nor silent."""
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4}
    campaign = campaign_create_or_update(config=parse_config(tea_config(broken_model, count=2)))[0]
    campaign_start(campaign=campaign)
    for attempt in (1, 2):
        assert run(campaign) == 0
        batch = campaign.batches.get()
        assert (batch.status, batch.attempts) == (BatchStatus.PENDING, attempt)
        assert batch.error.startswith("IndexError") and batch.not_before > timezone.now()
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.RUNNING
        assert batch_claim(campaign_id=campaign.pk) is None  # it waits for its backoff
        GenerationBatch.objects.filter(pk=batch.pk).update(not_before=timezone.now())
    assert run(campaign) == 0
    campaign.refresh_from_db()
    batch = campaign.batches.get()
    assert (batch.status, batch.attempts) == (BatchStatus.FAILED, 3)
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.error.startswith("generation failed (batch 0 after 3 attempts): IndexError")


def test_the_campaign_is_done_once_everything_is_generated_and_triaged(campaign):
    campaign_start(campaign=campaign)
    run(campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING  # generated, not yet scored
    progress = campaign_progress(campaign=campaign)
    assert (progress["done"], progress["total"], progress["eta_s"]) == (5, 5, 0)
    assert progress["per_minute"] > 0 and progress["tokens_per_s"] > 0
    candidates_score(candidate_ids=list(campaign.candidates.values_list("pk", flat=True)))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert Candidate.objects.filter(campaign=campaign, status__in=["generated", "scored"]).count() == 0
    # Raising the count later generates only the new slots.
    campaign.count = 7
    campaign.save(update_fields=["count"])
    assert campaign_start(campaign=campaign) == 1
    assert run(campaign) == 2
    assert sorted(campaign.candidates.values_list("slot", flat=True)) == list(range(7))


def test_turns_lost_while_a_worker_sits_idle_are_published_again(
    campaign, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        campaign_start(campaign=campaign)  # its messages never arrive (a broker restart)
    now = timezone.now()
    worker = WorkerHeartbeat.objects.create(
        hostname="w1@host", queues="cpu,gpu", pid=1, started_at=now, last_seen=now, free_since=now
    )
    assert batches_sweep()["turns_published"] == 0  # just started, and the worker only just got room
    long_ago = now - timedelta(seconds=settings.ASSAY["STALE_SECONDS"] + 1)
    Campaign.objects.filter(pk=campaign.pk).update(nudged_at=long_ago)
    WorkerHeartbeat.objects.filter(pk=worker.pk).update(free_since=None)
    assert batches_sweep()["turns_published"] == 0  # the worker is busy: the queue may just be long
    WorkerHeartbeat.objects.filter(pk=worker.pk).update(free_since=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as published:
        assert batches_sweep()["turns_published"] == 1  # idle beside waiting work: a lost turn
    assert len(published) == 1
    assert batches_sweep()["turns_published"] == 0  # at most once per quiet spell


def test_what_an_endpoint_answered_is_kept_and_only_the_rest_is_asked_again(tea_sources, settings):
    """Every third request fails (a 429 or a 500) and the client may not retry: the batch
    keeps the answers it got and its next attempt asks only for the missing slots."""
    from tests.support.endpoint import Endpoint

    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 6, "GENERATION_MAX_ATTEMPTS": 5}
    endpoint = Endpoint(delay_s=0, fail_every=3)
    try:
        config = tea_config("scripted", count=6)
        config["generator"] = {
            "backend": "openai",
            "model": "scripted",
            "base_url": endpoint.base_url,
            "concurrency": 1,  # one at a time: requests 3 and 6 fail
            "max_retries": 0,
            "params": {"seed": 3},
        }
        campaign = campaign_create_or_update(config=parse_config(config))[0]
        campaign_start(campaign=campaign)
        assert run(campaign) == 0  # the attempt failed ...
        assert campaign.candidates.count() == 4  # ... but kept what was answered
        batch = campaign.batches.get()
        assert batch.status == BatchStatus.PENDING and "2 of 6 requests failed" in batch.error
        asked = endpoint.requests
        GenerationBatch.objects.filter(pk=batch.pk).update(not_before=timezone.now())
        run(campaign)
        assert endpoint.requests - asked == 2  # only the missing slots were asked again
        GenerationBatch.objects.filter(pk=batch.pk).update(not_before=timezone.now())
        run(campaign)
        assert sorted(campaign.candidates.values_list("seed", flat=True)) == [3, 4, 5, 6, 7, 8]
        batch.refresh_from_db()
        assert batch.status == BatchStatus.DONE and batch.tokens == 6 * 50
    finally:
        endpoint.close()


def test_the_few_shot_pool_is_loaded_once_per_process_until_the_source_changes(tea_sources, tmp_path):
    from curation.generation.services import _pool
    from curation.sources.models import Source
    from curation.sources.services import examples_import

    tea = Source.objects.get(name="tea")
    first = _pool(tea.pk)
    assert _pool(tea.pk) is first  # the next batch reuses it
    assert len(first) == 10
    extra = tmp_path / "more.jsonl"
    extra.write_text('{"prompt": "Is white tea rare?", "response": "Rarer than green tea, yes."}\n')
    examples_import(path=extra, source_name="tea", split="train", license="CC0-1.0")
    again = _pool(tea.pk)
    assert again is not first and len(again) == 11


def test_a_campaign_with_its_own_queue_publishes_its_turns_there(
    tea_sources, tiny_model, settings, django_capture_on_commit_callbacks
):
    """One model per GPU worker process: a campaign of another model names its own queue,
    served by its own workers (`make worker QUEUES=gpu-tea`)."""
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4}
    config = tea_config(tiny_model, slug="tea-own-queue", count=8)
    config["generator"]["queue"] = "gpu-tea"
    own = campaign_create_or_update(config=parse_config(config))[0]
    assert own.generation_queue == "gpu-tea"
    purge("gpu", "gpu-tea")
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_start(campaign=own) == 2
    assert (queued("gpu-tea"), queued("gpu")) == (2, 0)
    purge("gpu", "gpu-tea")

"""Generation as the worker runs it: batches, lineage, idempotent retries, clean
failures, and publishing only after commit. The engine is a tiny real model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.campaigns.config import parse_config
from curation.campaigns.models import CampaignStatus, Candidate
from curation.campaigns.services import campaign_create_or_update, campaign_start
from curation.generation.models import BatchStatus, GenerationBatch
from curation.generation.services import batch_generate
from curation.scoring.services import candidates_score
from curation.sources.models import Example
from workers.celery_app import app as celery_app


@pytest.fixture
def campaign(tea_sources, tiny_model, settings):
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 4}
    config = parse_config(
        {
            "slug": "tea-gen",
            "source": "tea",
            "count": 5,
            "fewshot": 2,
            "diversity": {"topic": ["brewing", "kinds", "storage"]},
            "generator": {"model": tiny_model, "params": {"max_tokens": 8, "seed": 3}},
        }
    )
    return campaign_create_or_update(config=config)[0]


def _queued(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=False).message_count


def _purge(*queues: str) -> None:
    with celery_app.connection_for_write() as conn:
        for q in queues:
            conn.default_channel.queue_declare(q)
            conn.default_channel.queue_purge(q)


def test_it_publishes_generation_only_after_the_transaction_commits(
    campaign, django_capture_on_commit_callbacks
):
    _purge("gpu", "cpu")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert campaign_start(campaign=campaign) == 2  # 5 slots in batches of 4
        assert _queued("gpu") == 0
    assert len(callbacks) == 2
    for send in callbacks:
        send()
    assert _queued("gpu") == 2
    _purge("gpu", "cpu")


def test_a_batch_stores_candidates_with_their_full_lineage(campaign, django_capture_on_commit_callbacks):
    campaign_start(campaign=campaign)
    batch = campaign.batches.get(index=0)
    with django_capture_on_commit_callbacks() as callbacks:
        assert batch_generate(batch_id=batch.pk) == 4
    assert len(callbacks) == 1  # scoring of the new candidates, published after commit
    train_ids = {e.public_id for e in Example.objects.filter(source__name="tea")}
    rows = list(campaign.candidates.order_by("slot"))
    assert [c.slot for c in rows] == [0, 1, 2, 3]
    assert [c.metadata["topic"] for c in rows] == ["brewing", "kinds", "storage", "brewing"]
    for c in rows:
        assert c.generator == {
            "backend": "transformers",
            "model": campaign.config["generator"]["model"],
            "params": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 8, "seed": 3},
        }
        # Each sample's own seed, really used by the engine: the campaign's seed plus its slot.
        assert c.seed == 3 + c.slot and c.generation_depth == 1 and len(c.content_sha256) == 64
        assert len(c.parents) == 2 and set(c.parents) <= train_ids  # never held-out seeds
        assert c.metadata["topic"] in c.rendered_prompt and c.raw_output
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and "examples" in batch.prompt_template


def test_a_retried_batch_fills_only_its_missing_slots(campaign, django_capture_on_commit_callbacks):
    campaign_start(campaign=campaign)
    batch = campaign.batches.get(index=0)
    batch_generate(batch_id=batch.pk)
    assert batch_generate(batch_id=batch.pk) == 0  # done: a redelivered task does nothing
    lost = campaign.candidates.get(slot=2)
    kept = set(campaign.candidates.exclude(pk=lost.pk).values_list("pk", flat=True))
    lost.delete()
    GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.PENDING)
    assert batch_generate(batch_id=batch.pk) == 1
    assert sorted(campaign.candidates.values_list("slot", flat=True)) == [0, 1, 2, 3]
    assert kept < set(campaign.candidates.values_list("pk", flat=True))


def test_a_running_batch_is_reclaimed_only_once_its_worker_is_surely_gone(campaign):
    campaign_start(campaign=campaign)
    batch = campaign.batches.get(index=0)
    GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    assert batch_generate(batch_id=batch.pk) == 0 and not campaign.candidates.exists()
    GenerationBatch.objects.filter(pk=batch.pk).update(updated_at=timezone.now() - timedelta(hours=3))
    assert batch_generate(batch_id=batch.pk) == 4


def test_a_backend_that_cannot_run_fails_the_campaign_with_its_reason(campaign):
    campaign.config["generator"]["backend"] = "vllm"
    campaign.save(update_fields=["config"])
    campaign_start(campaign=campaign)
    batch = campaign.batches.get(index=0)
    assert batch_generate(batch_id=batch.pk) == 0
    campaign.refresh_from_db()
    batch.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.error.startswith("generation failed: ") and "vllm" in campaign.error
    assert batch.status == BatchStatus.FAILED and batch.error
    # The next batch does not even start on a failed campaign.
    assert batch_generate(batch_id=campaign.batches.get(index=1).pk) == 0
    # Running it again (after fixing the config) retries the failed batch from scratch.
    campaign.config["generator"]["backend"] = "transformers"
    campaign.save(update_fields=["config"])
    assert campaign_start(campaign=campaign) == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.error == ""


def test_the_campaign_is_done_once_everything_is_generated_and_triaged(campaign):
    campaign_start(campaign=campaign)
    for batch in campaign.batches.all():
        batch_generate(batch_id=batch.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING  # generated, not yet scored
    candidates_score(candidate_ids=list(campaign.candidates.values_list("pk", flat=True)))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert Candidate.objects.filter(campaign=campaign, status__in=["generated", "scored"]).count() == 0
    # Raising the count later generates only the new slots.
    campaign.count = 7
    campaign.save(update_fields=["count"])
    assert campaign_start(campaign=campaign) == 1

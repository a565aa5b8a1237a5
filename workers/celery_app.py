"""The Celery app. Queues: `gpu` (generation, model-bound, one engine per worker
process) and `cpu` (critics, metrics, exports). Broker: Redis when
CELERY_BROKER_URL is set, else a filesystem queue beside the database (settings)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

app = Celery("assay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Explicit exchanges: a bare Queue("gpu") would bind to the default exchange and key
    # ("cpu"), and generation would reach cpu workers too.
    task_queues=(
        Queue("gpu", Exchange("gpu"), routing_key="gpu"),
        Queue("cpu", Exchange("cpu"), routing_key="cpu"),
    ),
    task_default_queue="cpu",
    task_default_exchange="cpu",
    task_default_routing_key="cpu",
    task_routes={"workers.generate": {"queue": "gpu", "exchange": "gpu", "routing_key": "gpu"}},
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,  # progress lives in the database, never in task results
    # Tasks are idempotent "ensure" operations, so redelivery after a crash is safe.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks(
    [
        "curation.core",
        "curation.generation",
        "curation.scoring",
        "curation.exports",
        "curation.metrics",
        "curation.integrations.argilla",
    ]
)

# Heartbeats: the UI shows live workers; `--wait` commands start one when none is alive.
import curation.core.heartbeat  # noqa: E402

# Time limits for the solo pool, which Celery leaves unenforced.
import curation.core.time_limits  # noqa: E402, F401

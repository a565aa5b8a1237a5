"""Publishing tasks. Always after the transaction commits (Celery docs, "Database
transactions"): a worker must never look for rows that are not there yet. Tasks are
named, so services publish without importing task modules (no import cycles)."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def enqueue_on_commit(
    task_name: str, *args: Any, queue: str | None = None, countdown: float | None = None
) -> None:
    """Publish `task_name(*args)` once the current transaction commits. `queue` overrides
    the task's route (a campaign's own generation queue); `countdown` delays it."""

    def send() -> None:
        from workers.celery_app import app

        options: dict[str, Any] = {}
        if queue:
            options.update(queue=queue, exchange=queue, routing_key=queue)
        if countdown:
            options["countdown"] = countdown
        app.send_task(task_name, args=list(args), **options)

    transaction.on_commit(send)

"""Publishing tasks. Always after the transaction commits (Celery docs, "Database
transactions"): a worker must never look for rows that are not there yet. Tasks are
named, so services publish without importing task modules (no import cycles)."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    def send() -> None:
        from workers.celery_app import app

        app.send_task(task_name, args=list(args))

    transaction.on_commit(send)

"""Starts the Argilla 2.8.0 test server: `.venv-argilla/bin/python launch.py HOST PORT`.

Runs in the server's own virtual environment with this folder on PYTHONPATH. Before the
app is imported it (1) registers the in-memory search engine, and (2) puts the server's
rq queues on fakeredis, private to this process. Two background jobs then run as tasks on
the server's own event loop instead of in an rq worker: `update_dataset_records_status_job`
(after a dataset's distribution changes), so it sees the in-memory index, and
`notify_event_job`, which delivers a webhook (the POST itself, blocking httpx, in a thread);
a delivery that fails is logged and not retried. The others (Hub import/export) are queued
and never run.
"""

from __future__ import annotations

import asyncio
import sys

import fakeredis
import redis

_REDIS = fakeredis.FakeServer()
redis.from_url = lambda *args, **kwargs: fakeredis.FakeRedis(server=_REDIS)

import memory_search  # noqa: E402, F401  (registers the "memory" engine)
import uvicorn  # noqa: E402
from argilla_server.database import AsyncSessionLocal  # noqa: E402
from argilla_server.jobs import dataset_jobs, webhook_jobs  # noqa: E402
from argilla_server.models import Webhook  # noqa: E402
from argilla_server.webhooks.v1.commons import notify_event  # noqa: E402

_TASKS: set[asyncio.Task] = set()


def _run_in_loop(dataset_id):
    task = asyncio.get_running_loop().create_task(dataset_jobs.update_dataset_records_status_job(dataset_id))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


dataset_jobs.update_dataset_records_status_job.delay = _run_in_loop


async def _notify(webhook_id, event, timestamp, data) -> None:
    async with AsyncSessionLocal() as db:
        webhook = await Webhook.get_or_raise(db, webhook_id)
    try:
        response = await asyncio.to_thread(notify_event, webhook, event, timestamp, data)
        response.raise_for_status()
    except Exception as exc:  # as rq would: the failure is the job's, not the server's
        print(f"webhook {webhook.url} {event}: {exc!r}", flush=True)


def _notify_in_loop(webhook_id, event, timestamp, data):
    task = asyncio.get_running_loop().create_task(_notify(webhook_id, event, timestamp, data))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


webhook_jobs.notify_event_job.delay = _notify_in_loop


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run("argilla_server:app", host=host, port=port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

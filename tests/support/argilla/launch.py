"""Starts the Argilla 2.8.0 test server: `.venv-argilla/bin/python launch.py HOST PORT`.

Runs in the server's own virtual environment with this folder on PYTHONPATH. Before the
app is imported it (1) registers the in-memory search engine, and (2) puts the server's
rq queues on fakeredis, private to this process. The one background job the SDK's
operations can queue, `update_dataset_records_status_job` (after a dataset's distribution
changes), then runs as a task on the server's own event loop, so it sees the in-memory
index; the others (webhooks, Hub import/export) are queued and never run.
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
from argilla_server.jobs import dataset_jobs  # noqa: E402

_TASKS: set[asyncio.Task] = set()


def _run_in_loop(dataset_id):
    task = asyncio.get_running_loop().create_task(dataset_jobs.update_dataset_records_status_job(dataset_id))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


dataset_jobs.update_dataset_records_status_job.delay = _run_in_loop


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run("argilla_server:app", host=host, port=port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

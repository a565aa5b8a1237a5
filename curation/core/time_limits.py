"""Task time limits for the solo pool, which Celery does not enforce: GPU workers run
solo (one engine per process), so without this a batch stuck in an engine would hold
its worker forever.

- Soft limit: SIGALRM raises SoftTimeLimitExceeded inside the task, as the prefork pool
  does; the generation service counts it as a failed attempt (bounded retries).
- Hard limit: the process exits, as a prefork child is killed: its batch lease runs out
  and the sweeper hands the batch on; a supervisor (compose's restart policy,
  `serve_local`) starts the worker again.

The solo pool runs tasks in the main thread, where signal handlers run."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun, worker_ready

log = logging.getLogger(__name__)
_state: dict[str, Any] = {"solo": False, "timer": None}


@worker_ready.connect
def _note_pool(sender: Any, **kwargs: Any) -> None:
    pool = getattr(sender, "pool", None)
    _state["solo"] = type(pool).__module__ == "celery.concurrency.solo"


def _limits(task: Any) -> tuple[float | None, float | None]:
    conf = task.app.conf
    return (task.soft_time_limit or conf.task_soft_time_limit, task.time_limit or conf.task_time_limit)


@task_prerun.connect
def _arm(task: Any = None, **kwargs: Any) -> None:
    if not _state["solo"] or threading.current_thread() is not threading.main_thread():
        return
    soft, hard = _limits(task)
    if soft:

        def _soft(signum: int, frame: Any) -> None:
            raise SoftTimeLimitExceeded(f"soft time limit ({soft:g} s) exceeded")

        signal.signal(signal.SIGALRM, _soft)
        signal.setitimer(signal.ITIMER_REAL, soft)
    if hard:
        timer = threading.Timer(hard, _hard_limit, args=(task.name, hard))
        timer.daemon = True
        timer.start()
        _state["timer"] = timer


@task_postrun.connect
def _disarm(**kwargs: Any) -> None:
    if not _state["solo"] or threading.current_thread() is not threading.main_thread():
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    timer = _state.pop("timer", None)
    _state["timer"] = None
    if timer is not None:
        timer.cancel()


def _hard_limit(name: str, hard: float) -> None:
    log.critical("task %s passed its hard time limit (%g s): stopping this worker process", name, hard)
    for child in multiprocessing.active_children():  # an embedded beat must not outlive us
        child.kill()
    os._exit(70)  # no cleanup can be trusted while the main thread is stuck

"""Leases on work rows (generation batches): a worker process claims a row by conditional
update, naming itself in `claimed_by` with an expiry in `lease_expires_at`, and a thread
of that same process renews the lease while the work goes on.

When the process dies (SIGKILL, OOM, node loss) the renewals stop, the lease runs out
and the sweeper hands the row to another worker: no command from anyone, no message
needed. The thread lives in the process that does the work, so it works for the solo
pool and for prefork children alike."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Model
from django.utils import timezone

log = logging.getLogger(__name__)

_lock = threading.Lock()
_held: dict[type[Model], set[int]] = {}
_state = {"pid": 0, "worker": ""}


def worker_id() -> str:
    """This process's name in `claimed_by`: host, pid and a random part (a restarted worker
    may get the same pid)."""
    with _lock:
        if _state["pid"] != os.getpid():  # a forked child is a new holder
            _state["pid"] = os.getpid()
            _state["worker"] = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
            _held.clear()
            threading.Thread(target=_renew_forever, args=(os.getpid(),), daemon=True, name="leases").start()
        return _state["worker"]


def lease_seconds() -> int:
    return settings.ASSAY["WORK_LEASE_SECONDS"]


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=lease_seconds())


def hold(model: type[Model], pk: int) -> None:
    worker_id()
    with _lock:
        _held.setdefault(model, set()).add(pk)


def release(model: type[Model], pk: int) -> None:
    with _lock:
        _held.get(model, set()).discard(pk)


def renew_now() -> int:
    """Extend every lease this process holds; returns how many rows were renewed."""
    with _lock:
        held = {model: list(ids) for model, ids in _held.items() if ids}
    n = 0
    for model, ids in held.items():
        n += model.objects.filter(pk__in=ids, status="running", claimed_by=_state["worker"]).update(
            lease_expires_at=lease_until()
        )
    return n


def _renew_forever(pid: int) -> None:
    # A third of the lease: two renewals may fail (a locked SQLite file) before it runs out.
    every = max(1.0, lease_seconds() / 3)
    while os.getpid() == pid:
        time.sleep(every)
        try:
            close_old_connections()
            renew_now()
        except Exception:  # a missed renewal must never kill the worker; the next one may work
            log.warning("lease renewal failed", exc_info=True)
        finally:
            connection.close()

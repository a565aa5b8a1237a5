"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.core.sweeper import sweep as sweep_all


@shared_task(name="workers.sweep")
def sweep(**kwargs) -> dict[str, object]:
    """The periodic repairs (core/sweeper.py). Safe to run at any time, twice at once
    included; a lost or expired run is replaced by the next one."""
    return sweep_all()

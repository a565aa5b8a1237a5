"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.exports.jobs import export_job_run


@shared_task(name="workers.export")
def export(job_id: int, **kwargs) -> str:
    """Write an export job's files and record its Export (`cpu` queue). Safe to rerun,
    duplicate or lose: only a claim by conditional update lets it work, a job already
    recorded is just marked done, and the sweeper republishes a lost message and hands on
    the job of a dead worker (whose leftovers the next attempt removes). An unexpected error
    is retried with backoff up to 3 attempts; an error the user must fix fails the job at
    once; either way the job shows the error text."""
    return export_job_run(job_id=job_id)

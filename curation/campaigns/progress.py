"""Waiting for a campaign with a progress bar on stderr (`--wait`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from django.conf import settings

from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.selectors import campaign_counts
from curation.campaigns.status import UNSCORED
from curation.core.errors import AssayError
from curation.core.local_worker import live_workers, worker_if_none
from curation.generation.selectors import generation_busy


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


class Progress:
    def __init__(self, out: TextIO) -> None:
        self.out, self.last = out, ""
        self.tty = out.isatty()

    def show(self, line: str) -> None:
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.out.write("\r" + line.ljust(78))
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty and self.last:
            self.out.write("\n")


def wait_for(
    campaign: Campaign,
    *,
    out: TextIO,
    finished: Callable[[Campaign, dict[str, int]], bool],
    total: int,
    poll: float = 1.0,
    no_worker_after: float = 120.0,
) -> dict[str, int]:
    """Poll until `finished`; start a local worker if none serves the campaign's queues.
    Never waits forever: raises AssayError when the campaign fails or is paused, when no
    worker is alive, or when nothing moved for ASSAY_WAIT_STALL_SECONDS (a stall)."""
    progress = Progress(out)
    stall_after = settings.ASSAY["WAIT_STALL_SECONDS"]
    queue = campaign.generation_queue
    with worker_if_none((queue, "cpu")) as local:
        last, moved_at, seen_worker_at = None, time.monotonic(), time.monotonic()
        try:
            while True:
                campaign.refresh_from_db(fields=["status", "error"])
                counts = campaign_counts(campaign=campaign)
                made = sum(counts.values())
                triaged = made - sum(counts[s] for s in UNSCORED)
                progress.show(f"generated {_bar(min(made, total), total)}  triaged {_bar(triaged, total)}")
                if campaign.status == CampaignStatus.FAILED:
                    raise AssayError(f"campaign {campaign.slug} failed: {campaign.error}")
                if finished(campaign, counts):
                    return counts
                if campaign.status == CampaignStatus.PAUSED:
                    raise AssayError(
                        f"campaign {campaign.slug} is paused: resume_campaign {campaign.slug} continues it"
                    )
                if local is not None and local.poll() is not None:
                    raise AssayError(
                        f"the local worker stopped (exit code {local.returncode}); see var/logs/"
                    )
                now = time.monotonic()
                if local is not None or live_workers():
                    seen_worker_at = now
                elif now - seen_worker_at > no_worker_after:
                    raise AssayError(
                        "no worker is alive to run the queued tasks; start one with `make worker`"
                    )
                # A batch under a live lease is progress even while no count moves (a CPU
                # batch takes minutes); its worker's time limits bound how long.
                state = (made, triaged)
                if state != last or generation_busy(campaign=campaign):
                    last, moved_at = state, now
                elif now - moved_at > stall_after:
                    raise AssayError(
                        f"campaign {campaign.slug} stalled: nothing generated or scored for "
                        f"{int(now - moved_at)} s and no batch running; see show_campaign {campaign.slug} "
                        "and the worker logs"
                    )
                time.sleep(poll)
        finally:
            progress.close()

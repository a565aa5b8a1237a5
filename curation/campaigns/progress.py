"""Waiting for a campaign with a progress bar on stderr (`--wait`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.selectors import campaign_counts
from curation.campaigns.services import UNSCORED
from curation.core.errors import AssayError
from curation.core.local_worker import live_workers, worker_if_none


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
    stall_after: float = 120.0,
) -> dict[str, int]:
    """Poll until `finished`; start a local worker if none serves the queues. Raises
    AssayError when the campaign fails or nothing can make progress."""
    progress = Progress(out)
    with worker_if_none() as local:
        idle_since = time.monotonic()
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
                if local is not None and local.poll() is not None:
                    raise AssayError(
                        f"the local worker stopped (exit code {local.returncode}); see var/logs/"
                    )
                if local is None and not live_workers():
                    idle = time.monotonic() - idle_since
                    if idle > stall_after:
                        raise AssayError(
                            "no worker is alive to run the queued tasks; start one with `make worker`"
                        )
                else:
                    idle_since = time.monotonic()
                time.sleep(poll)
        finally:
            progress.close()

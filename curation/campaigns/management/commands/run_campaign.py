from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.models import CampaignStatus
from curation.campaigns.progress import wait_for
from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.campaigns.services import campaign_start
from curation.campaigns.status import UNSCORED
from curation.core.errors import AssayError
from curation.core.local_worker import live_workers
from curation.generation.selectors import campaign_progress


def _finished(campaign, counts) -> bool:
    if campaign.status == CampaignStatus.DONE:
        return True
    # A cancelled campaign makes nothing more; it is finished once what it made is triaged.
    return campaign.status == CampaignStatus.CANCELLED and not any(counts[s] for s in UNSCORED)


class Command(BaseCommand):
    help = (
        "Start (or restart) a campaign's generation, then scoring. With --wait, show progress and return "
        "when every candidate is triaged (a local worker is started if none is running)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true", help="wait until every candidate is triaged")

    def handle(self, *args, **opts):
        try:
            campaign = campaign_get(slug=opts["slug"])
            campaign_start(campaign=campaign)
            progress = campaign_progress(campaign=campaign)
            left = progress["total"] - progress["done"]
            self.stderr.write(
                f"campaign {campaign.slug}: generation started, "
                f"{left} of {progress['total']} candidates to make"
                if left
                else f"campaign {campaign.slug}: every candidate is generated; scoring what is left"
            )
            queue = campaign.generation_queue
            if not opts["wait"]:
                if not live_workers(queue):
                    self.stderr.write(
                        f"no worker serves the {queue} queue: "
                        "start one with `make worker`, or rerun with --wait"
                    )
                self.stdout.write(f"queued {campaign.slug}")
                return
            wait_for(campaign, out=self.stderr, total=campaign.count, finished=_finished)
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = campaign_counts(campaign=campaign)
        summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        self.stdout.write(f"{campaign.slug} {campaign.status}: {summary}")

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.models import CampaignStatus
from curation.campaigns.progress import wait_for
from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.campaigns.services import campaign_start
from curation.core.errors import AssayError
from curation.core.local_worker import live_workers


class Command(BaseCommand):
    help = (
        "Queue a campaign's generation, then scoring. With --wait, show progress and return when every "
        "candidate is scored (a local worker is started if none is running)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true", help="wait until every candidate is triaged")

    def handle(self, *args, **opts):
        try:
            campaign = campaign_get(slug=opts["slug"])
            batches = campaign_start(campaign=campaign)
            self.stderr.write(f"campaign {campaign.slug}: {batches} generation batches queued")
            if not opts["wait"]:
                if not live_workers("gpu"):
                    self.stderr.write(
                        "no worker is running: start one with `make worker`, or rerun with --wait"
                    )
                self.stdout.write(f"queued {campaign.slug}")
                return
            counts = wait_for(
                campaign,
                out=self.stderr,
                total=campaign.count,
                finished=lambda c, _: c.status == CampaignStatus.DONE,
            )
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = campaign_counts(campaign=campaign)
        summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        self.stdout.write(f"{campaign.slug} done: {summary}")

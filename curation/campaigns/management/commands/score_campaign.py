from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.progress import wait_for
from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.campaigns.services import campaign_score
from curation.campaigns.status import UNSCORED
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = "Run the critics on a campaign's unscored candidates; --wait returns when all are triaged."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true")

    def handle(self, *args, **opts):
        try:
            campaign = campaign_get(slug=opts["slug"])
            n = campaign_score(campaign=campaign)
            self.stderr.write(f"campaign {campaign.slug}: {n} candidates queued for scoring")
            if opts["wait"] and n:
                total = sum(campaign_counts(campaign=campaign).values())
                wait_for(
                    campaign,
                    out=self.stderr,
                    total=total,
                    finished=lambda c, counts: not any(counts[s] for s in UNSCORED),
                )
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = campaign_counts(campaign=campaign)
        self.stdout.write(f"{campaign.slug}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))

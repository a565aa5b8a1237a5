from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = "Show a campaign's status and its candidates per status."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--json", action="store_true", help="print {slug, status, counts[, error]} as JSON"
        )

    def handle(self, *args, **opts):
        try:
            campaign = campaign_get(slug=opts["slug"])
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = campaign_counts(campaign=campaign)
        body = {"slug": campaign.slug, "status": campaign.status, "counts": counts}
        if campaign.error:
            body["error"] = campaign.error
        if opts["json"]:
            self.stdout.write(json.dumps(body))
            return
        self.stdout.write(f"{campaign.slug} ({campaign.name}): {campaign.status}, {campaign.count} asked")
        for status, n in counts.items():
            self.stdout.write(f"  {status:<14}{n}")
        if campaign.error:
            self.stdout.write(f"  error: {campaign.error}")

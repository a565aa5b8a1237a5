from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.core.errors import AssayError
from curation.generation.selectors import campaign_progress


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else (f"{m} min {s} s" if m else f"{s} s")


class Command(BaseCommand):
    help = "Show a campaign's status, generation progress and its candidates per status."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="print {slug, status, counts, progress[, error]} as JSON; progress is "
            "{done, total, per_minute, tokens_per_s, eta_s, batches}",
        )
        parser.add_argument("slug")

    def handle(self, *args, **opts):
        try:
            campaign = campaign_get(slug=opts["slug"])
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = campaign_counts(campaign=campaign)
        progress = campaign_progress(campaign=campaign)
        body = {"slug": campaign.slug, "status": campaign.status, "counts": counts, "progress": progress}
        if campaign.error:
            body["error"] = campaign.error
        if opts["json"]:
            self.stdout.write(json.dumps(body))
            return
        self.stdout.write(f"{campaign.slug} ({campaign.name}): {campaign.status}, {campaign.count} asked")
        self.stdout.write(
            f"  generated {progress['done']}/{progress['total']}, {progress['per_minute']:g} per minute, "
            f"{progress['tokens_per_s']:g} tokens/s, done in {_duration(progress['eta_s'])}"
        )
        for status, n in counts.items():
            self.stdout.write(f"  {status:<16}{n}")
        if campaign.error:
            self.stdout.write(f"  error: {campaign.error}")

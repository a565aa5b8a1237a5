from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.selectors import campaign_get
from curation.core.errors import AssayError
from curation.integrations.argilla.client import ArgillaError
from curation.integrations.argilla.services import argilla_sync


class Command(BaseCommand):
    help = (
        "Push the campaign's candidates in review to its Argilla dataset and record the answers "
        "given there as reviews (idempotent). The API key comes from ASSAY_ARGILLA_API_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, **opts):
        try:
            summary = argilla_sync(campaign=campaign_get(slug=opts["slug"]))
        except (AssayError, ArgillaError) as e:
            raise CommandError(str(e)) from None
        if "skipped" in summary:
            self.stdout.write(f"{summary['campaign']}: skipped, {summary['skipped']}")
            return
        for line in summary["refused"]:
            self.stderr.write(f"refused: {line}")
        if summary.get("webhook"):
            self.stderr.write(f"webhook not kept (the periodic sync still pulls): {summary['webhook']}")
        self.stdout.write(
            f"{summary['campaign']}: pushed {summary['pushed']}, pulled {summary['answers']} answers "
            f"-> {summary['reviews']} reviews ({len(summary['refused'])} refused), "
            f"removed {summary['removed']}"
        )

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.imports import candidates_import
from curation.campaigns.selectors import campaign_get
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = (
        "Import synthetic samples made elsewhere into a campaign (lineage columns: generator_model, "
        "generation_depth, parents). Then run score_campaign."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--campaign", required=True)

    def handle(self, *args, **opts):
        try:
            result = candidates_import(path=opts["path"], campaign=campaign_get(slug=opts["campaign"]))
        except AssayError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"imported {result.imported}, skipped {result.skipped} duplicates")

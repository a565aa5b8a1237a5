from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.core.errors import AssayError
from curation.sources.models import Split
from curation.sources.services import examples_import


class Command(BaseCommand):
    help = (
        "Import human-written examples (JSONL, CSV or Parquet) into a source. "
        "A file with a bad row imports nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .jsonl, .csv or .parquet file")
        parser.add_argument("--source", required=True, help="source name (created if new)")
        parser.add_argument(
            "--split",
            choices=Split.values,
            default=Split.TRAIN,
            help="train (default) or heldout: held-out data is never exported for training",
        )
        parser.add_argument("--license", default="", help="license of the data, e.g. CC-BY-4.0")

    def handle(self, *args, **opts):
        try:
            result = examples_import(
                path=opts["path"], source_name=opts["source"], split=opts["split"], license=opts["license"]
            )
        except AssayError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"imported {result.imported}, skipped {result.skipped} duplicates")

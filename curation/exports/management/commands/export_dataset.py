from __future__ import annotations

import logging
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from curation.core.errors import AssayError
from curation.exports.services import export_create


def _ladder(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CommandError(f"--ladder {text!r}: give fractions separated by commas, e.g. 0,0.1,0.2") from None


class Command(BaseCommand):
    help = (
        "Export approved synthetic data with human train data under a synthetic cap, with provenance on "
        "every record and a manifest.json. Prints the export id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", nargs="+", action="extend", default=[], help="campaign slug(s)")
        parser.add_argument("--source", nargs="+", action="extend", default=[], help="human source name(s)")
        parser.add_argument(
            "--max-synthetic",
            type=float,
            help="cap on synthetic / (synthetic + human), overall and per stratum (default: the campaigns' "
            "mixture.max_synthetic, the lowest of several; 0.3 without a campaign)",
        )
        parser.add_argument(
            "--balance-by",
            help="metadata field whose values are strata, e.g. topic (default: the campaigns' "
            "mixture.balance_by; '' for none)",
        )
        parser.add_argument(
            "--max-depth",
            type=int,
            help="highest generation_depth kept (default: the campaigns' mixture.max_depth, the lowest of "
            "several; 1 without a campaign: no synthetic-of-synthetic)",
        )
        parser.add_argument(
            "--max-per-generator",
            type=float,
            help="the largest share of the synthetic rows one generator model may supply (default: the "
            "campaigns' mixture.max_per_generator, the lowest of several; none without)",
        )
        parser.add_argument("--ladder", help="caps for an ablation series, e.g. 0,0.1,0.2,0.3")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--split",
            default="train",
            choices=["train", "heldout"],
            help="train (default): a training mixture; heldout: held-out sources alone, an evaluation set",
        )
        parser.add_argument("--format", default="jsonl", choices=["jsonl", "parquet", "hf"])
        parser.add_argument("--out", required=True, help="a new (or empty) folder")

    def handle(self, *args, **opts):
        if not opts["campaign"] and not opts["source"]:
            raise CommandError("give at least one --campaign or --source")
        # The export prints one line; an encoder loaded for edited rows must not chatter.
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:  # imported already: its bar setting was read then
            sys.modules["transformers"].utils.logging.disable_progress_bar()
        # Parsed here, not by argparse: a bad value is one line, not a traceback.
        ladder = _ladder(opts["ladder"]) if opts["ladder"] is not None else None
        try:
            export = export_create(
                campaign_slugs=opts["campaign"],
                source_names=opts["source"],
                max_synthetic=opts["max_synthetic"],
                fmt=opts["format"],
                out=opts["out"],
                balance_by=opts["balance_by"],
                max_depth=opts["max_depth"],
                max_per_generator=opts["max_per_generator"],
                ladder=ladder,
                seed=opts["seed"],
                split=opts["split"],
            )
        except AssayError as e:
            raise CommandError(str(e)) from None
        counts = export.manifest.get("counts")
        if counts:
            self.stderr.write(
                f"wrote {counts['total']} records ({counts['human']} human) to {export.out_dir}"
            )
        else:
            self.stderr.write(f"wrote {len(export.manifest['ladder'])} ladder steps to {export.out_dir}")
        self.stdout.write(str(export.pk))

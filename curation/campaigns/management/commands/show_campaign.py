from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.selectors import campaign_counts, campaign_get
from curation.core.errors import AssayError
from curation.generation.selectors import campaign_progress
from curation.metrics.selectors import campaign_diversity
from curation.review.selectors import campaign_agreement
from curation.scoring.selectors import campaign_calibration, learned_status


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else (f"{m} min {s} s" if m else f"{s} s")


def _fig(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.2f}"


class Command(BaseCommand):
    help = "Show a campaign's status, generation progress and its candidates per status."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="print {slug, status, counts, progress[, error][, calibration][, learned]} as JSON; "
            "progress is {done, total, per_minute, tokens_per_s, eta_s, batches}; calibration "
            "(once experts decided 20 items) is {critic: {auc, precision, recall, n, confusion}}; diversity "
            "(once candidates are scored) is {n, sample, campaign, human, change, alarms, updated_at}; "
            "agreement (once two experts decided an item) is {items, percent, kappa, alpha, pairs}",
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
        calibration = campaign_calibration(campaign=campaign)
        if calibration is not None:
            body["calibration"] = calibration
        learned = learned_status(campaign=campaign)
        if learned is not None:
            body["learned"] = {**learned, "trained_at": learned["trained_at"].isoformat()}
        figures = campaign_diversity(campaign=campaign)
        if figures:
            versus = figures["versus_human"]
            body["diversity"] = {
                "n": figures["n"],
                "sample": versus["n"],
                "campaign": versus["sample"],
                "human": versus["reference"],
                "change": versus["change"],
                "alarms": figures["alarms"],
                "updated_at": figures["updated_at"],
            }
        agreed = campaign_agreement(campaign=campaign)
        if agreed["items"]:
            body["agreement"] = agreed
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
        if calibration:
            self.stdout.write("  critics against expert decisions (auc, precision, recall, n):")
            for name, c in calibration.items():
                self.stdout.write(
                    f"    {name:<16}{_fig(c['auc'])}  {_fig(c['precision'])}  {_fig(c['recall'])}  {c['n']}"
                )
        if learned:
            state = "floor on" if learned["good_enough"] else f"floor off: {learned['why']}"
            self.stdout.write(
                f"  learned critic v{learned['version']} on {learned['trained_on']} decisions ({state})"
            )
        if agreed["items"]:
            self.stdout.write(
                f"  agreement on {agreed['items']} items decided by two or more experts: "
                f"{agreed['percent']:g}%, Fleiss' kappa {_fig(agreed['kappa'])}, "
                f"Krippendorff's alpha {_fig(agreed['alpha'])}"
            )
        if figures:
            change = figures["versus_human"]["change"]
            self.stdout.write(
                f"  diversity against the human data ({figures['versus_human']['n']} texts each): "
                f"Vendi {change.get('vendi', 0):+.0%}, distinct-2 {change.get('distinct_2', 0):+.0%}"
                + (
                    f"; ALARM on {', '.join(a['metric'] for a in figures['alarms'])}"
                    if figures["alarms"]
                    else ""
                )
            )

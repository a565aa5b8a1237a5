from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.core.errors import AssayError
from curation.metrics.reports import campaign_report, export_report, source_report
from workers.metrics.collapse import METRICS

COLUMNS = ["n", *METRICS]


def _cell(value) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def table(report: dict) -> str:
    groups = report["groups"]
    names = [g["name"] for g in groups]
    width = max(len(m.label) for m in METRICS.values()) + 2
    cols = [max(12, len(n) + 2) for n in names]
    lines = ["".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, cols, strict=True))]
    for key in COLUMNS:
        if not any(key in g for g in groups):
            continue
        label = "texts" if key == "n" else METRICS[key].label
        lines.append(
            label.ljust(width)
            + "".join(_cell(g.get(key)).rjust(c) for g, c in zip(groups, cols, strict=True))
        )
    change = report.get("versus_human")
    if change:
        lines += [
            "",
            f"Against the human data, on samples of {report['sample']} texts each (negative: less diverse):",
        ]
        lines += [f"  {METRICS[k].label.ljust(width - 2)}{v:+.1%}" for k, v in change.items()]
    alarms = report.get("alarms")
    if "versus_human" in report and not change:
        lines += ["", "No candidate is counted yet: nothing to compare with the human data."]
    elif alarms is not None and change:
        lines.append("")
        if alarms:
            lines.append(f"ALARM: diversity fell more than {report['drop']:.0%}:")
            lines += [
                f"  {a['scope']}: {METRICS[a['metric']].label} {a['change']:+.1%} against {a['against']}"
                for a in alarms
            ]
            lines += ["What to do:", *[f"  - {a}" for a in report["advice"]]]
        else:
            lines.append(
                f"No alarm: no watched metric fell more than {report['drop']:.0%} below its reference."
            )
    return "\n".join(lines)


def png(report: dict, path: Path) -> None:
    """Small multiples: one panel per metric, one bar per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in METRICS if any(k in g for g in report["groups"])]
    cols = 4
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    names = [g["name"] for g in report["groups"]]
    for ax, key in zip(axes.flat, keys, strict=False):
        ax.bar(range(len(names)), [g.get(key) or 0 for g in report["groups"]], color="#4c72b0")
        ax.set_title(METRICS[key].label, fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    scope = ", ".join(f"{k} {v}" for k, v in report["scope"].items())
    fig.suptitle(f"Diversity: {scope}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class Command(BaseCommand):
    help = (
        "Diversity of a source, a campaign or an export: distinct-n, MATTR, compression, bigram "
        "entropy, the Vendi score and cosine distance on MiniLM embeddings, coverage of the real "
        "data's clusters; for a campaign also by generation depth, against the human data, with alarms."
    )

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--campaign", metavar="SLUG")
        scope.add_argument("--source", metavar="NAME")
        scope.add_argument("--export", metavar="ID", type=int)
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--png", metavar="FILE", help="also draw the figures into a PNG file")

    def handle(self, *args, **opts):
        try:
            if opts["campaign"]:
                report = campaign_report(slug=opts["campaign"])
            elif opts["source"]:
                report = source_report(name=opts["source"])
            else:
                report = export_report(export_id=opts["export"])
        except AssayError as e:
            raise CommandError(str(e)) from None
        if opts["png"]:
            path = Path(opts["png"])
            if not path.parent.is_dir():
                raise CommandError(f"--png {path}: no folder {path.parent}")
            png(report, path)
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, sort_keys=True))
        else:
            self.stdout.write(table(report))

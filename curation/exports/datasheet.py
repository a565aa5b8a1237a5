"""DATASHEET.md: the manifest of an export written for people (after Gebru et al.,
"Datasheets for Datasets"). A pure function of the manifest, so reruns are
byte-identical and the two can never disagree."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    # Names come from users and models: a "|" in one would break the table.
    out += [
        "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows
    ]
    return out


def datasheet(manifest: dict[str, Any]) -> str:
    policy, counts = manifest["policy"], manifest["counts"]
    cap = policy["max_synthetic"]
    heldout = manifest.get("split") == "heldout"
    lines = [
        "# Datasheet",
        "",
        "An evaluation set: held-out human data only, never for training."
        if heldout
        else f"A training mixture of human data and expert-approved synthetic data, the synthetic share "
        f"capped at {_pct(cap)} overall{' and per ' + policy['balance_by'] if policy['balance_by'] else ''}.",
        "",
        f"{'Why' if heldout else 'Why the cap'}: {manifest['why']}",
        "",
        "## Sources",
        "",
        *_table(
            ("source", "license"), [(s["name"], s["license"] or "-") for s in manifest["inputs"]["sources"]]
        ),
        "",
        f"Campaigns: {', '.join(manifest['inputs']['campaigns']) or 'none'}.",
        "",
        "## Policy",
        "",
        *_table(
            ("setting", "value", "from"),
            [
                (k, "-" if policy[k] is None else policy[k], policy.get("from", {}).get(k, "-"))
                for k in ("max_synthetic", "balance_by", "max_depth", "max_per_generator", "seed")
                if k in policy
            ],
        ),
        "",
        f"Selection: {policy['selection']}.",
        "",
        *_chosen(manifest.get("selection")),
        "## Counts",
        "",
        *_table(
            ("origin", "records"),
            [(k, counts[k]) for k in ("human", "synthetic", "synthetic_edited")]
            + [("total", counts["total"])],
        ),
        "",
    ]
    strata = manifest["counts_by_stratum"]
    if policy["balance_by"]:
        by = manifest["synthetic_fraction"]["by_stratum"]
        lines += [
            f"By {policy['balance_by']} (synthetic share against the cap of {_pct(cap)}):",
            "",
            *_table(
                ("stratum", "human", "synthetic", "synthetic share"),
                [(k, v["human"], v["synthetic"], _pct(by.get(k))) for k, v in strata.items()],
            ),
            "",
        ]
    lines += [
        f"Synthetic share overall: {_pct(manifest['synthetic_fraction']['overall'])}.",
        "",
        *_table(
            ("generator", "synthetic records"),
            list(manifest.get("counts_by_generator", {}).items()) or [("-", 0)],
        ),
        "",
        *_table(("generation depth", "records"), list(manifest.get("counts_by_depth", {}).items())),
        "",
        "Depth 0 is human data; depth 1 was generated from human data.",
        "",
    ]
    reviewed = manifest["reviewed"]
    synthetic = counts["synthetic"] + counts["synthetic_edited"]
    seen = reviewed["synthetic_records_seen_by_an_expert"]
    lines += [
        "## Review",
        "",
        f"{seen} of {synthetic} synthetic records were seen by an expert "
        f"({_pct(seen / synthetic if synthetic else None)}); "
        f"{reviewed.get('synthetic_records_seen_by_two_or_more', 0)} by two or more. "
        f"Edited by an expert: {counts['synthetic_edited']} "
        "(the original text is kept in each record's provenance).",
        "",
    ]
    agreement = reviewed.get("agreement") or {}
    if agreement:
        lines += [
            *_table(
                (
                    "campaign",
                    "items decided by 2+ experts",
                    "agreement",
                    "Fleiss' kappa",
                    "Krippendorff's alpha",
                ),
                [
                    (
                        slug,
                        a["items"],
                        "-" if a["percent"] is None else f"{a['percent']}%",
                        "-" if a["kappa"] is None else a["kappa"],
                        "-" if a["alpha"] is None else a["alpha"],
                    )
                    for slug, a in agreement.items()
                ],
            ),
            "",
        ]
    lines += ["## Diversity", ""]
    rows = []
    for part in ("human", "synthetic", "whole"):
        d = (manifest.get("diversity") or {}).get(part) or {}
        rows.append(
            (
                part,
                d.get("rows", d.get("n", 0)),
                d.get("n", 0),
                *(d.get(k, "-") if d.get("n") else "-" for k in ("distinct_2", "vendi", "mean_distance")),
            )
        )
    lines += [
        *_table(("part", "records", "measured", "distinct-2", "Vendi score", "mean cosine distance"), rows),
        "",
        "A part of more than 2,000 records is measured on a uniform sample of about 2,000 (seeded, so "
        "reruns match), which keeps the figures of exports of different sizes comparable.",
        "",
        "## Files",
        "",
        *_table(("file", "rows", "sha256"), [(f["name"], f["rows"], f["sha256"]) for f in manifest["files"]]),
        "",
        f"Code version: {manifest['code_version']}.",
        "",
    ]
    return "\n".join(lines)


def _chosen(selection: dict | None) -> list[str]:
    """What the selection kept against a random choice of as many rows."""
    if not selection or not selection["eligible"]:
        return []
    lines = [f"{selection['kept']} of {selection['eligible']} approved synthetic rows eligible were kept."]
    versus = selection.get("kept_vs_random")
    if versus:
        k, r = versus["kept"], versus["random"]
        lines += [
            "",
            f"Diversity kept against a random choice of as many rows (a sample of {versus['sample']} each):",
            "",
            *_table(
                ("rows", "Vendi score", "mean cosine distance"),
                [("kept", k["vendi"], k["mean_distance"]), ("random", r["vendi"], r["mean_distance"])],
            ),
        ]
    return [*lines, ""]

"""Writing an export: the rows read once (passes.py), spilled in rank buckets (spill.py)
and written in seeded order, one folder per ladder step, each with its manifest and
datasheet. The caller (services.export_create) writes into a work folder it moves into
place whole."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from curation.exports import mixture, parallel, passes, spill
from curation.exports.datasheet import datasheet
from curation.exports.planning import Plan, vectors
from curation.exports.policy import Policy
from curation.exports.writers import WRITERS, sha256_of
from curation.metrics.reports import ExportTally
from workers.metrics import sample, semantic

CHUNK = 1000  # rows between progress reports
SAMPLE = 2000  # rows each side of the kept-versus-random diversity figures
WHY_HELDOUT = (
    "An evaluation set: held-out real data alone, which no training export, few-shot prompt or "
    "synthetic row is ever made from, so a model trained on Assay's exports is measured on unseen data."
)
WHY = (
    "Synthetic data helps up to a point and hurts past about half of a mixture, and each synthetic "
    "generation loses diversity: the synthetic share is capped, overall and per stratum, and held-out "
    "real data is never exported."
)


@functools.cache  # one git call per process, not one per ladder step
def code_version() -> str:
    try:
        v = version("assay")
    except PackageNotFoundError:
        v = "0+unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"assay {v}+g{sha}"
    except (OSError, subprocess.SubprocessError):
        return f"assay {v}"


def write_all(
    out: Path, plan: Plan, steps: list[float], fmt: str, progress: Callable[[int, int], None] | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One export, or one folder per ladder step under an index manifest. The rows are
    read once, in two passes (`passes.py`), for every step."""
    caps = steps or [plan.policy.max_synthetic]
    keys, levels = passes.levels_of(caps, plan.selection.indices, plan.pool.keys)
    kept = [int(np.count_nonzero(levels <= j)) for j in range(len(caps))]
    written = sum(plan.humans + n for n in kept)
    meter = _Meter(plan.humans + len(keys) + written, written, progress)
    encode = WRITERS[fmt].encode
    work = out / ".spill"  # inside the folder being written: a killed export's leftovers go with it
    bits = spill.bits_for(plan.humans + len(keys))
    policy = plan.policy
    reading = {
        "sources": plan.sources,
        "seed": policy.seed,
        "field": policy.balance_by,
        "expected": plan.humans_by_stratum,
        "encode": encode,
    }
    aside = None
    try:
        if parallel.usable(plan.humans):
            # The human rows are read by a child process while this one reads the synthetic.
            aside = parallel.Aside(work / "human", bits, meter.advance, **reading)
            advance = _polling(meter.advance, aside)
        else:
            humans = passes.humans_spill(work / "human", bits, advance=meter.advance, **reading)
            advance = meter.advance
        synthetic, tallies = passes.synthetic_spill(
            work / "synthetic",
            bits,
            plan.campaigns,
            max_depth=policy.max_depth,
            keys=keys,
            levels=levels,
            seed=policy.seed,
            field=policy.balance_by,
            encode=encode,
            advance=advance,
        )
        if aside is not None:
            humans, aside = aside.join(), None
        spilled = _Spilled(humans, synthetic, tallies)
        if not steps:
            manifest = _write(out, plan, spilled, 0, plan.policy.max_synthetic, fmt, meter)
            return manifest, manifest["files"]
        files: list[dict[str, Any]] = []
        index = {
            "inputs": plan.inputs,
            "policy": _ladder_policy(plan.policy),
            "ladder": [],
            "code_version": code_version(),
            "why": WHY,
        }
        for j, f in enumerate(steps):
            folder = f"synthetic-{f:.2f}"
            manifest = _write(out / folder, plan, spilled, j, f, fmt, meter, step=True)
            files += [{**x, "name": f"{folder}/{x['name']}"} for x in manifest["files"]]
            index["ladder"].append(
                {
                    "folder": folder,
                    "max_synthetic": f,
                    "counts": manifest["counts"],
                    "synthetic_fraction": manifest["synthetic_fraction"],
                    "diversity": manifest["diversity"],
                }
            )
        _dump(out / "manifest.json", index)
        return index, files
    finally:
        if aside is not None:
            aside.stop()
        shutil.rmtree(work, ignore_errors=True)


def _polling(advance: Callable[[int], None], aside: parallel.Aside) -> Callable[[int], None]:
    """`advance`, hearing the child's progress too each time."""

    def both(n: int) -> None:
        advance(n)
        aside.poll()

    return both


@dataclass
class _Spilled:
    humans: spill.Spill
    synthetic: spill.Spill
    tallies: list[Counter]  # per ladder level: (origin, stratum, generator, depth, experts) -> rows

    def level(self, j: int) -> Counter:
        """The synthetic rows step j keeps: its level and those below (the steps nest)."""
        return sum(self.tallies[: j + 1], Counter())

    def merged(self, j: int) -> Iterator[tuple[int, int, int, int, bytes]]:
        """Step j's records in seeded-rank order: (rank, side (0 human, 1 synthetic), id,
        flags, encoded record); of equal ranks, humans first, then by id."""
        for i in range(len(self.humans)):
            bucket = self.humans.bucket(i, 0)
            bucket += [r for r in self.synthetic.bucket(i, 1) if r[3] >> 1 <= j]
            bucket.sort()
            yield from bucket


class _Meter:
    """Counts the rows read and written (`total` of them) and tells `progress` in rows to
    write (`rows`), reading a row and writing it each a share of it, every CHUNK and at the
    end: the job page says "N of M rows" from the first read."""

    def __init__(self, total: int, rows: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.rows, self.done, self._progress = total, rows, 0, progress

    def advance(self, n: int = 1) -> None:
        before, self.done = self.done, self.done + n
        if self._progress and (self.done // CHUNK != before // CHUNK or self.done == self.total):
            self._progress(self.done * self.rows // max(self.total, 1), self.rows)


def _ladder_policy(policy: Policy) -> dict[str, Any]:
    d = policy.as_dict()
    d["from"] = {
        **d["from"],
        "max_synthetic": f"{d['from']['max_synthetic']}: the cap the --ladder steps lie under",
    }
    return d


def _step_policy(policy: Policy, f: float) -> dict[str, Any]:
    d = {**policy.as_dict(), "max_synthetic": f}
    d["from"] = {
        **d["from"],
        "max_synthetic": f"--ladder: one step, under the cap {policy.max_synthetic} "
        f"({policy.origin['max_synthetic']})",
    }
    return d


def _write(
    folder: Path, plan: Plan, spilled: _Spilled, j: int, f: float, fmt: str, meter: _Meter, step: bool = False
) -> dict[str, Any]:
    """Step j (cap f) of what was spilled, written in seeded-rank order, with its manifest."""
    policy = plan.policy
    kept = plan.selection.kept(f)
    folder.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter({"human": plan.humans})
    by_stratum: dict[str, Counter] = defaultdict(Counter)
    for label, n in plan.humans_by_stratum.items():
        by_stratum[label]["human"] += n
    by_generator: Counter = Counter()
    by_depth: Counter = Counter({0: plan.humans} if plan.humans else {})
    seen = overlapped = 0
    for (origin, label, generator, depth, experts), n in spilled.level(j).items():
        counts[origin] += n
        by_stratum[label]["synthetic"] += n
        by_generator[generator] += n
        by_depth[depth] += n
        seen += n * (experts > 0)
        overlapped += n * (experts > 1)
    written_rows = plan.humans + len(kept)
    tally = ExportTally({"human": plan.humans, "synthetic": len(kept), "whole": written_rows})
    writer = WRITERS[fmt](folder)
    done = 0
    try:
        for rank, side, pk, flags, data in spilled.merged(j):
            writer.write_encoded(data)
            done += 1
            if done == CHUNK:
                meter.advance(done)
                done = 0
            part = "synthetic" if side else "human"
            # The row's seeded rank is a uniform hash: it draws the diversity sample too.
            draw = rank / 2**64
            if tally.wants(part, draw):
                sample = writer.sample(data)
                text = sample.get("response") or " ".join(
                    m["content"] for m in sample.get("messages") or [] if m["role"] == "assistant"
                )
                tally.add(part, pk, text, bool(flags & passes.EDITED), draw)
            else:
                tally.skip(part)
        meter.advance(done)
    finally:
        written = writer.close()
    synthetic = written_rows - plan.humans
    manifest = {
        "format": fmt,
        "split": "heldout" if policy.origin.get("split") else "train",
        "inputs": plan.inputs,
        "policy": _step_policy(policy, f) if step else policy.as_dict(),
        "counts": {
            "human": counts["human"],
            "synthetic": counts["synthetic"],
            "synthetic_edited": counts["synthetic_edited"],
            "total": written_rows,
        },
        **mixture_figures(by_stratum, synthetic, written_rows, policy.balance_by),
        "excluded": {
            **plan.selection.excluded(f),
            "approved_synthetic_over_depth": plan.excluded_depth,
        },
        "selection": _selection_summary(plan, kept, f),
        "counts_by_generator": dict(sorted(by_generator.items())),
        "counts_by_depth": {str(d): n for d, n in sorted(by_depth.items())},
        "reviewed": {
            "synthetic_records_seen_by_an_expert": seen,
            "synthetic_records_seen_by_two_or_more": overlapped,
            "agreement": plan.agreement,
        },
        "files": written,
        "diversity": tally.result(),
        "code_version": code_version(),
        "why": WHY_HELDOUT if policy.origin.get("split") else WHY,
    }
    sheet = folder / "DATASHEET.md"
    sheet.write_text(datasheet(manifest), encoding="utf-8", newline="\n")
    manifest["files"] = [*written, {"name": sheet.name, "rows": 0, "sha256": sha256_of(sheet)}]
    _dump(folder / "manifest.json", manifest)
    return manifest


def _selection_summary(plan: Plan, kept: list[int], f: float) -> dict[str, Any]:
    """How the synthetic rows were chosen, and how much diversity that kept: the kept rows
    against a seeded random choice of as many rows per stratum from the same eligible ones
    (Vendi score and mean cosine distance, each on a uniform sample of up to SAMPLE rows)."""
    pool = plan.pool
    summary: dict[str, Any] = {
        "eligible": len(pool),
        "kept": len(kept),
        "farthest_point": plan.selection.diversity,
    }
    if len(kept) in (0, len(pool)):
        summary["kept_vs_random"] = None  # nothing was chosen: all or none kept
        return summary
    room = np.bincount(pool.strata[plan.selection.indices(f)], minlength=len(pool.labels))
    draws = np.array(
        [mixture.seeded_rank(plan.policy.seed, f"random:{k}") for k in pool.keys.tolist()], np.uint64
    )
    rand: list[int] = []
    for code in range(len(pool.labels)):
        idx = np.flatnonzero(pool.strata == code)
        rand += pool.keys[idx[np.argsort(draws[idx], kind="stable")][: room[code]]].tolist()
    figures = {}
    for name, ids in (("kept", kept), ("random", rand)):
        X = vectors(sample.bottom_k(ids, SAMPLE))
        figures[name] = {
            "vendi": round(semantic.vendi(X), 4),
            "mean_distance": round(semantic.mean_distance(X), 4),
        }
    summary["kept_vs_random"] = {"sample": min(len(kept), SAMPLE), **figures}
    return summary


def _dump(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def mixture_figures(
    by_stratum: dict[str, Counter], synthetic: int, total: int, balance_by: str | None
) -> dict[str, Any]:
    """counts_by_stratum and synthetic_fraction, as the manifest and the preview give them."""
    strata = sorted(by_stratum.items())
    return {
        "counts_by_stratum": {k: {"human": v["human"], "synthetic": v["synthetic"]} for k, v in strata},
        "synthetic_fraction": {
            "overall": mixture.fraction(synthetic, total),
            "by_stratum": {
                k: mixture.fraction(v["synthetic"], v["human"] + v["synthetic"]) for k, v in strata
            }
            if balance_by
            else {},
        },
    }

"""Curated exports: select under the mixture policy, write files and manifest, keep
an immutable Export record. Runs in a command or a worker, never in a request."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from curation.accounts.models import User
from curation.campaigns.models import Campaign
from curation.core.errors import InvalidInput, NotFound
from curation.exports import mixture, planning, writing
from curation.exports.models import Export
from curation.exports.policy import Policy, policy_resolve
from curation.exports.writers import WRITERS, sha256_of
from curation.sources.models import Source, Split

FORMATS = tuple(WRITERS)


def _inputs(
    campaign_slugs: list[str], source_names: list[str], split: str = Split.TRAIN
) -> tuple[list[Campaign], list[Source]]:
    campaigns = list(Campaign.objects.select_related("source").filter(slug__in=campaign_slugs))
    missing = sorted(set(campaign_slugs) - {c.slug for c in campaigns})
    if missing:
        raise NotFound(f"no campaign {missing[0]!r}")
    sources = list(Source.objects.filter(name__in=source_names))
    missing = sorted(set(source_names) - {s.name for s in sources})
    if missing:
        raise NotFound(f"no source {missing[0]!r}")
    if split == Split.HELDOUT:
        train = [s.name for s in sources if s.split != Split.HELDOUT]
        if train:
            raise InvalidInput(
                f"source {train[0]!r} is not held-out: an evaluation set holds held-out data only"
            )
        return campaigns, sources
    held = [s.name for s in sources if s.split == Split.HELDOUT]
    if held:
        raise InvalidInput(
            f"source {held[0]!r} is held-out: it is never exported for training (--split heldout exports it "
            "alone, as an evaluation set)"
        )
    return campaigns, sources


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(
            f"--out {out}: exists and is not empty (exports are immutable; choose a new folder)"
        )


def export_create(
    *,
    campaign_slugs: list[str],
    source_names: list[str],
    fmt: str,
    out: str | Path,
    max_synthetic: float | None = None,
    balance_by: str | None = None,
    max_depth: int | None = None,
    max_per_generator: float | None = None,
    ladder: list[float] | None = None,
    seed: int = 0,
    split: str = Split.TRAIN,
    user: User | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    """Write an export. A policy value not given (None) comes from the campaigns' own
    `mixture` (the strictest of several), else the contract's default; `balance_by=""`
    asks for no strata whatever the campaigns say. `split="heldout"` writes an evaluation
    set: held-out sources alone, no synthetic data, never mixed into training.
    `progress(done, total)` hears of the rows read and written, every 1,000 (writing.CHUNK)."""
    out = Path(out).resolve()
    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt}: this version writes {', '.join(FORMATS)}")
    _check_out(out)
    plan = _prepare(
        campaign_slugs=campaign_slugs,
        source_names=source_names,
        max_synthetic=max_synthetic,
        balance_by=balance_by,
        max_depth=max_depth,
        max_per_generator=max_per_generator,
        seed=seed,
        split=split,
        ladder=ladder,
    )
    steps = plan.steps
    policy = plan.policy
    # Written beside --out and moved into place whole: a failed export leaves nothing.
    work = out.parent / f".{out.name}.writing-{uuid.uuid4().hex[:8]}"
    try:
        manifest, files = writing.write_all(work, plan, steps, fmt, progress)
        if out.exists():
            out.rmdir()  # empty (checked above)
        work.rename(out)
        # Sizes on the record only (the manifest on disk is final): a download refuses a
        # file whose size changed before sending a byte.
        # The manifests are files like any other; each is hashed here, as it cannot hold its own hash.
        manifests = sorted(str(m.relative_to(out)) for m in out.rglob("manifest.json"))
        files = [*files, *({"name": m, "rows": 0, "sha256": sha256_of(out / m)} for m in manifests)]
        files = [{**f, "size": (out / f["name"]).stat().st_size} for f in files]
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        return Export.objects.create(
            out_dir=str(out),
            format=fmt,
            manifest=manifest,
            files=files,
            created_by=user,
            params={
                "campaigns": campaign_slugs,
                "sources": source_names,
                "ladder": steps,
                **policy.as_dict(),
            },
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # no record, no files
        raise


def _prepare(
    *,
    campaign_slugs: list[str],
    source_names: list[str],
    max_synthetic: float | None,
    balance_by: str | None,
    max_depth: int | None,
    max_per_generator: float | None,
    seed: int,
    split: str,
    ladder: list[float] | None,
) -> planning.Plan:
    """Inputs and policy checked, the policy resolved and the rows planned: everything
    but the writing, shared by an export and its preview."""
    if split not in (Split.TRAIN, Split.HELDOUT):
        raise InvalidInput(f"--split must be train or heldout, not {split!r}")
    if split == Split.HELDOUT and (campaign_slugs or ladder):
        raise InvalidInput("--split heldout exports held-out sources alone: no --campaign, no --ladder")
    ignored = [
        flag
        for flag, value in (
            ("--max-synthetic", max_synthetic),
            ("--max-depth", max_depth),
            ("--max-per-generator", max_per_generator),
        )
        if value is not None
    ]
    if split == Split.HELDOUT and ignored:
        raise InvalidInput(f"--split heldout holds no synthetic data: {ignored[0]} does not apply to it")
    if not campaign_slugs and not source_names:
        raise InvalidInput("give at least one campaign or source")
    if max_synthetic is not None and not 0 <= max_synthetic < 1:
        raise InvalidInput("--max-synthetic must be at least 0 and below 1")
    if max_depth is not None and max_depth < 1:
        raise InvalidInput("--max-depth must be at least 1")
    if max_per_generator is not None and not 0 < max_per_generator <= 1:
        raise InvalidInput("--max-per-generator must be above 0 and at most 1")
    campaigns, sources = _inputs(campaign_slugs, source_names, split)
    if split == Split.HELDOUT:
        policy = Policy(
            0.0, balance_by or None, 1, seed, origin={"split": "heldout: an evaluation set, human data only"}
        )
    else:
        policy = policy_resolve(
            campaigns=campaigns,
            max_synthetic=max_synthetic,
            balance_by=balance_by,
            max_depth=max_depth,
            max_per_generator=max_per_generator,
            seed=seed,
        )
    if policy.max_per_generator is not None and ladder:
        raise InvalidInput(
            f"max_per_generator {policy.max_per_generator} ({policy.origin['max_per_generator']}) with "
            "--ladder is not supported yet: the steps would not nest; export each cap on its own"
        )
    steps = sorted(set(ladder or []))
    if len(steps) > 100:
        raise InvalidInput("--ladder: at most 100 steps")
    if any(not 0 <= f <= policy.max_synthetic for f in steps):
        raise InvalidInput(
            f"--ladder steps must lie between 0 and the cap {policy.max_synthetic} "
            f"({policy.origin['max_synthetic']})"
        )
    plan = planning.plan_rows(campaigns, sources, policy)
    plan.steps = steps
    _check_plan(plan)
    plan.selection = mixture.Selection(
        plan.humans_by_stratum,
        plan.pool,
        [*steps, policy.max_synthetic],  # the cap too: a preview shows it
        vectors=planning.vectors,
        max_per_generator=policy.max_per_generator,
    )
    _check_selection(plan)
    return plan


def _check_selection(plan: planning.Plan) -> None:
    """Refuse a policy that would silently keep no synthetic row of the many approved."""
    pool, policy = plan.pool, plan.policy
    if not len(pool) or policy.max_synthetic <= 0:
        return
    excluded = plan.selection.excluded(policy.max_synthetic)
    if policy.balance_by and excluded["approved_synthetic_in_a_stratum_without_human_rows"] == len(pool):
        synthetic = ", ".join(sorted(map(str, pool.labels))[:5])
        raise InvalidInput(
            f"--balance-by {policy.balance_by}: none of the {len(pool)} approved synthetic rows has a "
            f"value of {policy.balance_by!r} that a human row has (theirs: {synthetic}), so no synthetic row "
            "could be kept; balance by another field, or give --balance-by '' for none"
        )
    if excluded["approved_synthetic_over_generator_cap"] and not len(
        plan.selection.indices(policy.max_synthetic)
    ):
        models = len({int(g) for g in pool.generator})
        raise InvalidInput(
            f"--max-per-generator {policy.max_per_generator}: with {models} generator model(s), no mix keeps "
            f"each at or below that share of the synthetic rows (the lowest share {models} models can meet "
            f"is {1 / models:.2f}), so no synthetic row would be kept"
        )


def export_preview(
    *,
    campaign_slugs: list[str],
    source_names: list[str],
    max_synthetic: float | None = None,
    balance_by: str | None = None,
    max_depth: int | None = None,
    max_per_generator: float | None = None,
    ladder: list[float] | None = None,
    seed: int = 0,
    split: str = Split.TRAIN,
) -> dict[str, Any]:
    """What an export with these inputs would hold, without writing it: the policy (and
    where each value came from), the counts and the synthetic fraction per stratum. The
    same checks as an export (a ladder's steps included): a refused export is a refused
    preview, with the same error. The figures are those of the policy's cap."""
    plan = _prepare(
        campaign_slugs=campaign_slugs,
        source_names=source_names,
        max_synthetic=max_synthetic,
        balance_by=balance_by,
        max_depth=max_depth,
        max_per_generator=max_per_generator,
        seed=seed,
        split=split,
        ladder=ladder,
    )
    kept = plan.selection.indices(plan.policy.max_synthetic)
    by_stratum: dict[str, Counter] = defaultdict(Counter)
    for stratum, n in plan.humans_by_stratum.items():
        by_stratum[stratum]["human"] += n
    pool = plan.pool
    for code, n in enumerate(np.bincount(pool.strata[kept], minlength=len(pool.labels)).tolist()):
        if n:
            by_stratum[pool.labels[code]]["synthetic"] += n
    human, synthetic = sum(plan.humans_by_stratum.values()), len(kept)
    return {
        "policy": plan.policy.as_dict(),
        "counts": {"human": human, "synthetic": synthetic, "total": human + synthetic},
        **writing.mixture_figures(by_stratum, synthetic, human + synthetic, plan.policy.balance_by),
        "excluded": {
            **plan.selection.excluded(plan.policy.max_synthetic),
            "approved_synthetic_over_depth": plan.excluded_depth,
        },
        # A ladder's steps: the same human part, and this many synthetic rows each.
        "ladder": [
            {
                "max_synthetic": f,
                "synthetic": (n := len(plan.selection.indices(f))),
                "total": human + n,
                "synthetic_fraction": mixture.fraction(n, human + n),
            }
            for f in plan.steps
        ],
    }


def _check_plan(plan: planning.Plan) -> None:
    if not plan.humans and not len(plan.pool):
        raise InvalidInput(
            "nothing to export: the sources hold no rows and no campaign has approved candidates"
        )
    name = plan.policy.balance_by
    strata = set(plan.humans_by_stratum) | set(plan.pool.labels)
    if name and strata == {"(none)"}:
        raise InvalidInput(f"--balance-by {name}: no exported row has a metadata field {name!r}")

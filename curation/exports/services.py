"""Curated exports: select under the mixture policy, write files and manifest, keep
an immutable Export record. Runs in a command or a worker, never in a request."""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import uuid
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from curation.accounts.models import User
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import InvalidInput, NotFound
from curation.exports import mixture, parallel, passes, rows, spill
from curation.exports.datasheet import datasheet
from curation.exports.models import Export
from curation.exports.policy import Policy, policy_resolve
from curation.exports.writers import WRITERS, sha256_of
from curation.metrics.reference import candidate_vectors
from curation.metrics.reports import ExportTally
from curation.review.models import Decision, Review
from curation.review.selectors import campaign_agreement
from curation.scoring.models import CriticScore
from curation.sources.models import Example, Source, Split
from workers.critics import embeddings
from workers.metrics import sample, semantic

FORMATS = tuple(WRITERS)
CHUNK = 1000
SAMPLE = 2000  # rows each side of the kept-versus-random diversity figures
QUALITY_BAND = 0.1  # critic means this close are one tier: diversity decides between them
# The plan's columns of approved rows, each lower-is-better: array typecode and numpy dtype.
COLUMNS = {
    "pk": ("q", np.int64),
    "stratum": ("i", np.int32),
    "edited": ("b", np.int8),
    "accepts": ("q", np.int64),
    "band": ("q", np.int64),
    "quality": ("d", np.float64),
    "rank": ("Q", np.uint64),
    "generator": ("i", np.int32),
}
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
    `progress(done, total)` hears of the rows written every CHUNK rows."""
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
        manifest, files = _write_all(work, plan, steps, fmt, progress)
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
) -> Plan:
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
    plan = _plan(campaigns, sources, policy)
    plan.steps = steps
    _check_plan(plan)
    plan.selection = mixture.Selection(
        plan.humans_by_stratum,
        plan.pool,
        [*steps, policy.max_synthetic],  # the cap too: a preview shows it
        vectors=_vectors,
        max_per_generator=policy.max_per_generator,
    )
    _check_selection(plan)
    return plan


def _check_selection(plan: Plan) -> None:
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


def _vectors(keys: list[int]) -> np.ndarray:
    """The candidates' embeddings as exported, in the keys' order: the stored one of the
    response, or, for a response an expert edited (the stored vector is the generator's
    text) or one not stored (a scorer without the embedding critic), encoded here from the
    text the export writes, and not stored."""
    ids = [int(k) for k in keys]
    found: dict[int, np.ndarray] = {}
    edited: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        found.update(candidate_vectors(part))
        edited.update(
            Candidate.objects.filter(pk__in=part, edited_response__isnull=False).values_list(
                "pk", "edited_response"
            )
        )
    for pk in edited:
        found.pop(pk, None)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        texts = dict(Candidate.objects.filter(pk__in=missing).values_list("pk", "response"))
        texts.update(edited)
        fresh = embeddings.get_encoder().encode([texts[pk] for pk in missing])
        found.update(zip(missing, fresh, strict=True))
    return np.stack([found[pk] for pk in ids]) if ids else np.zeros((0, embeddings.DIM), np.float32)


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
        **_mixture_figures(by_stratum, synthetic, human + synthetic, plan.policy.balance_by),
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


def _mixture_figures(
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


def _check_plan(plan: Plan) -> None:
    if not plan.humans and not len(plan.pool):
        raise InvalidInput(
            "nothing to export: the sources hold no rows and no campaign has approved candidates"
        )
    name = plan.policy.balance_by
    strata = set(plan.humans_by_stratum) | set(plan.pool.labels)
    if name and strata == {"(none)"}:
        raise InvalidInput(f"--balance-by {name}: no exported row has a metadata field {name!r}")


def _write_all(
    out: Path, plan: Plan, steps: list[float], fmt: str, progress: Callable[[int, int], None] | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One export, or one folder per ladder step under an index manifest. The rows are
    read once, in two passes (`passes.py`), for every step."""
    caps = steps or [plan.policy.max_synthetic]
    keys, levels = passes.levels_of(caps, plan.selection.indices, plan.pool.keys)
    kept = [int(np.count_nonzero(levels <= j)) for j in range(len(caps))]
    meter = _Meter(plan.humans + len(keys) + sum(plan.humans + n for n in kept), progress)
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
    """Counts rows read and written and tells `progress` every CHUNK rows and at the end."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self._progress = total, 0, progress

    def advance(self, n: int = 1) -> None:
        before, self.done = self.done, self.done + n
        if self._progress and (self.done // CHUNK != before // CHUNK or self.done == self.total):
            self._progress(self.done, self.total)


@dataclass
class Plan:
    policy: Policy
    inputs: dict[str, Any]
    campaigns: list[Campaign]
    sources: list[Source]
    humans: int  # human rows, all exported
    humans_by_stratum: Counter
    pool: mixture.Pool  # approved synthetic within the depth limit, ranked
    excluded_depth: int
    agreement: dict[str, Any]  # campaign -> its experts' agreement (items two or more decided)
    steps: list[float] = field(default_factory=list)  # the ladder's caps; none: the policy's cap
    selection: mixture.Selection | None = None


def _stratum_sql(model, field: str | None) -> tuple[str, list]:
    """SQL of the stratum field's value as JSON text (NULL when absent), read in the
    database: the rest of the metadata is not decoded for a million rows to plan them.
    The same text on PostgreSQL and SQLite, so `passes.stratum` of it is the label the
    row's decoded metadata gives."""
    if not field:
        return "NULL", []
    column = f"{rows.table(model)}.{rows.column(model, 'metadata')}"
    return (f"({column} -> %s)::text" if connection.vendor == "postgresql" else f"{column} -> %s"), [field]


def _label(text: str | None, field: str | None) -> str:
    return passes.stratum({field: None if text is None else orjson.loads(text)} if field else {}, field)


def _plan(campaigns: list[Campaign], sources: list[Source], policy: Policy) -> Plan:
    field = policy.balance_by
    # Counted in the database, one row a value; the rows themselves are read when written.
    sql, params = _stratum_sql(Example, field)
    humans_by_stratum: Counter = Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql}, COUNT(*) FROM {rows.table(Example)} "  # noqa: S608
            f"WHERE {rows.in_ids(rows.column(Example, 'source_id'))} GROUP BY 1",
            [*params, rows.ids_param([s.pk for s in sources])],
        )
        for text, n in cursor.fetchall():
            humans_by_stratum[_label(text, field)] += n

    approved = Candidate.objects.filter(campaign__in=campaigns, status=CandidateStatus.APPROVED)
    excluded_depth = approved.filter(generation_depth__gt=policy.max_depth).count()
    # One subquery each on their indexes, not a join of reviews with scores (their product).
    accepts = (
        Review.objects.filter(candidate=OuterRef("pk"), decision__in=[Decision.ACCEPT, Decision.EDIT])
        .order_by()
        .values("candidate")
        .annotate(n=Count("pk"))
        .values("n")
    )
    quality = (
        CriticScore.objects.filter(candidate=OuterRef("pk"))
        .order_by()
        .values("candidate")
        .annotate(mean=Avg("score"))
        .values("mean")
    )
    stats = (
        approved.filter(generation_depth__lte=policy.max_depth)
        .annotate(
            accepts=Coalesce(Subquery(accepts), 0),
            quality=Subquery(quality),
            edited=Q(edited_response__isnull=False) | Q(edited_prompt__isnull=False),
        )
        .annotate(stratum=RawSQL(*_stratum_sql(Candidate, field)))  # noqa: S611 (names from the models)
        .values_list("pk", "external_id", "stratum", "accepts", "quality", "edited", "generator__model")
    )
    # Columns, not objects: a million approved rows stay tens of megabytes.
    cols = {name: array(code) for name, (code, _) in COLUMNS.items()}
    labels: dict[str, int] = {}
    generators: dict[str, int] = {}
    for pk, ext, value, accepts, quality, edited, model in stats.iterator(chunk_size=5000):
        q = quality if quality is not None else -1.0
        cols["pk"].append(pk)
        cols["stratum"].append(labels.setdefault(_label(value, field), len(labels)))
        cols["edited"].append(-int(edited))
        cols["accepts"].append(-accepts)
        cols["band"].append(-math.floor(round(q / QUALITY_BAND, 9)))
        cols["quality"].append(-q)
        cols["rank"].append(mixture.seeded_rank(policy.seed, ext or f"candidate-{pk}"))
        cols["generator"].append(generators.setdefault(model or "unknown", len(generators)))
    a = {name: np.frombuffer(cols[name], dtype) for name, (_, dtype) in COLUMNS.items()}
    pool = mixture.Pool.ranked(
        a["pk"],
        a["stratum"],
        list(labels),
        [a["edited"], a["accepts"], a["band"], a["quality"], a["rank"]],
        3,  # decision, approvals and quality band make the tier
        a["generator"],
        list(generators),
    )
    inputs = {
        "campaigns": sorted(c.slug for c in campaigns),
        "sources": [{"name": s.name, "license": s.license} for s in sorted(sources, key=lambda s: s.name)],
    }
    agreement = {}
    for c in sorted(campaigns, key=lambda c: c.slug):
        figures = campaign_agreement(campaign=c)
        agreement[c.slug] = {k: figures[k] for k in ("items", "percent", "kappa", "alpha")}
    return Plan(
        policy,
        inputs,
        campaigns,
        sources,
        sum(humans_by_stratum.values()),
        humans_by_stratum,
        pool,
        excluded_depth,
        agreement,
    )


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
        **_mixture_figures(by_stratum, synthetic, written_rows, policy.balance_by),
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
        X = _vectors(sample.bottom_k(ids, SAMPLE))
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

"""An export's two reading passes: the human rows, then the kept synthetic rows, each read
once in storage order, built into records, encoded for the format and spilled into rank
buckets (`spill.py`), with what the manifest counts of them. Writing then reads the
buckets in rank order: humans and synthetic interleave by their seeded ranks, as if the
rows had been fetched in that order, at the cost of reading the database straight through."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.exports import rows
from curation.exports.mixture import seeded_rank
from curation.exports.records import (
    CANDIDATE_FIELDS,
    EXAMPLE_FIELDS,
    human_record,
    is_edited,
    synthetic_record,
)
from curation.exports.spill import Spill
from curation.generation.models import GenerationBatch
from curation.review.models import Decision
from curation.sources.models import Example, Source

EDITED = 1  # flag bit of a synthetic record an expert edited; its level sits above it
UNKEPT = 255  # no step keeps the row


class SourcesChanged(RuntimeError):
    """Rows changed between planning an export and reading them: its caps would not hold."""


def stratum(metadata: dict | None, field: str | None) -> str:
    if field is None:
        return "all"
    value = (metadata or {}).get(field)
    return "(none)" if value is None else str(value)


def humans_spill(
    folder: Path,
    bits: int,
    sources: list[Source],
    *,
    seed: int,
    field: str | None,
    expected: Counter,
    encode: Callable[[dict[str, Any]], bytes],
    advance: Callable[[int], None],
) -> Spill:
    """Every row of `sources`, its rank drawn from its id as the plan drew it. `expected`:
    the rows per stratum the plan counted; another count is SourcesChanged."""
    names = {s.pk: (s.name, s.license) for s in sources}
    spill = Spill(folder, bits)
    counted: Counter = Counter()
    where = rows.in_ids(rows.column(Example, "source_id"))
    pages = rows.prefetched(lambda: rows.scan(Example, EXAMPLE_FIELDS, where, [rows.ids_param(list(names))]))
    for page in pages:
        for row in page:
            name, lic = names[row["source_id"]]
            record = human_record(row, source=name, license=lic)
            counted[stratum(record["metadata"], field)] += 1
            spill.add(seeded_rank(seed, record["id"]), row["pk"], 0, encode(record))
        advance(len(page))
    spill.close()
    if counted != expected:
        raise SourcesChanged(
            f"the sources changed while exporting ({sum(counted.values())} rows read, "
            f"{sum(expected.values())} planned): run the export again"
        )
    return spill


def synthetic_spill(
    folder: Path,
    bits: int,
    campaigns: list[Campaign],
    *,
    max_depth: int,
    keys: np.ndarray,
    levels: np.ndarray,
    seed: int,
    field: str | None,
    encode: Callable[[dict[str, Any]], bytes],
    advance: Callable[[int], None],
) -> tuple[Spill, list[Counter]]:
    """The approved rows the selection kept: `keys` (sorted) with the first ladder step
    that keeps each (`levels`). Returns the spill and, per level, a Counter of (origin,
    stratum, generator model, depth, experts who decided it (0, 1, 2 for more)) of its rows."""
    spill = Spill(folder, bits)
    tallies = [Counter() for _ in range(int(levels.max()) + 1 if len(levels) else 0)]
    slugs = {c.pk: c.slug for c in campaigns}
    source_of = {c.pk: c.source.name for c in campaigns}
    for chosen, critics, reviewers, adjudicated, templates in rows.prefetched(
        lambda: _kept(list(slugs), max_depth, keys, levels)
    ):
        for row, level in chosen:
            pk = row["pk"]
            record = synthetic_record(
                row,
                source=source_of[row["campaign_id"]],
                campaign=slugs[row["campaign_id"]],
                critics=critics[pk],
                reviewers=reviewers[pk],
                prompt_template=templates.get(row["batch_id"], ""),
                adjudicated_by=adjudicated.get(pk),
            )
            prov = record["provenance"]
            tallies[level][
                (
                    prov["origin"],
                    stratum(record["metadata"], field),
                    prov["generator"].get("model") or "unknown",
                    prov["generation_depth"],
                    min(len(prov["review"]["reviewers"]), 2),
                )
            ] += 1
            # The output order draws from the row's id, as the plan's tie-breaks do from its key.
            spill.add(seeded_rank(seed, str(pk)), pk, EDITED * is_edited(row) | level << 1, encode(record))
        advance(len(chosen))
    spill.close()
    if spill.rows != len(keys):
        raise SourcesChanged(
            f"{len(keys) - spill.rows} of the selected synthetic rows changed while exporting "
            "(no longer approved, or deleted): run the export again"
        )
    return spill, tallies


def _kept(campaign_ids: list[int], max_depth: int, keys: np.ndarray, levels: np.ndarray):
    """Pages of the approved rows that `keys` holds, each with (level) and what its records
    need besides the row: critic scores, reviewers, adjudicators, prompt templates."""
    templates: dict[int, str] = {}
    where = (
        f"{rows.in_ids(rows.column(Candidate, 'campaign_id'))} AND {rows.column(Candidate, 'status')} = %s "
        f"AND {rows.column(Candidate, 'generation_depth')} <= %s"
    )
    params = [rows.ids_param(campaign_ids), CandidateStatus.APPROVED.value, max_depth]
    for page in rows.scan(Candidate, CANDIDATE_FIELDS, where, params):
        pks = np.fromiter((r["pk"] for r in page), np.int64, len(page))
        at = np.minimum(np.searchsorted(keys, pks), max(len(keys) - 1, 0))
        hit = (keys[at] == pks) if len(keys) else np.zeros(len(page), bool)
        chosen = [
            (row, int(levels[i])) for row, i, h in zip(page, at.tolist(), hit.tolist(), strict=True) if h
        ]
        if not chosen:
            continue
        ids = [row["pk"] for row, _ in chosen]
        batches = {row["batch_id"] for row, _ in chosen if row["batch_id"]}
        if batches - set(templates):
            templates.update(
                GenerationBatch.objects.filter(pk__in=batches - set(templates)).values_list(
                    "pk", "prompt_template"
                )
            )
        yield (
            chosen,
            rows.critic_scores(ids),
            rows.reviewer_names(ids, skip=Decision.SKIP),
            rows.adjudicators(ids),
            {b: templates[b] for b in batches},
        )


def levels_of(caps: list[float], indices: Callable[[float], np.ndarray], keys: np.ndarray):
    """(kept keys sorted, the index of the first of `caps` (ascending) that keeps each): a
    ladder's steps nest, so one pass reads every step's rows."""
    level = np.full(len(keys), UNKEPT, np.uint8)
    for j in reversed(range(len(caps))):
        level[indices(caps[j])] = j
    for j, f in enumerate(caps):
        if int(np.count_nonzero(level <= j)) != len(indices(f)):
            raise RuntimeError(f"the steps' selections do not nest at {f}")  # a bug, never an input
    chosen = np.flatnonzero(level != UNKEPT)
    order = np.argsort(keys[chosen].astype(np.int64), kind="stable")
    return keys[chosen][order].astype(np.int64), level[chosen][order]

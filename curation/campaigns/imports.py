"""Importing synthetic samples made elsewhere, to be curated here (CONTRACT
`import_candidates`): the same readers and atomicity as human imports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.db import transaction

from curation.campaigns.models import Campaign, Candidate
from curation.core.errors import InvalidInput
from curation.sources.readers import read_samples
from curation.sources.services import ImportResult, sample_content
from workers.critics.text import content_sha256, text_key

LINEAGE = {"generator_model", "generation_depth", "parents"}
MAX_DEPTH = 32767  # Candidate.generation_depth is a PositiveSmallIntegerField
# "2", or "2.0": pandas writes an integer column that has blanks as floats (CSV text or Parquet).
_WHOLE = re.compile(r"[0-9]+(?:\.0+)?")


def _depth(value: Any, where: str) -> int:
    if value in (None, ""):
        return 1
    text = str(value).strip()
    whole = text.split(".")[0]
    # The length check first: int() refuses thousands of digits with its own error.
    depth = int(whole) if _WHOLE.fullmatch(text) and len(whole) <= len(str(MAX_DEPTH)) else 0
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(
            f"{where}: generation_depth must be a whole number from 1 to {MAX_DEPTH}, not {value!r}"
        )
    return depth


def _parents(value: Any, where: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        except ValueError:
            raise InvalidInput(f"{where}: parents must be a list of ids") from None
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: parents must be a list of ids")
    return [str(p).strip() for p in value if str(p).strip()]


def candidates_import(*, path: str | Path, campaign: Campaign) -> ImportResult:
    """Atomic and idempotent like examples_import: a row already in the campaign is skipped."""
    with transaction.atomic():
        known = set(
            Candidate.objects.filter(campaign=campaign, import_key__isnull=False).values_list(
                "import_key", flat=True
            )
        )
        rows, skipped = [], 0
        for s in read_samples(path):
            # The same words as the reader's own errors (which lower-cases the suffix).
            where = (
                f"{Path(path).name}: {'row' if Path(path).suffix.lower() == '.parquet' else 'line'} {s.row}"
            )
            sample = sample_content(s.prompt, s.response, s.messages)
            digest = content_sha256(sample)
            if digest in known:
                skipped += 1
                continue
            known.add(digest)
            model = str(s.extra.get("generator_model") or "unknown")
            rows.append(
                Candidate(
                    campaign=campaign,
                    import_key=digest,
                    external_id=s.external_id,
                    prompt=s.prompt,
                    response=s.response,
                    messages=s.messages,
                    metadata={k: v for k, v in s.extra.items() if k not in LINEAGE},
                    generator={"backend": "external", "model": model, "params": {}},
                    parents=_parents(s.extra.get("parents"), where),
                    generation_depth=_depth(s.extra.get("generation_depth"), where),
                    content_sha256=digest,
                    text_key=text_key(s.response),
                )
            )
        Candidate.objects.bulk_create(rows, batch_size=1000)
    return ImportResult(len(rows), skipped)

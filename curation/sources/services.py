from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from curation.core.errors import InvalidInput
from curation.sources.models import Example, Source, Split
from curation.sources.readers import read_samples
from workers.critics.text import content_sha256, text_key

CHUNK = 1000
SOURCE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")  # Source.name: a SlugField of max_length 100
LICENSE_LENGTH = 200


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int  # duplicates of rows already in the source (or earlier in the file)


def sample_content(prompt: str, response: str, messages: list | None) -> dict:
    """The part of a row that makes it the same sample (metadata excluded)."""
    return {"messages": messages} if messages is not None else {"prompt": prompt, "response": response}


def source_get_or_create(*, name: str, split: str, license: str = "") -> Source:
    # Checked here: the database would refuse a long name with a traceback, and accept a
    # name with spaces that the SlugField (and every --source NAME) does not expect.
    if not SOURCE_NAME.fullmatch(name):
        raise InvalidInput(f"source name must be 1 to 100 letters, digits, '-' or '_', not {name!r}")
    if len(license) > LICENSE_LENGTH:
        raise InvalidInput(f"--license must be at most {LICENSE_LENGTH} characters")
    if split not in Split.values:
        raise InvalidInput(f"--split must be one of {', '.join(Split.values)}, not {split!r}")
    source, created = Source.objects.get_or_create(name=name, defaults={"split": split, "license": license})
    if not created and source.split != split:
        raise InvalidInput(f"source {name!r} is {source.split}; import {split} data under another name")
    if license and source.license != license:
        source.license = license
        source.save(update_fields=["license"])
    return source


def examples_import(*, path: str | Path, source_name: str, split: str, license: str = "") -> ImportResult:
    """Import human-written rows. Atomic: any bad row rolls the whole file back.
    Idempotent: a row whose content is already in the source is skipped."""
    with transaction.atomic():
        source = source_get_or_create(name=source_name, split=split, license=license)
        known = set(Example.objects.filter(source=source).values_list("content_sha256", flat=True).iterator())
        pending: list[Example] = []
        imported = skipped = 0
        for s in read_samples(path):
            digest = content_sha256(sample_content(s.prompt, s.response, s.messages))
            if digest in known:
                skipped += 1
                continue
            known.add(digest)
            pending.append(
                Example(
                    source=source,
                    external_id=s.external_id,
                    kind=s.kind,
                    prompt=s.prompt,
                    response=s.response,
                    messages=s.messages,
                    metadata=s.extra,
                    content_sha256=digest,
                    text_key=text_key(s.response),
                    row_number=s.row,
                )
            )
            if len(pending) >= CHUNK:
                imported += len(Example.objects.bulk_create(pending))
                pending = []
        imported += len(Example.objects.bulk_create(pending))
    return ImportResult(imported, skipped)

"""Text normalization shared by importers and critics, so the same words give the
same key whatever their case, spacing or Unicode form."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

import orjson
from rapidfuzz.distance import Levenshtein

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_key(text: str) -> str:
    """Key of a response for exact-duplicate checks (case and spacing ignored)."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def content_sha256(sample: dict) -> str:
    """Hash of a sample exactly as stored (canonical JSON: compact, keys sorted, UTF-8):
    provenance and re-import checks. orjson writes the same bytes as the standard library
    for samples (strings in lists and dicts), several times faster; an export hashes each
    of a million records."""
    try:
        canonical = orjson.dumps(sample, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # what orjson cannot write exactly, e.g. an int past 64 bits
        canonical = json.dumps(sample, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in words (inserted, deleted or replaced): how much an expert
    changed a text. rapidfuzz's C++ code: a pure-Python table is O(n x m) per edit."""
    return Levenshtein.distance(a.split(), b.split())


def edit_distance(original: tuple[str, str], edited: tuple[str | None, str | None]) -> int:
    """Words an expert changed in a (prompt, response) pair; None: that part not edited."""
    return sum(word_edit_distance(o, e) for o, e in zip(original, edited, strict=True) if e is not None)

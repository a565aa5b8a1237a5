"""Critic engines behind a registry: adding a critic is adding one file and one line.

`build_panel(settings)` makes the configured panel; per-critic settings are the
dataclass fields of each critic (e.g. `length: {min_words: 8}`), `enabled: false`
turns one off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, get_type_hints

from workers.critics.base import Corpus, Critic, Item, Match, Verdict
from workers.critics.duplicates import ContaminationCritic, DuplicateCritic, NearDuplicateCritic
from workers.critics.format import FormatCritic
from workers.critics.length import LengthCritic
from workers.critics.refusal import RefusalCritic
from workers.critics.repetition import RepetitionCritic
from workers.critics.semantic import SemanticCritic
from workers.critics.truncation import TruncationCritic

CRITICS: dict[str, type] = {
    c.name: c
    for c in (
        FormatCritic,
        LengthCritic,
        RepetitionCritic,
        RefusalCritic,
        TruncationCritic,
        DuplicateCritic,
        NearDuplicateCritic,
        ContaminationCritic,
        SemanticCritic,
    )
}
# Critics with their own settings and machinery (a model to call, a model to train): the
# scoring service builds them; the panel leaves their keys alone.
SPECIAL = ("judge", "learned")


class CriticSettingsError(ValueError):
    pass


def build_panel(settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[Critic]:
    settings = settings or {}
    unknown = sorted(set(settings) - set(CRITICS) - set(SPECIAL))
    if unknown:
        raise CriticSettingsError(
            f"critics.{unknown[0]}: unknown critic (known: {', '.join(sorted([*CRITICS, *SPECIAL]))})"
        )
    panel = []
    for name, cls in CRITICS.items():
        opts = dict(settings.get(name) or {})
        enabled = opts.pop("enabled", True)
        if not isinstance(enabled, bool):  # the string "false" is truthy: it would keep the critic on
            raise CriticSettingsError(f"critics.{name}.enabled: must be true or false, not {enabled!r}")
        if not enabled:
            continue
        allowed = {f.name for f in fields(cls)}
        bad = sorted(set(opts) - allowed)
        if bad:
            raise CriticSettingsError(
                f"critics.{name}: unknown setting {bad[0]!r} (known: {', '.join(sorted(allowed))})"
            )
        # Dataclasses do not check types: `min_words: five` would only fail inside a
        # scoring worker, so check here where the config enters.
        hints = get_type_hints(cls)
        for key, value in opts.items():
            if not _fits(value, hints[key]):
                raise CriticSettingsError(
                    f"critics.{name}.{key}: must be {hints[key].__name__}, not {value!r}"
                )
        try:
            panel.append(cls(**opts))
        except (TypeError, ValueError) as e:
            raise CriticSettingsError(f"critics.{name}: {e}") from e
    return panel


def _fits(value: Any, want: Any) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never a number of words
        return want is bool
    if want is float:
        return isinstance(value, int | float)
    return isinstance(want, type) and isinstance(value, want)


__all__ = [
    "CRITICS",
    "SPECIAL",
    "Corpus",
    "Critic",
    "CriticSettingsError",
    "Item",
    "Match",
    "Verdict",
    "build_panel",
]

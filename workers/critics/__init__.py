"""Critic engines behind a registry: adding a critic is adding one file and one line.

`build_panel(settings)` makes the configured panel; per-critic settings are the
dataclass fields of each critic (e.g. `length: {min_words: 8}`), `enabled: false`
turns one off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from workers.critics.base import Corpus, Critic, Item, Verdict
from workers.critics.duplicates import ContaminationCritic, DuplicateCritic
from workers.critics.format import FormatCritic
from workers.critics.length import LengthCritic
from workers.critics.refusal import RefusalCritic
from workers.critics.repetition import RepetitionCritic

CRITICS: dict[str, type] = {
    c.name: c
    for c in (
        FormatCritic,
        LengthCritic,
        RepetitionCritic,
        RefusalCritic,
        DuplicateCritic,
        ContaminationCritic,
    )
}


class CriticSettingsError(ValueError):
    pass


def build_panel(settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[Critic]:
    settings = settings or {}
    unknown = sorted(set(settings) - set(CRITICS))
    if unknown:
        raise CriticSettingsError(f"unknown critic {unknown[0]!r} (known: {', '.join(sorted(CRITICS))})")
    panel = []
    for name, cls in CRITICS.items():
        opts = dict(settings.get(name) or {})
        if not opts.pop("enabled", True):
            continue
        allowed = {f.name for f in fields(cls)}
        bad = sorted(set(opts) - allowed)
        if bad:
            raise CriticSettingsError(
                f"critics.{name}: unknown setting {bad[0]!r} (known: {', '.join(sorted(allowed))})"
            )
        try:
            panel.append(cls(**opts))
        except TypeError as e:
            raise CriticSettingsError(f"critics.{name}: {e}") from e
    return panel


__all__ = ["CRITICS", "Corpus", "Critic", "CriticSettingsError", "Item", "Verdict", "build_panel"]

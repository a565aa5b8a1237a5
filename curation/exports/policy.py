"""Which mixture policy an export applies, and why (CONTRACT: the campaign's `mixture` is
the default policy of its exports; flags given to `export_dataset` override it).

Several campaigns with different policies: the strictest applies (the lowest synthetic
cap, the lowest depth), unless a flag says otherwise. The manifest records where each
value came from, so a training job can tell a deliberate cap from a default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from curation.campaigns.config import MixtureConfig, stored_config
from curation.campaigns.models import Campaign
from curation.core.errors import InvalidInput

HELDOUT_SELECTION = "every row of the held-out sources, and nothing else: an evaluation set"
DEFAULT = MixtureConfig()  # CONTRACT: max_synthetic 0.3, max_depth 1, no strata
SELECTION = (
    "all human train rows; synthetic rows ranked by the human decision (edited, then the number of "
    "experts who approved), then mean critic score in bands of 0.1; where a cap cuts through a band, "
    "greedy farthest-point on the embeddings picks the rows farthest from those kept; then the "
    "mean critic score and a seeded hash"
)


@dataclass(frozen=True)
class Policy:
    max_synthetic: float
    balance_by: str | None
    max_depth: int
    seed: int
    max_per_generator: float | None = None
    # field -> where its value came from ("--max-synthetic", "campaign faq's mixture", ...)
    origin: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_synthetic": self.max_synthetic,
            "balance_by": self.balance_by,
            "max_depth": self.max_depth,
            "seed": self.seed,
            "max_per_generator": self.max_per_generator,
            "selection": HELDOUT_SELECTION if "split" in self.origin else SELECTION,
            "from": dict(self.origin),
        }


def _named(campaigns: Sequence[Campaign]) -> str:
    return ", ".join(c.slug for c in campaigns)


def policy_resolve(
    *,
    campaigns: Sequence[Campaign],
    max_synthetic: float | None,
    balance_by: str | None,
    max_depth: int | None,
    seed: int,
    max_per_generator: float | None = None,
) -> Policy:
    """The flags where given; else the campaigns' own mixture (the strictest of several);
    else the contract's defaults (an export of human sources only)."""
    mixtures = [(c, stored_config(c.config).mixture) for c in campaigns]
    origin: dict[str, str] = {}

    def pick(name: str, flag: Any, strictest) -> Any:
        if flag is not None:
            origin[name] = f"--{name.replace('_', '-')}"
            return flag
        if not mixtures:
            origin[name] = "default (no campaign exported)"
            return getattr(DEFAULT, name)
        value = strictest(getattr(m, name) for _, m in mixtures)
        if value is None:
            origin[name] = "none: no campaign's mixture sets it"
            return None
        givers = [c for c, m in mixtures if getattr(m, name) == value]
        several = len({getattr(m, name) for _, m in mixtures}) > 1
        origin[name] = (
            f"the strictest of the campaigns' mixtures ({_named(givers)})"
            if several
            else f"the mixture of {_named(givers)}"
        )
        return value

    cap = pick("max_synthetic", max_synthetic, min)
    depth = pick("max_depth", max_depth, min)
    per_generator = pick("max_per_generator", max_per_generator, _lowest_set)
    if balance_by is not None:
        strata, origin["balance_by"] = balance_by or None, "--balance-by"
    else:
        named = {m.balance_by for _, m in mixtures if m.balance_by}
        if len(named) > 1:
            raise InvalidInput(
                f"the campaigns balance by different fields ({', '.join(sorted(named))}): "
                "choose one with --balance-by"
            )
        strata = next(iter(named), None)
        givers = [c for c, m in mixtures if m.balance_by == strata and strata]
        origin["balance_by"] = f"the mixture of {_named(givers)}" if givers else "none: no campaign balances"
    return Policy(cap, strata, depth, seed, per_generator, origin)


def _lowest_set(values) -> float | None:
    """The strictest of optional caps: the lowest one set, None when none is."""
    return min((v for v in values if v is not None), default=None)

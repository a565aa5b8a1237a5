"""Which policy an export applies (CONTRACT: the campaign's `mixture` is the default policy
of its exports; flags override it), and the manifest saying where each value came from."""

from __future__ import annotations

import pytest

from curation.campaigns.models import Campaign
from curation.core.errors import InvalidInput
from curation.exports.policy import policy_resolve


def campaign(slug: str, **mixture) -> Campaign:
    return Campaign(slug=slug, config={"slug": slug, "source": "tea", "count": 1, "mixture": mixture})


def resolve(campaigns, max_synthetic=None, balance_by=None, max_depth=None):
    return policy_resolve(
        campaigns=campaigns, max_synthetic=max_synthetic, balance_by=balance_by, max_depth=max_depth, seed=0
    )


def test_the_campaigns_mixture_is_the_default():
    p = resolve([campaign("faq", max_synthetic=0.2, balance_by="topic", max_depth=2)])
    assert (p.max_synthetic, p.balance_by, p.max_depth) == (0.2, "topic", 2)
    assert p.origin == {
        "max_synthetic": "the mixture of faq",
        "max_depth": "the mixture of faq",
        "max_per_generator": "none: no campaign's mixture sets it",
        "balance_by": "the mixture of faq",
    }


def test_several_campaigns_take_the_strictest():
    p = resolve([campaign("loose", max_synthetic=0.4, max_depth=3), campaign("strict", max_synthetic=0.1)])
    assert (p.max_synthetic, p.max_depth) == (0.1, 1)
    assert p.origin["max_synthetic"] == "the strictest of the campaigns' mixtures (strict)"
    assert p.origin["max_depth"] == "the strictest of the campaigns' mixtures (strict)"


def test_flags_override_and_say_so():
    p = resolve([campaign("faq", max_synthetic=0.2, balance_by="topic")], 0.35, "", 2)
    assert (p.max_synthetic, p.balance_by, p.max_depth) == (0.35, None, 2)
    assert p.origin == {
        "max_synthetic": "--max-synthetic",
        "max_depth": "--max-depth",
        "max_per_generator": "none: no campaign's mixture sets it",
        "balance_by": "--balance-by",
    }


def test_human_sources_alone_take_the_contract_defaults():
    p = resolve([])
    assert (p.max_synthetic, p.balance_by, p.max_depth) == (0.3, None, 1)
    assert p.origin["max_synthetic"] == "default (no campaign exported)"


def test_campaigns_balancing_by_different_fields_need_a_choice():
    pair = [campaign("a", balance_by="topic"), campaign("b", balance_by="persona")]
    with pytest.raises(InvalidInput, match="choose one with --balance-by"):
        resolve(pair)
    assert resolve(pair, balance_by="topic").balance_by == "topic"


def test_the_generator_cap_is_the_lowest_set_and_a_flag_overrides_it():
    p = resolve([campaign("a", max_per_generator=0.6), campaign("b", max_per_generator=0.4), campaign("c")])
    assert p.max_per_generator == 0.4
    assert p.origin["max_per_generator"] == "the strictest of the campaigns' mixtures (b)"
    p = policy_resolve(
        campaigns=[campaign("a", max_per_generator=0.6)],
        max_synthetic=None,
        balance_by=None,
        max_depth=None,
        max_per_generator=0.9,
        seed=0,
    )
    assert (p.max_per_generator, p.origin["max_per_generator"]) == (0.9, "--max-per-generator")

"""The export's fast row reader gives exactly what the ORM gives (JSON decoded, times
timezone-aware), on PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest

from curation.campaigns.models import Candidate
from curation.exports.records import CANDIDATE_FIELDS, EXAMPLE_FIELDS
from curation.exports.rows import (
    adjudicators,
    column,
    critic_scores,
    ids_param,
    in_ids,
    reviewer_names,
    scan,
)
from curation.sources.models import Example


@pytest.mark.usefixtures("tea_in_review")
@pytest.mark.parametrize("model, names", [(Example, EXAMPLE_FIELDS), (Candidate, CANDIDATE_FIELDS)])
def test_a_scan_reads_every_matching_row_once_in_key_order_as_the_orm_gives_it(model, names):
    owner = "source_id" if model is Example else "campaign_id"
    orm = list(model.objects.order_by("pk").values(*names))
    owners = sorted({r[owner] for r in orm})
    where = in_ids(column(model, owner))
    for size in (2, 3, len(orm), len(orm) + 1):  # pages that end on the last row, and that do not
        pages = list(scan(model, names, where, [ids_param(owners)], size=size))
        assert all(len(p) <= size for p in pages)
        assert [r for p in pages for r in p] == orm
    assert list(scan(model, names, where, [ids_param([-1])])) == []


@pytest.mark.usefixtures("tea_in_review")
def test_scores_and_reviewers_read_fast_equal_the_orms(bob):
    from curation.review.models import Decision, Review
    from curation.scoring.models import CriticScore

    ids = list(Candidate.objects.values_list("pk", flat=True))
    # A later version of one critic: the later row is the one exported.
    first = CriticScore.objects.filter(candidate_id=ids[0]).order_by("pk").first()
    CriticScore.objects.create(
        candidate_id=ids[0], critic=first.critic, version="later", score=0.123456789012345678, passed=True
    )
    expected: dict[int, dict] = {pk: {} for pk in ids}
    for cid, critic, score in CriticScore.objects.order_by("candidate_id", "critic", "pk").values_list(
        "candidate_id", "critic", "score"
    ):
        expected[cid][critic] = score
    assert critic_scores(ids) == expected
    assert critic_scores(ids)[ids[0]][first.critic] == 0.123456789012345678

    Review.objects.create(candidate_id=ids[1], reviewer=bob, decision=Decision.ACCEPT)
    assert reviewer_names(ids, skip=Decision.SKIP) == {pk: ["bob"] if pk == ids[1] else [] for pk in ids}
    assert adjudicators(ids) == {}

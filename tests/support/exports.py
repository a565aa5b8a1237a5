"""Data for the export job and page tests: the tea campaign with its four good candidates
approved by an expert (the export tests' own `approved`, kept here so that these tests do
not lean on another test module)."""

from __future__ import annotations

import pytest

from curation.review.assignments import candidate_lease_next
from curation.review.services import candidate_review

EDITED = "Genmaicha is green tea blended with roasted brown rice, nutty and gentle enough for every day."


def approve_all(campaign, user, edits: dict[str, str] | None = None) -> list[str]:
    """The expert decides everything in review: accept, or edit where `edits` says so."""
    edits = edits or {}
    decided = []
    while (c := candidate_lease_next(user=user, campaign=campaign)) is not None:
        if c.external_id in edits:
            candidate_review(
                user=user, candidate_id=c.pk, decision="edit", edited_response=edits[c.external_id]
            )
        else:
            candidate_review(user=user, candidate_id=c.pk, decision="accept")
        decided.append(c.external_id)
    return decided


@pytest.fixture
def approved_tea(tea_in_review, bob):
    """syn-1..syn-4 approved by bob, syn-2 with an edit: with the 10 human tea rows, an
    export capped at 0.3 holds 14 records."""
    assert sorted(approve_all(tea_in_review, bob, {"syn-2": EDITED})) == ["syn-1", "syn-2", "syn-3", "syn-4"]
    return tea_in_review


@pytest.fixture
def export_root(settings, tmp_path):
    """The export folder of the page and the API, in the test's own temporary folder."""
    root = tmp_path / "exports"
    root.mkdir()
    settings.EXPORT_DIR = root
    return root


@pytest.fixture
def rows_deleted_after_planning(monkeypatch):
    """An export whose first human row is deleted once it is planned, before it is read
    (as a concurrent delete would): the export must fail whole."""
    from curation.exports import planning
    from curation.sources.models import Example

    plan = planning.plan_rows

    def then_delete(*args, **kwargs):
        planned = plan(*args, **kwargs)
        Example.objects.filter(pk=Example.objects.order_by("pk").values("pk")[:1]).delete()
        return planned

    monkeypatch.setattr(planning, "plan_rows", then_delete)

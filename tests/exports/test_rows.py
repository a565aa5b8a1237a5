"""The export's fast row reader gives exactly what the ORM gives (JSON decoded, times
timezone-aware), on PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest

from curation.campaigns.models import Candidate
from curation.exports.records import CANDIDATE_FIELDS, EXAMPLE_FIELDS
from curation.exports.rows import fetch
from curation.sources.models import Example


@pytest.mark.usefixtures("tea_in_review")
@pytest.mark.parametrize("model, names", [(Example, EXAMPLE_FIELDS), (Candidate, CANDIDATE_FIELDS)])
def test_rows_read_fast_equal_the_orms(model, names):
    ids = list(model.objects.values_list("pk", flat=True))
    assert ids
    orm = {r["pk"]: r for r in model.objects.filter(pk__in=ids).values(*names)}
    assert fetch(model, names, ids) == orm
    assert fetch(model, names, ids[:1]) == {ids[0]: orm[ids[0]]}
    assert fetch(model, names, []) == {}

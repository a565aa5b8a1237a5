from __future__ import annotations

from curation.campaigns.models import CandidateStatus


def test_it_triages_imported_candidates_with_reasons(tea_in_review):
    by_id = {c.external_id: c for c in tea_in_review.candidates.all()}
    assert by_id["syn-1"].status == CandidateStatus.IN_REVIEW
    assert by_id["syn-5"].status == CandidateStatus.AUTO_REJECTED
    assert by_id["syn-5"].reasons == ["length"]
    assert by_id["syn-6"].status == CandidateStatus.AUTO_REJECTED
    assert "repetition" in by_id["syn-6"].reasons

"""The dashboard in Chromium: it follows the experts' decisions without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from curation.review.assignments import candidate_lease_next
from curation.review.models import Decision
from curation.review.services import candidate_review
from tests.ui.test_review_page import browser, log_in, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_updates_live_without_a_reload(page, live_server, alice, bob, tea_in_review):  # noqa: F811
    page.goto(f"{live_server.url}/campaigns/tea/")
    log_in(page, "alice")
    in_review = page.locator("#dashboard [data-funnel=in_review] [data-n]")
    approved = page.locator("#dashboard [data-funnel=approved] [data-n]")
    expect(in_review).to_have_text("4")
    expect(approved).to_have_text("0")
    page.evaluate("window.__same_page = true")

    candidate = candidate_lease_next(user=bob, campaign=tea_in_review)
    candidate_review(user=bob, candidate_id=candidate.pk, decision=Decision.ACCEPT)

    expect(approved).to_have_text("1", timeout=12_000)
    expect(in_review).to_have_text("3")
    assert page.evaluate("window.__same_page") is True  # htmx swapped the panel; no reload
    expect(page.locator("#dashboard [data-throughput]")).to_contain_text("bob")

"""The diversity charts drawn by Chromium: the SVG is laid out, sized and legible."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from curation.campaigns.imports import candidates_import
from curation.campaigns.models import CandidateStatus
from curation.metrics.services import diversity_update
from tests.metrics.conftest import collapsed_rows, make_campaign, write
from tests.ui.test_review_page import browser, log_in, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_charts_render_in_chromium(page, live_server, alice, faq_source, tmp_path):  # noqa: F811
    rows = collapsed_rows()
    campaign = make_campaign("narrow", rows[:40], tmp_path)
    diversity_update(campaign_id=campaign.pk)
    candidates_import(path=write(tmp_path / "rest.jsonl", rows[40:]), campaign=campaign)
    campaign.candidates.update(status=CandidateStatus.IN_REVIEW)
    diversity_update(campaign_id=campaign.pk)  # a second snapshot: a line over time

    page.goto(f"{live_server.url}/campaigns/narrow/")
    log_in(page, "alice")
    panel = page.locator("#diversity")
    expect(panel.get_by_role("alert")).to_contain_text("Diversity alarm")
    charts = panel.locator("svg.chart")
    expect(charts).to_have_count(2)
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box and 400 <= box["width"] <= 1280 and box["height"] > 150, box
    line = charts.nth(0).locator("polyline[data-metric=vendi]")
    expect(line).to_be_visible()
    assert len(line.get_attribute("points").split()) == 2  # two snapshots
    bars = charts.nth(1).locator("rect[data-depth]")
    assert bars.count() >= 5 and all(bars.nth(i).bounding_box()["height"] > 0 for i in range(bars.count()))
    expect(charts.nth(0).locator("[data-line=alarm]")).to_be_attached()
    expect(panel.locator("table[data-metrics] tr.alarm").first).to_be_visible()

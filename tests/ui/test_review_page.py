"""The review workspace in a real browser: Debian's Chromium driven by Playwright against
pytest-django's live server (never a downloaded browser)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from curation.campaigns.models import Candidate, CandidateStatus, Origin
from curation.campaigns.selectors import campaign_counts
from curation.review.models import Decision, Review
from tests.conftest import chromium_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> plain text after'


@pytest.fixture(scope="module")
def browser() -> Browser:
    executable = chromium_or_skip()
    with pytest.MonkeyPatch.context() as mp:
        # Playwright's sync API keeps an event loop in this thread, and Django's ORM refuses
        # to run beside one (async-unsafe guard) although these calls are plain and blocking.
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page: Page, username: str) -> None:
    """Fill the login form of the page we are on (the persona's password is NAME-pass-123)."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-pass-123")
    page.click("button[type=submit]")


def current_candidate(page: Page) -> Candidate:
    return Candidate.objects.get(pk=int(page.get_attribute("article.candidate", "data-candidate")))


def test_an_expert_accepts_rejects_edits_and_skips_in_the_browser(
    page, live_server, bob, tea_in_review, tmp_path
):
    # Logged out, the review page sends the expert to the login form and back.
    page.goto(f"{live_server.url}/review/tea/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/review/tea/")
    log_in(page, "bob")
    expect(page).to_have_url(f"{live_server.url}/review/tea/")

    # The expert sees the prompt, the response and every critic's score.
    first = current_candidate(page)
    assert page.text_content("#prompt") == first.prompt
    assert page.text_content("#response") == first.response
    rows = page.locator("table.scores tbody tr")
    expected = {s.critic: f"{s.score:.2f}" for s in first.scores.all()}
    assert expected and rows.count() == len(expected)
    seen = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(rows.count())
    }
    assert seen == expected
    shot = tmp_path / "review.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("button[value=accept]")
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {first.pk}: accept recorded.")

    # A rejection needs a reason; without one the candidate stays with this expert.
    second = current_candidate(page)
    assert second.pk != first.pk
    page.click("button[value=reject]")
    expect(page.locator(".flash.error")).to_contain_text("Say why you reject it")
    assert current_candidate(page).pk == second.pk
    page.get_by_label("factually wrong").check()
    # Enter in the note submits the reject form, never the Accept button.
    page.fill("input[name=note]", "lemon does not curdle on its own")
    page.press("input[name=note]", "Enter")
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {second.pk}: reject recorded.")

    third = current_candidate(page)
    assert page.input_value("textarea[name=edited_response]") == third.response
    edited_text = third.response + " Taste it before adding more."
    page.fill("textarea[name=edited_response]", edited_text)
    page.click("button[value=edit]")
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {third.pk}: edit recorded.")

    fourth = current_candidate(page)
    page.click("button[value=skip]")
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {fourth.pk}: skip recorded.")
    expect(page.locator("h2")).to_have_text("Nothing left to review")

    first.refresh_from_db()
    assert first.status == CandidateStatus.APPROVED and first.edited_response is None
    second.refresh_from_db()
    assert second.status == CandidateStatus.REJECTED
    rejection = Review.objects.get(candidate=second, reviewer=bob)
    assert rejection.decision == Decision.REJECT
    assert rejection.reasons == ["wrong"] and rejection.note == "lemon does not curdle on its own"
    original = third.response
    third.refresh_from_db()
    assert third.status == CandidateStatus.APPROVED
    assert third.response == original  # an edit keeps the original text
    assert third.edited_response == edited_text and third.origin == Origin.SYNTHETIC_EDITED
    fourth.refresh_from_db()
    assert fourth.status == CandidateStatus.IN_REVIEW and fourth.leased_to is None
    assert Review.objects.filter(candidate=fourth, reviewer=bob, decision=Decision.SKIP).exists()


def test_model_text_is_shown_as_text_and_never_runs(page, live_server, bob, tea_campaign, tmp_path):
    from curation.campaigns.imports import candidates_import
    from curation.scoring.services import candidates_score

    path = tmp_path / "hostile.jsonl"
    row = {"id": "xss", "prompt": "Say <b>hi</b> in HTML?", "response": HOSTILE, "topic": "<i>kinds</i>"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    candidates_import(path=path, campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    hostile = tea_campaign.candidates.get(external_id="xss")
    assert hostile.status == CandidateStatus.IN_REVIEW, hostile.reasons

    page.goto(f"{live_server.url}/accounts/login/")
    log_in(page, "bob")
    page.goto(f"{live_server.url}/review/tea/")
    assert current_candidate(page).pk == hostile.pk
    assert page.text_content("#response") == HOSTILE
    assert page.text_content("#prompt") == row["prompt"]
    assert page.locator("article.candidate").inner_text().count("topic: <i>kinds</i>") == 1
    assert page.locator("article.candidate script, article.candidate img, article.candidate b").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.goto(f"{live_server.url}/campaigns/tea/")
    cell = page.locator(f"tr[data-candidate='{hostile.pk}'] td.text").nth(1)
    expect(cell).to_have_text(HOSTILE)
    assert page.locator("table.candidates script, table.candidates img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_viewer_is_refused_the_review_page(page, live_server, charlie, tea_in_review):
    page.goto(f"{live_server.url}/accounts/login/")
    log_in(page, "charlie")
    expect(page.locator("tr[data-campaign='tea']")).to_be_visible()
    expect(page.locator("a.button", has_text="Review")).to_have_count(
        0
    )  # no button to a page they cannot use

    response = page.goto(f"{live_server.url}/review/tea/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    assert not tea_in_review.candidates.filter(leased_to__isnull=False).exists()


def test_the_home_page_lists_the_campaign_with_its_counts(page, live_server, erin, tea_in_review):
    page.goto(f"{live_server.url}/accounts/login/")
    log_in(page, "erin")
    counts = campaign_counts(campaign=tea_in_review)
    assert counts["in_review"] and counts["auto_rejected"]
    row = page.locator("tr[data-campaign='tea']")
    expect(row).to_contain_text(tea_in_review.name)
    assert row.locator("[data-count=total]").inner_text() == str(sum(counts.values()))
    for status in ("in_review", "auto_rejected", "approved", "rejected"):
        assert row.locator(f"[data-count={status}]").inner_text() == str(counts[status]), status

    row.get_by_role("link", name="Review").click()
    expect(page).to_have_url(f"{live_server.url}/review/tea/")
    expect(page.locator("article.candidate")).to_be_visible()


def test_a_wrong_password_is_refused_on_the_login_form(page, live_server, bob):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "not-bobs-password")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")

"""The review page: through Django's test client (what the server answers: GET never
leases, Start does, a failed decision keeps what was typed), and in a real browser, Debian's
Chromium driven by Playwright against pytest-django's live server (never a downloaded
browser). The keyboard, diff, draft and lease-loss flows are in test_review_browser.py;
this module also provides the `browser` and `page` fixtures and `log_in` to other modules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from curation.campaigns.config import parse_config
from curation.campaigns.models import Candidate, CandidateStatus, Origin
from curation.campaigns.selectors import campaign_counts
from curation.campaigns.services import campaign_create_or_update
from curation.review.assignments import assignments_reap, candidate_lease_next
from curation.review.models import Assignment, Decision, Review
from tests.conftest import chromium_or_skip

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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


def held_by(user) -> list[int]:
    return list(Assignment.objects.filter(expert=user).values_list("candidate_id", flat=True))


def start(client) -> int:
    response = client.post("/review/tea/start/")
    assert response.status_code == 302 and response["Location"] == "/review/tea/"
    return Assignment.objects.get(expert=response.wsgi_request.user).candidate_id


# Through Django's test client: what the server answers.


def test_opening_the_page_takes_no_lease_and_says_what_waits(client, bob, tea_in_review):
    client.force_login(bob)
    response = client.get("/review/tea/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "4 items wait for you" in page and "Start reviewing" in page
    assert "0 experts hold 0 items" in page
    assert "factually wrong" in page  # the campaign's reasons, read before starting
    assert 'src="/static/js/review.js" defer' in page and "<script>" not in page  # no inline script
    assert not Assignment.objects.exists()


def test_start_leases_one_item_which_the_page_shows_until_it_is_released(client, bob, tea_in_review):
    client.force_login(bob)
    leased = start(client)
    page = client.get("/review/tea/").content.decode()
    lease = Assignment.objects.get(expert=bob)
    assert f'data-candidate="{leased}"' in page
    assert "Yours until <time" in page and f"{lease.expires_at:%H:%M} UTC" in page
    assert "1 expert holds 1 item" in page
    assert "generation depth 1" in page and "0 of 1 expert decision" in page
    start(client)  # asking again neither takes a second item nor loses this one
    assert held_by(bob) == [leased]

    response = client.post("/review/tea/release/", {"candidate": leased})
    assert response.status_code == 302 and not Assignment.objects.exists()
    page = client.get("/review/tea/").content.decode()
    assert f"Candidate {leased} released" in page and "4 items wait for you" in page


def test_a_decision_records_the_time_spent_and_leases_the_next_item(client, bob, tea_in_review):
    client.force_login(bob)
    first = start(client)
    response = client.post(f"/review/tea/{first}/", {"decision": "accept", "seconds_spent": "12.5"})
    assert response.status_code == 302 and response["Location"] == "/review/tea/"
    assert Review.objects.get(candidate_id=first).seconds_spent == 12.5
    (second,) = held_by(bob)
    assert second != first
    page = client.get("/review/tea/").content.decode()
    assert f'data-decided="{first}"' in page  # the browser drops that item's draft
    assert f'data-candidate="{second}"' in page and f"Candidate {first}: accept recorded." in page
    # An implausible time is left out, not refused.
    for spent, candidate_id in (("1e9", second), ("nan", held_by(bob)[0])):
        client.post(f"/review/tea/{candidate_id}/", {"decision": "skip", "seconds_spent": spent})
        assert Review.objects.get(candidate_id=candidate_id).seconds_spent is None


def test_a_refused_decision_is_a_400_that_keeps_what_was_typed(client, bob, tea_in_review):
    client.force_login(bob)
    leased = start(client)
    response = client.post(f"/review/tea/{leased}/", {"decision": "reject", "note": "  "})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in page and "Say why you reject it" in page
    response = client.post(
        f"/review/tea/{leased}/", {"decision": "reject", "reasons": ["nope"], "note": "too <b>sweet</b>"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "nope is not one of the available choices" in page
    assert 'value="too &lt;b&gt;sweet&lt;/b&gt;"' in page
    candidate = Candidate.objects.get(pk=leased)
    response = client.post(
        f"/review/tea/{leased}/",
        {"decision": "edit", "edited_response": candidate.response, "edited_prompt": candidate.prompt},
    )
    assert response.status_code == 400 and "an edit needs" in response.content.decode().lower()
    assert held_by(bob) == [leased] and not Review.objects.exists()  # the lease is kept


def test_a_lost_lease_is_a_409_that_keeps_the_typed_edit(client, bob, erin, tea_in_review):
    client.force_login(bob)
    leased = start(client)
    Assignment.objects.filter(expert=bob).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignments_reap(campaign_id=tea_in_review.pk) == 1
    assert candidate_lease_next(user=erin, campaign=tea_in_review).pk == leased
    typed = "Two grams <script>x()</script> per cup."
    response = client.post(
        f"/review/tea/{leased}/", {"decision": "edit", "edited_response": typed, "seconds_spent": "40"}
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert 'role="alert"' in page
    assert "Your lease on this item ran out and another expert took it; your edit is kept below" in page
    assert "Two grams &lt;script&gt;x()&lt;/script&gt; per cup.</textarea>" in page
    assert 'data-spent="40.0"' in page  # the clock goes on from there
    assert "Not leased to you" in page and not Review.objects.exists()


def test_undo_takes_back_the_last_decision_and_shows_that_item_again(client, bob, tea_in_review):
    client.force_login(bob)
    response = client.post("/review/tea/undo/")
    assert response.status_code == 409 and "Nothing undone" in response.content.decode()
    first = start(client)
    client.post(f"/review/tea/{first}/", {"decision": "reject", "reasons": ["wrong"]})
    assert held_by(bob) != [first]
    response = client.post("/review/tea/undo/")
    assert response.status_code == 302
    assert held_by(bob) == [first] and not Review.objects.exists()  # the next item went back
    page = client.get("/review/tea/").content.decode()
    assert f'data-candidate="{first}"' in page and "your decision is undone" in page


def test_the_start_screen_tells_leased_by_others_from_all_done(client, bob, erin, tea_in_review):
    theirs = candidate_lease_next(user=erin, campaign=tea_in_review).pk
    client.force_login(bob)
    mine = start(client)
    while mine is not None:
        client.post(f"/review/tea/{mine}/", {"decision": "accept"})
        mine = next(iter(held_by(bob)), None)
    page = client.get("/review/tea/").content.decode()
    assert "Nothing for you right now" in page
    assert "Items are leased by others (1) — they come back if not decided within the lease" in page
    assert "1 expert holds 1 item" in page and '<meta http-equiv="refresh" content="15">' in page

    client.force_login(erin)
    client.post(f"/review/tea/{theirs}/", {"decision": "accept"})
    client.force_login(bob)
    page = client.get("/review/tea/").content.decode()
    assert "Nothing left to review" in page and "All done" in page and "http-equiv" not in page


def test_the_guidelines_are_markdown_and_their_html_stays_text(client, bob, tea_in_review):
    guidelines = (
        "## Tea rules\n\n**Reject** anything about coffee. See [the guide](https://example.org/tea), "
        "[not this](javascript:alert(1)).\n\n<script>alert('g')</script>"
    )
    review = {**tea_in_review.config["review"], "guidelines": guidelines}
    campaign_create_or_update(config=parse_config({**tea_in_review.config, "review": review}))
    client.force_login(bob)
    for _ in range(2):  # the start screen, then the item
        page = client.get("/review/tea/").content.decode()
        assert "<h2>Tea rules</h2>" in page and "<strong>Reject</strong>" in page
        assert '<a href="https://example.org/tea" rel="nofollow noopener noreferrer">the guide</a>' in page
        assert 'href="javascript' not in page and "<script>alert" not in page
        assert "&lt;script&gt;alert" in page
        start(client)
    assert '<details class="guidelines" id="guidelines" open>' in page


def test_a_viewer_cannot_start_reviewing(client, charlie, tea_in_review):
    client.force_login(charlie)
    assert client.post("/review/tea/start/").status_code == 403
    assert client.post("/review/tea/undo/").status_code == 403
    assert not Assignment.objects.exists()


# In Chromium: the page as an expert uses it with the mouse.


@pytest.mark.browser
@pytest.mark.slow
def test_an_expert_accepts_rejects_edits_and_skips_in_the_browser(
    page, live_server, bob, tea_in_review, tmp_path
):
    # Logged out, the review page sends the expert to the login form and back.
    page.goto(f"{live_server.url}/review/tea/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/review/tea/")
    log_in(page, "bob")
    expect(page).to_have_url(f"{live_server.url}/review/tea/")
    expect(page.locator("#waiting")).to_have_text("4 items wait for you")
    assert not Assignment.objects.exists()
    page.get_by_role("button", name="Start reviewing").click()

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

    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {first.pk}: accept recorded.")

    # A rejection needs a reason; without one the candidate stays with this expert.
    second = current_candidate(page)
    assert second.pk != first.pk
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why you reject it")
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
    page.get_by_role("button", name="Save edit and approve").click()
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {third.pk}: edit recorded.")

    fourth = current_candidate(page)
    page.get_by_role("button", name="Skip").click()
    expect(page.locator(".flash.success")).to_have_text(f"Candidate {fourth.pk}: skip recorded.")
    expect(page.locator("#start-screen h2")).to_have_text("Nothing left to review")

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
    assert fourth.status == CandidateStatus.IN_REVIEW and not fourth.assignments.exists()
    assert Review.objects.filter(candidate=fourth, reviewer=bob, decision=Decision.SKIP).exists()
    assert all(r.seconds_spent and 0 < r.seconds_spent < 600 for r in Review.objects.all())


@pytest.mark.browser
@pytest.mark.slow
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
    assert not Assignment.objects.exists()


@pytest.mark.browser
@pytest.mark.slow
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
    expect(page.locator("#start-screen")).to_be_visible()


@pytest.mark.browser
@pytest.mark.slow
def test_a_wrong_password_is_refused_on_the_login_form(page, live_server, bob):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "not-bobs-password")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")

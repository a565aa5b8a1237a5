"""The review page driven in Chromium the way an expert works: by keyboard, editing with a
live diff, undoing, losing a lease without losing the edit, reloading without losing a
draft, and never running the model's text."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from curation.campaigns.models import Candidate, CandidateStatus
from curation.review.assignments import assignments_reap, candidate_lease_next
from curation.review.models import Assignment, Decision, Review
from tests.ui.test_review_page import browser, current_candidate, log_in, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
DRAFTS = "Object.keys(localStorage).filter(k => k.startsWith('assay:review-draft:'))"


def ready(tab: Page) -> None:
    """Wait until the page's script listens for keys (it is deferred)."""
    expect(tab.locator("#review[data-ready]")).to_be_attached()


def open_review(tab: Page, live_server, username: str = "bob") -> None:
    tab.goto(f"{live_server.url}/review/tea/")
    log_in(tab, username)
    expect(tab).to_have_url(f"{live_server.url}/review/tea/")
    ready(tab)


def start_with_keyboard(tab: Page) -> Candidate:
    expect(tab.locator("#start")).to_be_focused()
    tab.keyboard.press("Enter")
    expect(tab.locator("article.candidate")).to_be_visible()
    ready(tab)
    return current_candidate(tab)


def recorded(tab: Page, candidate: Candidate, decision: str) -> None:
    expect(tab.locator(".flash.success")).to_have_text(f"Candidate {candidate.pk}: {decision} recorded.")
    ready(tab)


def test_an_expert_reviews_a_sequence_with_the_keyboard_only(page, live_server, bob, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    assert not Assignment.objects.exists()  # opening the page leases nothing
    first = start_with_keyboard(page)
    expect(page.locator("#shortcuts")).to_contain_text("accept")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # 1280 px wide

    page.keyboard.press("a")
    recorded(page, first, "accept")

    second = current_candidate(page)
    page.keyboard.press("r")
    expect(page.locator("#reasons input[type=checkbox]").first).to_be_focused()
    page.focus("#note")
    page.keyboard.type("as sour as")  # letters typed into a field are text, not shortcuts
    expect(page.locator("#note")).to_have_value("as sour as")
    assert current_candidate(page).pk == second.pk and not Review.objects.filter(candidate=second).exists()
    page.keyboard.press("Escape")
    wrong = page.get_by_label("factually wrong")
    page.keyboard.press(wrong.get_attribute("data-n"))  # each reason's number is on the page
    expect(wrong).to_be_checked()
    expect(wrong).to_be_focused()
    page.keyboard.press("Enter")
    recorded(page, second, "reject")

    third = current_candidate(page)
    page.keyboard.press("s")
    recorded(page, third, "skip")

    fourth = current_candidate(page)
    page.set_viewport_size({"width": 1440, "height": 900})  # a laptop
    side, main = page.locator(".review-side").bounding_box(), page.locator(".review-main").bounding_box()
    assert side["x"] > main["x"] + main["width"] - 1 and side["x"] + side["width"] <= 1440
    page.keyboard.press("a")
    recorded(page, fourth, "accept")
    expect(page.locator("#start-screen h2")).to_have_text("Nothing left to review")

    rows = {r.candidate_id: r for r in Review.objects.filter(reviewer=bob)}
    assert [rows[c.pk].decision for c in (first, second, third, fourth)] == [
        Decision.ACCEPT,
        Decision.REJECT,
        Decision.SKIP,
        Decision.ACCEPT,
    ]
    assert rows[second.pk].reasons == ["wrong"] and rows[second.pk].note == "as sour as"
    assert all(r.seconds_spent is not None and 0 <= r.seconds_spent < 600 for r in rows.values())
    assert rows[second.pk].seconds_spent > 0  # the time it took to type the note
    assert not Assignment.objects.exists()


def test_an_edit_shows_a_word_diff_and_ctrl_enter_saves_it(page, live_server, bob, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    item = start_with_keyboard(page)
    expect(page.locator("#diff")).to_have_text("No changes yet.")

    page.keyboard.press("e")
    expect(page.locator("#edited-response")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Taste it first, always.")  # a, s, e and u typed here are text
    words = item.prompt.split(" ")
    new_prompt = " ".join([*words[:-1], "please?"])
    page.fill("#edited-prompt", new_prompt)

    diff = page.locator("#diff")
    expect(diff.locator("ins")).to_have_count(2)
    expect(diff.locator("ins").nth(1)).to_have_text(" Taste it first, always.")
    expect(diff.locator("del")).to_have_text(words[-1])
    expect(diff.locator("ins").nth(0)).to_have_text("please?")
    expect(page.locator("#edit-distance")).to_have_text("5 words")  # 1 replaced, 4 inserted

    page.focus("#edited-prompt")
    page.keyboard.press("Control+Enter")
    recorded(page, item, "edit")
    assert page.evaluate(DRAFTS) == []  # the recorded edit's draft is gone

    original = (item.prompt, item.response)
    item.refresh_from_db()
    assert (item.prompt, item.response) == original  # the originals stay
    assert item.edited_response == original[1] + " Taste it first, always."
    assert item.edited_prompt == new_prompt and item.status == CandidateStatus.APPROVED
    assert Review.objects.get(candidate=item, reviewer=bob).decision == Decision.EDIT


def test_u_undoes_the_last_decision_and_shows_that_item_again(page, live_server, bob, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    first = start_with_keyboard(page)
    page.keyboard.press("a")
    recorded(page, first, "accept")
    second = current_candidate(page)
    assert second.pk != first.pk

    page.keyboard.press("u")
    expect(page.get_by_role("status").filter(has_text="undone")).to_be_visible()
    assert current_candidate(page).pk == first.pk
    assert not Review.objects.filter(candidate=first).exists()
    first.refresh_from_db()
    assert first.status == CandidateStatus.IN_REVIEW and first.decisions == 0
    assert list(Assignment.objects.filter(expert=bob).values_list("candidate_id", flat=True)) == [first.pk]


def test_a_lost_lease_keeps_the_typed_edit(page, live_server, bob, erin, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    item = start_with_keyboard(page)
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type(" Warm the pot first.")
    typed = page.input_value("#edited-response")

    # The lease runs out, the reaper returns the item, and erin takes it.
    Assignment.objects.filter(expert=bob).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert assignments_reap(campaign_id=tea_in_review.pk) == 1
    assert candidate_lease_next(user=erin, campaign=tea_in_review).pk == item.pk

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("alert")).to_contain_text(
        "Your lease on this item ran out and another expert took it; your edit is kept below"
    )
    expect(page.locator("#edited-response")).to_have_value(typed)
    expect(page.locator("#lease")).to_contain_text("Not leased to you")
    assert not Review.objects.exists()
    assert page.evaluate(DRAFTS) != []  # still in this browser too


def test_a_reload_keeps_a_draft_edit(page, live_server, bob, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    item = start_with_keyboard(page)
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type(" Draft words.")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.press("2")
    page.reload()
    ready(page)
    assert current_candidate(page).pk == item.pk
    expect(page.locator("#edited-response")).to_have_value(item.response + " Draft words.")
    expect(page.locator("#reasons input[type=checkbox]").nth(1)).to_be_checked()
    expect(page.locator("#review-live")).to_have_text(
        "Your unsaved work on this item was restored from this browser."
    )
    expect(page.locator("#diff ins")).to_have_text(" Draft words.")
    assert not Review.objects.exists()


def test_the_model_text_is_shown_as_text_and_never_runs(page, live_server, bob, tea_campaign, tmp_path):  # noqa: F811
    from curation.campaigns.imports import candidates_import
    from curation.scoring.services import candidates_score

    path = tmp_path / "hostile.jsonl"
    row = {"id": "xss", "prompt": "Say <b>hi</b> in HTML?", "response": HOSTILE, "topic": "<i>kinds</i>"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    candidates_import(path=path, campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    hostile = tea_campaign.candidates.get(external_id="xss")
    assert hostile.status == CandidateStatus.IN_REVIEW, hostile.reasons

    open_review(page, live_server)
    assert start_with_keyboard(page).pk == hostile.pk
    assert page.text_content("#response") == HOSTILE
    assert page.text_content("#prompt") == row["prompt"]
    assert page.input_value("#edited-response") == HOSTILE
    assert page.locator("article.candidate").inner_text().count("topic: <i>kinds</i>") == 1
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type(" <img src=y onerror=window.__pwned=3>")  # the diff shows it as text
    expect(page.locator("#diff ins")).to_have_text(" <img src=y onerror=window.__pwned=3>")
    assert page.locator("article.candidate script, article.candidate img, article.candidate b").count() == 0
    assert page.evaluate("window.__pwned") is None

    page.goto(f"{live_server.url}/campaigns/tea/")
    cell = page.locator(f"tr[data-candidate='{hostile.pk}'] td.text").nth(1)
    expect(cell).to_have_text(HOSTILE)
    assert page.locator("table.candidates script, table.candidates img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_page_keeps_its_lease_alive_and_says_when_it_is_gone(
    page,  # noqa: F811
    live_server,
    bob,
    tea_in_review,
    settings,
):
    settings.ASSAY = {**settings.ASSAY, "LEASE_SECONDS": 15}  # the page renews every 5 s
    open_review(page, live_server)
    item = start_with_keyboard(page)
    for _ in range(4):  # 20 s of work: past the first lease, the sweeper's reaper running
        page.wait_for_timeout(5000)
        assert assignments_reap() == 0
    assert Assignment.objects.get(expert=bob).expires_at > timezone.now()

    Assignment.objects.filter(expert=bob).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignments_reap() == 1
    expect(page.locator("#lease-lost")).to_contain_text("ran out", timeout=8000)  # before any submit
    assert Candidate.objects.get(pk=item.pk).holders == 0


def test_time_spent_survives_a_reload(page, live_server, bob, tea_in_review):  # noqa: F811
    open_review(page, live_server)
    item = start_with_keyboard(page)
    page.wait_for_timeout(6000)  # the page keeps the clock every 5 s
    page.reload()
    ready(page)
    page.wait_for_timeout(1000)
    page.keyboard.press("a")
    recorded(page, item, "accept")
    assert Review.objects.get(candidate=item).seconds_spent >= 6.5

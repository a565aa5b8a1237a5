"""The campaign's review dashboard (funnel, throughput, agreement, leases) and the admins'
adjudication pages, through Django's test client."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils.html import escape

from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.review.assignments import candidate_lease_next
from curation.review.models import Adjudication, Decision
from curation.review.selectors import campaign_agreement
from curation.review.services import candidate_review

HOSTILE = "<script>window.__pwned=1</script> steep it longer"


def needing_two(campaign: Campaign) -> list[int]:
    """Every candidate in review now needs two experts (review.per_item: 2)."""
    in_review = campaign.candidates.filter(status=CandidateStatus.IN_REVIEW, holders=0)
    in_review.update(needed=2)
    return list(in_review.order_by("pk").values_list("pk", flat=True))


def decide_all(user, campaign: Campaign, choose) -> list[int]:
    """The expert takes and decides everything the queue offers them: choose(candidate)
    gives the decision's fields."""
    done = []
    while (candidate := candidate_lease_next(user=user, campaign=campaign)) is not None:
        candidate_review(user=user, candidate_id=candidate.pk, **choose(candidate))
        done.append(candidate.pk)
    return done


def disagree_on(campaign: Campaign, bob, erin, disputed: int = 2) -> list[int]:
    """Bob accepts every candidate in review; erin rejects the first `disputed` (oldest)
    and accepts the rest. Returns the disputed ids, oldest first."""
    ids = needing_two(campaign)
    disputed_ids = ids[:disputed]
    decide_all(bob, campaign, lambda c: {"decision": Decision.ACCEPT})
    decide_all(
        erin,
        campaign,
        lambda c: (
            {"decision": Decision.REJECT, "reasons": ["wrong"], "note": "too weak"}
            if c.pk in disputed_ids
            else {"decision": Decision.ACCEPT}
        ),
    )
    return disputed_ids


def import_more(campaign: Campaign, tmp_path, n: int) -> None:
    from curation.campaigns.imports import candidates_import
    from curation.scoring.services import candidates_score

    path = tmp_path / "more.jsonl"
    rows = [
        {
            "prompt": f"Question {i}: which tea suits evening {i}?",
            "response": f"Answer {i}: a caffeine-free herbal infusion such as chamomile number {i} "
            f"suits the evening, brewed for {i % 5 + 3} minutes in water just off the boil.",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    candidates_import(path=path, campaign=campaign)
    ids = list(campaign.candidates.filter(status=CandidateStatus.GENERATED).values_list("id", flat=True))
    candidates_score(candidate_ids=ids)


def funnel(html: str, key: str) -> int:
    start = html.index(f'data-funnel="{key}"')
    n = html.index("<strong data-n>", start) + len("<strong data-n>")
    return int(html[n : html.index("</strong>", n)])


# The dashboard


def test_the_dashboard_shows_the_funnel_from_the_counts_per_status(client, charlie, tea_in_review, bob, erin):
    disagree_on(tea_in_review, bob, erin)
    client.force_login(charlie)
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert funnel(html, "generated") == 6
    assert funnel(html, "auto_rejected") == 2
    assert funnel(html, "in_review") == 0
    assert funnel(html, "in_adjudication") == 2
    assert funnel(html, "approved") == 2
    assert funnel(html, "rejected") == 0
    assert "33.3%" in html  # 2 of 6, the bar's share


def test_the_dashboard_gives_agreement_and_each_pair_of_experts(
    client, alice, tea_in_review, bob, erin, tmp_path
):
    import_more(tea_in_review, tmp_path, 6)  # enough items in common for a pair's figures
    disagree_on(tea_in_review, bob, erin, disputed=2)
    figures = campaign_agreement(campaign=tea_in_review)
    n = figures["items"]
    assert n >= 5 and figures["percent"] == pytest.approx(100 * (n - 2) / n, abs=0.05)
    percent = f"{figures['percent']:.1f}%"
    client.force_login(alice)
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert percent in html and f"{n} items decided by two or more experts" in html
    assert f"<strong data-kappa>{figures['kappa']:.3f}</strong>" in html
    assert f"<strong data-alpha>{figures['alpha']:.3f}</strong>" in html
    pairs = html[html.index("data-pairs") :]
    assert "bob · erin" in pairs and percent in pairs
    throughput = html[html.index("data-throughput") : html.index("</table>", html.index("data-throughput"))]
    assert f'<td>bob</td><td class="num">{n}</td>' in throughput
    assert f'<td>erin</td><td class="num">{n}</td>' in throughput


def test_with_one_expert_per_item_the_dashboard_says_what_agreement_needs(
    client, charlie, tea_in_review, bob
):
    decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    client.force_login(charlie)
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert "needs two experts on the same items" in html and "review.per_item" in html


def test_an_expert_sees_the_totals_but_not_colleagues_figures(client, tea_in_review, bob, erin):
    disagree_on(tea_in_review, bob, erin)
    client.force_login(bob)
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert funnel(html, "in_adjudication") == 2
    assert "data-throughput" not in html and "data-pairs" not in html
    assert "data-kappa" in html


def test_the_dashboard_shows_live_leases_and_polls_only_while_anything_can_move(
    client, charlie, tea_in_review, bob
):
    client.force_login(charlie)
    candidate_lease_next(user=bob, campaign=tea_in_review)
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert "1 candidate leased now to 1 expert" in html
    assert 'data-polling="on"' in html and 'hx-trigger="every 5s"' in html
    decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    html = client.get("/campaigns/tea/dashboard").content.decode()
    assert 'data-polling="off"' in html and "hx-trigger" not in html


def test_the_campaign_page_carries_the_dashboard_and_links_admins_to_adjudication(
    client, alice, charlie, tea_in_review, bob, erin
):
    disagree_on(tea_in_review, bob, erin)
    client.force_login(alice)
    html = client.get("/campaigns/tea/").content.decode()
    assert 'id="dashboard"' in html and 'href="/campaigns/tea/adjudication/"' in html
    client.force_login(charlie)
    html = client.get("/campaigns/tea/").content.decode()
    assert 'id="dashboard"' in html and "/adjudication/" not in html


def test_a_stranger_is_sent_to_log_in_for_the_dashboard(client, tea_in_review):
    response = client.get("/campaigns/tea/dashboard")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# Adjudication


def test_disagreements_are_listed_and_an_admin_decides_them_one_after_another(
    client, alice, tea_in_review, bob, erin
):
    first, second = disagree_on(tea_in_review, bob, erin)
    client.force_login(alice)
    listing = client.get("/campaigns/tea/adjudication/").content.decode()
    assert listing.index(f'data-candidate="{first}"') < listing.index(f'data-candidate="{second}"')
    assert "2 candidates wait" in listing

    page = client.get(f"/campaigns/tea/adjudication/{first}/").content.decode()
    assert 'data-reviewer="bob"' in page and 'data-reviewer="erin"' in page
    assert "factually wrong" in page and "too weak" in page  # erin's reason, as labelled, and note

    response = client.post(f"/campaigns/tea/adjudication/{first}/", {"decision": "accept"})
    assert response.status_code == 302 and response["Location"] == f"/campaigns/tea/adjudication/{second}/"
    response = client.post(
        f"/campaigns/tea/adjudication/{second}/",
        {"decision": "reject", "reasons": ["wrong"], "note": "as erin"},
    )
    assert response.status_code == 302 and response["Location"] == "/campaigns/tea/adjudication/"

    assert Candidate.objects.get(pk=first).status == CandidateStatus.APPROVED
    rejected = Candidate.objects.get(pk=second)
    assert (rejected.status, rejected.reasons) == (CandidateStatus.REJECTED, ["wrong"])
    row = Adjudication.objects.get(candidate_id=second)
    assert (row.by.username, row.decision, row.note) == ("alice", "reject", "as erin")
    assert "Nothing waits for adjudication" in client.get("/campaigns/tea/adjudication/").content.decode()


def test_an_admin_edits_a_disputed_candidate_starting_from_an_experts_edit(
    client, alice, tea_in_review, bob, erin
):
    ids = needing_two(tea_in_review)
    target = ids[0]
    decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    decide_all(
        erin,
        tea_in_review,
        lambda c: (
            {"decision": Decision.EDIT, "edited_response": c.response + " Erin's addition."}
            if c.pk == target
            else {"decision": Decision.ACCEPT}
        ),
    )
    client.force_login(alice)
    page = client.get(f"/campaigns/tea/adjudication/{target}/").content.decode()
    assert "<ins>Erin</ins>" in page or "<ins> Erin" in page  # the diff against the original
    original, prompt = Candidate.objects.values_list("response", "prompt").get(pk=target)
    assert escape(original + " Erin's addition.") in page  # the textarea starts from erin's edit
    response = client.post(
        f"/campaigns/tea/adjudication/{target}/",
        {"decision": "edit", "edited_response": original + " Alice's wording.", "edited_prompt": prompt},
    )
    assert response.status_code == 302
    candidate = Candidate.objects.get(pk=target)
    assert candidate.status == CandidateStatus.APPROVED
    assert candidate.edited_response == original + " Alice's wording."


def test_a_refused_decision_is_shown_with_the_typed_text_kept(client, alice, tea_in_review, bob, erin):
    first, _ = disagree_on(tea_in_review, bob, erin)
    client.force_login(alice)
    response = client.post(
        f"/campaigns/tea/adjudication/{first}/",
        {"decision": "edit", "edited_prompt": "My typed prompt", "edited_response": "", "note": "kept note"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page and "cannot empty the prompt or the response" in page
    assert "My typed prompt" in page and "kept note" in page
    response = client.post(f"/campaigns/tea/adjudication/{first}/", {"decision": "reject"})
    assert response.status_code == 400 and "say why you reject it" in response.content.decode()
    assert Candidate.objects.get(pk=first).status == CandidateStatus.IN_ADJUDICATION


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_only_admins_see_or_use_the_adjudication_pages(
    client, request, tea_in_review, bob, erin, charlie, who
):
    first, _ = disagree_on(tea_in_review, bob, erin)
    client.force_login(request.getfixturevalue(who))
    assert client.get("/campaigns/tea/adjudication/").status_code == 403
    assert client.get(f"/campaigns/tea/adjudication/{first}/").status_code == 403
    assert client.post(f"/campaigns/tea/adjudication/{first}/", {"decision": "accept"}).status_code == 403
    assert Candidate.objects.get(pk=first).status == CandidateStatus.IN_ADJUDICATION


def test_expert_text_in_the_side_by_side_view_is_escaped(client, alice, tea_in_review, bob, erin):
    ids = needing_two(tea_in_review)
    target = ids[0]
    decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    decide_all(
        erin,
        tea_in_review,
        lambda c: (
            {"decision": Decision.EDIT, "edited_response": HOSTILE, "note": "<b>bold</b> note"}
            if c.pk == target
            else {"decision": Decision.ACCEPT}
        ),
    )
    client.force_login(alice)
    page = client.get(f"/campaigns/tea/adjudication/{target}/").content.decode()
    assert "<script>window.__pwned" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt; note" in page
    assert "<ins>&lt;" in page  # inside the diff's markup, as text


def test_a_candidate_of_another_campaign_is_a_404_on_this_campaigns_page(client, alice, tea_in_review):
    client.force_login(alice)
    assert client.get("/campaigns/tea/adjudication/999999/").status_code == 404


# The Django admin


def test_the_admin_action_accepts_candidates_in_adjudication_and_names_the_others(
    client, alice, tea_in_review, bob, erin
):
    first, second = disagree_on(tea_in_review, bob, erin)
    approved = tea_in_review.candidates.filter(status=CandidateStatus.APPROVED).first()
    client.force_login(alice)
    changelist = client.get("/admin/campaigns/candidate/?status__exact=in_adjudication").content.decode()
    assert f'href="/campaigns/tea/adjudication/{first}/"' in changelist
    response = client.post(
        "/admin/campaigns/candidate/",
        {"action": "adjudicate_accept", ACTION_CHECKBOX_NAME: [first, approved.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 accepted by adjudication" in text and f"#{approved.pk}:" in text
    assert Candidate.objects.get(pk=first).status == CandidateStatus.APPROVED
    assert Candidate.objects.get(pk=second).status == CandidateStatus.IN_ADJUDICATION
    assert Adjudication.objects.get(candidate_id=first).by == alice


def test_adjudications_and_leases_are_shown_read_only_in_the_admin(client, alice, tea_in_review, bob, erin):
    first, _ = disagree_on(tea_in_review, bob, erin)
    client.force_login(alice)
    client.post(f"/campaigns/tea/adjudication/{first}/", {"decision": "accept", "note": "settled"})
    candidate_lease_next(user=bob, campaign=tea_in_review)
    for model in ("adjudication", "assignment", "review"):
        assert client.get(f"/admin/review/{model}/").status_code == 200
    assert "settled" in client.get("/admin/review/adjudication/").content.decode()
    assert client.get("/admin/review/adjudication/add/").status_code == 403
    assert client.get("/admin/review/assignment/add/").status_code == 403


def test_the_polled_dashboard_reads_agreement_at_most_every_30_seconds(
    client, charlie, tea_in_review, bob, erin
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    disagree_on(tea_in_review, bob, erin)
    client.force_login(charlie)
    with CaptureQueriesContext(connection) as first:
        client.get("/campaigns/tea/dashboard")
    with CaptureQueriesContext(connection) as second:
        html = client.get("/campaigns/tea/dashboard").content.decode()
    reads = [
        q["sql"]
        for q in second.captured_queries
        if 'FROM "review_review"' in q["sql"] and "decisions" in q["sql"]
    ]
    assert len(second.captured_queries) < len(first.captured_queries) and not reads
    assert "data-kappa" in html  # the figures are still shown

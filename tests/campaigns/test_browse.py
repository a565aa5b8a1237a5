"""The candidate browser on the campaign page: filters that are WHEREs and EXISTSes,
keyset pages read on by ?after= and ?before=, and a fixed number of queries per page."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from curation.campaigns.models import Campaign, CandidateStatus
from curation.campaigns.selectors import PASSED_ALL, BrowseFilters, candidate_browse
from curation.review.models import Decision
from tests.ui.test_dashboard import decide_all, import_more


def ids(campaign: Campaign, size: int = 25, after=None, before=None, **filters) -> list[int]:
    page = candidate_browse(
        campaign=campaign, filters=BrowseFilters(**filters), after=after, before=before, size=size
    )
    return [c.pk for c in page.rows]


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-candidate="(\d+)"', html)]


def test_keyset_pages_cover_every_candidate_once_in_order(tea_in_review):
    every = list(tea_in_review.candidates.order_by("pk").values_list("pk", flat=True))
    seen, after = [], None
    while True:
        page = candidate_browse(campaign=tea_in_review, filters=BrowseFilters(), after=after, size=2)
        seen += [c.pk for c in page.rows]
        if page.after is None:
            break
        after = page.after
    assert seen == every
    first = candidate_browse(campaign=tea_in_review, filters=BrowseFilters(), size=2)
    assert first.before is None and first.after == every[1]
    last = candidate_browse(campaign=tea_in_review, filters=BrowseFilters(), before=every[-1], size=2)
    assert [c.pk for c in last.rows] == every[-3:-1] and last.after == every[-2]
    assert last.before == every[-3]
    back = candidate_browse(campaign=tea_in_review, filters=BrowseFilters(), before=every[2], size=2)
    assert [c.pk for c in back.rows] == every[:2] and back.before is None


def test_the_status_depth_and_search_filters(tea_in_review):
    in_review = list(
        tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert ids(tea_in_review, status=CandidateStatus.IN_REVIEW) == in_review
    tea_in_review.candidates.filter(pk=in_review[1]).update(generation_depth=2)
    assert ids(tea_in_review, depth=2) == [in_review[1]]
    assert ids(tea_in_review, q="GENMAICHA") == list(
        tea_in_review.candidates.filter(prompt__icontains="genmaicha").values_list("pk", flat=True)
    )
    assert ids(tea_in_review, q="no such words anywhere") == []


def test_the_critic_and_reason_filters(tea_in_review):
    rejected = tea_in_review.candidates.filter(status=CandidateStatus.AUTO_REJECTED)
    short = rejected.get(prompt="Describe tea.")
    assert ids(tea_in_review, critic="length") == [short.pk]
    assert ids(tea_in_review, reason="length") == [short.pk]
    assert ids(tea_in_review, reason="leng") == []  # a whole code, not a part of one
    passed_all = ids(tea_in_review, critic=PASSED_ALL)
    assert set(passed_all) == set(
        tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW).values_list("pk", flat=True)
    )


def test_the_reviewer_filter(tea_in_review, bob, erin):
    decided = decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    assert sorted(ids(tea_in_review, reviewer="bob")) == sorted(decided)
    assert ids(tea_in_review, reviewer="erin") == []
    assert ids(tea_in_review, reviewer="nobody") == []


def test_the_page_keeps_the_filters_in_its_next_and_previous_links(client, charlie, tea_in_review, tmp_path):
    import_more(tea_in_review, tmp_path, 30)
    client.force_login(charlie)
    html = client.get("/campaigns/tea/?q=evening").content.decode()
    first = shown(html)
    assert len(first) == 25
    link = re.search(r'href="\?([^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "q=evening" in link and f"after={first[-1]}" in link
    html = client.get(f"/campaigns/tea/?{link}").content.decode()
    second = shown(html)
    assert second and min(second) > first[-1]
    assert 'rel="next"' not in html
    back = re.search(r'href="\?([^"]*)" rel="prev"', html).group(1).replace("&amp;", "&")
    assert shown(client.get(f"/campaigns/tea/?{back}").content.decode()) == first


def test_the_browser_costs_no_more_queries_on_later_pages_or_with_filters(
    client, charlie, tea_in_review, bob, tmp_path, django_assert_max_num_queries
):
    import_more(tea_in_review, tmp_path, 80)
    decide_all(bob, tea_in_review, lambda c: {"decision": Decision.ACCEPT})
    client.force_login(charlie)
    html = client.get("/campaigns/tea/").content.decode()
    link = re.search(r'href="\?([^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
    with CaptureQueriesContext(connection) as second:  # a later page also asks what lies before it
        html = client.get(f"/campaigns/tea/?{link}").content.decode()
    budget = len(second.captured_queries)
    for _ in range(2):
        link = re.search(r'href="\?([^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
        with django_assert_max_num_queries(budget):
            html = client.get(f"/campaigns/tea/?{link}").content.decode()
    with django_assert_max_num_queries(budget + 1):  # the reviewer's id, looked up once
        client.get("/campaigns/tea/?reviewer=bob&critic=passed&reason=length&depth=1&q=tea&status=approved")


def test_bad_filter_values_are_ignored_not_errors(client, charlie, tea_in_review):
    client.force_login(charlie)
    for query in ("status=pending", "depth=x", "after=abc", "before=-1", "depth=100000"):
        assert client.get(f"/campaigns/tea/?{query}").status_code == 200

"""Members-only campaigns: campaign_members adds and removes experts and switches the
campaign closed or open; an expert outside it learns nothing of it (404 everywhere)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.models import Campaign, CampaignMembership, CandidateStatus


def members(*args: str) -> str:
    out = StringIO()
    call_command("campaign_members", *args, stdout=out)
    return out.getvalue()


def statuses(client, api, token, user, campaign: Campaign) -> dict[str, int]:
    """What the expert gets from each of the campaign's pages and endpoints."""
    client.force_login(user)
    candidate = campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).order_by("pk").first()
    got = {
        "page": client.get("/campaigns/tea/").status_code,
        "dashboard": client.get("/campaigns/tea/dashboard").status_code,
        "review page": client.get("/review/tea/").status_code,
        "candidates api": api.get("/api/v1/campaigns/tea/candidates", token(user))[0],
    }
    got["next api"], leased = api.post("/api/v1/campaigns/tea/next", token(user))
    target = leased["id"] if got["next api"] == 200 else candidate.pk
    got["review api"] = api.post(f"/api/v1/candidates/{target}/review", token(user), {"decision": "accept"})[
        0
    ]
    return got


def test_an_expert_outside_a_members_only_campaign_gets_404_everywhere(
    client, api, token, tea_in_review, bob
):
    out = members("tea", "--members-only")
    assert "tea: members only (0 members" in out
    assert statuses(client, api, token, bob, tea_in_review) == dict.fromkeys(
        ["page", "dashboard", "review page", "candidates api", "next api", "review api"], 404
    )


def test_a_member_gets_the_campaign_and_reviews_it(client, api, token, tea_in_review, bob, erin):
    out = members("tea", "--members-only", "--add", "bob")
    assert "  bob (expert)" in out and "erin" not in out
    assert statuses(client, api, token, bob, tea_in_review) == dict.fromkeys(
        ["page", "dashboard", "review page", "candidates api", "next api", "review api"], 200
    )
    assert statuses(client, api, token, erin, tea_in_review)["page"] == 404


def test_admins_and_viewers_see_a_members_only_campaign_without_membership(
    client, tea_in_review, alice, charlie
):
    members("tea", "--members-only")
    for user in (alice, charlie):
        client.force_login(user)
        assert client.get("/campaigns/tea/").status_code == 200


def test_removing_a_member_and_opening_the_campaign(tea_in_review, bob, erin):
    members("tea", "--members-only", "--add", "bob", "erin")
    out = members("tea", "--remove", "erin")
    assert "bob" in out and "erin" not in out
    out = members("tea", "--open")
    assert "tea: open to every expert (1 members listed)" in out
    assert not Campaign.objects.get(slug="tea").members_only
    assert members("tea") == out  # no option: only shows


def test_an_unknown_user_changes_nothing_and_is_named(tea_in_review, bob):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        members("tea", "--members-only", "--add", "bob", "nobody")
    assert not CampaignMembership.objects.exists()
    assert not Campaign.objects.get(slug="tea").members_only


def test_an_unknown_campaign_is_named(db):
    with pytest.raises(CommandError, match="no campaign 'nope'"):
        members("nope")


def test_adding_twice_is_not_an_error(tea_in_review, bob):
    members("tea", "--add", "bob")
    assert "bob (expert)" in members("tea", "--add", "bob")
    assert CampaignMembership.objects.count() == 1


def test_an_admin_manages_membership_on_the_campaign_admin_page(client, alice, tea_in_review, bob):
    client.force_login(alice)
    url = f"/admin/campaigns/campaign/{tea_in_review.pk}/change/"
    form = client.get(url).context["adminform"].form
    response = client.post(
        url,
        {
            "config_yaml": form.initial["config_yaml"],
            "members_only": "on",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": str(bob.pk),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    campaign = Campaign.objects.get(slug="tea")
    assert campaign.members_only
    assert list(campaign.memberships.values_list("user__username", flat=True)) == ["bob"]

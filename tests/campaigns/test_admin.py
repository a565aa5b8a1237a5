"""Admins configure campaigns in the Django admin with the same YAML and validation as
create_campaign, and run them with an admin action."""

from __future__ import annotations

from curation.campaigns.models import Campaign, CampaignStatus

YAML = "slug: tea-admin\nsource: tea\ncount: 3\ndiversity:\n  topic: [brewing, kinds]\n"


def test_an_admin_creates_a_campaign_from_yaml_in_the_admin(client, alice, tea_sources):
    client.force_login(alice)
    response = client.post("/admin/campaigns/campaign/add/", {"config_yaml": YAML})
    assert response.status_code == 302, response.content[:500]
    campaign = Campaign.objects.get(slug="tea-admin")
    assert (campaign.count, campaign.source.name) == (3, "tea")
    assert campaign.config["diversity"] == {"topic": ["brewing", "kinds"]}
    assert campaign.config["mixture"] == {"max_synthetic": 0.3, "balance_by": None, "max_depth": 1}


def test_the_admin_form_shows_the_config_error_instead_of_saving(client, alice, tea_sources):
    client.force_login(alice)
    response = client.post("/admin/campaigns/campaign/add/", {"config_yaml": YAML + "colour: red\n"})
    assert response.status_code == 200
    assert b"colour: Extra inputs are not permitted" in response.content
    assert not Campaign.objects.exists()


def test_the_run_action_queues_the_campaign(client, alice, tea_campaign, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/admin/campaigns/campaign/", {"action": "run", "_selected_action": [tea_campaign.pk]}
        )
    assert response.status_code == 302
    tea_campaign.refresh_from_db()
    assert tea_campaign.status == CampaignStatus.RUNNING
    assert len(callbacks) == tea_campaign.batches.count() == 1


def test_experts_and_viewers_cannot_open_the_admin(client, bob, charlie):
    for user in (bob, charlie):
        client.force_login(user)
        assert client.get("/admin/campaigns/campaign/add/").status_code == 302  # to the admin login

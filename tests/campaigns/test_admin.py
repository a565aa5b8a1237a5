"""Admins configure campaigns in the Django admin with the same YAML and validation as
create_campaign, and run them with an admin action."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.utils.html import escape

from curation.campaigns.models import Campaign, CampaignStatus

YAML = "slug: tea-admin\nsource: tea\ncount: 3\ndiversity:\n  topic: [brewing, kinds]\n"


def test_an_admin_creates_a_campaign_from_yaml_in_the_admin(client, alice, tea_sources):
    client.force_login(alice)
    response = client.post("/admin/campaigns/campaign/add/", {"config_yaml": YAML})
    assert response.status_code == 302, response.content[:500]
    campaign = Campaign.objects.get(slug="tea-admin")
    assert (campaign.count, campaign.source.name) == (3, "tea")
    assert campaign.config["diversity"] == {"topic": ["brewing", "kinds"]}
    assert campaign.config["mixture"] == {
        "max_synthetic": 0.3,
        "balance_by": None,
        "max_depth": 1,
        "max_per_generator": None,
    }


def test_the_admin_form_shows_the_config_error_instead_of_saving(client, alice, tea_sources):
    client.force_login(alice)
    response = client.post("/admin/campaigns/campaign/add/", {"config_yaml": YAML + "colour: red\n"})
    assert response.status_code == 200
    assert b"colour: Extra inputs are not permitted" in response.content
    assert not Campaign.objects.exists()


NO_SOURCE = "source: no source named 'nowhere' (import it with import_examples)"


def test_an_unknown_source_is_an_error_on_the_add_form_and_adds_nothing(client, alice, tea_sources):
    client.force_login(alice)
    text = YAML.replace("source: tea", "source: nowhere")
    response = client.post("/admin/campaigns/campaign/add/", {"config_yaml": text})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"config_yaml": [NO_SOURCE]}
    page = response.content.decode()
    assert escape(NO_SOURCE) in page
    assert escape(text) in page  # the admin's YAML is kept in the textarea, to fix and resend
    assert "was added successfully" not in page
    assert not list(get_messages(response.wsgi_request))  # nor queued for the next page
    assert not Campaign.objects.exists()


def test_an_unknown_source_is_an_error_on_the_change_form_and_changes_nothing(client, alice, tea_campaign):
    client.force_login(alice)
    before = dict(tea_campaign.config)
    text = "slug: tea\nsource: nowhere\ncount: 9\n"
    response = client.post(f"/admin/campaigns/campaign/{tea_campaign.pk}/change/", {"config_yaml": text})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"config_yaml": [NO_SOURCE]}
    page = response.content.decode()
    assert escape(NO_SOURCE) in page
    assert escape(text) in page
    assert "was changed successfully" not in page
    assert not list(get_messages(response.wsgi_request))
    tea_campaign.refresh_from_db()
    assert (tea_campaign.source.name, tea_campaign.count, tea_campaign.config) == ("tea", 4, before)


def test_the_run_action_queues_the_campaign(client, alice, tea_campaign, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/admin/campaigns/campaign/", {"action": "run", "_selected_action": [tea_campaign.pk]}
        )
    assert response.status_code == 302
    tea_campaign.refresh_from_db()
    assert tea_campaign.status == CampaignStatus.RUNNING
    # Turns, not one message per batch: the 4 slots fit in one CPU batch, claimed by the worker.
    assert len(callbacks) == 1 and not tea_campaign.batches.exists()


def test_experts_and_viewers_cannot_open_the_admin(client, bob, charlie):
    for user in (bob, charlie):
        client.force_login(user)
        assert client.get("/admin/campaigns/campaign/add/").status_code == 302  # to the admin login


def test_admin_actions_pause_resume_and_cancel_and_say_what_they_refused(client, alice, tea_campaign):
    client.force_login(alice)

    def act(action: str) -> str:
        response = client.post(
            "/admin/campaigns/campaign/",
            {"action": action, "_selected_action": [tea_campaign.pk]},
            follow=True,
        )
        tea_campaign.refresh_from_db()
        return response.content.decode().lower()  # the admin capitalizes its messages

    assert "is draft: only a running campaign pauses" in act("pause")
    assert tea_campaign.status == CampaignStatus.DRAFT
    assert "tea: generation started" in act("run") and tea_campaign.status == CampaignStatus.RUNNING
    assert "tea: paused" in act("pause") and tea_campaign.status == CampaignStatus.PAUSED
    assert "tea: was already paused" in act("pause")
    assert "tea: resumed" in act("resume") and tea_campaign.status == CampaignStatus.RUNNING
    assert "tea: cancelled" in act("cancel") and tea_campaign.status == CampaignStatus.CANCELLED
    assert "was cancelled and stays stopped" in act("run")
    page = client.get(f"/admin/campaigns/campaign/{tea_campaign.pk}/change/").content.decode()
    assert "cancelled" in page  # the status (and any error text) on the change page

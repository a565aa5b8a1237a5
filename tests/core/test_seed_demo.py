"""seed_demo runs at every `make run`: a rerun leaves what exists alone (users' passwords
and roles, an admin's edits to the demo campaign, a campaign already started) and says
what it did and did not do."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from curation.accounts.models import Role, User
from curation.campaigns.config import parse_config
from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.services import campaign_create_or_update
from curation.sources.models import Example, Source

pytestmark = pytest.mark.django_db
SLUG = "python-faq-demo"


def seed(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rows() -> tuple[int, int, int, int]:
    return User.objects.count(), Source.objects.count(), Example.objects.count(), Campaign.objects.count()


def test_a_second_run_creates_nothing_and_changes_no_password_role_or_campaign():
    out, err = seed("--no-run")
    assert "user admin (admin): created" in err
    assert f"campaign {SLUG}: created" in err
    first = rows()
    assert first[0] == 3 and first[1] == 2 and first[3] == 1

    # Between runs, the people using the demo change things.
    admin = User.objects.get(username="admin")
    admin.set_password("a-better-secret-42")
    admin.save(update_fields=["password"])
    User.objects.filter(username="expert").update(role=Role.VIEWER)
    config = Campaign.objects.get(slug=SLUG).config | {"count": 7}
    campaign_create_or_update(config=parse_config(config))

    out, err = seed("--no-run")
    assert rows() == first
    assert User.objects.get(username="admin").check_password("a-better-secret-42")
    assert User.objects.get(username="expert").role == Role.VIEWER
    assert Campaign.objects.get(slug=SLUG).count == 7
    for username in ("admin", "expert", "viewer"):
        assert f"user {username}: exists, left as is" in err
    assert "created" not in err
    assert re.findall(r"imported (\d+)", err) == ["0", "0"]  # both sources, every row skipped
    assert f"campaign {SLUG}: exists, left as is" in err
    assert f"campaign {SLUG}: draft, not queued (--no-run)" in err
    assert out.splitlines()[-1].startswith("Demo logins: admin / assay-admin (admin)")


def test_it_starts_a_campaign_that_was_never_started(django_capture_on_commit_callbacks):
    seed("--no-run")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out, err = seed()
    assert Campaign.objects.get(slug=SLUG).status == CampaignStatus.RUNNING
    assert callbacks  # generation queued once the transaction commits
    assert f"campaign {SLUG}: generation started" in err
    assert out.splitlines()[-1].startswith("Demo logins: ")


@pytest.mark.parametrize("status", [CampaignStatus.RUNNING, CampaignStatus.DONE, CampaignStatus.FAILED])
def test_it_does_not_start_again_a_campaign_that_was_started(status, django_capture_on_commit_callbacks):
    seed("--no-run")
    error = "the model is gone" if status == CampaignStatus.FAILED else ""
    Campaign.objects.filter(slug=SLUG).update(status=status, error=error)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _, err = seed()
    assert Campaign.objects.get(slug=SLUG).status == status
    assert not callbacks
    assert f"campaign {SLUG}: {status}, not queued again" in err
    assert "generation started" not in err

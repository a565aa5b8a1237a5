from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand

from curation.accounts.models import User
from curation.accounts.services import user_create
from curation.campaigns.config import parse_config
from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.selectors import campaign_get
from curation.campaigns.services import campaign_create_or_update, campaign_start
from curation.core.errors import NotFound
from curation.sources.services import examples_import

DATA = Path(__file__).resolve().parents[3] / "demo" / "data" / "python_faq.jsonl"
LICENSE = "PSF-2.0 (Python documentation FAQ)"
LOGINS = [
    ("admin", "admin", "assay-admin"),
    ("expert", "expert", "assay-expert"),
    ("viewer", "viewer", "assay-viewer"),
]
CAMPAIGN = {
    "slug": "python-faq-demo",
    "name": "Python FAQ (demo)",
    "task": "instruction",
    "source": "python-faq",
    "count": 24,
    "fewshot": 2,
    "diversity": {"topic": ["general", "programming", "design", "library", "extending"]},
    "generator": {
        "backend": "transformers",
        "params": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 160, "seed": 1},
    },
}


def _is_heldout(row: dict) -> bool:
    """A stable tenth of the rows is held out: never exported, used to measure."""
    return hashlib.sha256(row["id"].encode()).digest()[0] % 10 == 0


class Command(BaseCommand):
    help = (
        "Load the demo: users admin/expert/viewer, the Python FAQ as real data, and a queued campaign. "
        "Safe to rerun (every `make run` does): what exists is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-run", action="store_true", help="create the campaign without queueing it")

    def handle(self, *args, **opts) -> None:
        self._users()
        self._sources()
        campaign = self._campaign()
        if opts["no_run"]:
            self.stderr.write(f"campaign {campaign.slug}: {campaign.status}, not queued (--no-run)")
        elif campaign.status == CampaignStatus.DRAFT:
            campaign_start(campaign=campaign)
            self.stderr.write(f"campaign {campaign.slug}: generation started")
        else:
            # Started before (by an earlier run or by someone): starting again is for run_campaign.
            self.stderr.write(f"campaign {campaign.slug}: {campaign.status}, not queued again")
        self.stdout.write("Demo logins: " + ", ".join(f"{u} / {p} ({r})" for u, r, p in LOGINS))

    def _users(self) -> None:
        for username, role, password in LOGINS:
            # user_create would reset the password and role of an existing user.
            if User.objects.filter(username=username).exists():
                self.stderr.write(f"user {username}: exists, left as is")
            else:
                user_create(username=username, role=role, password=password)
                self.stderr.write(f"user {username} ({role}): created")

    def _sources(self) -> None:
        """The import itself skips rows already there, so rerunning imports 0."""
        rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
        with tempfile.TemporaryDirectory() as tmp:
            for name, split, part in (
                ("python-faq", "train", [r for r in rows if not _is_heldout(r)]),
                ("python-faq-heldout", "heldout", [r for r in rows if _is_heldout(r)]),
            ):
                path = Path(tmp) / f"{name}.jsonl"
                path.write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8"
                )
                result = examples_import(path=path, source_name=name, split=split, license=LICENSE)
                self.stderr.write(
                    f"source {name} ({split}): imported {result.imported}, skipped {result.skipped}"
                )

    def _campaign(self) -> Campaign:
        """Created when missing; an existing one may carry an admin's edits, so it is kept."""
        try:
            campaign = campaign_get(slug=CAMPAIGN["slug"])
        except NotFound:
            campaign, _ = campaign_create_or_update(config=parse_config(CAMPAIGN, origin="demo campaign"))
            self.stderr.write(f"campaign {campaign.slug}: created")
            return campaign
        self.stderr.write(f"campaign {campaign.slug}: exists, left as is")
        return campaign

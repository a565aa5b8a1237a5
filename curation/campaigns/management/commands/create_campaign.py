from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.config import load_yaml
from curation.campaigns.services import campaign_create_or_update
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = "Create a campaign from a YAML config, or update the campaign with the same slug."

    def add_arguments(self, parser):
        parser.add_argument("config", help="campaign YAML (see README, 'Campaign config')")

    def handle(self, *args, **opts):
        path = Path(opts["config"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CommandError(f"{path}: cannot read ({e})") from None
        try:
            config = load_yaml(text, origin=str(path))
        except AssayError as e:
            raise CommandError(str(e)) from None
        try:
            campaign, created = campaign_create_or_update(config=config)
        except AssayError as e:
            raise CommandError(f"{path}: {e}") from None
        self.stdout.write(f"{'created' if created else 'updated'} campaign {campaign.slug}")

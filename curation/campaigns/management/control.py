"""pause_campaign, resume_campaign and cancel_campaign: one shape, three services."""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.models import Campaign
from curation.campaigns.selectors import campaign_get
from curation.core.errors import AssayError


class ControlCommand(BaseCommand):
    """Runs `service(campaign=...)`; prints `done` when it changed the campaign, `already`
    when it was already so (the commands are idempotent)."""

    service: Callable[..., bool]
    done = "{slug}"
    already = "{slug}"

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, **opts):
        try:
            campaign: Campaign = campaign_get(slug=opts["slug"])
            changed = type(self).service(campaign=campaign)
        except AssayError as e:
            raise CommandError(str(e)) from None
        self.stdout.write((self.done if changed else self.already).format(slug=campaign.slug))

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.campaigns.membership import campaign_members, campaign_members_set
from curation.campaigns.selectors import campaign_get
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = (
        "Show or change who may see and review a members-only campaign. Experts outside a "
        "members-only campaign get a 404 for it; admins and viewers see every campaign."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--add", nargs="+", default=[], metavar="USER", help="usernames to add")
        parser.add_argument("--remove", nargs="+", default=[], metavar="USER", help="usernames to remove")
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument(
            "--members-only",
            dest="members_only",
            action="store_const",
            const=True,
            help="only its members among experts see and review it",
        )
        switch.add_argument(
            "--open",
            dest="members_only",
            action="store_const",
            const=False,
            help="every expert sees and reviews it (members are kept)",
        )

    def handle(self, *args, slug: str, add: list[str], remove: list[str], members_only, **options):
        try:
            campaign = campaign_get(slug=slug)
            if add or remove or members_only is not None:
                members = campaign_members_set(
                    campaign=campaign, add=add, remove=remove, members_only=members_only
                )
            else:
                members = campaign_members(campaign=campaign)
        except AssayError as e:
            raise CommandError(str(e)) from None
        if campaign.members_only:
            self.stdout.write(f"{slug}: members only ({len(members)} members; admins and viewers see it too)")
        else:
            self.stdout.write(f"{slug}: open to every expert ({len(members)} members listed)")
        for user in members:
            self.stdout.write(f"  {user.username} ({user.role})")

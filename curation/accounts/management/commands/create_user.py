from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.accounts.models import Role
from curation.accounts.services import user_create
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = "Create a user with a role (or change an existing user's role and password)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="login password for the web UI (none: API token only)")
        parser.add_argument("--email", default="")

    def handle(self, *args, **opts):
        try:
            user = user_create(
                username=opts["name"], role=opts["role"], password=opts["password"], email=opts["email"]
            )
        except AssayError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"user {user.username} ({user.role})")

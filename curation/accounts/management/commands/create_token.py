from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.accounts.services import token_create
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = (
        "Create an API token for a user. It is printed once, alone on the last line; only its hash is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("user")

    def handle(self, *args, **opts):
        try:
            raw = token_create(username=opts["user"])
        except AssayError as e:
            raise CommandError(str(e)) from None
        self.stderr.write(
            f"API token for {opts['user']} (shown once; send it as 'Authorization: Bearer TOKEN'):"
        )
        self.stdout.write(raw)

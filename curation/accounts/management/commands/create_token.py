from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from curation.accounts.models import Scope
from curation.accounts.services import token_create
from curation.core.errors import AssayError


class Command(BaseCommand):
    help = (
        "Create an API token for a user. It is printed once, alone on the last line; only its hash is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("user")
        parser.add_argument(
            "--scope",
            default=Scope.ALL,
            choices=Scope.values,
            help="all (default): what the user's role allows; exports:read: GET the exports routes only "
            "(list, manifests, files, job status), for a training job",
        )

    def handle(self, *args, **opts):
        try:
            raw = token_create(username=opts["user"], scope=opts["scope"])
        except AssayError as e:
            raise CommandError(str(e)) from None
        scope = "" if opts["scope"] == Scope.ALL else f", scope {opts['scope']}"
        self.stderr.write(
            f"API token for {opts['user']}{scope} (shown once; send it as 'Authorization: Bearer TOKEN'):"
        )
        self.stdout.write(raw)

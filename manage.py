#!/usr/bin/env python
"""Django's command-line utility for Assay."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        # Load settings here, not inside Django's command machinery, so that a bad
        # environment value (DEBUG=maybe) is one clear line, not a traceback.
        settings.INSTALLED_APPS  # noqa: B018
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OperationalError as e:
        # The database is unreachable or not migrated: say so in one line (libpq's
        # message spans several).
        detail = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"error: database: {detail}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Strict environment helpers: a bad value fails at start-up, never later.

(healthchecks `envbool`/`envint`; `*_FILE` variants read secrets from files.)
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """The value of `name`, or of the file named by `name_FILE` (for secrets). Set but
    empty counts as unset (a blank line in .env), as it does for env_int."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={path}: {e.strerror}") from e
        if not value:  # an empty secret file is a mistake, never "use the default"
            raise ImproperlyConfigured(f"{name}_FILE={path}: the file is empty")
        return value
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]

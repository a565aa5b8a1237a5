"""Domain errors. Each message is one clear line a user can act on: commands print it
(no traceback) and the API returns it as `detail`."""

from __future__ import annotations


class AssayError(Exception):
    """Base of the errors a user can fix."""


class InvalidInput(AssayError):
    """Bad input: a file row, a config field, a request body."""


class NotFound(AssayError):
    pass


class Forbidden(AssayError):
    pass


class Conflict(AssayError):
    """The state moved on: a lost lease, an item already decided."""


def describe(e: BaseException) -> str:
    """An unexpected exception as `Type: message` in one line, for a failure a user sees
    (billiard's exceptions print their repr as their text)."""
    text = e.args[0] if len(e.args) == 1 and isinstance(e.args[0], str) else str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__

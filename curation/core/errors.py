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

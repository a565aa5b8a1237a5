"""An export's human pass beside its synthetic pass, in a child process: the two read
different tables into different spills, and building records is Python work one
interpreter does a core at a time, so a machine's second core halves the reading of a
large export.

The child is forked (it inherits the plan; no settings or arguments to pass) after the
parent closed its database connections, so each opens its own. It tells the parent the
rows it has spilled as it goes (the parent's progress meter), then its counts or its
error, on a pipe; it exits with its parent (it checks between pages), so a killed worker
leaves no orphan writing into a folder the next worker is clearing.

Only on PostgreSQL outside a transaction (a child's connection would not see a caller's
uncommitted rows), on a system with fork, and for enough rows to be worth a process."""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections

from curation.exports.passes import SourcesChanged, humans_spill
from curation.exports.spill import Spill


def usable(humans: int) -> bool:
    # ASSAY_EXPORT_PARALLEL_MIN_ROWS (50,000): below it a child costs more than it saves.
    return (
        humans >= settings.ASSAY["EXPORT_PARALLEL_MIN_ROWS"]
        and hasattr(os, "fork")
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )


class Aside:
    """`humans_spill` running in a child; `poll()` while waiting, `join()` for its Spill."""

    def __init__(self, folder: Path, bits: int, advance: Callable[[int], None], **kwargs: Any) -> None:
        self._folder, self._bits, self._advance = folder, bits, advance
        self._buffer = b""
        self._result: tuple[str, str] | None = None
        connections.close_all()  # the child must not share the parent's sockets
        read, write = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read)
            _child(write, parent, folder, bits, kwargs)
        os.close(write)
        self._pid, self._fd = pid, read
        os.set_blocking(read, False)

    def poll(self) -> None:
        """Take in what the child has said so far (its progress), without waiting."""
        self._read(block=False)

    def join(self) -> Spill:
        try:
            while self._result is None and self._read(block=True):
                pass
        finally:
            self._reap()
        kind, text = self._result or ("error", "the human rows' reader stopped without a word")
        if kind == "changed":
            raise SourcesChanged(text)
        if kind == "error":
            raise RuntimeError(f"reading the human rows failed: {text}")
        spill = Spill(self._folder, self._bits)
        spill.rows = int(text)
        return spill

    def stop(self) -> None:
        """The parent failed: the child goes too."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> None:
        if self._pid:
            os.waitpid(self._pid, 0)
            self._pid = 0
            os.close(self._fd)

    def _read(self, *, block: bool) -> bool:
        """Read and act on complete lines; False at the end of the pipe."""
        if block:
            select.select([self._fd], [], [])
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            kind, _, text = line.decode().partition(" ")
            if kind == "rows":
                self._advance(int(text))
            else:
                self._result = (kind, text)
        return True


def _child(write: int, parent: int, folder: Path, bits: int, kwargs: dict[str, Any]) -> None:
    code = 1
    out = os.fdopen(write, "w", buffering=1)
    try:

        def advance(n: int) -> None:
            if os.getppid() != parent:  # the parent was killed
                os._exit(1)
            out.write(f"rows {n}\n")

        spill = humans_spill(folder, bits, advance=advance, **kwargs)
        out.write(f"ok {spill.rows}\n")
        code = 0
    except SourcesChanged as e:
        out.write(f"changed {_line(e)}\n")
    except BaseException as e:  # told to the parent, which raises it
        out.write(f"error {type(e).__name__}: {_line(e)}\n")
    finally:
        try:
            connections.close_all()
            out.flush()
        finally:
            os._exit(code)


def _line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__

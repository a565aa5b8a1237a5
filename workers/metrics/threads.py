"""BLAS threads for the metrics' linear algebra. Measured on the 2-core CI machine: two
OpenBLAS threads made Xᵀ X of 65,536 x 384 seven times slower than one (1.7 s against
0.23 s), and a 384 x 384 eigvalsh sixty times slower once torch's OpenMP pool was running.
One thread is the default; ASSAY_BLAS_THREADS raises it on a host where more pay."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def blas_threads() -> int:
    return max(1, int(os.environ.get("ASSAY_BLAS_THREADS", "1")))


@contextmanager
def limited() -> Iterator[None]:
    global _controller
    if _controller is None:  # inspecting the loaded libraries costs milliseconds: once
        _controller = ThreadpoolController()
    with _controller.limit(limits=blas_threads(), user_api="blas"):
        yield

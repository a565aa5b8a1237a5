"""Records put in seeded-rank order without holding them: an external sort by buckets.

Each record (its rank, id, a byte of flags and its bytes) is appended to one of 2**bits
bucket files chosen by the top bits of its rank; a bucket is read back and sorted on its
own. Ranks are uniform 64-bit hashes, so the buckets hold about equally many records:
with `bits_for(rows)` a bucket holds about BUCKET_ROWS of them whatever the export's size,
and memory is one bucket plus the write buffers (BUFFER in all), flat in the rows. Rows
are read from the database in storage order, the fast way, and sorted here, instead of
being fetched one chunk of ids at a time in the seeded order. No Django here."""

from __future__ import annotations

import math
import struct
from pathlib import Path

HEAD = struct.Struct("<QqBI")  # rank, id, flags, length of the bytes that follow
BUCKET_ROWS = 8192
BUFFER = 32 << 20  # bytes waiting to be appended, all buckets together


def bits_for(rows: int) -> int:
    """Bucket bits giving about BUCKET_ROWS records a bucket (at most) for `rows` records."""
    return max(0, math.ceil(math.log2(max(rows, 1) / BUCKET_ROWS)))


class Spill:
    """One stream of records (all human, or all synthetic) in `folder`, bucketed by rank.
    Spills that share `bits` share bucket boundaries: bucket i of each covers the same ranks,
    so merging them is sorting bucket i of both together."""

    def __init__(self, folder: Path, bits: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.bits, self.rows = folder, bits, 0
        self._shift = 64 - bits
        self._pending: list[list[bytes]] = [[] for _ in range(1 << bits)]
        self._sizes = [0] * (1 << bits)
        self._limit = max(1 << 16, BUFFER >> bits)

    def add(self, rank: int, pk: int, flags: int, data: bytes) -> None:
        i = rank >> self._shift
        frame = HEAD.pack(rank, pk, flags, len(data)) + data
        self._pending[i].append(frame)
        self._sizes[i] += len(frame)
        self.rows += 1
        if self._sizes[i] >= self._limit:
            self._flush(i)

    def _path(self, i: int) -> Path:
        return self.folder / f"bucket-{i:05d}"

    def _flush(self, i: int) -> None:
        if self._pending[i]:
            with self._path(i).open("ab") as fh:
                fh.write(b"".join(self._pending[i]))
            self._pending[i], self._sizes[i] = [], 0

    def close(self) -> None:
        for i in range(len(self._pending)):
            self._flush(i)

    def __len__(self) -> int:
        return 1 << self.bits

    def bucket(self, i: int, side: int) -> list[tuple[int, int, int, int, bytes]]:
        """Bucket i, unsorted, as (rank, side, id, flags, bytes): sorting a mix of spills'
        buckets puts equal ranks in side order, then id order."""
        path = self._path(i)
        data = path.read_bytes() if path.exists() else b""
        out = []
        unpack, size, pos, end = HEAD.unpack_from, HEAD.size, 0, len(data)
        while pos < end:
            rank, pk, flags, n = unpack(data, pos)
            pos += size
            out.append((rank, side, pk, flags, data[pos : pos + n]))
            pos += n
        return out

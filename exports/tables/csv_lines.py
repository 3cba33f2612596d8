"""CSV lines as ``CsvWriter`` writes them: the header, and a batch of COPY's rows as one
``bytes`` that a file sink can split between rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence


def csv_header(columns: Sequence[str]) -> bytes:
    """The header line exactly as ``CsvWriter`` writes it."""
    text = io.StringIO(newline="")
    csv.writer(text).writerow(list(columns))
    return text.getvalue().encode("utf-8")


class CsvLines:
    """CSV lines of a batch of rows, as one ``bytes`` (``bytes(lines)``); ``len()`` counts the
    rows and slicing (``lines[:n]``, ``lines[n:]``) cuts between rows, so a file sink can split
    them as it splits a list of rows."""

    __slots__ = ("data", "sizes")

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = sizes  # of each line in data

    @classmethod
    def from_copy(cls, data: bytes | bytearray, sizes: list[int]) -> CsvLines:
        """COPY's rows, concatenated in ``data`` (each of ``sizes`` bytes, ending with "\\n"),
        with csv.writer's "\\r\\n" line ends."""
        if data.count(b"\n") == len(sizes):  # no line break inside a quoted value
            text = bytes(data.replace(b"\n", b"\r\n"))
        else:
            view, lines, start = memoryview(data), [], 0
            for size in sizes:
                lines.append(view[start:start + size - 1])
                start += size
            text = b"\r\n".join(lines) + b"\r\n"
        return cls(text, [size + 1 for size in sizes])

    def __len__(self) -> int:
        return len(self.sizes)

    def __bytes__(self) -> bytes:
        return self.data

    def __getitem__(self, key: slice) -> CsvLines:
        if not isinstance(key, slice):
            raise TypeError("CsvLines are sliced, not indexed")
        start, stop, step = key.indices(len(self.sizes))
        if step != 1:
            raise ValueError("CsvLines slices take no step")
        if start == 0 and stop >= len(self.sizes):
            return self
        if start >= stop:
            return CsvLines(b"", [])
        begin = sum(self.sizes[:start])
        end = begin + sum(self.sizes[start:stop])
        return CsvLines(self.data[begin:end], self.sizes[start:stop])

    def __repr__(self) -> str:
        return f"<CsvLines: {len(self)} rows, {len(self.data)} bytes>"

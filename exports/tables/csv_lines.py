"""CSV lines as ``CsvWriter`` writes them: the header, and a batch of COPY's rows as one
``bytes`` that a file sink can split between rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from exports.lines import Lines


def csv_header(columns: Sequence[str]) -> bytes:
    """The header line exactly as ``CsvWriter`` writes it."""
    text = io.StringIO(newline="")
    csv.writer(text).writerow(list(columns))
    return text.getvalue().encode("utf-8")


class CsvLines(Lines):
    """CSV lines of a batch of rows (see ``exports.lines.Lines``)."""

    __slots__ = ()

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

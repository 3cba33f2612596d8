"""Rows already encoded by the database's COPY (CSV or JSON lines), as one ``bytes`` that a
file sink can split between rows as it splits a list of row dicts."""

from __future__ import annotations


class Lines:
    """Encoded lines of a batch of rows, as one ``bytes`` (``bytes(lines)``); ``len()`` counts
    the rows and slicing (``lines[:n]``, ``lines[n:]``) cuts between rows."""

    __slots__ = ("data", "sizes")

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = sizes  # of each line in data

    def __len__(self) -> int:
        return len(self.sizes)

    def __bytes__(self) -> bytes:
        return self.data

    def __getitem__(self, key: slice):
        if not isinstance(key, slice):
            raise TypeError(f"{type(self).__name__} are sliced, not indexed")
        start, stop, step = key.indices(len(self.sizes))
        if step != 1:
            raise ValueError(f"{type(self).__name__} slices take no step")
        if start == 0 and stop >= len(self.sizes):
            return self
        if start >= stop:
            return type(self)(b"", [])
        begin = sum(self.sizes[:start])
        end = begin + sum(self.sizes[start:stop])
        return type(self)(self.data[begin:end], self.sizes[start:stop])

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} rows, {len(self.data)} bytes>"


class JsonLines(Lines):
    """One JSON object per line, each ending with "\\n" (what ``JsonLinesWriter`` writes)."""

    __slots__ = ()

    @classmethod
    def from_copy(cls, data: bytes | bytearray, sizes: list[int]) -> JsonLines:
        """Rows of a one-column ``COPY ... TO STDOUT`` of JSON texts in CSV format whose quote
        byte is 0x01 (``copy_select``): COPY sent each text as it is, unless it held a raw
        line break, which JSON text cannot (it would have been quoted: refused here)."""
        if b"\x01" in data:
            raise ValueError("A JSON row of COPY's output held a raw line break.")
        return cls(bytes(data), sizes)

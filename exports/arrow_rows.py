"""Rows as an Arrow table, parsed from a COPY's CSV by ``pyarrow.csv`` (the Parquet fast
path): every column a string, as ``ParquetWriter`` stores them; NULL (COPY's empty unquoted
field) is null and an empty text (``""``) stays an empty string."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ArrowRows:
    """A batch of rows as a ``pyarrow.Table``; ``len()`` counts the rows and slicing
    (``rows[:n]``, ``rows[n:]``) cuts between rows, as a file sink splits a list of rows."""

    __slots__ = ("table",)

    def __init__(self, table: Any) -> None:
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, key: slice) -> ArrowRows:
        if not isinstance(key, slice):
            raise TypeError("ArrowRows are sliced, not indexed")
        start, stop, step = key.indices(self.table.num_rows)
        if step != 1:
            raise ValueError("ArrowRows slices take no step")
        if start == 0 and stop >= self.table.num_rows:
            return self
        return ArrowRows(self.table.slice(start, max(0, stop - start)))

    def __repr__(self) -> str:
        return f"<ArrowRows: {len(self)} rows>"


def csv_decoder(columns: Sequence[str]):
    """``decode(data, sizes)`` for ``copy_stream.copy_batches``: COPY's CSV rows into
    ``ArrowRows`` of string columns named ``columns``."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    names = list(columns)
    read_options = pa_csv.ReadOptions(column_names=names, use_threads=False)
    # A one-column row whose value is NULL is an empty line: a row, not a line to skip.
    parse_options = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert_options = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names}, null_values=[""],
        strings_can_be_null=True, quoted_strings_can_be_null=False)
    schema = pa.schema([(name, pa.string()) for name in names])

    def decode(data: bytearray, sizes: list[int]) -> ArrowRows:
        table = pa_csv.read_csv(pa.py_buffer(data), read_options=read_options,
                                parse_options=parse_options, convert_options=convert_options)
        if table.num_rows != len(sizes):
            raise ValueError(f"Parsed {table.num_rows} rows of COPY's {len(sizes)}.")
        return ArrowRows(table.cast(schema))

    return decode

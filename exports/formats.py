"""Export formats and their streaming writers.

A writer receives rows (dicts keyed by column) in batches and writes them to a binary file
object; ``compress`` wraps that file in gzip. pyarrow (parquet) and openpyxl (xlsx) are optional
extras: a format whose library is missing is listed as unavailable and refused with a 422.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


class RowWriter:
    """Writes rows to ``stream``; ``close()`` finishes the file (not the stream)."""

    def __init__(self, stream: IO[bytes], columns: Sequence[str]) -> None:
        self.stream = stream
        self.columns = list(columns)

    def write(self, rows: Sequence[dict]) -> None:
        raise NotImplementedError

    def write_encoded(self, rows: Any) -> None:
        """Rows a COPY fast path encoded already (``exports.tables.copy_select``)."""
        raise TypeError(f"{type(self).__name__} takes no encoded rows.")

    def close(self) -> None:
        pass


class JsonLinesWriter(RowWriter):
    def write(self, rows):
        self.stream.write(b"".join(_dumps(row) + b"\n" for row in rows))

    def write_encoded(self, rows):  # JsonLines: one object per line already
        self.stream.write(bytes(rows))


class JsonArrayWriter(RowWriter):
    def __init__(self, stream, columns):
        super().__init__(stream, columns)
        self.stream.write(b"[")
        self.first = True

    def write(self, rows):
        if not rows:
            return
        body = b",\n".join(_dumps(row) for row in rows)
        self._write_body(body)

    def write_encoded(self, rows):
        """JsonLines: JSON text has no raw line break, so each line end ends an object."""
        if len(rows):
            self._write_body(bytes(rows)[:-1].replace(b"\n", b",\n"))

    def _write_body(self, body: bytes) -> None:
        self.stream.write((b"\n" if self.first else b",\n") + body)
        self.first = False

    def close(self):
        self.stream.write(b"\n]\n" if not self.first else b"]\n")


class CsvWriter(RowWriter):
    """CSV with a header; nested values (lists, objects) are JSON-encoded in their cell."""

    def __init__(self, stream, columns):
        super().__init__(stream, columns)
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text)
        self.writer.writerow(self.columns)

    @staticmethod
    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            return orjson.dumps(value).decode()
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    def write(self, rows):
        cell = self.cell
        columns = self.columns
        self.writer.writerows([cell(row.get(c)) for c in columns] for row in rows)

    def write_encoded(self, rows):  # CsvLines: csv.writer's lines already
        self.text.flush()
        self.stream.write(bytes(rows))

    def close(self):
        self.text.flush()
        self.text.detach()  # leave the underlying stream open for the caller


class ParquetWriter(RowWriter):
    """Parquet via pyarrow; nested values are stored as JSON strings."""

    def __init__(self, stream, columns):
        super().__init__(stream, columns)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema([(c, pa.string()) for c in self.columns])
        # No dictionary encoding: it is tried for every column of every row group and given
        # up for columns of many distinct texts (ids, names, timestamps, JSON), which costs
        # time and makes the file larger; zstd shrinks repeated texts as well (measured on 1M
        # rows of a synced table: 0.45 s and 28 MB against 0.75 s and 38 MB).
        self.writer = pq.ParquetWriter(stream, self.schema, compression="zstd",
                                       use_dictionary=False)

    @staticmethod
    def cell(value):
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            return orjson.dumps(value).decode()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def write(self, rows):
        if rows:
            data = {c: [self.cell(row.get(c)) for row in rows] for c in self.columns}
            self._write_table(self.pa.table(data, schema=self.schema))

    def write_encoded(self, rows):  # ArrowRows: string columns already
        if len(rows):
            self._write_table(rows.table)

    def _write_table(self, table):
        self.writer.write_table(table)
        # Arrow's allocator (mimalloc) keeps what a row group freed for later: over millions
        # of rows its pages scatter and the process grows (1M rows of jobs: 176 MB, 2M: 214
        # MB); handing them back after each row group keeps it flat (181 MB), at no
        # measurable cost.
        self.pa.default_memory_pool().release_unused()

    def close(self):
        self.writer.close()


class XlsxWriter(RowWriter):
    """xlsx via openpyxl's write-only workbook (streams rows, constant memory)."""

    def __init__(self, stream, columns):
        super().__init__(stream, columns)
        from openpyxl import Workbook

        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("export")
        self.sheet.append(self.columns)

    @staticmethod
    def cell(value):
        if isinstance(value, (dict, list)):
            return orjson.dumps(value).decode()
        return value

    def write(self, rows):
        for row in rows:
            self.sheet.append([self.cell(row.get(c)) for c in self.columns])

    def close(self):
        self.workbook.save(self.stream)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    mime_type: str
    extension: str
    modalities: frozenset[str]
    writer: type[RowWriter]
    requires: str | None = None  # importable module of the optional extra
    extra: str | None = None
    notes: str = ""
    splittable_by_bytes: bool = field(default=True)

    @property
    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    def open(self, stream: IO[bytes], columns: Sequence[str]) -> RowWriter:
        return self.writer(stream, columns)


FORMATS: dict[str, ExportFormat] = {f.name: f for f in [
    ExportFormat("jsonl", "application/jsonl", "jsonl", frozenset({"document", "tabular"}),
                 JsonLinesWriter, notes="One JSON object per line"),
    ExportFormat("json", "application/json", "json", frozenset({"document"}), JsonArrayWriter,
                 notes="One JSON array per file"),
    ExportFormat("csv", "text/csv", "csv", frozenset({"tabular"}), CsvWriter,
                 notes="Header row; nested values JSON-encoded"),
    ExportFormat("parquet", "application/vnd.apache.parquet", "parquet",
                 frozenset({"tabular", "columnar"}), ParquetWriter, requires="pyarrow",
                 extra="parquet", splittable_by_bytes=False),
    ExportFormat("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "xlsx", frozenset({"tabular", "spreadsheet"}), XlsxWriter,
                 requires="openpyxl", extra="xlsx", splittable_by_bytes=False),
]}
MODALITIES = frozenset().union(*(f.modalities for f in FORMATS.values()))
GZIP_MIME_TYPE = "application/gzip"


def formats_for(modalities: Iterable[str]) -> list[ExportFormat]:
    wanted = set(modalities)
    return [f for f in FORMATS.values() if f.modalities & wanted]


class CountingFile(io.RawIOBase):
    """Counts the bytes written through it (the size of the file as published)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        written = self.raw.write(data)
        self.count += len(data)
        return written if written is not None else len(data)

    def seekable(self) -> bool:
        return False


def open_compressed(raw: IO[bytes], compress: bool) -> IO[bytes]:
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) if compress else raw

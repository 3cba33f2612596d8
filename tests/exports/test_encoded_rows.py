"""Rows the COPY fast paths encoded already: JSON lines read from COPY's CSV format, Arrow
tables parsed from COPY's CSV; both split between rows as a file sink splits lists of rows, and
written by the formats' writers as the Python path writes the same rows."""

from __future__ import annotations

import io
import json

import pytest

from exports.formats import FORMATS
from exports.lines import JsonLines

ROWS = [{"id": 1, "s": 'q"uote \\ back'}, {"id": 2, "s": "é\nnl"}, {"id": 3, "s": None}]


def _copy_text(rows) -> tuple[bytearray, list[int]]:
    """The rows as a one-column COPY in CSV format with the quote 0x01 sends them: JSON text
    as it is (it holds no raw 0x01, 0x02 or line break, so COPY quotes none), one per line."""
    texts = [json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
             for row in rows]
    lines = [text + b"\n" for text in texts]
    return bytearray(b"".join(lines)), [len(line) for line in lines]


def test_json_lines_take_copys_rows_as_they_are_and_split_between_rows():
    data, sizes = _copy_text(ROWS)
    lines = JsonLines.from_copy(data, sizes)
    assert bytes(lines) == bytes(data)
    assert len(lines) == 3
    assert [json.loads(line) for line in bytes(lines).splitlines()] == ROWS
    head, tail = lines[:1], lines[1:]
    assert [json.loads(line) for line in bytes(head).splitlines()] == ROWS[:1]
    assert [json.loads(line) for line in bytes(tail).splitlines()] == ROWS[1:]
    assert len(lines[3:]) == 0 and lines[:5] is lines
    with pytest.raises(TypeError):
        lines[0]
    with pytest.raises(ValueError, match="line break"):  # JSON text never holds one: COPY
        JsonLines.from_copy(bytearray(b'\x01{"a":"\n}\x01\n'), [11])  # would quote it


@pytest.mark.parametrize("format_name", ["jsonl", "json"])
def test_json_writers_write_encoded_lines_as_rows(format_name):
    python, fast = io.BytesIO(), io.BytesIO()
    writer = FORMATS[format_name].open(python, ["id", "s"])
    writer.write(ROWS[:2])
    writer.write(ROWS[2:])
    writer.close()
    lines = JsonLines.from_copy(*_copy_text(ROWS))
    writer = FORMATS[format_name].open(fast, ["id", "s"])
    writer.write_encoded(lines[:2])
    writer.write_encoded(lines[2:])
    writer.write_encoded(lines[3:])  # an empty batch writes nothing
    writer.close()
    if format_name == "json":
        assert json.loads(fast.getvalue()) == json.loads(python.getvalue()) == ROWS
    else:
        assert fast.getvalue() == python.getvalue()  # no spacing to differ in


def test_arrow_rows_from_copy_csv_keep_nulls_and_blanks_apart():
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from exports.arrow_rows import csv_decoder

    data = bytearray(b'1,""\n2,\n3,"a,""b""\nc"\n')
    rows = csv_decoder(["id", "s"])(data, [5, 3, 15])
    assert rows.table.to_pylist() == [{"id": "1", "s": ""}, {"id": "2", "s": None},
                                      {"id": "3", "s": 'a,"b"\nc'}]
    assert len(rows[1:]) == 2 and rows[:1].table.to_pylist() == [{"id": "1", "s": ""}]
    buffer = io.BytesIO()
    writer = FORMATS["parquet"].open(buffer, ["id", "s"])
    writer.write_encoded(rows[:1])
    writer.write_encoded(rows[1:])
    writer.close()
    assert pq.read_table(io.BytesIO(buffer.getvalue())).to_pylist() == rows.table.to_pylist()
    with pytest.raises(ValueError):
        csv_decoder(["id", "s"])(bytearray(b"1,x\n"), [4, 4])  # a row count that disagrees

"""Reading a COPY in batches (``exports.copy_stream``) with libpq's own calls: every row as
psycopg's ``Copy`` reads it, an error the server raises mid-COPY raised here, and a read
stopped early leaving its connection usable."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from exports.copy_stream import _read, copy_batches

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

# Rows of every size, from one byte to ~100 kB: many per socket read, and one over many.
ROWS = ("COPY (SELECT g, repeat(chr(65 + g % 26), (g * 7919) % 100000) FROM "
        "generate_series(1, 3000) AS g ORDER BY g) TO STDOUT")


def _joined(data: bytearray, sizes: list[int]) -> tuple[bytes, list[int]]:
    assert sum(sizes) == len(data)
    return bytes(data), list(sizes)


def _psycopg_rows(sql: str) -> list[bytes]:
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        return [bytes(row) for row in copy]


def test_every_row_as_psycopg_reads_it():
    expected = _psycopg_rows(ROWS)
    batches = list(copy_batches("default", ROWS, [], 700, _joined))
    assert [len(sizes) for _, sizes in batches] == [700, 700, 700, 700, 200]
    rows, start = [], 0
    data = b"".join(chunk for chunk, _ in batches)
    for size in [size for _, sizes in batches for size in sizes]:
        rows.append(data[start:start + size])
        start += size
    assert rows == expected and len(rows) == 3000


def test_an_error_mid_copy_is_raised_and_the_rows_before_it_were_read():
    sql = ("COPY (SELECT g, 1 / (2500 - g) FROM generate_series(1, 5000) AS g ORDER BY g) "
           "TO STDOUT")
    read = []
    with pytest.raises(psycopg.errors.DivisionByZero):
        for _, sizes in copy_batches("default", sql, [], 100, _joined):
            read.append(len(sizes))
    assert sum(read) <= 2499


def test_a_read_stopped_early_cancels_its_copy_and_leaves_the_connection_usable():
    from django.db import connections

    own = connections.create_connection("default")
    try:
        with own.cursor() as cursor:
            batches = _read(cursor, ROWS, [], 100, _joined)
            assert len(next(batches)[1]) == 100
            batches.close()  # psycopg's Copy cancels the COPY and drains what is left
            cursor.execute("SELECT 41 + 1")
            assert cursor.fetchone() == (42,)
    finally:
        own.close()


def test_inside_a_transaction_the_copy_sees_its_rows_and_leaves_it_usable():
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_seen (n int)")
        cursor.execute("INSERT INTO copy_seen SELECT generate_series(1, 250)")
        batches = copy_batches("default", "COPY (SELECT n FROM copy_seen ORDER BY n) TO STDOUT",
                               [], 100, _joined)
        assert [len(sizes) for _, sizes in batches] == [100, 100, 50]
        cursor.execute("SELECT count(*) FROM copy_seen")
        assert cursor.fetchone() == (250,)

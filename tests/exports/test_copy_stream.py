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


def _copies_running() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND pid <> pg_backend_pid() AND query LIKE 'COPY%%'")
        return cursor.fetchone()[0]


def test_a_cancelled_build_ends_its_copy_at_once(project, make_job, monkeypatch, settings,
                                                 tmp_path):
    """Outside a transaction the build's COPY runs on a connection of its own: a cancel ends
    it before build_export returns, though the caller keeps the traceback (and its frames)."""
    from exports import services
    from exports.models import Export
    from exports.services import ExportRequest, create_export
    from jobs import claiming
    from jobs import services as job_services
    from jobs.context import JobCancelled, JobContext

    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(services, "COPY_BATCH_SIZES", {"csv": 1})
    for index in range(20):
        make_job(project, payload={"n": index})
    export = create_export(project, ExportRequest(resource_type="jobs", format="csv"))
    job = claiming.claim_by_id(export.job_id, "w")

    class CancelAfterFirstBatch(JobContext):
        def progress(self, percent):
            job_services.cancel(self.job)
            super().progress(percent)

    with pytest.raises(JobCancelled) as raised:
        services.build_export(CancelAfterFirstBatch(job, "w"), Export.objects.get(pk=export.pk))
    assert raised.traceback  # (kept alive here)
    assert _copies_running() == 0
    assert Export.objects.get(pk=export.pk).status == "cancelled"

"""TableResource: a plain SQL table exported through the exports registry, on SQLite and
PostgreSQL; the CSV fast path (COPY) against the Python path, byte for byte."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import uuid
from decimal import Decimal

import orjson
import pytest
from django.core.files.storage import default_storage
from django.db import connection

from exports import registry, resources
from exports.formats import FORMATS, CountingFile, CsvWriter
from exports.models import Export, ExportStatus
from exports.services import ExportRequest, create_export
from exports.tables import TableResource, csv_header
from jobs import claiming
from jobs.execution import execute
from syncservice.jsonapi.errors import InvalidAttribute
from tests.conftest import is_postgres, wait_for

RESOURCE = "tt_orders"
TABLE = "tt_orders"
UTC = dt.UTC

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="the CSV fast path (COPY) needs PostgreSQL")


# --- the table --------------------------------------------------------------------------------

def _ddl(table: str) -> str:
    if is_postgres():
        types = {"ts": "timestamptz", "json": "jsonb", "uuid": "uuid"}
        json_check = ""
    else:
        types = {"ts": "datetime", "json": "text", "uuid": "uuid"}
        json_check = ' CHECK (payload IS NULL OR json_valid("payload"))'
    return (f'CREATE TABLE "{table}" (id integer PRIMARY KEY, project_id {types["uuid"]} '
            f"NOT NULL, name text, qty integer, price numeric(10, 2), active boolean, "
            f'created_at {types["ts"]}, day date, uid {types["uuid"]}, '
            f'payload {types["json"]}{json_check})')


COLUMNS = ["id", "project_id", "name", "qty", "price", "active", "created_at", "day", "uid",
           "payload"]


def _source_rows(project_id, other_project_id) -> list[dict]:
    rows = []
    for i in range(1, 13):
        rows.append({
            "id": i,
            "project_id": project_id if i <= 10 else other_project_id,
            "name": {3: None, 4: 'a,"b"\nc'}.get(i, f"item {i}"),
            "qty": None if i == 5 else i * 10,
            "price": {6: None, 7: Decimal("100.00")}.get(i, Decimal(f"{i}.50")),
            "active": None if i == 8 else i % 2 == 0,
            "created_at": None if i == 9 else dt.datetime(
                2024, 1, i, 12, 0, 0, 0 if i % 3 else 123456, tzinfo=UTC),
            "day": None if i == 10 else dt.date(2024, 2, i),
            "uid": None if i == 2 else uuid.UUID(int=i),
            "payload": {1: None, 2: "just text", 3: [1, 2]}.get(
                i, {"n": i, "tags": ["a", "b"], "nested": {"s": "é, \"q\"", "x": 0.5}}),
        })
    return rows


def _insert(table: str, rows: list[dict]) -> None:
    ops = connection.ops
    postgres = is_postgres()

    def adapt(key, value):
        if value is None:
            return None
        if key == "payload":
            return orjson.dumps(value).decode()
        if postgres:
            return value
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, (uuid.UUID, Decimal)):
            return str(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with connection.cursor() as cursor:
        for row in rows:
            cursor.execute(f'INSERT INTO "{table}" ({", ".join(COLUMNS)}) VALUES '
                           f"({placeholders})", [adapt(k, row[k]) for k in COLUMNS])


def _expected(row: dict) -> dict:
    """The row as the API writes it."""
    created = row["created_at"]
    return {
        "id": row["id"], "project_id": str(row["project_id"]), "name": row["name"],
        "qty": row["qty"], "price": None if row["price"] is None else str(row["price"]),
        "active": row["active"],
        "created_at": None if created is None else created.isoformat().replace("+00:00", "Z"),
        "day": None if row["day"] is None else row["day"].isoformat(),
        "uid": None if row["uid"] is None else str(row["uid"]),
        "payload": row["payload"],
    }


def _drop(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{table}"')


@pytest.fixture
def unregister():
    names = []
    yield names.append
    for name in names:
        registry._registry.pop(name, None)


def _make_table(project, other_project, unregister):
    with connection.cursor() as cursor:
        cursor.execute(_ddl(TABLE))
    rows = _source_rows(project.pk, other_project.pk)
    _insert(TABLE, rows)
    resource = registry.register(TableResource(RESOURCE, TABLE, project_column="project_id"))
    unregister(RESOURCE)
    return resource, rows


@pytest.fixture
def orders(db, project, other_project, unregister):
    """The table inside the test's transaction (rolled back with it)."""
    return _make_table(project, other_project, unregister)


@pytest.fixture
def committed_orders(transactional_db, project, other_project, unregister):
    """The table committed (the fast path reads on a connection of its own); dropped after."""
    _drop(TABLE)
    try:
        yield _make_table(project, other_project, unregister)
    finally:
        _drop(TABLE)


def _all(resource, project, filters=None, fields=(), batch_size=100) -> list[dict]:
    return [row for batch in resource.batches(project, filters or {}, list(fields), [],
                                              batch_size) for row in batch]


def _ids(resource, project, filters) -> list[int]:
    resource.validate(filters, [], [])
    return [row["id"] for row in _all(resource, project, filters)]


# --- shape, fields, includes ------------------------------------------------------------------

def test_columns_in_table_order(orders):
    resource, _ = orders
    assert resource.columns([], []) == COLUMNS
    assert [(c.name, c.kind) for c in resource.shape().columns] == [
        ("id", "int"), ("project_id", "uuid"), ("name", "text"), ("qty", "int"),
        ("price", "decimal"), ("active", "bool"), ("created_at", "datetime"), ("day", "date"),
        ("uid", "uuid"), ("payload", "json")]
    assert resource.shape().primary_key == ("id",)


def test_fields_select_columns_and_keep_id(orders, project):
    resource, _ = orders
    resource.validate({}, ["price", "name"], [])
    assert resource.columns(["price", "name"], []) == ["id", "name", "price"]
    rows = _all(resource, project, fields=["price", "name"])
    assert rows[0] == {"id": 1, "name": "item 1", "price": "1.50"}


@pytest.mark.parametrize(("fields", "index"), [(["nope"], 0), (["name", "nope"], 1)])
def test_unknown_field_is_invalid(orders, fields, index):
    resource, _ = orders
    with pytest.raises(InvalidAttribute) as info:
        resource.validate({}, fields, [])
    assert info.value.pointer == f"/data/attributes/fields/{index}"
    assert "nope" in str(info.value.detail)


def test_includes_are_not_supported(orders):
    resource, _ = orders
    with pytest.raises(InvalidAttribute) as info:
        resource.validate({}, [], ["customer"])
    assert info.value.pointer == "/data/attributes/includes/0"
    assert "not supported" in str(info.value.detail)


def test_missing_table_is_invalid(db, unregister):
    resource = TableResource("tt_missing", "tt_no_such_table")
    with pytest.raises(InvalidAttribute) as info:
        resource.validate({}, [], [])
    assert info.value.pointer == "/data/attributes/resource_type"


# --- rows ------------------------------------------------------------------------------------

def test_rows_as_the_api_writes_them(orders, project, other_project):
    resource, rows = orders
    assert _all(resource, project) == [_expected(r) for r in rows[:10]]
    assert _all(resource, other_project) == [_expected(r) for r in rows[10:]]
    assert resource.count(project, {}) == 10
    assert resource.count(other_project, {}) == 2


def test_no_project_column_exports_every_row(orders, project, unregister):
    resource = registry.register(TableResource("tt_all", TABLE))
    unregister("tt_all")
    assert resource.count(project, {}) == 12
    assert len(_all(resource, project)) == 12


def test_batches_stream_in_batch_size(orders, project):
    resource, rows = orders
    batches = list(resource.batches(project, {}, [], [], 3))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert [r["id"] for b in batches for r in b] == list(range(1, 11))


def test_batches_use_a_server_side_cursor_on_postgresql(orders, project):
    if not is_postgres():
        pytest.skip("SQLite has no server-side cursors")
    resource, _ = orders
    batches = resource.batches(project, {}, [], [], 3)
    next(batches)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        assert cursor.fetchone()[0] == 1
    batches.close()


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite reads on the shared connection (no server-side cursors)")
def test_outside_a_transaction_rows_stream_on_a_connection_of_their_own(committed_orders,
                                                                        project):
    """Not WITH HOLD (the server would first run the whole query into a temporary store), and
    not on the connection the export job writes its progress on."""
    resource, _ = committed_orders
    assert not connection.in_atomic_block
    batches = resource.batches(project, {}, [], [], 3)
    assert [r["id"] for r in next(batches)] == [1, 2, 3]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_cursors")
        assert cursor.fetchall() == []  # not on this connection
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND state = 'idle in transaction' AND "
                       "query LIKE 'FETCH FORWARD%%'")
        assert cursor.fetchone()[0] == 1  # the reader, between two fetches
    assert [r["id"] for b in batches for r in b] == list(range(4, 11))

    def reader_gone():  # closed once exhausted (the backend exits a moment after)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND state = 'idle in transaction'")
            return cursor.fetchone()[0] == 0

    wait_for(reader_gone, timeout=10)


# --- filters ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("filters", "expected"), [
    ({"id": "3"}, [3]),
    ({"id": "99"}, []),
    ({"id__in": "1, 3,5"}, [1, 3, 5]),
    ({"id__gte": "9"}, [9, 10]),
    ({"id__lte": "2"}, [1, 2]),
    ({"qty": "40"}, [4]),
    ({"qty__gte": "80"}, [8, 9, 10]),
    ({"qty__lte": "20"}, [1, 2]),
    ({"qty__in": "10,30,31"}, [1, 3]),
    ({"name": "item 2"}, [2]),
    ({"name": "item"}, []),
    ({"name__in": "item 1,item 9"}, [1, 9]),
    ({"name__gte": "item 8"}, [8, 9]),
    ({"name__lte": "b"}, [4]),
    ({"price": "2.50"}, [2]),
    ({"price": "2.5"}, [2]),
    ({"price": "2.51"}, []),
    ({"price__gte": "8.5"}, [7, 8, 9, 10]),
    ({"price__lte": "1.5"}, [1]),
    ({"price__in": "1.50,3.5"}, [1, 3]),
    ({"active": "true"}, [2, 4, 6, 10]),
    ({"active": "False"}, [1, 3, 5, 7, 9]),
    ({"active": "1"}, [2, 4, 6, 10]),
    ({"active__in": "true,false"}, [1, 2, 3, 4, 5, 6, 7, 9, 10]),
    ({"created_at": "2024-01-03T12:00:00.123456Z"}, [3]),
    ({"created_at": "2024-01-03T14:00:00.123456+02:00"}, [3]),
    ({"created_at": "2024-01-03T14:00:00.123456 02:00"}, [3]),  # "+" unencoded
    ({"created_at": "2024-01-03T12:00:00Z"}, []),
    ({"created_at": "2024-01-02T12:00:00Z"}, [2]),
    ({"created_at__gte": "2024-01-05"}, [5, 6, 7, 8, 10]),
    ({"created_at__gte": "2024-01-06T11:00:00-01:00"}, [6, 7, 8, 10]),
    ({"created_at__lte": "2024-01-02T12:00:00Z"}, [1, 2]),
    ({"created_at__in": "2024-01-01T12:00:00Z,2024-01-06T12:00:00.123456Z"}, [1, 6]),
    ({"day": "2024-02-03"}, [3]),
    ({"day__lte": "2024-02-02"}, [1, 2]),
    ({"day__gte": "2024-02-09"}, [9]),
    ({"day__in": "2024-02-01,2024-02-05"}, [1, 5]),
    ({"uid": str(uuid.UUID(int=4))}, [4]),
    ({"uid": str(uuid.UUID(int=99))}, []),
    ({"uid__in": f"{uuid.UUID(int=4)},{uuid.UUID(int=7)}"}, [4, 7]),
    ({"uid__gte": str(uuid.UUID(int=9))}, [9, 10]),
    ({"qty__gte": "30", "active": "true", "price__lte": "6"}, [4]),
])
def test_filter_lookups(orders, project, filters, expected):
    resource, _ = orders
    assert _ids(resource, project, filters) == expected
    assert resource.count(project, filters) == len(expected)


@pytest.mark.parametrize(("filters", "name", "message"), [
    ({"qty": "abc"}, "qty", "whole number"),
    ({"qty": "1.5"}, "qty", "whole number"),
    ({"qty": str(2**63)}, "qty", "out of range"),
    ({"qty__in": "1,,2"}, "qty__in", "empty item"),
    ({"qty__in": "1,x"}, "qty__in", "whole number"),
    ({"qty__in": ",".join(["1"] * 1001)}, "qty__in", "at most 1000"),
    ({"qty__gte": " "}, "qty__gte", "needs a value"),
    ({"price": "abc"}, "price", "number"),
    ({"price": "NaN"}, "price", "finite"),
    ({"active": "maybe"}, "active", "true or false"),
    ({"active__gte": "true"}, "active__gte", "range"),
    ({"created_at": "yesterday"}, "created_at", "ISO 8601"),
    ({"created_at__lte": "2024-01-32T00:00:00Z"}, "created_at__lte", "ISO 8601"),
    ({"day": "2024-13-01"}, "day", "YYYY-MM-DD"),
    ({"uid": "not-a-uuid"}, "uid", "UUID"),
    ({"payload": "x"}, "payload", "cannot be filtered"),
    ({"nope": "1"}, "nope", "Unknown filter"),
    ({"qty__contains": "1"}, "qty__contains", "Unknown filter"),
    ({"nope__in": "1"}, "nope__in", "Unknown filter"),
])
def test_malformed_filters_are_invalid(orders, filters, name, message):
    resource, _ = orders
    with pytest.raises(InvalidAttribute) as info:
        resource.validate(filters, [], [])
    assert info.value.pointer == f"/data/attributes/filters/{name}"
    assert message in str(info.value.detail), info.value.detail


def test_create_export_validates_with_the_table(orders, project):
    with pytest.raises(InvalidAttribute) as info:
        create_export(project, ExportRequest(resource_type=RESOURCE, format="csv",
                                             filters={"qty__gte": "many"}))
    assert info.value.pointer == "/data/attributes/filters/qty__gte"


# --- end to end through the export services --------------------------------------------------

@pytest.fixture
def storage(settings, tmp_path):
    location = tmp_path / "media"
    settings.MEDIA_ROOT = str(location)
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(location), "base_url": "/media/"}}}
    # setting_changed(STORAGES) resets default_storage; make sure of it.
    assert default_storage.location == str(location)
    return location


def _cells(row: dict) -> list[str]:
    return [str(CsvWriter.cell(row[c])) for c in COLUMNS]


def test_export_end_to_end(committed_orders, project, storage):
    resource, rows = committed_orders
    export = create_export(project, ExportRequest(resource_type=RESOURCE, format="csv",
                                                  filters={"qty__gte": "20"}))
    job = claiming.claim_by_id(export.job_id, "w")
    assert execute(job, "w") == "succeeded"
    export = Export.objects.get(pk=export.pk)
    assert export.status == ExportStatus.SUCCESS
    (export_file,) = export.files.all()
    with default_storage.open(export_file.storage_name, "rb") as fh:
        content = fh.read()
    assert export_file.storage_name.startswith(f"exports/{project.pk}/")
    assert (storage / export_file.storage_name).exists()

    wanted = [_expected(r) for r in rows[:10] if r["qty"] is not None and r["qty"] >= 20]
    parsed = list(csv.reader(io.StringIO(content.decode(), newline="")))
    assert parsed[0] == COLUMNS
    assert parsed[1:] == [_cells(row) for row in wanted]
    assert export.records_count == export_file.records_count == len(wanted) == 8

    if is_postgres():  # the fast path gives the same file
        stream = io.BytesIO()
        assert resource.copy_csv(project, {"qty__gte": "20"}, [], stream) == 8
        assert stream.getvalue() == content


# --- the CSV fast path -------------------------------------------------------------------------

F64 = [0.0, -0.0, 1.0, 0.1, 1 / 3, 123.0, 1e15, 1.5e15, 1e16, 1234567890123456.8, 1e-4, 1.5e-5,
       1e-7, 5e-324, 1.7976931348623157e308, 6.234660544975066e16, 9007199254740993.0 + 1,
       3.242030799350824e17, -2.5e20, 1e22, 123456789.125, math.nan, math.inf, -math.inf, None]
F32 = ["0.1", "1e7", "1.5e-5", "3.4028235e38", "-0", "16777216", "1e16", "NaN", None]
NUMERIC = ["12.50", "0.0000001", "NaN", "-3", "1e20", "0", "123456789012345678901234.5678",
           None]
TEXT = ["plain", "", "a,b", 'q"q', "line\nbreak", "cr\rx", "crlf\r\nx", " lead", "tail ", "é",
        "\\.", "\t", "NULL", None]
TIMESTAMPS = ["2024-01-02 03:04:05+00", "2024-01-02 03:04:05.000001+00",
              "2024-01-02 03:04:05.999999+02", "2024-01-02 03:04:05.5-05:30",
              "0099-12-31 23:59:59+00", "2024-06-30 23:59:60+00", None]
JSONB = ['{"a": 1, "bb": [1, 2.5, "x, y: z", {"q": "\\"quoted\\" \\\\ back\\n"}]}', "[]",
         "{}", '"string"', '""', "1", "1.5", "1.0", "-0.25", "1e300", "12.5", "true", "false",
         "null", '"\\u0001 é /"', '{"n": {"x": 0.5, "s": "a b"}, "e": []}',
         '[{"k": null}, [true, false]]', '"  spaced: , out "', None]
JSON = ['{"b" :  1,\n "a": [ 1 , 2 ] }', '"x"', "3", None]


def _types_ddl() -> str:
    return ('CREATE TABLE "tt_types" (id integer PRIMARY KEY, f64 double precision, f32 real, '
            "num numeric, txt text, chr char(4), flag boolean, ts timestamptz, "
            "ts_naive timestamp, day date, at time, uid uuid, doc jsonb, raw json, "
            "span interval, tags text[], small smallint, big bigint)")


def _types_rows() -> list[list]:
    columns = [F64, F32, NUMERIC, TEXT, ["ab", "", "abcd", None], [True, False, None],
               TIMESTAMPS, ["2024-01-02 03:04:05", "2024-01-02 03:04:05.25", None],
               ["2024-02-29", "0001-01-01", None], ["00:00:00", "12:34:56.5", "23:59:59.999999",
                                                  None],
               [str(uuid.UUID(int=5)), None], JSONB, JSON, ["1 day 02:00:00", None],
               [["a", "b,c"], [], None], [-32768, 7, None], [2**63 - 1, -(2**63), None]]
    count = max(len(c) for c in columns) + 1
    rows = [[i] + [values[i % len(values)] for values in columns] for i in range(count)]
    rows.append([count] + [None] * len(columns))  # all NULL
    return rows


@pytest.fixture
def types_table(transactional_db, unregister):
    _drop("tt_types")
    with connection.cursor() as cursor:
        cursor.execute(_types_ddl())
        for row in _types_rows():
            cursor.execute('INSERT INTO "tt_types" VALUES (%s, %s::float8, %s::real, '
                           "%s::numeric, %s, %s, %s, %s::timestamptz, %s::timestamp, %s::date, "
                           "%s::time, %s::uuid, %s::jsonb, %s::json, %s::interval, %s::text[], "
                           "%s, %s)", row)
    resource = registry.register(TableResource("tt_types", "tt_types"))
    unregister("tt_types")
    yield resource
    _drop("tt_types")


def _python_csv(resource, project, filters=None, fields=(), batch_size=7) -> bytes:
    """The Python path as services.build_export writes it."""
    buffer = io.BytesIO()
    counting = CountingFile(buffer)
    writer = FORMATS["csv"].open(counting, resource.columns(list(fields), []))
    for batch in resource.batches(project, filters or {}, list(fields), [], batch_size):
        writer.write(batch)
    writer.close()
    return buffer.getvalue()


def _fast_csv(resource, project, filters=None, fields=()) -> bytes:
    stream = io.BytesIO()
    resource.copy_csv(project, filters or {}, list(fields), stream, batch_size=7)
    return stream.getvalue()


def _assert_same(python: bytes, fast: bytes) -> None:
    if python != fast:
        for index, (a, b) in enumerate(zip(python.split(b"\r\n"), fast.split(b"\r\n"),
                                           strict=False)):
            assert a == b, f"line {index}: python {a!r} != copy {b!r}"
    assert python == fast


@needs_postgres
def test_fast_path_is_byte_identical_for_every_type(types_table, project):
    python = _python_csv(types_table, project)
    fast = _fast_csv(types_table, project)
    _assert_same(python, fast)
    assert python.count(b"\r\n") >= len(_types_rows()) + 1
    # the edge cases are really there
    assert b",1.0," in python and b",1e+16," in python and b",-0.0," in python
    assert b"2024-01-02T03:04:05Z" in python and b"2024-01-02T03:04:05.000001Z" in python
    assert b'"{""a"":1,""bb"":[1,2.5,""x, y: z""' in python


@needs_postgres
def test_fast_path_with_fields_and_filters(types_table, project):
    for fields, filters in [(["f64", "doc"], {}), (["txt"], {"id__gte": "3"}),
                            (["ts"], {"ts__gte": "2024-01-02T03:04:05.5Z"}),
                            (["f32"], {"f32": "0.1"}), (["num"], {"num__in": "12.5,0"}),
                            ([], {"txt": "a,b"})]:
        python, fast = _python_csv(types_table, project, filters, fields), _fast_csv(
            types_table, project, filters, fields)
        _assert_same(python, fast)
    assert _fast_csv(types_table, project, {"f32": "0.1"}, ["f32"]).count(b"\r\n") > 1


@needs_postgres
def test_fast_path_single_column(transactional_db, project, unregister):
    _drop("tt_single")
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "tt_single" (note text)')
        for value in ["x", "", None, "a,b"]:
            cursor.execute('INSERT INTO "tt_single" VALUES (%s)', [value])
    try:
        resource = TableResource("tt_single", "tt_single")
        python = _python_csv(resource, project)
        assert python == b'note\r\nx\r\n""\r\n""\r\n"a,b"\r\n'
        _assert_same(python, _fast_csv(resource, project))
    finally:
        _drop("tt_single")


@needs_postgres
def test_fast_path_known_difference_numbers_inside_json(transactional_db, project):
    """Documented: inside objects/arrays COPY keeps the number as stored."""
    _drop("tt_json")
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "tt_json" (id int PRIMARY KEY, doc jsonb)')
        cursor.execute("""INSERT INTO "tt_json" VALUES (1, '{"p": 12.50}')""")
    try:
        resource = TableResource("tt_json", "tt_json")
        assert _python_csv(resource, project).endswith(b'1,"{""p"":12.5}"\r\n')
        assert _fast_csv(resource, project).endswith(b'1,"{""p"":12.50}"\r\n')
    finally:
        _drop("tt_json")


@needs_postgres
def test_csv_batches_are_lines_in_batch_size(committed_orders, project):
    resource, _ = committed_orders
    batches = list(resource.csv_batches(project, {}, [], 3))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    whole = b"".join(bytes(b) for b in batches)
    assert csv_header(COLUMNS) + whole == _python_csv(resource, project)
    # row 4's name has a line break inside quotes: lines are cut between rows, not at "\n"
    second = batches[1]
    assert b'"a,""b""\nc"' in bytes(second)
    parts = [second[:1], second[1:2], second[2:]]
    assert [len(p) for p in parts] == [1, 1, 1]
    assert b"".join(bytes(p) for p in parts) == bytes(second)
    assert all(bytes(p).endswith(b"\r\n") and bytes(p).count(b"\r\n") == 1 for p in parts)
    assert second[:10] is second and len(second[3:]) == 0 and not second[5:]
    assert csv_header(COLUMNS) == b",".join(c.encode() for c in COLUMNS) + b"\r\n"


def test_fast_path_is_postgresql_only(orders, project):
    resource, _ = orders
    assert resource.supports_copy_csv is is_postgres()
    if not is_postgres():
        with pytest.raises(NotImplementedError):
            next(resource.csv_batches(project, {}, [], 3))


@needs_postgres
def test_fast_path_random_floats_and_timestamps(transactional_db, project):
    import random
    import struct

    rng = random.Random(20240601)
    doubles = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
               for _ in range(1500)]
    doubles += [rng.uniform(-1e6, 1e6) for _ in range(500)]
    doubles += [10 ** rng.uniform(-30, 30) for _ in range(500)]
    doubles += [float(rng.randint(2**53, 10**22)) for _ in range(500)]
    doubles += [round(rng.uniform(0, 10_000), 2) for _ in range(500)]
    base = dt.datetime(2020, 1, 1, tzinfo=UTC)
    _drop("tt_random")
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "tt_random" (id int PRIMARY KEY, d float8, r real, '
                       "ts timestamptz, doc jsonb)")
        for index, value in enumerate(doubles):
            moment = base + dt.timedelta(seconds=rng.randint(0, 10**9),
                                         microseconds=rng.choice([0, rng.randint(0, 999_999)]))
            number = value if math.isfinite(value) else None
            real = number if number is not None and 1e-37 < abs(number) < 3e38 else None
            cursor.execute('INSERT INTO "tt_random" VALUES (%s, %s, %s::float8::real, %s, '
                           "%s::jsonb)", [index, value, real, moment,
                                          None if number is None else repr(number)])
    try:
        resource = TableResource("tt_random", "tt_random")
        _assert_same(_python_csv(resource, project, batch_size=500),
                     _fast_csv(resource, project))
    finally:
        _drop("tt_random")


@needs_postgres
def test_fast_path_runs_in_parallel_workers_in_order(transactional_db, project):
    """The fast path's SELECT may run in parallel workers (its expressions hold no subquery),
    and the CSV stays in key order and byte-identical to the Python path's."""
    _drop("tt_parallel")
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "tt_parallel" (id bigint PRIMARY KEY, d float8, '
                       "ts timestamptz, doc jsonb, note text)")
        # Inserted out of key order, so a plan that lost the order would show it.
        cursor.execute(
            'INSERT INTO "tt_parallel" SELECT i, CASE WHEN i % 7 = 0 THEN 2.0 ^ 60 + i * 4096 '
            "ELSE i / 3.0 END, timestamptz '2024-01-01 00:00:00+00' + i * interval '1.5 s', "
            """CASE i % 3 WHEN 0 THEN jsonb_build_object('n', i, 'x', 'a, b: c', 'z', NULL) """
            """WHEN 1 THEN to_jsonb(i * 1.25) ELSE jsonb_build_array(i, 'q"q') END, """
            "'row ' || i FROM generate_series(1, 3000) AS i ORDER BY random()")
        # A storage parameter that lets the planner use workers whatever the table's size.
        cursor.execute('ALTER TABLE "tt_parallel" SET (parallel_workers = 2)')
        cursor.execute('ANALYZE "tt_parallel"')
    try:
        resource = TableResource("tt_parallel", "tt_parallel")
        sql, params = resource.copy_sql(project, {}, [])
        select = sql.removeprefix("COPY (").rsplit(") TO STDOUT", 1)[0]
        with connection.cursor() as cursor:
            cursor.execute("SET parallel_setup_cost = 0")
            cursor.execute("SET parallel_tuple_cost = 0")
            cursor.execute(f"EXPLAIN {select}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("RESET parallel_setup_cost")
            cursor.execute("RESET parallel_tuple_cost")
        assert "Gather Merge" in plan and "SubPlan" not in plan, plan
        python, fast = _python_csv(resource, project), _fast_csv(resource, project)
        _assert_same(python, fast)
        ids = [int(line.split(b",", 1)[0]) for line in fast.split(b"\r\n")[1:-1]]
        assert ids == list(range(1, 3001))
    finally:
        _drop("tt_parallel")


@needs_postgres
def test_sql_formatting_is_what_python_writes(types_table, project):
    """On PostgreSQL the Python path's SELECT writes datetimes, dates, times, uuids and decimals
    as text; it is the text Python writes for the driver's values."""
    names = ["ts", "ts_naive", "day", "at", "uid", "num"]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {", ".join(names)} FROM "tt_types" ORDER BY id')
        raw = cursor.fetchall()

    def python(name, value):
        if value is None:
            return None
        if name == "ts_naive":
            value = value.replace(tzinfo=UTC)
        if name in ("ts", "ts_naive"):
            return resources.iso_datetime(value)
        if name in ("day", "at"):
            return value.isoformat()
        if name == "num":
            return format(value, "f")
        return str(value)

    expected = [{n: python(n, v) for n, v in zip(names, values, strict=True)} for values in raw]
    rows = _all(types_table, project, fields=names)
    assert [{n: row[n] for n in names} for row in rows] == expected
    assert any(row["ts"] and "." in row["ts"] for row in rows)
    assert any(row["ts"] and "." not in row["ts"] for row in rows)

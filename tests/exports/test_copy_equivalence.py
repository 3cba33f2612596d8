"""The COPY fast paths (PostgreSQL) against the Python path, value by value: every format it
serves (csv, jsonl, json, parquet) × every kind of resource (a plain table of every column
type, jobs, exports, projects) × the export options (fields, filters, includes and nested
includes; through the build, files split by records and by bytes, gzip).

JSON texts may differ in spacing and in the digits of numbers inside JSON (``12.50`` against
``12.5``): a CSV or Parquet cell holding JSON is compared parsed."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from exports import registry
from exports.dry import dry_columns, dry_row
from exports.formats import FORMATS
from exports.models import Export, ExportFile
from exports.services import ExportRequest, create_export
from exports.tables import TableResource
from tests.exports.test_tables import (  # noqa: F401 - fixtures
    _drop,
    storage,
    types_table,
    unregister,
)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the COPY fast paths need PostgreSQL")

UTC = dt.UTC
COPY_FORMATS = ["csv", "jsonl", "json", "parquet"]
TRICKY_TEXT = 'a,b "q" \\ back\nnew line\r\n\ttab é ✓ \\. NULL'


# --- reading a file back as values -------------------------------------------------------------

def _json_cell(value):
    """A CSV/Parquet cell: JSON objects and arrays parsed (their spacing may differ)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_values(format_name: str, content: bytes) -> list:
    if format_name == "jsonl":
        assert content == b"" or content.endswith(b"\n")
        return [json.loads(line) for line in content.splitlines()]
    if format_name == "json":
        return json.loads(content)
    if format_name == "csv":
        rows = list(csv.reader(io.StringIO(content.decode(), newline="")))
        return [[_json_cell(cell) for cell in row] for row in rows]
    if format_name == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(content))
        assert all(str(t) == "string" for t in table.schema.types)
        return [table.column_names] + [[_json_cell(v) for v in row.values()]
                                       for row in table.to_pylist()]
    raise AssertionError(format_name)


def render(resource, format_name: str, project, filters=None, fields=(), includes=(),
           fast: bool = False, dry: bool = False) -> bytes:
    """One file of the export, through the format's writer, as the build writes it."""
    fields, includes, filters = list(fields), list(includes), dict(filters or {})
    buffer = io.BytesIO()
    columns = resource.columns(fields, includes)
    writer = FORMATS[format_name].open(buffer, dry_columns(columns) if dry else columns)
    if fast:
        assert resource.supports_copy(format_name)
        for batch in resource.copy_batches(project, filters, fields, includes, format_name, 3,
                                           dry=dry):
            writer.write_encoded(batch)
    else:
        for batch in resource.batches(project, filters, fields, includes, 3):
            writer.write([dry_row(row) for row in batch] if dry else batch)
    writer.close()
    return buffer.getvalue()


def assert_equivalent(resource, format_name, project, filters=None, fields=(), includes=(),
                      dry=False):
    python = read_values(format_name, render(resource, format_name, project, filters, fields,
                                             includes, dry=dry))
    fast = read_values(format_name, render(resource, format_name, project, filters, fields,
                                           includes, fast=True, dry=dry))
    assert len(fast) == len(python)
    for index, (expected, got) in enumerate(zip(python, fast, strict=True)):
        assert got == expected, f"row {index}"
    return python


# --- the service's resources -------------------------------------------------------------------

@pytest.fixture
def service_rows(project, other_project, make_job):
    jobs = [
        make_job(project, "exports.demo", payload={
            "text": TRICKY_TEXT, "n": 12.5, "i": 2**40, "f": 0.1, "none": None,
            "list": [1, "x", {"y": [True, False]}], "empty": {}},
            error=TRICKY_TEXT, priority=-3, created_by_id="user-1",
            scheduled_at=dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
        make_job(project, "jobs.noop", payload={}, error="", status="failed",
                 scheduled_at=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
                 result=[1, 2.25, "three"], checkpoint="just a string"),
        make_job(project, "jobs.noop", payload={"k": "v"}, checkpoint=3),
        make_job(other_project, "jobs.noop", payload={"other": True}),
    ]
    exports = []
    for index, (job, files) in enumerate([(jobs[0], 2), (None, 0), (jobs[1], 1)]):
        export = Export.objects.create(
            project=project, job=job, resource_type=f"things{index}", format="csv",
            status="success", filters={"status": "pending"} if index else {},
            fields=["a", "b"][:index], metadata={"team": TRICKY_TEXT, "n": index},
            errors_log=None if index else {"E": "x"}, records_count=index * 10,
            size=None if index == 1 else 123, reference=TRICKY_TEXT if index else "")
        for number in range(1, files + 1):
            ExportFile.objects.create(export=export, index=number, storage_name=f"s/{number}",
                                      filename=f"f{number}.csv", size=number * 100,
                                      records_count=number, sha256="0" * 64,
                                      mime_type="text/csv")
        exports.append(export)
    return jobs, exports


SERVICE_CASES = [
    ("jobs", {}, [], []),
    ("jobs", {"status": "pending"}, [], []),
    ("jobs", {}, ["payload", "error"], []),
    ("jobs", {}, [], ["project"]),
    ("jobs", {"job_class": "exports.demo"}, ["status"], ["project"]),
    ("exports", {}, [], []),
    ("exports", {}, [], ["files"]),
    ("exports", {}, [], ["job", "project", "files"]),
    ("exports", {}, ["metadata"], ["job.project"]),
    ("exports", {"size__gte": "100"}, ["size"], ["job.project", "files"]),
    ("exports", {}, ["job"], ["job", "job.project"]),
    ("jobs", {}, ["project"], []),
    ("projects", {}, [], []),
    ("projects", {}, ["name"], []),
]


@pytest.mark.parametrize("format_name", COPY_FORMATS)
@pytest.mark.parametrize(("resource_type", "filters", "fields", "includes"), SERVICE_CASES)
def test_service_resources(service_rows, project, format_name, resource_type, filters, fields,
                           includes):
    resource = registry.get_resource(resource_type, project)
    values = assert_equivalent(resource, format_name, project, filters, fields, includes)
    assert len(values) > (1 if format_name in ("csv", "parquet") else 0)


DRY_CASES = [("jobs", [], []), ("jobs", ["payload", "error", "result"], ["project"]),
             ("exports", [], ["job", "files"]), ("projects", [], [])]


@pytest.mark.parametrize("format_name", COPY_FORMATS)
@pytest.mark.parametrize(("resource_type", "fields", "includes"), DRY_CASES)
def test_dry_data_of_service_resources(service_rows, project, format_name, resource_type,
                                       fields, includes):
    resource = registry.get_resource(resource_type, project)
    values = assert_equivalent(resource, format_name, project, {}, fields, includes, dry=True)
    assert len(values) > (1 if format_name in ("csv", "parquet") else 0)
    if format_name == "jsonl":  # ids, timestamps and blanks really are left out
        assert all("id" not in row and "created_at" not in row for row in values)
        assert all(value not in (None, "", [], {}) for row in values for value in row.values())
        if resource_type == "exports":
            assert any("files" not in row for row in values)  # (an export without files)
            assert any("files" in row for row in values)


def test_nested_values_are_really_there(service_rows, project):
    resource = registry.get_resource("exports", project)
    rows = read_values("jsonl", render(resource, "jsonl", project, includes=["job.project",
                                                                             "files"],
                                       fast=True))
    first = next(row for row in rows if len(row["files"]) == 2)
    assert first["job"]["project"]["id"] == str(project.pk)
    assert sorted(f["index"] for f in first["files"]) == [1, 2]
    assert any(row["job"] is None and row["files"] == [] for row in rows)
    job = read_values("jsonl", render(registry.get_resource("jobs", project), "jsonl", project,
                                      {"job_class": "exports.demo"}, fast=True))[0]
    assert job["payload"]["text"] == TRICKY_TEXT and job["scheduled_at"] == (
        "2024-05-06T07:08:09.123456Z")


# --- a plain table of every column type --------------------------------------------------------

TABLE_CASES = [({}, []), ({}, ["f64", "doc", "raw"]), ({"id__gte": "3"}, ["txt", "chr"]),
               ({"ts__gte": "2024-01-02T03:04:05.5Z"}, ["ts", "ts_naive", "day", "at"]),
               ({}, ["num", "span", "tags", "small", "big", "flag", "uid", "f32"])]


def _json_safe(resource):
    """Rows whose JSON the Python path can write (orjson refuses integers beyond 64 bits,
    which jsonb makes of 1e300)."""
    with connection.cursor() as cursor:
        cursor.execute("""DELETE FROM "tt_types" WHERE doc::text ~ '[0-9]{20}'""")
    return resource


@pytest.mark.parametrize("format_name", COPY_FORMATS)
@pytest.mark.parametrize(("filters", "fields"), TABLE_CASES)
def test_table_resource(types_table, project, format_name, filters, fields):  # noqa: F811
    _json_safe(types_table)
    values = assert_equivalent(types_table, format_name, project, filters, fields)
    assert len(values) > 2


@pytest.mark.parametrize("format_name", COPY_FORMATS)
def test_dry_data_of_a_table(types_table, project, format_name):  # noqa: F811
    _json_safe(types_table)
    with connection.cursor() as cursor:  # blanks of every kind, and values that are not
        cursor.execute("""INSERT INTO "tt_types" (id, txt, chr, doc, raw, tags, f64)
                          VALUES (900, '', '   ', '[]', '{}', '{}', 'NaN'),
                                 (901, '[]', NULL, '""', 'null', NULL, 0),
                                 (902, NULL, 'x', '"[]"', '{"a": []}', '{""}', NULL)""")
    values = assert_equivalent(types_table, format_name, project, dry=True)
    assert len(values) > 4


@pytest.mark.parametrize("format_name", COPY_FORMATS)
def test_one_column_table_with_blanks_and_nulls(transactional_db, project, format_name):
    _drop("tt_single")
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "tt_single" (note text)')
        for value in ["x", "", None, "a,b", "\\", None]:
            cursor.execute('INSERT INTO "tt_single" VALUES (%s)', [value])
    try:
        resource = TableResource("tt_single", "tt_single")
        values = assert_equivalent(resource, format_name, project)
        if format_name == "parquet":
            assert [row[0] for row in values[1:]] == ["x", "", None, "a,b", "\\", None]
    finally:
        _drop("tt_single")


# (none with '"': Django's quote_name does not escape it; synced tables' names are [a-z0-9_])
AWKWARD_NAMES = ["id", "it's", "100%", "a;b --c", "tab\tname", "é ✓", "back\\slash"]


@pytest.mark.parametrize("format_name", COPY_FORMATS)
def test_awkward_column_names_and_control_characters(transactional_db, project, format_name):
    """The JSON fast path writes each column's name as a JSON key inside the SQL (quotes,
    "%", control characters, backslashes), and reads rows from a CSV COPY whose quote and
    delimiter are the bytes 0x01 and 0x02: values holding those bytes must come through."""
    _drop("tt_awkward")
    names = [connection.ops.quote_name(name) for name in AWKWARD_NAMES]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "tt_awkward" ({names[0]} int PRIMARY KEY, '
                       + ", ".join(f"{name} text" for name in names[1:-1])
                       + f", {names[-1]} jsonb)")
        for key, text in enumerate(["\x01\x02 control", "a\nb\r\n", "%s %% 100%", "x"]):
            cursor.execute(f'INSERT INTO "tt_awkward" VALUES ({", ".join(["%s"] * 7)})',
                           [key, text, text, text, text, text, json.dumps({text: [text]})])
    try:
        resource = TableResource("tt_awkward", "tt_awkward")
        values = assert_equivalent(resource, format_name, project,
                                   filters={"id__gte": "0"})
        if format_name == "jsonl":
            assert list(values[0]) == AWKWARD_NAMES
            assert values[0]["100%"] == "\x01\x02 control"
            assert values[0]["back\\slash"] == {"\x01\x02 control": ["\x01\x02 control"]}
        assert len(values) >= 4
    finally:
        _drop("tt_awkward")


# --- through the build: split by records and bytes, gzip ----------------------------------------

def _build(project, run_job, request: ExportRequest) -> list[tuple[int, list]]:
    export = create_export(project, request)
    run_job(export.job_id)
    export.refresh_from_db()
    assert export.status == "success", export.errors_log
    files = []
    for export_file in export.files.order_by("index"):
        with default_storage.open(export_file.storage_name, "rb") as fh:
            content = fh.read()
        if request.compress:
            content = gzip.decompress(content)
        files.append((export_file.records_count, read_values(request.format, content)))
    Export.objects.filter(pk=export.pk).delete()  # (one active export per type)
    return files


@pytest.mark.usefixtures("storage")
@pytest.mark.parametrize("format_name", COPY_FORMATS)
@pytest.mark.parametrize("split", ["records", "bytes", "gzip", "dry"])
def test_builds_give_the_same_files(service_rows, project, run_job, settings, monkeypatch,
                                    format_name, split):
    from exports import services
    from exports.model_copy import CopyModelResource

    # One row per batch, so a file is full (by bytes too) after any row.
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "COPY_BATCH_SIZES", {})
    settings.EXPORTS_MAX_RECORDS_PER_FILE = 2 if split == "records" else 1000
    settings.EXPORTS_MAX_BYTES_PER_FILE = 300 if split == "bytes" else 1 << 30
    # (the export being built is processing: left out)
    request = dict(resource_type="exports", format=format_name, includes=["job", "files"],
                   filters={"status": "success"}, compress=split == "gzip",
                   dry_data=split == "dry")
    fast = _build(project, run_job, ExportRequest(**request))
    monkeypatch.setattr(CopyModelResource, "supports_copy", lambda self, name: False)
    python = _build(project, run_job, ExportRequest(**request))
    assert fast == python
    if split == "records" or (split == "bytes" and FORMATS[format_name].splittable_by_bytes):
        assert len(fast) > 1
    assert sum(count for count, _ in fast) == 3


def test_xlsx_keeps_the_python_path(service_rows, project):
    resource = registry.get_resource("jobs", project)
    assert not resource.supports_copy("xlsx")
    with pytest.raises(NotImplementedError):
        resource.copy_batches(project, {}, [], [], "xlsx", 10)

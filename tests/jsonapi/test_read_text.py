"""Columns read as text (``syncservice.jsonapi.read.text``): the decoded values are what
Django's converters and DRF's fields make of them, for the texts SQLite stores and PostgreSQL
writes, edge cases included; and a list whose datetimes and JSON take those shapes is the
stock path's bytes."""

import datetime as dt
import json

import pytest
from django.db import connection
from rest_framework.fields import DateTimeField

from jobs.models import Job
from syncservice.jsonapi.read.text import (
    DATETIME_TEXT,
    JSON_TEXT,
    decode_rows,
    iso_text,
    json_value,
    text_expressions,
)
from tests.jsonapi.test_fast_path import assert_same

MOMENTS = [
    dt.datetime(2026, 12, 6, 11, 33, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 6, 11, 33, 0, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 6, 11, 33, 0, 120000, tzinfo=dt.UTC),   # PostgreSQL drops zeros
    dt.datetime(2026, 12, 6, 11, 33, 0, 1, tzinfo=dt.UTC),
    dt.datetime(999, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_iso_text_is_drf_text_of_the_sqlite_and_postgresql_forms(moment):
    expected = DateTimeField().to_representation(moment)
    naive = moment.replace(tzinfo=None)
    sqlite_text = str(naive)  # how Django stores it on SQLite
    fraction = f".{naive.microsecond:06d}".rstrip("0") if naive.microsecond else ""
    postgres_text = f"{naive.isoformat(' ', 'seconds')}{fraction}+00"
    assert iso_text(sqlite_text) == expected
    assert iso_text(postgres_text) == expected
    assert iso_text(sqlite_text.replace(" ", "T") + "+00:00") == expected


def test_iso_text_of_another_shape_is_the_parsed_datetime():
    value = iso_text("2026-12-06 13:33:00+02:00")
    assert value == dt.datetime(2026, 12, 6, 11, 33, tzinfo=dt.UTC)
    assert value.utcoffset() == dt.timedelta(hours=2)  # DRF's own field converts it
    assert iso_text("2026-12-06 11:33:00.5") == "2026-12-06T11:33:00.500000Z"
    with pytest.raises(ValueError):
        iso_text("yesterday")


@pytest.mark.parametrize("text", [
    "{}", '{"a": [1, 2.5, null, true, "x"], "b": {"c": "\\u00e9"}}', "-0", "-0.0", "1E5",
    "0.1", "5e-324", "1e400", "18446744073709551615", "18446744073709551616",
    "-9223372036854775809", "12345678901234567890123", '"\\ud800"', "NaN", "Infinity",
    '{"a": 1, "a": 2, "b": 3}', '"just text"', "not json {"])
def test_json_value_is_what_django_reads(text):
    try:
        expected = json.loads(text)
    except json.JSONDecodeError:
        expected = text  # JSONField.from_db_value returns the text as it is
    value = json_value(text)
    assert repr(value) == repr(expected)
    assert type(value) is type(expected)


@pytest.mark.django_db
@pytest.mark.parametrize("moment", MOMENTS)
def test_rows_read_as_text_are_drf_text_and_django_values(make_job, moment):
    job = make_job(None, "demo.text", payload={"big": 2**70, "n": [1.5, None]})
    Job.objects.filter(pk=job.pk).update(started_at=moment)
    text = {"payload": JSON_TEXT, "started_at": DATETIME_TEXT, "finished_at": DATETIME_TEXT}
    rows = list(Job.objects.filter(pk=job.pk).values("id", **text_expressions(text)))
    decode_rows(rows, text)
    job.refresh_from_db()
    assert rows[0]["payload"] == job.payload == {"big": 2**70, "n": [1.5, None]}
    assert rows[0]["finished_at"] is None
    if connection.vendor in ("sqlite", "postgresql"):
        assert rows[0]["started_at"] == DateTimeField().to_representation(job.started_at)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite stores datetimes as text")
def test_a_stored_text_of_another_shape_is_left_to_the_converter(api, settings, project,
                                                                   make_job):
    job = make_job(project, "demo.text")
    with connection.cursor() as cursor:  # as another writer may have stored it
        cursor.execute("UPDATE jobs_job SET started_at = %s WHERE id = %s",
                       ["2026-12-06T13:33:00.000000+02:00", job.pk.hex])
    rows = list(Job.objects.filter(pk=job.pk).values(
        **text_expressions({"started_at": DATETIME_TEXT})))
    assert rows[0]["started_at__text"] == "2026-12-06T13:33:00.000000+02:00"
    assert iso_text(rows[0]["started_at__text"]) == dt.datetime(2026, 12, 6, 11, 33,
                                                                 tzinfo=dt.UTC)


@pytest.mark.django_db
def test_list_of_edge_values_is_the_stock_document(api, settings, project, make_job):
    whole = make_job(project, "demo.whole", payload={"big": 2**65, "neg": -(2**64)})
    Job.objects.filter(pk=whole.pk).update(
        started_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        finished_at=dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC),
        result=["é", {"x": 0.1}], error_details={"type": "ValueError", "trace": ["a"]})
    make_job(project, "demo.plain", payload=[])
    assert_same(api, settings, "/api/v1/jobs?included=project")
    assert_same(api, settings, "/api/v1/jobs?sort=started_at&fields=started_at,finished_at,"
                               "payload,result,error_details&page[size]=1&page[after]=")

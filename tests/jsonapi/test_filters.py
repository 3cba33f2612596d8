import pytest

from tests.conftest import body, error_of
from tests.jsonapi.conftest import BASE_TIME


def titles(response) -> list[str]:
    return sorted(item["attributes"]["title"] for item in body(response)["data"])


def test_equality_filter(api, library):
    assert titles(api.get("/api/v1/books?filter[pages]=30")) == ["Book 02"]
    assert titles(api.get("/api/v1/books?filter[pages]=31")) == []


def test_in_filter(api, library):
    url = f"/api/v1/books?filter[id__in]={library[0].pk},{library[3].pk}"
    assert titles(api.get(url)) == ["Book 00", "Book 03"]
    assert titles(api.get("/api/v1/books?filter[genre__in]=essay")) == [
        "Book 08", "Book 09", "Book 10", "Book 11"]


def test_gte_lte_filters(api, library):
    assert titles(api.get("/api/v1/books?filter[pages__gte]=100&filter[pages__lte]=110")) == [
        "Book 09", "Book 10"]


def test_datetime_filters_take_iso8601_with_offsets(api, library):
    # BASE_TIME + 2 days, written in +02:00: the same instant.
    from datetime import timedelta
    from datetime import timezone as tz

    instant = (BASE_TIME + timedelta(days=2)).astimezone(tz(timedelta(hours=2)))
    encoded = instant.isoformat().replace("+", "%2B")
    assert titles(api.get(f"/api/v1/books?filter[published_at]={encoded}")) == ["Book 02"]
    assert titles(api.get(f"/api/v1/books?filter[published_at__lte]={encoded}")) == [
        "Book 00", "Book 01", "Book 02"]
    # An unencoded "+" arrives as a space; still read as the offset.
    raw = instant.isoformat()
    assert titles(api.get(f"/api/v1/books?filter[published_at__gte]={raw}")) == [
        f"Book {i:02d}" for i in range(2, 12)]


@pytest.mark.parametrize("name,value", [
    ("id", "not-a-uuid"), ("id__in", "also-not-a-uuid"), ("pages", "many"),
    ("pages__gte", "x"), ("published_at", "yesterday"), ("published_at__gte", "2026-13-45"),
    ("genre", "poetry"), ("pages", ""), ("genre__in", "novel,,essay"),
])
def test_malformed_filter_values_are_400(api, library, name, value):
    error = error_of(api.get(f"/api/v1/books?filter[{name}]={value}"), 400)
    assert error["source"] == {"parameter": f"filter[{name}]"}


@pytest.mark.parametrize("parameter", ["filter[nope]", "filter[pages__in]", "filter[title__gte]",
                                       "filter[author.name]"])
def test_unknown_filters_are_400(api, library, parameter):
    error = error_of(api.get(f"/api/v1/books?{parameter}=1"), 400)
    assert error["source"] == {"parameter": parameter}


@pytest.mark.parametrize("parameter", ["filter", "filter[]", "filter[pages", "filterpages"])
def test_malformed_filter_parameters_are_400(api, library, parameter):
    error = error_of(api.get(f"/api/v1/books?{parameter}=1"), 400)
    assert error["source"] == {"parameter": parameter}


def test_in_filter_takes_at_most_1000_values(api, library):
    import uuid

    ids = ",".join(str(uuid.uuid4()) for _ in range(1000))
    assert api.get(f"/api/v1/books?filter[id__in]={ids}").status_code == 200
    error = error_of(api.get(f"/api/v1/books?filter[id__in]={ids},{uuid.uuid4()}"), 400)
    assert error["source"] == {"parameter": "filter[id__in]"}

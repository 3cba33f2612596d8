"""The cursor pagination profile: page[after] / page[before] / page[size], keyset seeks."""

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.conftest import body, error_of
from tests.jsonapi.conftest import BASE_TIME
from tests.testapp.models import Author, Book


def titles(document) -> list[str]:
    return [item["attributes"]["title"] for item in document["data"]]


def walk(api, url: str, direction: str = "next") -> tuple[list[str], int]:
    seen, pages = [], 0
    while url:
        document = body(api.get(url))
        page = titles(document)
        seen = page + seen if direction == "prev" else seen + page
        pages += 1
        url = document["links"][direction]
        assert pages < 50
    return seen, pages


def cursor_params(link: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query, keep_blank_values=True).items()}


def test_first_cursor_page_and_links(api, library):
    document = body(api.get("/api/v1/books?page[size]=5&page[after]="))
    assert titles(document) == [f"Book {i:02d}" for i in range(5)]
    links = document["links"]
    assert links["prev"] is None  # the profile: present, null where there is no page
    assert set(cursor_params(links["next"])) == {"page[size]", "page[after]"}
    assert cursor_params(links["first"]) == {"page[size]": "5", "page[after]": ""}
    assert cursor_params(links["last"]) == {"page[size]": "5", "page[before]": ""}


@pytest.mark.parametrize("sort", ["title", "-title", "-pages", "published_at",
                                  "-published_at", "published_at,-pages", "-published_at,title"])
def test_next_links_walk_the_collection_as_page_numbers_order_it(api, library, sort):
    # Nulls and ties: the cursor carries the id too, so every row comes once.
    Book.objects.filter(title__in=["Book 03", "Book 07"]).update(published_at=None)
    Book.objects.filter(title="Book 05").update(
        published_at=Book.objects.get(title="Book 04").published_at)
    seen, pages = walk(api, f"/api/v1/books?page[size]=5&page[after]=&sort={sort}")
    assert pages == 3
    assert sorted(seen) == sorted(f"Book {i:02d}" for i in range(12))
    by_number = titles(body(api.get(f"/api/v1/books?sort={sort}")))
    if "published_at" not in sort:  # numbers order NULLs as each database does
        assert seen == by_number
    backwards, _ = walk(api, f"/api/v1/books?page[size]=5&page[before]=&sort={sort}", "prev")
    assert backwards == seen


def test_last_page_and_prev_links(api, library):
    document = body(api.get("/api/v1/books?page[size]=5&page[before]="))
    assert titles(document) == [f"Book {i:02d}" for i in range(7, 12)]
    assert document["links"]["next"] is None
    previous = body(api.get(document["links"]["prev"]))
    assert titles(previous) == [f"Book {i:02d}" for i in range(2, 7)]
    assert previous["links"]["next"] is not None


def test_after_and_before_together_give_the_rows_between(api, library):
    first = body(api.get("/api/v1/books?page[size]=2&page[after]="))
    after = cursor_params(first["links"]["next"])["page[after]"]  # after Book 01
    last = body(api.get("/api/v1/books?page[size]=2&page[before]="))
    before = cursor_params(last["links"]["prev"])["page[before]"]  # before Book 10
    document = body(api.get(f"/api/v1/books?page[size]=100&page[after]={after}"
                            f"&page[before]={before}"))
    assert titles(document) == [f"Book {i:02d}" for i in range(2, 10)]


def test_cursor_survives_inserts_and_deletes(api, library, project):
    first = body(api.get("/api/v1/books?page[size]=4&page[after]="))
    Book.objects.filter(title="Book 00").delete()
    Book.objects.create(project=project, author=Author.objects.first(), title="Book 00a",
                        published_at=BASE_TIME)
    second = body(api.get(first["links"]["next"]))
    assert titles(second) == ["Book 04", "Book 05", "Book 06", "Book 07"]


def test_filters_and_count_apply(api, library):
    document = body(api.get("/api/v1/books?page[size]=3&page[after]=&filter[genre]=essay"
                            "&count=true"))
    assert titles(document) == ["Book 08", "Book 09", "Book 10"]
    assert document["meta"] == {"record_count": 4, "page_count": 2}
    assert "filter[genre]=essay" in document["links"]["next"]
    assert titles(body(api.get(document["links"]["next"]))) == ["Book 11"]


def test_empty_page_past_the_end(api, library):
    document = body(api.get("/api/v1/books?page[size]=12&page[after]="))
    last_cursor = cursor_params(document["links"]["last"])
    assert document["links"]["next"] is None
    # A cursor of the last row: nothing after it, and prev leads back.
    everything = body(api.get("/api/v1/books?page[size]=11&page[after]="))
    after = cursor_params(everything["links"]["next"])["page[after]"]
    tail = body(api.get(f"/api/v1/books?page[size]=5&page[after]={after}"))
    assert titles(tail) == ["Book 11"] and tail["links"]["next"] is None
    assert last_cursor == {"page[size]": "12", "page[before]": ""}


def _token(payload) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


@pytest.mark.parametrize("value", [
    "garbage!", "bm90IGpzb24", _token([1, 2]), _token({"s": "title,pk", "v": ["a"]}),
    _token({"s": "-pages,-pk", "v": [1, "00000000-0000-0000-0000-000000000000"]}),
    _token({"s": "title,pk", "v": ["a", "not-a-uuid"]}),
    _token({"s": "title,pk", "v": [{"x": 1}, "00000000-0000-0000-0000-000000000000"]}),
    _token({"s": "title,pk", "v": ["a\x00b", "00000000-0000-0000-0000-000000000000"]}),
    _token({"s": "published_at,pk", "v": ["2026-01-01T00:00:00",
                                          "00000000-0000-0000-0000-000000000000"]}),
    _token({"s": "published_at,pk", "v": ["0001-01-01T00:00:00+05:00",
                                          "00000000-0000-0000-0000-000000000000"]}),
    "x" * 5000,
])
@pytest.mark.parametrize("parameter", ["page[after]", "page[before]"])
def test_bad_cursors_are_400_naming_the_parameter(api, library, parameter, value):
    # The datetime cases are cursors of sort=published_at (else the sort alone refuses them).
    sort = "&sort=published_at" if _token({"s": "published_at"})[:12] in value else ""
    error = error_of(api.get(f"/api/v1/books?{parameter}={value}{sort}"), 400)
    assert error["source"] == {"parameter": parameter}


def test_cursor_of_another_sort_is_refused(api, library):
    document = body(api.get("/api/v1/books?page[size]=2&page[after]=&sort=-pages"))
    cursor = cursor_params(document["links"]["next"])["page[after]"]
    error = error_of(api.get(f"/api/v1/books?page[after]={cursor}&sort=title"), 400)
    assert error["source"] == {"parameter": "page[after]"}


@pytest.mark.parametrize("query, named", [
    ("page[number]=2&page[after]=", "page[after]"),
    ("page[number]=2&page[before]=", "page[before]"),
    ("page[after]=&page[number]=2", "page[number]"),
    ("page[size]=2&page[before]=&page[number]=2", "page[number]"),
])
def test_mixing_page_number_with_cursors_is_400(api, library, query, named):
    # Two pagination families (as main's parse_page refuses them): the later one is named.
    error = error_of(api.get(f"/api/v1/books?{query}"), 400)
    assert error["source"] == {"parameter": named}


def test_page_size_bounds_hold_for_cursor_pages(api, library):
    error = error_of(api.get("/api/v1/books?page[size]=1001&page[after]="), 400)
    assert error["source"] == {"parameter": "page[size]"}


def test_datetime_cursor_keeps_microseconds(api, library):
    base = BASE_TIME + timedelta(microseconds=1)
    for index, book in enumerate(Book.objects.order_by("title")):
        Book.objects.filter(pk=book.pk).update(published_at=base + timedelta(microseconds=index))
    seen, _ = walk(api, "/api/v1/books?page[size]=1&page[after]=&sort=published_at")
    assert seen == [f"Book {i:02d}" for i in range(12)]

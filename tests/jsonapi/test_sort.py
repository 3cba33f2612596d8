import pytest

from tests.conftest import body, error_of
from tests.testapp.models import Book


def titles(response) -> list[str]:
    return [item["attributes"]["title"] for item in body(response)["data"]]


def test_default_sort(api, library):
    assert titles(api.get("/api/v1/books")) == sorted(b.title for b in library)


def test_sort_descending_and_multiple_keys(api, library):
    assert titles(api.get("/api/v1/books?sort=-pages")) == [
        f"Book {i:02d}" for i in range(11, -1, -1)]
    response = api.get("/api/v1/books?sort=-published_at,title")
    assert titles(response)[0] == "Book 11"


def test_equal_sort_keys_are_paged_stably_by_id(api, project, library):
    # Every book gets the same page count: only the id tie-breaker orders them.
    Book.objects.update(pages=1)
    ids_by_page = []
    for number in range(1, 5):
        document = body(api.get(f"/api/v1/books?sort=pages&page[size]=3&page[number]={number}"))
        ids_by_page += [item["id"] for item in document["data"]]
    assert len(ids_by_page) == 12 and len(set(ids_by_page)) == 12
    assert ids_by_page == sorted(str(b.pk) for b in Book.objects.all())


@pytest.mark.parametrize("sort", ["nope", "-nope", "title,,pages", "author.name", "chapters"])
def test_unknown_or_malformed_sort_is_400(api, library, sort):
    error = error_of(api.get(f"/api/v1/books?sort={sort}"), 400)
    assert error["source"] == {"parameter": "sort"}

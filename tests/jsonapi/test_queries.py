"""A page costs the same number of SQL queries whatever its size and includes."""

import pytest

from tests.conftest import body
from tests.testapp.models import Author, Book, Chapter


@pytest.fixture
def big_library(project, library):
    author = Author.objects.create(project=project, name="Prolific")
    books = Book.objects.bulk_create(
        Book(project=project, author=author, title=f"Extra {i:04d}", pages=i)
        for i in range(1200))
    Chapter.objects.bulk_create(Chapter(book=b, title="Only", number=1) for b in books)


URLS = [
    "/api/v1/books?page[size]={size}",
    "/api/v1/books?page[size]={size}&included=author",
    "/api/v1/books?page[size]={size}&included=author.project,chapters.book&count=true",
    "/api/v1/books?page[size]={size}&fields=title&filter[pages__gte]=1&sort=-pages",
]


@pytest.mark.parametrize("url", URLS)
def test_constant_queries_for_page_size_1_and_1000(api, big_library, url,
                                                    django_assert_max_num_queries):
    with django_assert_max_num_queries(8) as small:
        assert len(body(api.get(url.format(size=1)))["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(body(api.get(url.format(size=1000)))["data"]) == 1000


@pytest.mark.parametrize("query", ["", "&included=author.project,chapters.book&count=true",
                                   "&fields=title&sort=-published_at"])
def test_constant_queries_for_cursor_pages(api, big_library, query,
                                           django_assert_max_num_queries):
    first = body(api.get(f"/api/v1/books?page[size]=10&page[after]={query}"))
    cursor = first["links"]["next"].split("page[after]=")[1].split("&")[0]
    url = f"/api/v1/books?page[after]={cursor}{query}&page[size]="
    with django_assert_max_num_queries(8) as small:
        assert len(body(api.get(url + "1"))["data"]) == 1
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(body(api.get(url + "1000"))["data"]) == 1000

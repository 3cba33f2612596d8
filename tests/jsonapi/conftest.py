from datetime import timedelta

import pytest
from django.utils import timezone

from tests.testapp.models import Author, Book, Chapter


@pytest.fixture(autouse=True)
def testapp_urls(settings):
    """Serve the test-only `books` collection beside the service's own routes."""
    settings.ROOT_URLCONF = "tests.testapp.urls"

BASE_TIME = timezone.now().replace(microsecond=0) - timedelta(days=30)


@pytest.fixture
def library(project):
    """Two authors, 12 books (pages 10..120), 2 chapters each, in ``project``."""
    ada = Author.objects.create(project=project, name="Ada")
    bob = Author.objects.create(project=project, name="Bob")
    books = []
    for index in range(12):
        book = Book.objects.create(
            project=project, author=ada if index % 2 == 0 else bob,
            title=f"Book {index:02d}", pages=(index + 1) * 10,
            genre="novel" if index < 8 else "essay",
            published_at=BASE_TIME + timedelta(days=index))
        for number in (1, 2):
            Chapter.objects.create(book=book, title=f"Chapter {number}", number=number)
        books.append(book)
    return books

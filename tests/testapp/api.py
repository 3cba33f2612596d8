from rest_framework_json_api import serializers
from rest_framework_json_api.relations import ResourceRelatedField

from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.jsonapi.filters import JsonApiFilterSet
from syncservice.jsonapi.routers import ApiRouter
from syncservice.jsonapi.views import ReadOnlyJsonApiViewSet
from tests.testapp.models import Author, Book, Chapter


class AuthorSerializer(serializers.ModelSerializer):
    project = ResourceRelatedField(read_only=True)
    included_serializers = {"project": ProjectSerializer}

    class Meta:
        model = Author
        fields = ["name", "created_at", "project"]


class ChapterSerializer(serializers.ModelSerializer):
    book = ResourceRelatedField(read_only=True)
    included_serializers = {"book": "tests.testapp.api.BookSerializer"}

    class Meta:
        model = Chapter
        fields = ["title", "number", "book"]


class BookSerializer(serializers.ModelSerializer):
    author = ResourceRelatedField(read_only=True)
    chapters = ResourceRelatedField(read_only=True, many=True)
    included_serializers = {"author": AuthorSerializer, "chapters": ChapterSerializer}

    class Meta:
        model = Book
        fields = ["url", "title", "pages", "genre", "published_at", "created_at", "author",
                  "chapters"]


class BookFilterSet(JsonApiFilterSet):
    class Meta:
        model = Book
        fields = {
            "id": ["exact", "in"],
            "title": ["exact", "in"],
            "pages": ["exact", "gte", "lte"],
            "genre": ["exact", "in"],
            "published_at": ["exact", "gte", "lte"],
        }


class BookViewSet(ReadOnlyJsonApiViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    filterset_class = BookFilterSet
    ordering_fields = ["title", "pages", "published_at", "created_at", "id"]
    ordering = ["title"]
    prefetch_always = ["chapters"]


router = ApiRouter()
router.register("books", BookViewSet, basename="book")

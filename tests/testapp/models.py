import uuid

from django.db import models

from syncservice.accounts.models import Project


class Author(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class JSONAPIMeta:
        resource_name = "authors"


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=100)
    pages = models.IntegerField(default=0)
    genre = models.CharField(max_length=20, default="novel",
                             choices=[("novel", "novel"), ("essay", "essay")])
    published_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class JSONAPIMeta:
        resource_name = "books"


class Chapter(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    title = models.CharField(max_length=100)
    number = models.IntegerField()

    class JSONAPIMeta:
        resource_name = "chapters"


class SideEffect(models.Model):
    """One row per handler execution: lets tests count how often each job really ran."""

    job_id = models.UUIDField(db_index=True)
    worker_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, default="ran")
    attempt = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

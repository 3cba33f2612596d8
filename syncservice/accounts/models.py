"""Projects own every resource; API keys authenticate callers to one project."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from syncservice.models import TimestampedModel


class Project(TimestampedModel):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    # Admin users who are not staff see the projects they are members of.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                     related_name="projects")

    class Meta:
        ordering = ["name"]

    class JSONAPIMeta:
        resource_name = "projects"

    def __str__(self) -> str:
        return self.name


class ApiKey(TimestampedModel):
    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "write"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True, default="")
    # The public part of the key, used to find the row; the secret part is only hashed.
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    class JSONAPIMeta:
        resource_name = "api-keys"

    def __str__(self) -> str:
        return f"{self.name or 'key'} ({self.prefix}…, {self.scope})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

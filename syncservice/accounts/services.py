"""API keys: creation (the secret is returned once), verification, revocation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from syncservice.accounts.models import ApiKey, Project

KEY_PREFIX = "ssk_"
_PREFIX_LENGTH = 12


def hash_secret(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is not brute-forceable; a slow
    # password hash would only cost every request time.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(project: Project, *, name: str = "", scope: str = ApiKey.Scope.READ,
                   created_by=None, expires_at=None) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored or shown again."""
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"scope must be one of {ApiKey.Scope.values}, not {scope!r}")
    prefix = secrets.token_hex(_PREFIX_LENGTH // 2)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(project=project, name=name, prefix=prefix,
                                key_hash=hash_secret(raw_key), scope=scope,
                                created_by=created_by, expires_at=expires_at)
    return key, raw_key


def verify_api_key(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. Constant-time comparison of the hash."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = raw_key[len(KEY_PREFIX):].partition("_")
    if len(prefix) != _PREFIX_LENGTH or not secret:
        return None
    key = ApiKey.objects.select_related("project").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_secret(raw_key)):
        return None
    if not key.is_active:
        return None
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    """Record use, at most once per resolution window: not a write on every request."""
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if key.last_used_at is None or now - key.last_used_at > resolution:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def revoke_api_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])

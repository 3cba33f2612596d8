"""Who is calling: an API key (``X-API-Key``, ``Authorization: Bearer``, cookie ``vai_token``)
or a Django admin session. ``request.auth`` is an ``Access``: the projects the caller may
see (None = all, for staff) and its scope."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import verify_api_key

COOKIE_NAME = "vai_token"


@dataclass(frozen=True)
class Access:
    project_ids: frozenset | None  # None: every project
    scope: str
    api_key: ApiKey | None = None
    user: object | None = None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKey.Scope.WRITE

    @property
    def actor_id(self) -> str | None:
        """Who made a resource (``created_by_id``): the key's id or the user's."""
        if self.api_key is not None:
            return str(self.api_key.pk)
        if self.user is not None:
            return f"user:{self.user.pk}"
        return None


class ApiKeyPrincipal:
    """``request.user`` for API-key requests."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = key.pk

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


def _presented_key(request) -> str | None:
    header = request.META.get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    auth = authentication.get_authorization_header(request).decode("latin-1")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    cookie = request.COOKIES.get(COOKIE_NAME)
    return cookie.strip() if cookie else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = _presented_key(request)
        if raw_key is None:
            return None
        key = verify_api_key(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return ApiKeyPrincipal(key), Access(frozenset({key.project_id}), key.scope, api_key=key)

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="api", X-API-Key'


class SessionAuthentication(authentication.SessionAuthentication):
    """The Django admin session: staff see every project, other users their memberships."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if user.is_staff or user.is_superuser:
            return user, Access(None, ApiKey.Scope.WRITE, user=user)
        project_ids = frozenset(Project.objects.filter(members=user).values_list("pk", flat=True))
        return user, Access(project_ids, ApiKey.Scope.WRITE, user=user)

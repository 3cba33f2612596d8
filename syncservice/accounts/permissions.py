from rest_framework import permissions

from syncservice.accounts.authentication import Access


class HasProjectScope(permissions.BasePermission):
    """Authenticated; safe methods need the read scope, writes the write scope."""

    message = "This API key has the read scope; this request needs the write scope."

    def has_permission(self, request, view) -> bool:
        access = request.auth
        if not isinstance(access, Access):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.can_write

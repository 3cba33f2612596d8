"""Plain (non-DRF) views that serve only some HTTP methods: the others are a JSON:API 405."""

from __future__ import annotations

from collections.abc import Callable

from syncservice.jsonapi.errors import json_error


def methods(*allowed: str) -> Callable:
    """A plain view serving only ``allowed`` methods: others are a JSON:API 405 with
    ``Allow`` (``allowed_methods`` tells the request-limits middleware too)."""
    def decorate(view):
        def wrapper(request, *args, **kwargs):
            if request.method not in allowed:
                return json_error(405, f"Method {request.method[:20]!r} is not allowed on "
                                       f"{request.path[:200]}.", "method_not_allowed",
                                  {"Allow": ", ".join(allowed)})
            return view(request, *args, **kwargs)

        wrapper.allowed_methods = allowed
        wrapper.__name__ = getattr(view, "__name__", "view")
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate


read_only = methods("GET", "HEAD")

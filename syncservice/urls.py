from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from syncs.demo import demo_orders
from syncservice.health import healthz, metrics, readyz
from syncservice.index import api_index
from syncservice.jsonapi.errors import json_error, not_found
from syncservice.jsonapi.operations import OperationsView

# The apps' admin modules load with the URLconf (settings: SimpleAdminConfig).
admin.autodiscover()


def methods(*allowed: str):
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

api_v1 = [
    path("", include("syncservice.openapi.urls")),
    path("", include("syncservice.accounts.api.urls")),
    path("", include("syncservice.events.api.urls")),
    path("", include("jobs.api.urls")),
    path("", include("exports.api.urls")),
    path("", include("syncs.api.urls")),
    # The Atomic Operations extension: its types are registered by the apps.
    path("operations", OperationsView.as_view(), name="operations"),
]

urlpatterns = [
    path("metrics", methods("GET")(metrics), name="metrics"),
    path("readyz", read_only(readyz), name="readyz"),
    path("healthz", read_only(healthz), name="healthz"),
    *([path("demo-api/orders", read_only(demo_orders), name="demo-api-orders")]
      if settings.DEMO_API else []),
    path("admin/", admin.site.urls),
    # Where to go from here: docs, schema, collections (not a bare 404).
    path("", read_only(api_index), name="index"),
    re_path(r"^api/v1/?$", read_only(api_index), name="api-index"),
    path("api/v1/", include(api_v1)),
    # Last: anything else (but the admin and static files) is a JSON:API 404.
    re_path(r"^(?!admin/|static/|media/)", not_found),
]

handler400 = "syncservice.jsonapi.errors.handler400"
handler403 = "syncservice.jsonapi.errors.handler403"
handler404 = "syncservice.jsonapi.errors.handler404"
handler500 = "syncservice.jsonapi.errors.handler500"

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from syncservice.allowed_methods import methods, read_only
from syncservice.health import healthz, metrics, readyz
from syncservice.index import api_index
from syncservice.jsonapi.errors import not_found
from syncservice.jsonapi.operations import OperationsView

# The apps' admin modules load with the URLconf (settings: SimpleAdminConfig). The apps' URLs
# are included by dotted path: the project's wiring names them, syncservice imports none.
admin.autodiscover()

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
    *([path("", include("syncs.demo_urls"))] if settings.DEMO_API else []),
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

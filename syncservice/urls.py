from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from syncs.demo import demo_orders
from syncservice.health import healthz, metrics, readyz
from syncservice.jsonapi.errors import not_found

api_v1 = [
    path("", include("syncservice.openapi.urls")),
    path("", include("syncservice.accounts.api.urls")),
    path("", include("jobs.api.urls")),
    path("", include("exports.api.urls")),
    path("", include("syncs.api.urls")),
]

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("readyz", readyz, name="readyz"),
    path("healthz", healthz, name="healthz"),
    *([path("demo-api/orders", demo_orders, name="demo-api-orders")] if settings.DEMO_API
      else []),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Last: anything else (but the admin and static files) is a JSON:API 404.
    re_path(r"^(?!admin/|static/|media/)", not_found),
]

handler400 = "syncservice.jsonapi.errors.handler400"
handler403 = "syncservice.jsonapi.errors.handler403"
handler404 = "syncservice.jsonapi.errors.handler404"
handler500 = "syncservice.jsonapi.errors.handler500"

from django.urls import path, re_path

from syncs.api.views import (
    UUID_PATTERN,
    ConnectionViewSet,
    ProviderCatalogView,
    ProviderListView,
    SyncRunViewSet,
    SyncViewSet,
    TableBindingViewSet,
)
from syncs.models import SyncRun
from syncservice.events.api.views import subject_events_view
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("connections", ConnectionViewSet, basename="connection")
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
# The reference's paths: /syncs/runs/{run_id}, …/cancel, …/retry.
router.register("syncs/runs", SyncRunViewSet, basename="sync-run-alias")
router.register("syncs", SyncViewSet, basename="sync")
router.register("table-bindings", TableBindingViewSet, basename="table-binding")

urlpatterns = [
    path("syncs/providers", ProviderListView.as_view(), name="sync-providers"),
    path("syncs/providers/<str:provider>/catalog", ProviderCatalogView.as_view(),
         name="sync-provider-catalog"),
    re_path(rf"^sync-runs/(?P<subject_pk>{UUID_PATTERN})/events/?$",
            subject_events_view(SyncRun, "sync-run-events"), name="sync-run-events"),
    re_path(rf"^syncs/runs/(?P<subject_pk>{UUID_PATTERN})/events/?$",
            subject_events_view(SyncRun, "sync-run-events-alias"),
            name="sync-run-events-alias"),
    re_path(rf"^syncs/(?P<sync_pk>{UUID_PATTERN})/runs/?$",
            SyncRunViewSet.as_view({"get": "list"}), name="sync-runs-of-sync"),
    *router.urls,
]

from django.urls import re_path

from exports.api.views import ExportViewSet
from exports.models import Export
from syncservice.events.api.views import subject_events_view
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("exports", ExportViewSet, basename="export")
urlpatterns = [
    re_path(r"^exports/(?P<subject_pk>[^/]+)/events/?$",
            subject_events_view(Export, "export-events"), name="export-events"),
    *router.urls,
]

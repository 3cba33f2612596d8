from django.urls import re_path

from jobs.api.views import JobViewSet
from jobs.models import Job
from syncservice.events.api.views import subject_events_view
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("jobs", JobViewSet, basename="job")
urlpatterns = [
    re_path(r"^jobs/(?P<subject_pk>[^/]+)/events/?$",
            subject_events_view(Job, "job-events"), name="job-events"),
    *router.urls,
]

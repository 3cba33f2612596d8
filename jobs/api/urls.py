from jobs.api.views import JobViewSet
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls

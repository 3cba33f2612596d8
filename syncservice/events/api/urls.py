from syncservice.events.api.views import EventViewSet
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("events", EventViewSet, basename="event")
urlpatterns = router.urls

from syncservice.accounts.api.views import ProjectViewSet
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("projects", ProjectViewSet, basename="project")
urlpatterns = router.urls

from exports.api.views import ExportViewSet
from syncservice.jsonapi.routers import ApiRouter

router = ApiRouter()
router.register("exports", ExportViewSet, basename="export")
urlpatterns = router.urls

from django.urls import include, path

from syncservice.urls import handler400, handler403, handler404, handler500  # noqa: F401
from syncservice.urls import urlpatterns as service_urlpatterns
from tests.testapp.api import router

urlpatterns = [path("api/v1/", include(router.urls)), *service_urlpatterns]

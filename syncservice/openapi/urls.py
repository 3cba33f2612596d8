from django.urls import re_path

from syncservice.openapi.views import SchemaView, SwaggerView

urlpatterns = [
    re_path(r"^schema/?$", SchemaView.as_view(), name="openapi-schema"),
    re_path(r"^docs/?$", SwaggerView.as_view(), name="openapi-docs"),
]

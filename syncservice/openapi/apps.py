from django.apps import AppConfig


class OpenApiConfig(AppConfig):
    name = "syncservice.openapi"
    label = "openapi"
    verbose_name = "OpenAPI schema"
    # The drf-spectacular extensions are registered by ``syncservice.openapi.schema`` (the
    # AutoSchema every view's schema is built with), not in ``ready()``: processes that never
    # generate the document (workers, the scheduler) do not load drf-spectacular.

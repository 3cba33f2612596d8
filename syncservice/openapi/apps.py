from django.apps import AppConfig


class OpenApiConfig(AppConfig):
    name = "syncservice.openapi"
    label = "openapi"
    verbose_name = "OpenAPI schema"

    def ready(self) -> None:
        # Registers the authentication schemes with drf-spectacular.
        from syncservice.openapi import extensions  # noqa: F401

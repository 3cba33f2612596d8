from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        from tests.testapp import (
            faults,
            handlers,  # noqa: F401 - registers the test job handlers
        )

        faults.connect()

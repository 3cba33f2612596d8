from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "syncservice.events"
    label = "events"
    verbose_name = "Events"

from django.apps import AppConfig


class GrammarConfig(AppConfig):
    name = "tests.grammar"
    label = "grammar"

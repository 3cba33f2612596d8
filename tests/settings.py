"""Test settings: the service's own, plus a tiny test-only app that exercises the JSON:API
grammar on nested relationships (authors → books → chapters)."""

from syncservice.settings import *  # noqa: F401,F403
from syncservice.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.grammar"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

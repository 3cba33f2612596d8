"""Test settings: the service's own, plus a tiny test-only app (tests.testapp): models that
exercise the JSON:API grammar on nested relationships, and job handlers for the tests."""

from syncservice.settings import *  # noqa: F401,F403
from syncservice.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The tests' fake APIs, S3 and SFTP servers listen on this machine.
OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]

# Worker subprocesses started by the tests must see the test database: on SQLite that needs a
# file, not the default in-memory database.
# TEST_SQLITE_NAME lets two test runs share a checkout without sharing a database.
from syncservice.settings import DATABASES, VAR_DIR, env  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("TEST_SQLITE_NAME", default=str(VAR_DIR / "test-db.sqlite3"))}

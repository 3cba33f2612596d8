# The service's one image: web (gunicorn), native workers, the scheduler, Celery worker/beat.
#   docker build -t syncservice .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=postgres://... syncservice
# docker-compose.yml runs the whole stack (PostgreSQL, Redis, web, workers, scheduler).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (a layer that changes only with pyproject.toml), then the code.
# psycopg[binary], orjson, cryptography and pyarrow come as wheels: no compiler needed.
COPY pyproject.toml README.md ./
COPY syncservice ./syncservice
COPY jobs ./jobs
COPY exports ./exports
COPY syncs ./syncs
COPY manage.py ./
RUN pip install ".[s3,parquet,xlsx]"

# The copied tree (templates, migrations, static) is what runs, whatever the install copied.
ENV PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=syncservice.settings \
    DEBUG=false \
    LOG_FORMAT=json \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/var/media \
    STATICFILES_MANIFEST=true

# Static files with hashed names, compressed, served by WhiteNoise (no DEBUG needed).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0

# Never root at run time: var/ (SQLite, local media, the Prometheus multiprocess dir) is the
# only place the app writes.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media /app/var/prometheus \
    && chown -R app:app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "syncservice.wsgi", "-c", "python:syncservice.observability.gunicorn_conf", \
     "-b", "0.0.0.0:8000", "-w", "4"]

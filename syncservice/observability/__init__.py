"""Observability: structured logs (structlog), Prometheus metrics, request ids, readiness.

- ``logs``: structlog + Django's ``LOGGING``: every stdlib logger comes out as JSON (or
  pretty console lines in development) with the bound context (request id, project, job).
- ``middleware``: a request id per request, the access log line and the HTTP histogram.
- ``metrics``: the metrics and ``GET /metrics``; ``receivers`` feeds them from the job, run
  and loader signals.
"""

"""MLflow: experiments, runs, metric histories and the model registry of a tracking server.

The MLflow REST API 2.0 (``{tracking_uri}/api/2.0/mlflow/...``; Databricks workspaces serve the
same paths): ``experiments/search``, ``runs/search`` (``filter: "attributes.start_time > ..."``,
``order_by: ["attributes.start_time ASC"]``, ``page_token``), ``metrics/get-history`` per run
and metric key, ``registered-models/search`` and ``model-versions/search``. Timestamps are epoch
milliseconds. Auth: none, a bearer token (Databricks personal access token, or a proxy's), or
HTTP basic (MLflow's basic-auth app). Run records are flattened from ``info`` with ``params``,
``tags`` and latest ``metrics`` kept as JSON; a run still RUNNING at the checkpoint is re-read
on the next run.
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider
from syncs.providers.resources import dependent, incremental

CONFIG_SCHEMA = js.obj({
    "tracking_uri": js.http_url("Tracking server URL, e.g. https://mlflow.example.com or "
                                "https://<workspace>.cloud.databricks.com."),
    "experiment_ids": js.string_list("Experiments read (default: every experiment).",
                                     items={"type": "string", "pattern": r"^[0-9A-Za-z-]+$"}),
    "view_type": js.enum(["ACTIVE_ONLY", "DELETED_ONLY", "ALL"],
                         "Lifecycle stages of the experiments and runs read.",
                         default="ACTIVE_ONLY"),
    "page_size": js.page_size(1000, 1000, "max_results of search requests."),
    "start_date": js.start_date("Runs started at or after this instant on the first run; null "
                                "reads every run."),
}, required=["tracking_uri"], title="MLflow connection",
    examples=[{"tracking_uri": "https://mlflow.example.com", "experiment_ids": ["1", "7"]}])

SECRETS_SCHEMA = js.obj({
    "token": js.secret("Bearer token (Databricks personal access token or proxy token)."),
    "username": js.secret("Username (MLflow basic auth)."),
    "password": js.secret("Password (MLflow basic auth)."),
}, title="MLflow secrets", dependentRequired={"username": ["password"],
                                              "password": ["username"]},
    examples=[{"token": "dapi0123456789abcdef"}])

RESOURCES = [
    incremental("experiments", "Experiments", "/api/2.0/mlflow/experiments/search",
                "Experiments: id, name, artifact location, lifecycle stage, tags, creation and "
                "last update time.", cursor="last_update_time", size="xs",
                primary_key=["experiment_id"]),
    incremental("runs", "Runs", "/api/2.0/mlflow/runs/search", "Runs of the experiments read: "
                "run_id, name, user, status, start and end time, artifact URI, params, tags and "
                "latest metrics.", cursor="start_time", window="P7D", cursor_format="epoch_ms",
                primary_key=["run_id"], depends_on=["experiments"]),
    dependent("metric_history", "Metric history", "/api/2.0/mlflow/metrics/get-history",
              "Every logged value of every metric of the runs read (key, value, step, "
              "timestamp).", parent="runs", size="l",
              primary_key=["run_id", "key", "step", "timestamp"], default_selected=False,
              config_schema=js.obj({
                  "metric_keys": js.string_list("Metrics read (default: every metric of the "
                                                "run)."),
              })),
    incremental("registered_models", "Registered models",
                "/api/2.0/mlflow/registered-models/search", "Registered models: name, "
                "description, tags, aliases, creation and last update time.",
                cursor="last_updated_timestamp", size="xs", primary_key=["name"]),
    incremental("model_versions", "Model versions", "/api/2.0/mlflow/model-versions/search",
                "Versions of the registered models read: version, stage, status, source, run_id, "
                "tags, aliases.", cursor="last_updated_timestamp", size="s",
                primary_key=["name", "version"], depends_on=["registered_models"]),
]

SPEC = define_provider("mlflow", "MLflow",
    "Experiments, runs, metrics and registered models of an MLflow tracking server.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)

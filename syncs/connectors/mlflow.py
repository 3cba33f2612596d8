"""MLflow tracking servers through the REST API 2.0 (``{tracking_uri}/api/2.0/mlflow/...``).

- ``experiments``: ``POST experiments/search`` (``view_type``, ``page_token``); incremental on
  ``last_update_time`` (epoch ms), filtered client side (experiments are few).
- ``runs``: ``POST runs/search`` per group of experiments, ``filter: attributes.start_time >
  <cursor>``, ``order_by: ["attributes.start_time ASC"]``, paged with
  ``page_token``/``next_page_token``. The cursor is the greatest ``start_time`` read, but never
  at or past a run still RUNNING: such a run is read again by the next run of the sync.
- ``metric_history``: for the runs selected as above (its own cursor), ``GET
  metrics/get-history`` per run and metric key (``metric_keys`` of the entity config, default
  every metric of the run), paged.
- ``registered_models`` / ``model_versions``: ``GET registered-models/search`` /
  ``model-versions/search``, paged; incremental on ``last_updated_timestamp``, client side.

Timestamps stay epoch milliseconds. In ``fan_out_window`` runs, runs are read for
``start_time`` in ``(window start, window end]`` and batch cursors are ISO 8601 instants.
Auth: a bearer ``token``, or basic ``username``/``password``, or none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from syncs.connectors.sources import Batch, CheckDeadline, CheckFailed, register_source
from syncservice import outbound

API = "api/2.0/mlflow/"
RETRY_STATUSES = {429, 500, 502, 503, 504}
EXPERIMENTS_PER_SEARCH = 100  # runs/search accepts at most 100 experiment ids


def epoch_ms(value: Any) -> int | None:
    """A cursor (epoch ms, numeric string or ISO instant) as epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_ms(value: int) -> str:
    moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_values(items: list | None) -> dict:
    return {i.get("key"): i.get("value") for i in items or [] if isinstance(i, dict)}


def aliases(items: list | None) -> dict:
    return {i.get("alias"): i.get("version") for i in items or [] if isinstance(i, dict)}


def flatten_run(run: dict) -> dict:
    info, data = run.get("info") or {}, run.get("data") or {}
    return {
        "run_id": info.get("run_id") or info.get("run_uuid"),
        "run_name": info.get("run_name"),
        "experiment_id": info.get("experiment_id"),
        "user_id": info.get("user_id"),
        "status": info.get("status"),
        "start_time": _int(info.get("start_time")),
        "end_time": _int(info.get("end_time")),
        "artifact_uri": info.get("artifact_uri"),
        "lifecycle_stage": info.get("lifecycle_stage"),
        "params": key_values(data.get("params")),
        "tags": key_values(data.get("tags")),
        "metrics": {m.get("key"): m.get("value") for m in data.get("metrics") or []},
    }


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


class MlflowSource:
    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = secrets or {}
        self.base = config["tracking_uri"].rstrip("/") + "/" + API
        self.page_size = int(config.get("page_size") or 1000)
        self.view_type = config.get("view_type") or "ACTIVE_ONLY"
        self.max_retries = int(config.get("max_retries", 3))
        self.timeout = float(config.get("timeout_seconds", 60))
        self._client: httpx.Client | None = None
        # Set while ``check()`` runs: its requests and retries end by then.
        self._deadline: CheckDeadline | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            headers = {"Accept": "application/json"}
            if self.secrets.get("token"):
                headers["Authorization"] = f"Bearer {self.secrets['token']}"
            auth = None
            if self.secrets.get("username"):
                auth = httpx.BasicAuth(self.secrets["username"],
                                       self.secrets.get("password", ""))
            # Pinned to the addresses the SSRF guard checked (syncservice.outbound).
            self._client = outbound.client(timeout=self.timeout, headers=headers, auth=auth)
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- HTTP -------------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params: dict | None = None,
             body: dict | None = None) -> dict:
        url = self.base + path
        for attempt in range(self.max_retries + 1):
            timeout = httpx.USE_CLIENT_DEFAULT if self._deadline is None else \
                self._deadline.timeout(self.timeout, what=self.where())
            response = self.client.request(method, url, params=params, json=body,
                                           timeout=timeout)
            if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                break
            retry_after = response.headers.get("Retry-After")
            delay = float(retry_after) if retry_after and retry_after.isdigit() \
                else min(30.0, 0.5 * 2 ** attempt)
            if self._deadline is not None and delay >= self._deadline.left():
                break  # a check reports this answer rather than outwait its deadline
            time.sleep(delay)
        if response.status_code >= 400:
            raise MlflowError(self._describe(response))
        return response.json() if response.content else {}

    @staticmethod
    def _describe(response: httpx.Response) -> str:
        detail = ""
        try:
            document = response.json()
            detail = f" {document.get('error_code', '')}: {document.get('message', '')}"
        except ValueError:
            pass
        hint = " (check the token or credentials)" if response.status_code in (401, 403) else ""
        return f"{response.request.method} {response.request.url.path} answered " \
               f"{response.status_code}{hint}.{detail}".rstrip(": ")

    def pages(self, method: str, path: str, items_key: str, *, params: dict | None = None,
              body: dict | None = None) -> Iterator[list[dict]]:
        token = None
        while True:
            if method == "GET":
                page = self.call("GET", path, params={**(params or {}),
                                                      **({"page_token": token} if token else {})})
            else:
                page = self.call("POST", path, body={**(body or {}),
                                                     **({"page_token": token} if token else {})})
            yield page.get(items_key) or []
            token = page.get("next_page_token")
            if not token:
                return

    def where(self) -> str:
        return f"The MLflow server {self.config['tracking_uri']}"

    def check(self, deadline: CheckDeadline | None = None) -> None:
        self._deadline = deadline = deadline or CheckDeadline.start()
        try:
            self.call("POST", "experiments/search", body={"max_results": 1})
        except MlflowError as exc:
            raise CheckFailed(str(exc)) from None
        except httpx.HTTPError as exc:
            if deadline.expired():  # a request cut short by the deadline
                raise deadline.exceeded(self.where(), type(exc).__name__) from None
            raise CheckFailed(f"Cannot reach the MLflow server {self.config['tracking_uri']}: "
                              f"{type(exc).__name__}") from None
        finally:
            self._deadline = None
            self.close()

    # --- entities ---------------------------------------------------------------------------------
    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        readers = {"experiments": self.read_experiments, "runs": self.read_runs,
                   "metric_history": self.read_metric_history,
                   "registered_models": self.read_registered_models,
                   "model_versions": self.read_model_versions}
        if entity not in readers:
            raise KeyError(f"mlflow has no entity {entity!r}; entities: "
                           f"{', '.join(sorted(readers))}")
        try:
            yield from readers[entity](cursor=cursor, window=window,
                                       entity_config=entity_config or {})
        finally:
            self.close()

    def experiments(self) -> Iterator[list[dict]]:
        wanted = set(self.config.get("experiment_ids") or [])
        for page in self.pages("POST", "experiments/search", "experiments", body={
                "max_results": self.page_size, "view_type": self.view_type}):
            yield [e for e in page if not wanted or str(e.get("experiment_id")) in wanted]

    def read_experiments(self, cursor, window, entity_config) -> Iterator[Batch]:
        after = epoch_ms(cursor)
        reached = after
        for page in self.experiments():
            records = []
            for experiment in page:
                updated = _int(experiment.get("last_update_time"))
                if after is not None and (updated or 0) <= after:
                    continue
                records.append({
                    "experiment_id": experiment.get("experiment_id"),
                    "name": experiment.get("name"),
                    "artifact_location": experiment.get("artifact_location"),
                    "lifecycle_stage": experiment.get("lifecycle_stage"),
                    "creation_time": _int(experiment.get("creation_time")),
                    "last_update_time": updated,
                    "tags": key_values(experiment.get("tags")),
                })
                if updated is not None and (reached is None or updated > reached):
                    reached = updated
            if records:
                yield Batch(records=records, cursor=reached)

    def experiment_ids(self) -> list[str]:
        configured = self.config.get("experiment_ids")
        if configured:
            return [str(i) for i in configured]
        return [str(e["experiment_id"]) for page in self.experiments() for e in page]

    def runs(self, cursor, window) -> Iterator[tuple[list[dict], Any]]:
        """Pages of runs (flattened), each with the cursor that is safe after it: every run
        started at or before it has been read, and no RUNNING run is behind it."""
        after = epoch_ms(window[0] if window else cursor)
        until = epoch_ms(window[1]) if window else None
        conditions = []
        if after is not None:
            conditions.append(f"attributes.start_time > {after}")
        elif self.config.get("start_date"):
            conditions.append(f"attributes.start_time >= {epoch_ms(self.config['start_date'])}")
        if until is not None:
            conditions.append(f"attributes.start_time <= {until}")
        ids = self.experiment_ids()
        groups = [ids[i:i + EXPERIMENTS_PER_SEARCH]
                  for i in range(0, len(ids), EXPERIMENTS_PER_SEARCH)]
        highest, floor = after, None  # floor: just before the earliest RUNNING run

        def reached() -> Any:
            return highest if floor is None or highest is None else min(highest, floor)

        given = after
        for group in groups:
            body = {"experiment_ids": group, "max_results": self.page_size,
                    "run_view_type": self.view_type,
                    "order_by": ["attributes.start_time ASC"]}
            if conditions:
                body["filter"] = " and ".join(conditions)
            for page in self.pages("POST", "runs/search", "runs", body=body):
                runs = [flatten_run(r) for r in page]
                starts = [r["start_time"] for r in runs if r["start_time"] is not None]
                for run in runs:
                    started = run["start_time"]
                    if started is not None and run["status"] in ("RUNNING", "SCHEDULED"):
                        floor = started - 1 if floor is None else min(floor, started - 1)
                if starts:
                    highest = max(starts) if highest is None else max(highest, *starts)
                # Within one search, pages come in start_time order: what started before
                # the last run of this page is read (a run sharing its start_time may be on
                # the next page). Across several searches nothing is safe before the end.
                safe = given
                if len(groups) == 1 and starts:
                    last = starts[-1] - 1
                    safe = min(reached(), last) if reached() is not None else last
                    safe = max(safe, given) if given is not None else safe
                given = safe
                yield runs, safe
        if reached() != given:
            yield [], reached()

    def _cursor_out(self, reached: Any, window: tuple | None) -> Any:
        if reached is None:
            return None
        return iso_ms(reached) if window else reached

    def read_runs(self, cursor, window, entity_config) -> Iterator[Batch]:
        for runs, reached in self.runs(cursor, window):
            yield Batch(records=runs, cursor=self._cursor_out(reached, window))

    def read_metric_history(self, cursor, window, entity_config) -> Iterator[Batch]:
        wanted = list(entity_config.get("metric_keys") or [])
        for runs, reached in self.runs(cursor, window):
            records: list[dict] = []
            for run in runs:
                for key in wanted or sorted(run["metrics"]):
                    for page in self.pages("GET", "metrics/get-history", "metrics", params={
                            "run_id": run["run_id"], "metric_key": key,
                            "max_results": 25000}):
                        records += [{"run_id": run["run_id"], "key": m.get("key", key),
                                     "value": m.get("value"), "step": _int(m.get("step")) or 0,
                                     "timestamp": _int(m.get("timestamp"))} for m in page]
            yield Batch(records=records, cursor=self._cursor_out(reached, window))

    def _registry(self, path: str, items_key: str, cursor, flatten) -> Iterator[Batch]:
        after = epoch_ms(cursor)
        reached = after
        for page in self.pages("GET", path, items_key, params={"max_results": self.page_size}):
            records = []
            for item in page:
                updated = _int(item.get("last_updated_timestamp"))
                if after is not None and (updated or 0) <= after:
                    continue
                records.append(flatten(item))
                if updated is not None and (reached is None or updated > reached):
                    reached = updated
            if records:
                yield Batch(records=records, cursor=reached)

    def read_registered_models(self, cursor, window, entity_config) -> Iterator[Batch]:
        def flatten(model: dict) -> dict:
            return {"name": model.get("name"), "description": model.get("description"),
                    "creation_timestamp": _int(model.get("creation_timestamp")),
                    "last_updated_timestamp": _int(model.get("last_updated_timestamp")),
                    "user_id": model.get("user_id"), "tags": key_values(model.get("tags")),
                    "aliases": aliases(model.get("aliases")),
                    "latest_versions": [{"version": v.get("version"),
                                         "current_stage": v.get("current_stage")}
                                        for v in model.get("latest_versions") or []]}

        yield from self._registry("registered-models/search", "registered_models", cursor,
                                  flatten)

    def read_model_versions(self, cursor, window, entity_config) -> Iterator[Batch]:
        def flatten(version: dict) -> dict:
            return {"name": version.get("name"), "version": str(version.get("version")),
                    "creation_timestamp": _int(version.get("creation_timestamp")),
                    "last_updated_timestamp": _int(version.get("last_updated_timestamp")),
                    "current_stage": version.get("current_stage"),
                    "description": version.get("description"),
                    "source": version.get("source"), "run_id": version.get("run_id"),
                    "status": version.get("status"), "user_id": version.get("user_id"),
                    "run_link": version.get("run_link"),
                    "tags": key_values(version.get("tags")),
                    "aliases": list(version.get("aliases") or [])}

        yield from self._registry("model-versions/search", "model_versions", cursor, flatten)


class MlflowError(Exception):
    """An error answer of the tracking server (never quotes the credentials)."""


@register_source("mlflow")
def mlflow_source(config: dict, secrets: dict) -> MlflowSource:
    from syncs.providers import base

    spec = base.get_provider("mlflow")
    return MlflowSource(spec.with_defaults(config) if spec else config, secrets)

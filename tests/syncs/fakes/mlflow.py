"""MLflow REST API 2.0 as documented: searches paged with page_token/next_page_token, runs
filtered on attributes.start_time, metric histories, the model registry; bearer token auth."""

from __future__ import annotations

import json
import re

from werkzeug import Response

from tests.syncs.fakes.base import Fake

TOKEN = "dapi-Hh73-never-shown"
T = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch ms
API = "/api/2.0/mlflow/"


def experiment(experiment_id, name, updated):
    return {"experiment_id": experiment_id, "name": name,
            "artifact_location": f"mlflow-artifacts:/{experiment_id}",
            "lifecycle_stage": "active", "last_update_time": updated, "creation_time": T,
            "tags": [{"key": "team", "value": "ml"}]}


def run(run_id, experiment_id, start, status="FINISHED", loss=0.5):
    return {"info": {"run_id": run_id, "run_uuid": run_id, "run_name": f"name-{run_id}",
                     "experiment_id": experiment_id, "user_id": "ann", "status": status,
                     "start_time": start, "end_time": None if status == "RUNNING" else start + 5,
                     "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                     "lifecycle_stage": "active"},
            "data": {"metrics": [{"key": "loss", "value": loss, "timestamp": start + 3,
                                  "step": 2}],
                     "params": [{"key": "lr", "value": "0.01"}],
                     "tags": [{"key": "mlflow.user", "value": "ann"}]},
            "inputs": {}}


class FakeMlflow(Fake):
    """Searches paged with page_token/next_page_token, runs filtered on
    attributes.start_time, metric histories, the model registry; bearer token auth. Runs
    searches answer 429 (Retry-After) when ``throttle_next`` asks."""

    def __init__(self, server):
        super().__init__(server)
        self.experiments = [experiment("0", "Default", T), experiment("7", "churn", T + 10)]
        self.runs = [run("r1", "7", T + 1000), run("r2", "7", T + 2000, "RUNNING"),
                     run("r3", "0", T + 3000)]
        self.models = [{"name": "churn", "creation_timestamp": T, "last_updated_timestamp": T,
                        "user_id": "ann", "description": "",
                        "latest_versions": [{"name": "churn", "version": "1",
                                             "current_stage": "Production"}],
                        "tags": [{"key": "k", "value": "v"}],
                        "aliases": [{"alias": "champion", "version": "1"}]},
                       {"name": "ltv", "creation_timestamp": T, "last_updated_timestamp": T + 5}]
        self.versions = [{"name": "churn", "version": "1", "creation_timestamp": T,
                          "last_updated_timestamp": T, "user_id": "ann",
                          "current_stage": "Production", "description": "",
                          "source": "mlflow-artifacts:/7/r1/artifacts/model", "run_id": "r1",
                          "status": "READY", "tags": [], "run_link": "",
                          "aliases": ["champion"]}]
        for path, method, handler in [
                ("experiments/search", "POST", self.search_experiments),
                ("runs/search", "POST", self.search_runs),
                ("metrics/get-history", "GET", self.metric_history),
                ("registered-models/search", "GET", self.search_models),
                ("model-versions/search", "GET", self.search_versions)]:
            server.expect_request(API + path, method=method).respond_with_handler(handler)

    def _authorized(self, request):
        self.seen(request)["json"] = request.get_json(silent=True)
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    @staticmethod
    def _page(items, key, token, size):
        start = int(token or 0)
        document = {key: items[start:start + int(size)]} if items[start:start + int(size)] \
            else {}
        if start + int(size) < len(items):
            document["next_page_token"] = str(start + int(size))
        return Response(json.dumps(document), content_type="application/json")

    @staticmethod
    def _denied():
        return Response(json.dumps({"error_code": "UNAUTHENTICATED",
                                    "message": "Credential was not sent or was invalid."}),
                        status=401, content_type="application/json")

    def search_experiments(self, request):
        if not self._authorized(request):
            return self._denied()
        query = request.get_json()
        return self._page(self.experiments, "experiments", query.get("page_token"),
                          query.get("max_results", 1000))

    def search_runs(self, request):
        if (answer := self.throttled()) is not None:
            self.seen(request)["json"] = request.get_json(silent=True)
            return answer
        if not self._authorized(request):
            return self._denied()
        query = request.get_json()
        assert query["order_by"] == ["attributes.start_time ASC"]
        selected = [r for r in self.runs if r["info"]["experiment_id"] in query["experiment_ids"]]
        for op, value in re.findall(r"attributes\.start_time (>=|<=|>) (\d+)",
                                    query.get("filter", "")):
            test = {">": int.__gt__, ">=": int.__ge__, "<=": int.__le__}[op]
            selected = [r for r in selected if test(r["info"]["start_time"], int(value))]
        selected.sort(key=lambda r: r["info"]["start_time"])
        return self._page(selected, "runs", query.get("page_token"),
                          query.get("max_results", 1000))

    def metric_history(self, request):
        if not self._authorized(request):
            return self._denied()
        run_id, key = request.args["run_id"], request.args["metric_key"]
        found = next(r for r in self.runs if r["info"]["run_id"] == run_id)
        start = found["info"]["start_time"]
        points = [{"key": key, "value": 1.0 - step / 10, "timestamp": start + step,
                   "step": step} for step in range(3)]
        return self._page(points, "metrics", request.args.get("page_token"), 2)

    def search_models(self, request):
        if not self._authorized(request):
            return self._denied()
        return self._page(self.models, "registered_models", request.args.get("page_token"),
                          request.args.get("max_results", 100))

    def search_versions(self, request):
        if not self._authorized(request):
            return self._denied()
        return self._page(self.versions, "model_versions", request.args.get("page_token"),
                          request.args.get("max_results", 100))

    def run_searches(self):
        return [r["json"] for r in self.requests if r["path"].endswith("runs/search")]

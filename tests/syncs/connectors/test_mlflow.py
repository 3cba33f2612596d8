"""The mlflow connector against a local server (pytest-httpserver) answering as the MLflow
REST API 2.0 documents: searches paged with page_token/next_page_token, runs filtered on
attributes.start_time, metric histories, the model registry; bearer token auth."""

import logging

import orjson
import pytest

from syncs.connectors import CheckFailed, open_source
from syncs.models import Sync, SyncRun
from tests.conftest import body
from tests.syncs.fakes.mlflow import TOKEN, FakeMlflow, T, run

pytestmark = pytest.mark.timeout(60)

@pytest.fixture
def mlflow(httpserver):
    return FakeMlflow(httpserver)


def config(httpserver, **extra):
    return {"tracking_uri": httpserver.url_for("/"), "page_size": 2, **extra}


ENTITIES = ["experiments", "runs", "metric_history", "registered_models", "model_versions"]


def test_end_to_end_full_then_incremental(api, run_job, mlflow, httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "mlflow", "name": "mlflow", "config": config(httpserver),
        "secrets": {"token": TOKEN}})
    assert response.status_code == 201, response.content
    connection_id = body(response)["data"]["id"]
    checked = body(api.post(f"/api/v1/connections/{connection_id}/check"))
    assert checked["data"]["attributes"]["last_check_status"] == "ok"
    document = {"data": {"type": "syncs", "attributes": {
        "name": "MLflow", "entities": ENTITIES, "status": "active"}, "relationships": {
        "connection": {"data": {"type": "connections", "id": connection_id}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(document),
                        content_type="application/vnd.api+json")
    assert response.status_code == 201, response.content
    sync = Sync.objects.get(pk=body(response)["data"]["id"])

    def run_sync():
        response = api.send_document("post", f"/api/v1/syncs/{sync.pk}/trigger",
                                     "sync-triggers", {"run_mode": "incremental"})
        sync_run = SyncRun.objects.get(pk=body(response)["data"]["id"])
        run_job(sync_run.job_id)
        sync_run.refresh_from_db()
        assert sync_run.status == "succeeded", sync_run.error
        return sync_run

    first = run_sync()
    read = {e: s["rows_read"] for e, s in first.summary["entities"].items()}
    assert read == {"experiments": 2, "runs": 3, "metric_history": 9, "registered_models": 2,
                    "model_versions": 1}
    # r2 is still RUNNING: the runs cursor stays just before it.
    assert first.summary["entities"]["runs"]["cursor"] == T + 1999
    assert first.summary["entities"]["experiments"]["cursor"] == T + 10
    assert mlflow.run_searches()[0]["experiment_ids"] == ["0", "7"]
    assert "filter" not in mlflow.run_searches()[0]

    from django.db import connection as db

    runs_table = sync.table_bindings.get(entity_key="runs").physical_table_name
    with db.cursor() as cursor:
        cursor.execute(f'SELECT run_id, status, start_time FROM "{runs_table}" ORDER BY run_id')
        assert [tuple(r) for r in cursor.fetchall()] == [
            ("r1", "FINISHED", T + 1000), ("r2", "RUNNING", T + 2000),
            ("r3", "FINISHED", T + 3000)]

    # Changes: r2 finished, r4 started, experiment 0 and model ltv updated.
    mlflow.runs[1] = run("r2", "7", T + 2000, "FINISHED", loss=0.1)
    mlflow.runs.append(run("r4", "0", T + 4000))
    mlflow.experiments[0]["last_update_time"] = T + 50
    mlflow.models[1]["last_updated_timestamp"] = T + 60
    searches = len(mlflow.run_searches())
    second = run_sync()
    read = {e: s["rows_read"] for e, s in second.summary["entities"].items()}
    assert read == {"experiments": 1, "runs": 3, "metric_history": 9, "registered_models": 1,
                    "model_versions": 0}
    assert mlflow.run_searches()[searches]["filter"] == f"attributes.start_time > {T + 1999}"
    assert second.summary["entities"]["runs"]["cursor"] == T + 4000
    with db.cursor() as cursor:
        cursor.execute(f'SELECT run_id, status FROM "{runs_table}" ORDER BY run_id')
        assert [tuple(r) for r in cursor.fetchall()] == [
            ("r1", "FINISHED"), ("r2", "FINISHED"), ("r3", "FINISHED"), ("r4", "FINISHED")]
    assert TOKEN not in caplog.text


def test_records_and_paging(mlflow, httpserver):
    source = open_source("mlflow", config(httpserver, experiment_ids=["7"]), {"token": TOKEN})
    batches = list(source.read("runs"))
    records = [r for b in batches for r in b.records]
    assert records[0] == {
        "run_id": "r1", "run_name": "name-r1", "experiment_id": "7", "user_id": "ann",
        "status": "FINISHED", "start_time": T + 1000, "end_time": T + 1005,
        "artifact_uri": "mlflow-artifacts:/7/r1/artifacts", "lifecycle_stage": "active",
        "params": {"lr": "0.01"}, "tags": {"mlflow.user": "ann"}, "metrics": {"loss": 0.5}}
    assert [r["run_id"] for r in records] == ["r1", "r2"]
    source = open_source("mlflow", config(httpserver), {"token": TOKEN})
    history = [r for b in source.read("metric_history", entity_config={"metric_keys": ["acc"]})
               for r in b.records]
    assert len(history) == 9 and history[0] == {"run_id": "r1", "key": "acc", "value": 1.0,
                                                "step": 0, "timestamp": T + 1000}
    source = open_source("mlflow", config(httpserver), {"token": TOKEN})
    models = [r for b in source.read("registered_models") for r in b.records]
    assert models[0]["aliases"] == {"champion": "1"} and models[0]["tags"] == {"k": "v"}


def test_runs_sharing_a_start_time_across_pages(mlflow, httpserver):
    mlflow.runs = [run("a", "0", T + 1000), run("b", "0", T + 1000), run("c", "0", T + 2000)]
    source = open_source("mlflow", config(httpserver, page_size=1), {"token": TOKEN})
    cursors = [b.cursor for b in source.read("runs", cursor=T)]
    # The cursor never reaches a start_time whose runs may go on in the next page.
    assert cursors == [T + 999, T + 999, T + 1999, T + 2000]


def test_window_and_start_date(mlflow, httpserver):
    source = open_source("mlflow", config(httpserver), {"token": TOKEN})
    window = ("2026-01-01T00:00:01Z", "2026-01-01T00:00:02.500Z")
    batches = list(source.read("runs", window=window))
    assert [r["run_id"] for b in batches for r in b.records] == ["r2"]
    assert mlflow.run_searches()[-1]["filter"] == (
        f"attributes.start_time > {T + 1000} and attributes.start_time <= {T + 2500}")
    assert batches[-1].cursor == "2026-01-01T00:00:01.999Z"  # r2 is RUNNING
    source = open_source("mlflow", config(httpserver, start_date="2026-01-01T00:00:02Z"),
                         {"token": TOKEN})
    assert [r["run_id"] for b in source.read("runs") for r in b.records] == ["r2", "r3"]
    assert mlflow.run_searches()[-1]["filter"] == f"attributes.start_time >= {T + 2000}"


def test_bad_token_is_a_clear_failure_without_the_token(api, mlflow, httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CheckFailed, match="401 .check the token") as failure:
        open_source("mlflow", config(httpserver), {"token": "wrong-" + TOKEN}).check()
    assert TOKEN not in str(failure.value)
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "mlflow", "name": "mlflow", "config": config(httpserver),
        "secrets": {"token": "wrong-" + TOKEN}})
    checked = api.post(f"/api/v1/connections/{body(response)['data']['id']}/check")
    assert body(checked)["data"]["attributes"]["last_check_status"] == "failed"
    assert TOKEN.encode() not in checked.content and TOKEN not in caplog.text
    with pytest.raises(CheckFailed, match="Cannot reach"):
        open_source("mlflow", {"tracking_uri": "http://127.0.0.1:9"}, {"token": TOKEN}).check()

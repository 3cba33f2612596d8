"""MLflow end to end through the API against its fake (tests/syncs/fakes/mlflow.py): a
bearer token (a wrong one gets 401 UNAUTHENTICATED), runs searched page by page
(``max_results`` = page_size, ``page_token``), a 429 with Retry-After honoured, then an
incremental run whose search filters ``attributes.start_time > <checkpoint>``."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.mlflow import TOKEN, FakeMlflow, T, run

SEARCH = "runs/search"


def test_mlflow_end_to_end(api, httpserver, run_job):
    fake = FakeMlflow(httpserver)
    fake.runs = [run(f"r{i}", "7", T + i * 1000) for i in range(1, 6)]
    config = {"tracking_uri": httpserver.url_for("/"), "experiment_ids": ["7"],
              "page_size": 2}
    connection = connect(api, "mlflow", config, {"token": TOKEN}, {"token": "dapi-wrong"},
                         "401")
    sync = create_sync(api, connection, ["experiments", "runs"])
    run_ = throttled_run(api, run_job, fake, sync, SEARCH)
    pages = [r["json"] for r in fake.data_requests(SEARCH)[1:]]
    assert [p.get("page_token") for p in pages] == [None, "2", "4"]
    assert all(p["max_results"] == 2 and "filter" not in p for p in pages)
    assert run_.summary["entities"]["runs"]["rows_written"] == 5
    assert table_rows(sync, "runs", ["run_id", "status"], order="run_id") == [
        (f"r{i}", "FINISHED") for i in range(1, 6)]

    fake.runs.append(run("r6", "7", T + 6000, "RUNNING"))
    fake.requests.clear()
    run_ = run_sync(api, run_job, sync)
    assert fake.data_requests(SEARCH)[0]["json"]["filter"] == \
        f"attributes.start_time > {T + 5000}"
    assert run_.summary["entities"]["runs"]["rows_read"] == 1
    fake.runs[5] = run("r6", "7", T + 6000, "FINISHED")  # the running run ends
    run_sync(api, run_job, sync)
    assert table_rows(sync, "runs", ["run_id", "status"], order="run_id") == [
        (f"r{i}", "FINISHED") for i in range(1, 7)]

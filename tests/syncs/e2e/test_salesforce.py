"""Salesforce end to end through the API against its fake (tests/syncs/fakes/salesforce.py):
the OAuth refresh-token grant (a wrong refresh token refused with invalid_grant), a SOQL
queryAll paged by nextRecordsUrl (batchSize from page_size), a 429 with Retry-After honoured,
then an incremental run whose SOQL asks ``SystemModstamp > <checkpoint>``."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.salesforce import SF_CLIENT_SECRET, SF_REFRESH, FakeSalesforce

SECRETS = {"client_id": "3MVG9example", "client_secret": SF_CLIENT_SECRET,
           "refresh_token": SF_REFRESH}


def test_salesforce_end_to_end(api, httpserver, run_job):
    fake = FakeSalesforce(httpserver)
    config = {"instance_url": httpserver.url_for("/"), "login_url": httpserver.url_for("/"),
              "api_version": "61.0", "page_size": 2}
    connection = connect(api, "salesforce", config, SECRETS,
                         {**SECRETS, "refresh_token": "5Aep861-wrong"},
                         "Salesforce rejected the OAuth credentials (400: invalid_grant")
    sync = create_sync(api, connection, ["account"])
    run = throttled_run(api, run_job, fake, sync, "/queryAll/")
    query = fake.data_requests("/queryAll/")[-1]
    assert query["headers"]["Sforce-Query-Options"] == "batchSize=2"
    assert len(fake.data_requests("/query/01g")) == 2  # nextRecordsUrl followed twice
    assert run.summary["entities"]["account"]["rows_written"] == 5
    assert table_rows(sync, "account", ["id", "name"]) == [
        (f"001A{i}", f"Acme {i}") for i in range(1, 6)]

    fake.accounts[1].update(Name="Acme 2 (renamed)",
                            SystemModstamp="2026-01-08T00:00:00.000+0000")
    fake.accounts.append({"Id": "001A6", "Name": "Acme 6", "IsDeleted": False,
                          "SystemModstamp": "2026-01-09T00:00:00.000+0000"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    (query,) = fake.data_requests("/queryAll/")
    assert "WHERE SystemModstamp > 2026-01-05T12:00:00.000Z ORDER BY" in query["args"]["q"]
    assert run.summary["entities"]["account"]["rows_read"] == 2
    assert table_rows(sync, "account", ["id", "name"]) == [
        ("001A1", "Acme 1"), ("001A2", "Acme 2 (renamed)"),
        *[(f"001A{i}", f"Acme {i}") for i in range(3, 7)]]

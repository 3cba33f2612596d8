"""SaaS providers (syncs.providers.<key>: spec and source) against local fakes of their APIs
(pytest-httpserver) answering with the documented response shapes: Shopify REST Admin
(Link-header page_info pages, updated_at_min), Klaviyo JSON:API (links.next cursor pages,
filter=greater-than(...)), Salesforce (OAuth token, SOQL query with nextRecordsUrl) and Gorgias
(meta.next_cursor pages, newest first). Each moves data at the Source level (full then
incremental read) and through the API (connection, sync, run, warehouse rows); a 429 with
Retry-After is honoured; wrong credentials fail the check clearly, with no secret in messages or
logs. Every one of the 15 SaaS providers builds from its catalog example and fails its check
clearly on a 401.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time

import pytest
from werkzeug import Response

from syncs import services
from syncs.connectors import Batch, CheckFailed, open_source
from syncs.models import Connection
from tests.conftest import body
from tests.syncs.e2e.harness import (
    assert_no_secret,
    column_values,
    create_connection,
    create_sync,
    log_text,
    read_all,
    retry_gap,
    run_sync,
    table_of,
)
from tests.syncs.fakes.base import as_json
from tests.syncs.fakes.google import private_key_pem as new_private_key_pem
from tests.syncs.fakes.gorgias import GORGIAS_KEY, GORGIAS_USER, FakeGorgias
from tests.syncs.fakes.klaviyo import KLAVIYO_KEY, FakeKlaviyo
from tests.syncs.fakes.salesforce import SF_CLIENT_SECRET, SF_REFRESH, FakeSalesforce
from tests.syncs.fakes.shopify import SHOPIFY_TOKEN, FakeShopify


def assert_waits_out_a_429(fake, source, entity: str, path_part: str) -> None:
    """A full read whose first request to ``path_part`` is answered 429 with Retry-After: 1:
    every record comes, the request after the 429 a second later."""
    fake.throttle_next = 1
    records, _ = read_all(source, entity)
    assert len(records) == 5
    assert retry_gap(fake, path_part) >= 0.95


def refused_check(provider: str, config: dict, secrets: dict, wrong: dict, caplog) -> str:
    """The check passes with ``secrets`` and fails with ``wrong``: the failure's message (the
    logs captured from DEBUG on, for the tests' no-secret assertions)."""
    caplog.set_level(logging.DEBUG)
    open_source(provider, config, secrets).check()
    with pytest.raises(CheckFailed) as failure:
        open_source(provider, config, wrong).check()
    return str(failure.value)


# === Shopify ==================================================================================

@pytest.fixture
def shopify(httpserver):
    return FakeShopify(httpserver)


def shopify_config(server, **extra):
    return {"shop_domain": "mystore.myshopify.com", "api_version": "2024-10",
            "base_url": server.url_for("/admin/api/2024-10"), "page_size": 2, **extra}


def test_shopify_full_then_incremental(shopify, httpserver):
    source = open_source("shopify", shopify_config(httpserver),
                         {"access_token": SHOPIFY_TOKEN})
    records, cursor = read_all(source, "orders")
    assert [r["id"] for r in records] == [1001, 1002, 1003, 1004, 1005]
    assert cursor == "2026-01-05T10:00:00-05:00"
    first, *following = shopify.data_requests("/orders.json")
    assert first["args"] == {"limit": "2", "order": "updated_at asc", "status": "any"}
    assert len(following) == 2 and all(set(r["args"]) == {"limit", "page_info"}
                                       for r in following)
    assert all(r["headers"]["X-Shopify-Access-Token"] == SHOPIFY_TOKEN
               for r in shopify.requests)
    # A changed order and a new one: the next read asks from the checkpoint on.
    shopify.orders[2]["updated_at"] = "2026-01-06T08:00:00-05:00"
    shopify.orders.append({"id": 1006, "name": "#1006", "total_price": "60.00",
                           "updated_at": "2026-01-07T09:00:00-05:00", "line_items": []})
    shopify.requests.clear()
    records, cursor = read_all(source, "orders", cursor=cursor)
    assert shopify.data_requests("/orders.json")[0]["args"]["updated_at_min"] == \
        "2026-01-05T15:00:00+00:00"
    # updated_at_min is inclusive: the order at the checkpoint comes again (merged on id).
    assert [r["id"] for r in records] == [1005, 1003, 1006]
    assert cursor == "2026-01-07T09:00:00-05:00"


def test_shopify_refunds_are_read_for_the_orders_changed(shopify, httpserver):
    source = open_source("shopify", shopify_config(httpserver),
                         {"access_token": SHOPIFY_TOKEN})
    records, cursor = read_all(source, "refunds", cursor="2026-01-02T10:00:00-05:00")
    assert records == [{"id": 9002, "order_id": 1002, "note": "damaged"}]
    assert cursor == "2026-01-05T10:00:00-05:00"
    assert sorted(r["path"].split("/")[-2] for r in shopify.data_requests("/refunds.json")) \
        == ["1002", "1003", "1004", "1005"]


def test_shopify_honours_retry_after(shopify, httpserver):
    source = open_source("shopify", shopify_config(httpserver),
                         {"access_token": SHOPIFY_TOKEN})
    started = time.monotonic()
    assert_waits_out_a_429(shopify, source, "orders", "/orders.json")
    assert time.monotonic() - started >= 0.95


def test_shopify_check_with_a_wrong_token(shopify, httpserver, caplog):
    wrong = "shpat_wrong-s3cr3t-token-9999"
    message = refused_check("shopify", shopify_config(httpserver),
                            {"access_token": SHOPIFY_TOKEN}, {"access_token": wrong}, caplog)
    assert message.startswith("Shopify rejected the access token (401): check the Admin API "
                              "access token"), message
    assert_no_secret(wrong, message, log_text(caplog))
    with pytest.raises(Exception) as failure:
        read_all(open_source("shopify", shopify_config(httpserver), {"access_token": wrong}),
                 "orders")
    assert "401" in str(failure.value)
    assert_no_secret(wrong, failure.value, repr(failure.value), log_text(caplog))
    assert_no_secret(SHOPIFY_TOKEN, log_text(caplog))


def test_shopify_end_to_end(api, shopify, httpserver, run_job):
    connection = create_connection(api, "shopify", shopify_config(httpserver),
                                   {"access_token": SHOPIFY_TOKEN})
    checked = body(api.post(f"/api/v1/connections/{connection['id']}/check"))
    assert checked["data"]["attributes"]["last_check_status"] == "ok"
    sync = create_sync(api, connection, ["orders", "refunds"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["orders"]["rows_written"] == 5
    assert run.summary["entities"]["refunds"]["rows_written"] == 1
    orders = table_of(sync, "orders")
    assert column_values(orders, "name") == ["#1001", "#1002", "#1003", "#1004", "#1005"]
    assert column_values(table_of(sync, "refunds"), "note") == ["damaged"]
    shopify.orders[0]["updated_at"] = "2026-01-09T08:00:00-05:00"
    shopify.orders[0]["name"] = "#1001-edited"
    shopify.requests.clear()
    run = run_sync(api, run_job, sync)
    assert shopify.data_requests("/orders.json")[0]["args"]["updated_at_min"] == \
        "2026-01-05T15:00:00+00:00"
    assert run.summary["entities"]["orders"]["rows_read"] == 2  # the checkpoint's and the edit
    assert column_values(orders, "name") == ["#1001-edited", "#1002", "#1003", "#1004",
                                             "#1005"]


def test_shopify_connection_check_through_the_api(api, shopify, httpserver):
    wrong = "shpat_wrong-s3cr3t-token-api"
    connection = create_connection(api, "shopify", shopify_config(httpserver),
                                   {"access_token": wrong})
    response = api.post(f"/api/v1/connections/{connection['id']}/check")
    attributes = body(response)["data"]["attributes"]
    assert attributes["last_check_status"] == "failed"
    assert "Shopify rejected the access token (401)" in attributes["last_check_error"]
    assert wrong.encode() not in response.content


# === Klaviyo ==================================================================================

@pytest.fixture
def klaviyo(httpserver):
    return FakeKlaviyo(httpserver)


def klaviyo_config(server, **extra):
    return {"revision": "2024-10-15", "base_url": server.url_for("/"), "page_size": 2, **extra}


def test_klaviyo_full_then_incremental(klaviyo, httpserver):
    source = open_source("klaviyo", klaviyo_config(httpserver),
                         {"private_api_key": KLAVIYO_KEY})
    records, cursor = read_all(source, "profiles")
    assert [r["id"] for r in records] == ["01P1", "01P2", "01P3", "01P4", "01P5"]
    first = records[0]
    assert first["email"] == "p1@example.com" and first["type"] == "profile"
    assert "attributes" not in first and "links" not in first and "relationships" in first
    assert cursor == "2026-02-05T08:00:00+00:00"
    requests = klaviyo.data_requests("/api/profiles/")
    assert len(requests) == 3
    assert requests[0]["args"] == {"page[size]": "2", "sort": "updated",
                                   "additional-fields[profile]": "subscriptions"}
    assert requests[1]["args"]["page[cursor]"] == "2"  # followed links.next
    headers = requests[0]["headers"]
    assert headers["Authorization"] == f"Klaviyo-API-Key {KLAVIYO_KEY}"
    assert headers["Revision"] == "2024-10-15"
    assert headers["Accept"] == "application/vnd.api+json"
    klaviyo.profiles[1]["attributes"]["updated"] = "2026-02-07T00:00:00+00:00"
    klaviyo.profiles.append({"type": "profile", "id": "01P6", "attributes": {
        "email": "p6@example.com", "updated": "2026-02-08T00:00:00+00:00"}})
    klaviyo.requests.clear()
    records, cursor = read_all(source, "profiles", cursor=cursor)
    assert klaviyo.data_requests("/api/profiles/")[0]["args"]["filter"] == \
        "greater-than(updated,2026-02-05T08:00:00Z)"
    assert [r["id"] for r in records] == ["01P2", "01P6"]
    assert cursor == "2026-02-08T00:00:00+00:00"


def test_klaviyo_honours_retry_after(klaviyo, httpserver):
    source = open_source("klaviyo", klaviyo_config(httpserver),
                         {"private_api_key": KLAVIYO_KEY})
    assert_waits_out_a_429(klaviyo, source, "profiles", "/api/profiles/")


def test_klaviyo_check_with_a_wrong_key(klaviyo, httpserver, caplog):
    wrong = "pk_wrong0s3cr3t0key0000000000000000"
    message = refused_check("klaviyo", klaviyo_config(httpserver),
                            {"private_api_key": KLAVIYO_KEY}, {"private_api_key": wrong}, caplog)
    assert message.startswith("Klaviyo rejected the private API key (401)"), message
    assert_no_secret(wrong, message, log_text(caplog))
    assert_no_secret(KLAVIYO_KEY, log_text(caplog))


def test_klaviyo_end_to_end(api, klaviyo, httpserver, run_job):
    connection = create_connection(api, "klaviyo", klaviyo_config(httpserver),
                                   {"private_api_key": KLAVIYO_KEY})
    sync = create_sync(api, connection, ["profiles", "metrics"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["profiles"]["rows_written"] == 5
    assert column_values(table_of(sync, "metrics"), "name") == ["Placed Order"]
    profiles = table_of(sync, "profiles")
    assert column_values(profiles, "email")[0] == "p1@example.com"
    klaviyo.profiles.append({"type": "profile", "id": "01P9", "attributes": {
        "email": "p9@example.com", "updated": "2026-02-09T00:00:00+00:00"}})
    klaviyo.requests.clear()
    run = run_sync(api, run_job, sync)
    assert klaviyo.data_requests("/api/profiles/")[0]["args"]["filter"] == \
        "greater-than(updated,2026-02-05T08:00:00Z)"
    assert run.summary["entities"]["profiles"]["rows_read"] == 1
    assert len(column_values(profiles, "email")) == 6


# === Salesforce ===============================================================================

@pytest.fixture
def salesforce(httpserver):
    return FakeSalesforce(httpserver)


def salesforce_config(server, **extra):
    return {"instance_url": server.url_for("/"), "login_url": server.url_for("/"),
            "api_version": "61.0", "page_size": 2, **extra}


SF_SECRETS = {"client_id": "3MVG9example", "client_secret": SF_CLIENT_SECRET,
              "refresh_token": SF_REFRESH}


def test_salesforce_full_then_incremental(salesforce, httpserver):
    source = open_source("salesforce", salesforce_config(httpserver), SF_SECRETS)
    records, cursor = read_all(source, "account")
    assert [r["Id"] for r in records] == ["001A1", "001A2", "001A3", "001A4", "001A5"]
    assert records[0] == {"Id": "001A1", "Name": "Acme 1", "IsDeleted": False,
                          "SystemModstamp": "2026-01-01T12:00:00.000+0000"}
    assert cursor == "2026-01-05T12:00:00.000+0000"
    (query,) = salesforce.data_requests("/queryAll/")
    assert query["args"]["q"] == ("SELECT Id, Name, IsDeleted, SystemModstamp FROM Account "
                                  "ORDER BY SystemModstamp ASC")
    assert query["headers"]["Sforce-Query-Options"] == "batchSize=2"
    assert len(salesforce.data_requests("/query/01g")) == 2  # nextRecordsUrl, followed
    assert salesforce.tokens_issued == 1
    salesforce.accounts[0]["SystemModstamp"] = "2026-01-06T00:00:00.000+0000"
    salesforce.accounts.append({"Id": "001A6", "Name": "Acme 6", "IsDeleted": False,
                                "SystemModstamp": "2026-01-07T00:00:00.000+0000"})
    salesforce.requests.clear()
    records, cursor = read_all(source, "account", cursor=cursor)
    (query,) = salesforce.data_requests("/queryAll/")
    assert "WHERE SystemModstamp > 2026-01-05T12:00:00.000Z ORDER BY" in query["args"]["q"]
    assert [r["Id"] for r in records] == ["001A1", "001A6"]
    assert cursor == "2026-01-07T00:00:00.000+0000"


def test_salesforce_fetches_a_new_token_once_on_401(salesforce, httpserver):
    source = open_source("salesforce", salesforce_config(httpserver, include_deleted=False),
                         SF_SECRETS)
    salesforce.expire_after_pages = 0  # the session expires after the first page
    records, _ = read_all(source, "account")
    assert len(records) == 5
    assert salesforce.tokens_issued == 2
    assert salesforce.data_requests("/query/")[0]["path"].endswith("/query/")


def test_salesforce_honours_retry_after(salesforce, httpserver):
    source = open_source("salesforce", salesforce_config(httpserver), SF_SECRETS)
    assert_waits_out_a_429(salesforce, source, "account", "/queryAll/")


def test_salesforce_check_with_wrong_credentials(salesforce, httpserver, caplog):
    wrong = {**SF_SECRETS, "refresh_token": "5Aep861-wrong-s3cr3t"}
    message = refused_check("salesforce", salesforce_config(httpserver), SF_SECRETS, wrong,
                            caplog)
    assert message.startswith("Salesforce rejected the OAuth credentials (400: invalid_grant "
                              "expired access/refresh token)"), message
    assert "refresh token" in message
    for secret in (wrong["refresh_token"], SF_CLIENT_SECRET):
        assert_no_secret(secret, message, log_text(caplog))


def test_salesforce_end_to_end(api, salesforce, httpserver, run_job):
    connection = create_connection(api, "salesforce", salesforce_config(httpserver), SF_SECRETS)
    sync = create_sync(api, connection, ["account"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["account"]["rows_written"] == 5
    table = table_of(sync, "account")
    assert column_values(table, "name") == [f"Acme {i}" for i in range(1, 6)]
    salesforce.accounts[4]["Name"] = "Acme 5 (renamed)"
    salesforce.accounts[4]["SystemModstamp"] = "2026-01-08T00:00:00.000+0000"
    salesforce.requests.clear()
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["account"]["rows_read"] == 1
    assert column_values(table, "name")[-1] == "Acme 5 (renamed)"
    assert len(column_values(table, "name")) == 5


# === Gorgias ==================================================================================

@pytest.fixture
def gorgias(httpserver):
    return FakeGorgias(httpserver)


def gorgias_config(server, **extra):
    return {"subdomain": "acme", "base_url": server.url_for("/api"), "page_size": 2, **extra}


GORGIAS_SECRETS = {"username": GORGIAS_USER, "api_key": GORGIAS_KEY}


def test_gorgias_full_then_incremental(gorgias, httpserver):
    source = open_source("gorgias", gorgias_config(httpserver), GORGIAS_SECRETS)
    batches = list(source.read("tickets"))
    records = [r for b in batches for r in b.records]
    assert [r["id"] for r in records] == [705, 704, 703, 702, 701]  # newest first
    # The checkpoint moves once the walk is done, never before.
    assert [b.cursor for b in batches] == [None, None, None, "2026-03-05T09:30:00.123456+00:00"]
    first, second, third = gorgias.data_requests("/api/tickets")
    assert first["args"] == {"limit": "2", "order_by": "updated_datetime:desc"}
    assert second["args"]["cursor"] and third["args"]["cursor"]
    cursor = batches[-1].cursor
    gorgias.tickets[0]["updated_datetime"] = "2026-03-09T00:00:00+00:00"
    gorgias.tickets.append({"id": 706, "subject": "New", "status": "open", "channel": "chat",
                            "created_datetime": "2026-03-08T00:00:00+00:00",
                            "updated_datetime": "2026-03-08T00:00:00+00:00"})
    gorgias.requests.clear()
    records, reached = read_all(source, "tickets", cursor=cursor)
    assert [r["id"] for r in records] == [701, 706]
    assert reached == "2026-03-09T00:00:00+00:00"
    assert len(gorgias.data_requests("/api/tickets")) == 2  # stopped at the checkpoint


def test_gorgias_honours_retry_after(gorgias, httpserver):
    source = open_source("gorgias", gorgias_config(httpserver), GORGIAS_SECRETS)
    assert_waits_out_a_429(gorgias, source, "tickets", "/api/tickets")


def test_gorgias_check_with_a_wrong_key(gorgias, httpserver, caplog):
    wrong = {"username": GORGIAS_USER, "api_key": "gorgias-wrong-s3cr3t-key"}
    message = refused_check("gorgias", gorgias_config(httpserver), GORGIAS_SECRETS, wrong,
                            caplog)
    assert message.startswith("Gorgias rejected the email and API key (401): check the user's "
                              "email and the REST API key"), message
    assert_no_secret(wrong["api_key"], message, log_text(caplog))
    assert_no_secret(GORGIAS_KEY, log_text(caplog))


def test_gorgias_end_to_end(api, gorgias, httpserver, run_job):
    connection = create_connection(api, "gorgias", gorgias_config(httpserver), GORGIAS_SECRETS)
    sync = create_sync(api, connection, ["tickets", "users"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["tickets"]["rows_written"] == 5
    assert run.summary["entities"]["tickets"]["cursor"] == "2026-03-05T09:30:00.123456+00:00"
    assert column_values(table_of(sync, "users"), "email") == ["agent@example.com"]
    tickets = table_of(sync, "tickets")
    gorgias.tickets[2]["status"] = "closed"
    gorgias.tickets[2]["updated_datetime"] = "2026-03-10T00:00:00+00:00"
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["tickets"]["rows_read"] == 1
    assert column_values(tickets, "status") == ["open", "open", "closed", "open", "open"]


# === secrets in error bodies ==================================================================

def test_a_secret_echoed_by_the_api_is_redacted(httpserver, caplog):
    """Some APIs quote the credential they refuse; neither messages nor logs repeat it."""
    caplog.set_level(logging.DEBUG)
    wrong = "gorgias-echoed-s3cr3t-key"

    def refuse(request):
        return as_json({"error": {"msg": f"Invalid API key {wrong} for {GORGIAS_USER}"}}, 403)

    httpserver.expect_request(re.compile("^/api/.*")).respond_with_handler(refuse)
    source = open_source("gorgias", gorgias_config(httpserver),
                         {"username": GORGIAS_USER, "api_key": wrong})
    with pytest.raises(CheckFailed) as check:
        source.check()
    with pytest.raises(Exception) as read:
        read_all(source, "tickets")
    assert "403" in str(check.value) and "***" in str(check.value)
    assert_no_secret(wrong, check.value, read.value, repr(read.value), log_text(caplog))


# === every SaaS provider: builds from its catalog example, fails its check clearly ============

SAAS_PROVIDERS = {  # provider -> the name its messages use
    "shopify": "Shopify", "klaviyo": "Klaviyo", "gorgias": "Gorgias", "bullhorn": "Bullhorn",
    "salesforce": "Salesforce", "netsuite": "NetSuite", "amazon_sp": "Amazon SP-API",
    "google_drive": "Google Drive", "msft_sharepoint": "Microsoft Graph", "dropbox": "Dropbox",
    "gmail_inbox": "Gmail", "flexiroam": "Flexiroam", "starlink": "Starlink",
    "rydership": "RyderShip", "redo": "Redo",
}


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    return new_private_key_pem()


def catalog_case(provider: str, server, private_key_pem: str) -> tuple[dict, dict]:
    """The catalog's example config and secrets, with every host pointed at ``server``."""
    from syncs.providers import get_provider

    spec = get_provider(provider)
    config = json.loads(json.dumps(spec.config_schema["examples"][0]))
    secrets = json.loads(json.dumps(spec.secrets_schema["examples"][0]))
    url = server.url_for("/").rstrip("/")
    properties = spec.config_schema["properties"]
    for key in ("base_url", "token_url", "login_url", "authority_url", "content_url",
                "instance_url"):
        if key in properties:
            config[key] = url
    if provider == "bullhorn":
        config["login_info_url"] = f"{url}/rest-services/loginInfo"
    if provider == "dropbox":
        config["token_url"] = f"{url}/oauth2/token"
    if provider in ("google_drive", "gmail_inbox"):
        config["token_url"] = f"{url}/token"
        secrets = {"service_account_json": json.dumps({
            "type": "service_account", "project_id": "acme", "private_key_id": "k1",
            "private_key": private_key_pem, "client_email": "sync@acme.iam.gserviceaccount.com",
            "token_uri": f"{url}/token"})}
    return config, secrets


def refuse_everything(server):
    """A server that knows no credentials: 401 everywhere (Bullhorn's loginInfo, which
    needs none, answers its data center's URLs)."""
    def login_info(request):
        base = server.url_for("/").rstrip("/")
        return as_json({"oauthUrl": f"{base}/oauth", "restUrl": f"{base}/rest-services"})

    def refuse(request):
        return as_json({"error": "invalid_client", "error_description": "Client "
                        "authentication failed", "message": "Unauthorized"}, 401)

    server.expect_request("/rest-services/loginInfo").respond_with_handler(login_info)
    server.expect_request(re.compile(".*")).respond_with_handler(refuse)


def secret_values(secrets: dict) -> list[str]:
    values = [v for v in secrets.values() if isinstance(v, str) and len(v) >= 4]
    for value in list(values):
        if value.startswith("{"):
            values.append(json.loads(value)["private_key"].splitlines()[1])
    return values


@pytest.mark.parametrize("provider", sorted(SAAS_PROVIDERS))
def test_saas_preset_builds_from_the_catalog_and_fails_its_check_clearly(
        provider, httpserver, private_key_pem, caplog):
    from syncs.providers import get_provider, validate_config, validate_secrets

    caplog.set_level(logging.DEBUG)
    config, secrets = catalog_case(provider, httpserver, private_key_pem)
    spec = get_provider(provider)
    assert validate_config(spec, spec.with_defaults(config)) == []
    assert validate_secrets(spec, secrets) == []
    source = open_source(provider, config, secrets)
    assert set(source.streams) >= set(spec.available_resources)
    refuse_everything(httpserver)
    with pytest.raises(CheckFailed) as failure:
        source.check()
    message = str(failure.value)
    assert message.startswith(f"{SAAS_PROVIDERS[provider]} rejected "), message
    assert "401" in message and "check the" in message, message
    for secret in secret_values(secrets):
        assert_no_secret(secret, message, log_text(caplog))


@pytest.mark.parametrize("provider", sorted(SAAS_PROVIDERS))
def test_saas_preset_validates_its_config_and_secrets(provider, httpserver, private_key_pem):
    from syncs.providers import get_provider

    spec = get_provider(provider)
    config, secrets = catalog_case(provider, httpserver, private_key_pem)
    required = spec.config_schema.get("required", [])
    if required:
        with pytest.raises(CheckFailed) as failure:
            open_source(provider, {k: v for k, v in config.items() if k != required[0]},
                        secrets)
        assert f"/{required[0]} is a required property" in str(failure.value)
        assert str(failure.value).startswith(f"The {spec.display_name} connection config "
                                             "is invalid")
    with pytest.raises(CheckFailed) as failure:
        open_source(provider, config, {**secrets, "stray": "s3cr3t-stray-value"})
    assert "/stray is not an allowed property" in str(failure.value)
    assert "s3cr3t-stray-value" not in str(failure.value)


def test_object_storage_entities_fail_with_a_clear_message(httpserver, private_key_pem):
    config, secrets = catalog_case("dropbox", httpserver, private_key_pem)
    source = open_source("dropbox", config, secrets)
    with pytest.raises(Exception, match="cannot read 'file_contents': file contents go to "
                                        "object storage"):
        list(source.read("file_contents"))


# === the other presets read the documented shapes (Source level) ==============================

def routes(server, table: dict) -> list[dict]:
    """Serve ``{path: handler(request) -> document | Response}``; returns the requests seen."""
    seen: list[dict] = []

    def wrap(handler):
        def handle(request):
            seen.append({"path": request.path, "args": request.args.to_dict(flat=False),
                         "headers": dict(request.headers), "form": request.form.to_dict(),
                         "json": request.get_json(silent=True)})
            answer = handler(request)
            return answer if isinstance(answer, Response) else as_json(answer)
        return handle

    for path, handler in table.items():
        server.expect_request(path).respond_with_handler(wrap(handler))
    return seen


def token_document(request):
    return {"access_token": "at-s3cr3t-0001", "expires_in": 3600, "token_type": "Bearer"}


def bullhorn_login(base: str, token) -> dict:
    """Bullhorn's login as a ``routes`` table: loginInfo naming ``base``'s OAuth and REST URLs,
    ``token`` answering the OAuth token endpoint, the REST login handing out a session."""
    return {
        "/rest-services/loginInfo": lambda r: {"oauthUrl": f"{base}/oauth",
                                               "restUrl": f"{base}/rest-services"},
        "/oauth/token": token,
        "/rest-services/login": lambda r: {"BhRestToken": "bh-rest-s3cr3t",
                                           "restUrl": f"{base}/rest-services/corp1/"},
    }


class SingleUseRefreshTokens:
    """Bullhorn's token endpoint for the refresh_token grant: each refresh token is good once
    (``rt-0001-s3cr3t`` first), each grant issues the next (``issued``); a spent or unknown one
    is refused ``invalid_grant`` (``refused``). ``delay``: seconds before answering (a slow
    endpoint), outside the lock that takes the grants one at a time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.valid, self.issued, self.refused = {"rt-0001-s3cr3t"}, [], []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, request):
        time.sleep(self.delay)
        with self.lock:
            presented = request.form.get("refresh_token")
            if request.form.get("grant_type") != "refresh_token" or presented not in self.valid:
                self.refused.append(presented)
                return Response('{"error": "invalid_grant"}', status=400,
                                content_type="application/json")
            self.valid.discard(presented)
            self.issued.append(f"rt-{len(self.issued) + 2:04d}-s3cr3t")
            self.valid.add(self.issued[-1])
            return {"access_token": f"bh-access-{len(self.issued)}",
                    "refresh_token": self.issued[-1], "expires_in": 600}


def test_bullhorn_logs_in_and_reads_by_date_last_modified(httpserver):
    base = httpserver.url_for("/").rstrip("/")
    candidates = [{"id": i, "firstName": f"C{i}", "dateLastModified": 1767225600000 + i}
                  for i in range(1, 4)]

    def query(request):
        assert request.headers["BhRestToken"] == "bh-rest-s3cr3t"
        where = request.args["where"]
        since = int(where.split(">")[1]) if "dateLastModified>" in where else 0
        rows = [c for c in candidates if c["dateLastModified"] > since]
        start, count = int(request.args["start"]), int(request.args["count"])
        return {"start": start, "count": len(rows[start:start + count]),
                "data": rows[start:start + count]}

    seen = routes(httpserver, {
        **bullhorn_login(base, lambda r: {"access_token": "bh-access-s3cr3t",
                                          "refresh_token": "bh-refresh-next", "expires_in": 600}),
        "/oauth/authorize": lambda r: Response(status=302, headers={
            "Location": "https://example.com/cb?code=auth-code-s3cr3t&client_id=x"}),
        "/rest-services/corp1/query/Candidate": query,
    })
    source = open_source("bullhorn", {
        "username": "acme.api", "login_info_url": f"{base}/rest-services/loginInfo",
        "page_size": 2}, {"client_id": "bh-client", "client_secret": "bh-secret-0001",
                          "password": "bh-password-0001"})
    records, cursor = read_all(source, "candidate")
    assert [r["id"] for r in records] == [1, 2, 3] and cursor == 1767225600003
    token = next(r for r in seen if r["path"] == "/oauth/token")
    assert token["form"]["grant_type"] == "authorization_code"
    assert token["form"]["code"] == "auth-code-s3cr3t"
    first = next(r for r in seen if r["path"].endswith("/query/Candidate"))
    assert first["args"]["where"] == ["id>0"] and first["args"]["fields"] == ["*"]
    assert first["args"]["orderBy"] == ["dateLastModified"]
    records, _ = read_all(source, "candidate", cursor=1767225600002)
    assert [r["id"] for r in records] == [3]
    assert seen[-1]["args"]["where"] == ["dateLastModified>1767225600002"]


def test_bullhorn_rotated_refresh_tokens_are_stored_with_the_connection(
        api, httpserver, run_job, caplog):
    """Bullhorn's refresh tokens are single-use: each login's new one must replace the stored
    one, or the next run (or check) presents a spent token and is refused."""
    base = httpserver.url_for("/").rstrip("/")
    token = SingleUseRefreshTokens()
    issued = token.issued
    routes(httpserver, {
        **bullhorn_login(base, token),
        "/rest-services/corp1/query/Candidate": lambda r: {
            "start": 0, "count": 1, "data": [{"id": 1, "dateLastModified": 1767225600001}]},
        "/rest-services/corp1/ping": lambda r: {"sessionExpires": 1767229200000},
    })
    connection = create_connection(api, "bullhorn", {
        "username": "acme.api", "login_info_url": f"{base}/rest-services/loginInfo"},
        {"client_id": "bh-client", "client_secret": "bh-secret-0001",
         "refresh_token": "rt-0001-s3cr3t"})
    stored = Connection.objects.get(pk=connection["id"])
    sync = create_sync(api, connection, ["candidate"])
    run_sync(api, run_job, sync)
    assert issued == ["rt-0002-s3cr3t"]
    stored.refresh_from_db()
    assert services.connection_secrets(stored)["refresh_token"] == "rt-0002-s3cr3t"
    run_sync(api, run_job, sync)  # presents rt-0002: refused if it had not been stored
    assert issued == ["rt-0002-s3cr3t", "rt-0003-s3cr3t"]
    assert services.check_connection(stored) == (True, "ok")
    stored.refresh_from_db()
    secrets = services.connection_secrets(stored)
    assert secrets["refresh_token"] == "rt-0004-s3cr3t"
    assert secrets["client_secret"] == "bh-secret-0001"  # the others kept
    for secret in ["rt-0001-s3cr3t", *issued]:
        assert_no_secret(secret, log_text(caplog))


@pytest.mark.django_db(transaction=True)
def test_bullhorn_concurrent_logins_of_one_connection_take_turns(project, httpserver):
    """Two tasks of one connection logging in at once (fan-out): the second waits for the
    first's rotated token instead of presenting the spent one."""
    from django.db import connections

    base = httpserver.url_for("/").rstrip("/")
    token = SingleUseRefreshTokens(delay=0.3)  # slow: both logins overlap unless serialised
    issued, refused = token.issued, token.refused
    routes(httpserver, {
        **bullhorn_login(base, token),
        "/rest-services/corp1/ping": lambda r: {"sessionExpires": 1767229200000},
    })
    stored = services.create_connection(
        project, provider="bullhorn", name="bh",
        config={"username": "acme.api", "login_info_url": f"{base}/rest-services/loginInfo"},
        secrets={"client_id": "bh-client", "client_secret": "bh-secret-0001",
                 "refresh_token": "rt-0001-s3cr3t"})
    sources = [services.open_connection_source(stored) for _ in range(2)]
    errors: list[Exception] = []

    def check(source):
        try:
            source.check()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=check, args=(source,)) for source in sources]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == [] and refused == []
    assert issued == ["rt-0002-s3cr3t", "rt-0003-s3cr3t"]
    stored.refresh_from_db()
    assert services.connection_secrets(stored)["refresh_token"] == "rt-0003-s3cr3t"


def test_netsuite_signs_and_pages_suiteql(httpserver):
    def suiteql(request):
        assert request.headers["Authorization"].startswith('OAuth realm="1234567", ')
        assert 'oauth_signature_method="HMAC-SHA256"' in request.headers["Authorization"]
        assert request.headers["Prefer"] == "transient"
        offset = int(request.args["offset"])
        rows = [{"id": str(i), "tranid": f"SO{i}", "lastmodifieddate": "1/5/2026",
                 "lastmodified_at": f"2026-01-05 10:00:0{i}", "links": []} for i in (1, 2, 3)]
        chunk = rows[offset:offset + 2]
        return {"items": chunk, "hasMore": offset + 2 < len(rows), "offset": offset,
                "count": len(chunk), "links": [], "totalResults": 3}

    seen = routes(httpserver, {"/services/rest/query/v1/suiteql": suiteql})
    source = open_source("netsuite", {"account_id": "1234567", "page_size": 2,
                                      "base_url": httpserver.url_for("/")},
                         {"consumer_key": "ck-0001", "consumer_secret": "cs-0001",
                          "token_id": "ti-0001", "token_secret": "ts-0001"})
    records, cursor = read_all(source, "transaction", cursor="2026-01-01 00:00:00")
    assert [r["tranid"] for r in records] == ["SO1", "SO2", "SO3"]
    assert records[0]["lastmodifieddate"] == "2026-01-05 10:00:01"
    assert "links" not in records[0] and "lastmodified_at" not in records[0]
    assert cursor == "2026-01-05 10:00:03"
    assert seen[0]["json"]["q"] == (
        "SELECT r.*, TO_CHAR(r.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified_at "
        "FROM transaction r WHERE r.lastmodifieddate > TO_TIMESTAMP('2026-01-01 00:00:00', "
        "'YYYY-MM-DD HH24:MI:SS') ORDER BY r.lastmodifieddate, r.id")
    assert [s["args"]["offset"] for s in seen] == [["0"], ["2"]]


def test_amazon_sp_reads_orders_and_flattens_financial_events(httpserver):
    def orders(request):
        assert request.headers["x-amz-access-token"] == "at-s3cr3t-0001"
        if request.args.get("NextToken") == "page-2":
            return {"payload": {"Orders": [{"AmazonOrderId": "111-2",
                                            "LastUpdateDate": "2026-01-03T00:00:00Z"}]}}
        return {"payload": {"Orders": [{"AmazonOrderId": "111-1",
                                        "LastUpdateDate": "2026-01-04T00:00:00Z"}],
                            "NextToken": "page-2"}}

    events = {"payload": {"FinancialEvents": {
        "ShipmentEventList": [{"AmazonOrderId": "111-1", "PostedDate": "2026-01-02T00:00:00Z"}],
        "RefundEventList": [{"AmazonOrderId": "111-2", "PostedDate": "2026-01-03T00:00:00Z"}],
        "ServiceFeeEventList": []}}}
    seen = routes(httpserver, {"/token": token_document, "/orders/v0/orders": orders,
                               "/finances/v0/financialEvents": lambda r: events})
    config, secrets = catalog_case("amazon_sp", httpserver, "")
    source = open_source("amazon_sp", {**config, "token_url": httpserver.url_for("/token")},
                         secrets)
    batches = list(source.read("orders"))
    assert [r["AmazonOrderId"] for b in batches for r in b.records] == ["111-1", "111-2"]
    assert batches[-1] == Batch(records=[], cursor="2026-01-04T00:00:00Z")
    first = next(s for s in seen if s["path"] == "/orders/v0/orders")
    assert first["args"]["MarketplaceIds"] == ["ATVPDKIKX0DER"]
    assert first["args"]["LastUpdatedAfter"] == ["2010-01-01T00:00:00Z"]
    token = next(s for s in seen if s["path"] == "/token")
    assert token["form"] == {"grant_type": "refresh_token", "refresh_token": "Atzr|example",
                             "client_id": "amzn1.application-oa2-client.0123456789abcdef",
                             "client_secret": "example-secret"}
    records, cursor = read_all(source, "financial_events", cursor="2026-01-02T12:00:00Z")
    assert records == [{"event_type": "Refund", "AmazonOrderId": "111-2",
                        "PostedDate": "2026-01-03T00:00:00Z"}]
    assert cursor == "2026-01-03T00:00:00Z"


def test_google_drive_walks_subfolders_with_a_service_account(httpserver, private_key_pem):
    def files(request):
        assert request.headers["Authorization"] == "Bearer at-s3cr3t-0001"
        q = request.args["q"]
        if "mimeType = 'application/vnd.google-apps.folder'" in q:
            if q.startswith("'root-folder'"):
                return {"files": [{"id": "sub", "name": "Reports",
                                   "mimeType": "application/vnd.google-apps.folder"}]}
            return {"files": []}
        if q.startswith("'root-folder'"):
            return {"files": [{"id": "f1", "name": "a.csv",
                               "modifiedTime": "2026-01-02T00:00:00.000Z"}]}
        return {"files": [{"id": "f2", "name": "b.csv",
                           "modifiedTime": "2026-01-05T00:00:00.000Z"}]}

    seen = routes(httpserver, {"/token": token_document, "/drive/v3/files": files})
    config, secrets = catalog_case("google_drive", httpserver, private_key_pem)
    source = open_source("google_drive", {**config, "folder_id": "root-folder"}, secrets)
    records, cursor = read_all(source, "files", cursor="2026-01-01T00:00:00Z")
    assert [(r["id"], r["path"]) for r in records] == [("f1", "a.csv"),
                                                       ("f2", "Reports/b.csv")]
    assert cursor == "2026-01-05T00:00:00.000Z"
    grant = next(s for s in seen if s["path"] == "/token")["form"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = json.loads(base64.urlsafe_b64decode(grant["assertion"].split(".")[1] + "=="))
    assert claims["scope"] == "https://www.googleapis.com/auth/drive.readonly"
    listing = [s for s in seen if s["path"] == "/drive/v3/files"
               and "modifiedTime" in s["args"]["q"][0]][-1]
    assert "modifiedTime > '2026-01-01T00:00:00Z'" in listing["args"]["q"][0]


def _jwt_claims(assertion: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))


@pytest.mark.parametrize("provider", ["google_drive", "gmail_inbox"])
def test_google_service_account_grant_goes_to_the_configured_token_url(
        httpserver, private_key_pem, provider):
    """``token_url`` wins over the key file's ``token_uri`` (Google's in real key files) and
    is the JWT's audience."""
    seen = routes(httpserver, {"/sa-token": token_document,
                               re.compile(r"^/(drive|gmail)/.*"): lambda r: {"id": "x"}})
    config, secrets = catalog_case(provider, httpserver, private_key_pem)
    key = json.loads(secrets["service_account_json"])
    key["token_uri"] = "https://oauth2.googleapis.com/token"
    config["token_url"] = httpserver.url_for("/sa-token")
    open_source(provider, config, {"service_account_json": json.dumps(key)}).check()
    grant = next(s for s in seen if s["path"] == "/sa-token")["form"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert _jwt_claims(grant["assertion"])["aud"] == config["token_url"]
    checked = [s for s in seen if s["path"] != "/sa-token"]
    assert checked and checked[0]["headers"]["Authorization"] == "Bearer at-s3cr3t-0001"


@pytest.mark.parametrize("provider", ["google_drive", "gmail_inbox"])
def test_google_refresh_token_grant_goes_to_the_configured_token_url(
        httpserver, private_key_pem, provider):
    seen = routes(httpserver, {"/oauth-token": token_document,
                               re.compile(r"^/(drive|gmail)/.*"): lambda r: {"id": "x"}})
    config, _ = catalog_case(provider, httpserver, private_key_pem)
    config["token_url"] = httpserver.url_for("/oauth-token")
    open_source(provider, config, {"client_id": "cid", "client_secret": "cs3cr3t",
                                   "refresh_token": "rt-1"}).check()
    grant = next(s for s in seen if s["path"] == "/oauth-token")["form"]
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == "rt-1"


def test_google_token_url_defaults_to_googles_and_is_in_the_catalog():
    from syncs.providers import get_provider

    for provider in ("google_drive", "gmail_inbox"):
        spec = get_provider(provider)
        schema = spec.config_schema["properties"]["token_url"]
        assert schema["format"] == "uri"
        assert spec.defaults["token_url"] == "https://oauth2.googleapis.com/token"


@pytest.mark.parametrize("provider", ["google_drive", "gmail_inbox", "dropbox"])
def test_a_token_url_on_the_services_network_is_refused(httpserver, private_key_pem,
                                                         provider):
    config, secrets = catalog_case(provider, httpserver, private_key_pem)
    config["token_url"] = "http://10.11.12.13/token"
    with pytest.raises(CheckFailed, match="private or internal address"):
        open_source(provider, config, secrets)


def test_dropbox_refresh_goes_to_the_configured_token_url(httpserver):
    seen = routes(httpserver, {"/custom/token": token_document,
                               "/2/users/get_current_account": lambda r: {"account_id": "a"}})
    config, secrets = catalog_case("dropbox", httpserver, "")
    config["token_url"] = httpserver.url_for("/custom/token")
    open_source("dropbox", config, secrets).check()
    assert [s["path"] for s in seen] == ["/custom/token", "/2/users/get_current_account"]


def test_gmail_lists_then_gets_messages(httpserver, private_key_pem):
    body_text = base64.urlsafe_b64encode(b"Invoice attached").decode().rstrip("=")
    user = "/gmail/v1/users/invoices@example.com"

    def message(request):
        mid = request.path.rsplit("/", 1)[-1]
        return {"id": mid, "threadId": "t1", "labelIds": ["INBOX"], "snippet": "Invoice",
                "internalDate": "1767225600000" if mid == "m1" else "1767312000000",
                "payload": {"mimeType": "multipart/alternative", "headers": [
                    {"name": "From", "value": "billing@vendor.com"},
                    {"name": "Subject", "value": f"Invoice {mid}"}],
                    "parts": [{"mimeType": "text/plain", "body": {"data": body_text}}]}}

    seen = routes(httpserver, {
        "/token": token_document,
        f"{user}/messages": lambda r: {"messages": [{"id": "m2", "threadId": "t1"},
                                                    {"id": "m1", "threadId": "t1"}]},
        re.compile(rf"^{user}/messages/m\d$"): message})
    config, secrets = catalog_case("gmail_inbox", httpserver, private_key_pem)
    source = open_source("gmail_inbox", config, secrets)
    records, cursor = read_all(source, "messages", cursor=1767225600000)
    assert [r["id"] for r in records] == ["m2"]  # m1 is at the checkpoint
    assert records[0]["subject"] == "Invoice m2" and records[0]["body_text"] == \
        "Invoice attached"
    assert cursor == 1767312000000
    listing = next(s for s in seen if s["path"].endswith("/messages"))
    assert listing["args"]["q"] == ["has:attachment after:1767225600"]


def test_sharepoint_resolves_the_site_and_reads_the_library_delta(httpserver):
    base = httpserver.url_for("/").rstrip("/")
    # As Graph's delta answers: parents by id, no parentReference.path; a child may come
    # before its folder.
    items = [
        {"id": "root", "name": "root", "root": {}, "parentReference": {}},
        {"id": "f-shared", "name": "Shared", "folder": {}, "parentReference": {"id": "root"}},
        {"id": "f-exports", "name": "Exports", "folder": {},
         "parentReference": {"id": "f-shared"}},
        {"id": "i1", "name": "q1.xlsx", "lastModifiedDateTime": "2026-01-03T00:00:00Z",
         "parentReference": {"id": "f-exports"}},
        {"id": "i2", "name": "other.docx", "lastModifiedDateTime": "2026-01-04T00:00:00Z",
         "parentReference": {"id": "f-private"}},
        {"id": "i3", "name": "q2.xlsx", "lastModifiedDateTime": "2026-01-05T00:00:00Z",
         "parentReference": {"id": "f-2026"}},
        {"id": "f-2026", "name": "2026", "folder": {}, "parentReference": {"id": "f-exports"}},
        {"id": "f-private", "name": "Private", "folder": {}, "parentReference": {"id": "root"}},
    ]

    def delta(request):
        if request.args.get("token") == "2":
            return {"value": items[4:], "@odata.deltaLink": f"{base}/drives/d1/root/delta?t=3"}
        return {"value": items[:4],
                "@odata.nextLink": f"{base}/drives/d1/root/delta?token=2"}

    seen = routes(httpserver, {
        "/tenant-1/oauth2/v2.0/token": token_document,
        "/sites/contoso.sharepoint.com:/sites/Finance": lambda r: {"id": "site-1"},
        "/sites/site-1/drives": lambda r: {"value": [{"id": "d0", "name": "Archive"},
                                                     {"id": "d1", "name": "Documents"}]},
        "/drives/d1/root:/Shared/Exports": lambda r: {"id": "f-exports", "name": "Exports"},
        "/drives/d1/root/delta": delta})
    source = open_source("msft_sharepoint", {
        "tenant_id": "tenant-1", "site_url": "https://contoso.sharepoint.com/sites/Finance",
        "folder_path": "/Shared/Exports", "base_url": base, "authority_url": base},
        {"client_id": "app-1", "client_secret": "app-s3cr3t"})
    records, cursor = read_all(source, "drive_items")
    assert sorted((r["id"], r["path"]) for r in records) == [
        ("f-2026", "/Shared/Exports/2026"), ("i1", "/Shared/Exports/q1.xlsx"),
        ("i3", "/Shared/Exports/2026/q2.xlsx")]
    # The next run calls the link, knowing the folders under /Shared/Exports.
    assert cursor == {"delta_link": f"{base}/drives/d1/root/delta?t=3", "folder_id": "f-exports",
                      "include_subfolders": True, "folders": {"f-2026": ["f-exports", "2026"]}}
    token = next(s for s in seen if s["path"].endswith("/token"))["form"]
    assert token["scope"] == "https://graph.microsoft.com/.default"
    assert token["grant_type"] == "client_credentials"


def test_dropbox_lists_then_continues_with_the_cursor(httpserver):
    def listing(request):
        assert request.get_json() == {"path": "/Reports", "recursive": True, "limit": 2000,
                                      "include_deleted": False}
        return {"entries": [{".tag": "folder", "id": "id:d", "name": "sub"},
                            {".tag": "file", "id": "id:1", "name": "a.csv",
                             "server_modified": "2026-01-02T00:00:00Z"}],
                "cursor": "c-1", "has_more": True}

    def more(request):
        assert request.get_json() == {"cursor": "c-1"}
        return {"entries": [{".tag": "file", "id": "id:2", "name": "b.csv",
                             "server_modified": "2026-01-04T00:00:00Z"}],
                "cursor": "c-2", "has_more": False}

    seen = routes(httpserver, {"/oauth2/token": token_document,
                               "/2/files/list_folder": listing,
                               "/2/files/list_folder/continue": more})
    config, secrets = catalog_case("dropbox", httpserver, "")
    # A checkpoint of an older version (an instant): the whole listing, the files past it.
    records, cursor = read_all(open_source("dropbox", config, secrets), "files",
                               cursor="2026-01-03T00:00:00Z")
    assert [r["id"] for r in records] == ["id:2"]
    assert cursor == "c-2"  # the next run continues from it
    assert seen[0]["form"]["grant_type"] == "refresh_token"


def test_flexiroam_starlink_rydership_and_redo_read_their_lists(httpserver):
    sims = [{"iccid": f"8900{i}", "status": "active",
             "updated_at": f"2026-01-0{i}T00:00:00Z"} for i in (1, 2, 3)]

    def flexiroam_sims(request):
        assert request.headers["X-Api-Key"] == "example-api-key"
        page, limit = int(request.args["page"]), int(request.args["limit"])
        return {"data": sims[(page - 1) * limit:page * limit]}

    def starlink_lines(request):
        page = int(request.args["page"])
        return {"content": {"results": [{"serviceLineNumber": f"SL-{page}"}],
                            "isLastPage": page == 1}, "errors": []}

    def rydership_orders(request):
        assert request.headers["X-Customer-Id"] == "4321"
        if int(request.args["page"]) > 1:
            return []
        return [{"id": 1, "updated_at": "2026-01-02T00:00:00Z"},
                {"id": 2, "updated_at": "2026-01-05T00:00:00Z"}]

    def redo_returns(request):
        if request.headers.get("X-Page-Continue") == "next-1":
            return {"returns": [{"id": "r2", "updated_at": "2026-01-06T00:00:00Z",
                                 "items": [{"id": "i2"}]}]}
        return Response(json.dumps({"returns": [{"id": "r1", "updated_at": "2026-01-01T00:00:00Z",
                                                 "items": [{"id": "i1"}]}]}),
                        headers={"X-Page-Next": "next-1"}, content_type="application/json")

    seen = routes(httpserver, {
        "/v1/partners/PARTNER-1234/sims": flexiroam_sims,
        "/token": token_document,
        "/v1/account/ACC-1234567-12345-12/service-lines": starlink_lines,
        "/orders": rydership_orders,
        "/stores/64f0c0ffee0123456789abcd/returns": redo_returns})

    def source(provider, **extra):
        config, secrets = catalog_case(provider, httpserver, "")
        return open_source(provider, {**config, **extra}, secrets)

    records, cursor = read_all(source("flexiroam", page_size=2), "sims",
                               cursor="2026-01-01T00:00:00Z")
    assert [r["iccid"] for r in records] == ["89002", "89003"]
    assert cursor == "2026-01-03T00:00:00Z"
    assert [s["args"]["updated_from"] for s in seen if "sims" in s["path"]] == \
        [["2026-01-01T00:00:00Z"]] * 2
    records, _ = read_all(source("starlink", token_url=httpserver.url_for("/token")),
                          "service_lines")
    assert [r["serviceLineNumber"] for r in records] == ["SL-0", "SL-1"]
    records, cursor = read_all(source("rydership"), "orders", cursor="2026-01-03T00:00:00Z")
    assert [r["id"] for r in records] == [2] and cursor == "2026-01-05T00:00:00Z"
    search = next(s for s in seen if s["path"] == "/orders")["args"]["search"][0]
    assert json.loads(search) == {"updated_at_gt": "2026-01-03T00:00:00Z"}
    records, cursor = read_all(source("redo"), "returns", cursor="2026-01-02T00:00:00Z")
    assert [r["id"] for r in records] == ["r2"] and cursor == "2026-01-06T00:00:00Z"
    records, _ = read_all(source("redo"), "return_items")
    assert records == [{"id": "i1", "return_id": "r1"}, {"id": "i2", "return_id": "r2"}]
    assert next(s for s in seen if "returns" in s["path"])["headers"]["X-Page-Size"] == "100"


def test_urls_from_secrets_or_answers_are_guarded_too(httpserver, private_key_pem):
    """A key file's token_uri (a secret, so not validated with the config) may not point at
    the service's own network."""
    config, secrets = catalog_case("google_drive", httpserver, private_key_pem)
    key = json.loads(secrets["service_account_json"])
    key["token_uri"] = "http://10.11.12.13/token"
    del config["token_url"]  # the default: the key's own token_uri is used
    source = open_source("google_drive", config, {"service_account_json": json.dumps(key)})
    with pytest.raises(CheckFailed, match="private or internal address"):
        source.check()

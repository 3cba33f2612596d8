"""SharePoint (Microsoft Graph) end to end through the API against a fake of Graph and its
Microsoft identity platform token endpoint: client credentials with scope
``https://graph.microsoft.com/.default`` at ``{authority}/{tenant}/oauth2/v2.0/token`` (a
wrong secret gets AADSTS ``invalid_client``), the site resolved by path, the library by
name, then the drive root's delta paged by ``$top`` and ``@odata.nextLink``.

Graph's delta is the only change feed SharePoint has; the connector reads it from the start
each run (asserted: no skip token on the second run's first request) and keeps the items
modified past the checkpoint."""

from urllib.parse import urlencode

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

SECRETS = {"client_id": "app-0001", "client_secret": "graph-s3cr3t-0001"}
TENANT = "11111111-2222-3333-4444-555555555555"
DELTA = "/drives/d1/root/delta"


class FakeGraph(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.items = [{"id": "root", "name": "root", "root": {}, "parentReference": {}}] + [
            {"id": f"i{i}", "name": f"q{i}.xlsx", "eTag": f"v1-{i}",
             "lastModifiedDateTime": f"2026-01-0{i}T00:00:00Z",
             "parentReference": {"path": "/drive/root:/Shared/Exports"}} for i in range(1, 5)]
        server.expect_request(f"/{TENANT}/oauth2/v2.0/token", method="POST") \
            .respond_with_handler(self.token)
        server.expect_request("/sites/contoso.sharepoint.com:/sites/Finance") \
            .respond_with_handler(self.site)
        server.expect_request("/sites/site-1/drives").respond_with_handler(self.drives)
        server.expect_request(DELTA).respond_with_handler(self.delta)

    def token(self, request):
        return self.form_grant(request, {
            "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default",
            **SECRETS}, as_json({"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided."}, 401))

    def denied(self, request):
        return self.bearer_refused(request, as_json({"error": {
            "code": "InvalidAuthenticationToken", "message": "Access token is empty."}}, 401))

    def site(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"id": "site-1", "name": "Finance"})

    def drives(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"value": [{"id": "d0", "name": "Archive"},
                                                          {"id": "d1", "name": "Documents"}]})

    def delta(self, request):
        entry = self.seen(request)
        if (answer := self.throttled()) is not None:
            return answer
        if (answer := self.denied(request)) is not None:
            return answer
        top = int(entry["args"]["$top"])
        offset = int(entry["args"].get("$skiptoken", 0))
        document = {"value": self.items[offset:offset + top]}
        base = self.server.url_for(DELTA)
        if offset + top < len(self.items):
            document["@odata.nextLink"] = f"{base}?" + urlencode(
                {"$top": top, "$skiptoken": offset + top})
        else:
            document["@odata.deltaLink"] = f"{base}?token=latest"
        return as_json(document)


def test_msft_sharepoint_end_to_end(api, httpserver, run_job):
    fake = FakeGraph(httpserver)
    base = httpserver.url_for("/").rstrip("/")
    config = {"tenant_id": TENANT, "site_url": "https://contoso.sharepoint.com/sites/Finance",
              "folder_path": "/Shared/Exports", "page_size": 2, "base_url": base,
              "authority_url": base}
    connection = connect(api, "msft_sharepoint", config, SECRETS,
                         {**SECRETS, "client_secret": "wrong"},
                         "Microsoft Graph rejected the OAuth credentials (401: invalid_client")
    sync = create_sync(api, connection, ["drive_items"])
    run = throttled_run(api, run_job, fake, sync, DELTA)
    pages = fake.data_requests(DELTA)[1:]
    assert [p["args"].get("$skiptoken") for p in pages] == [None, "2", "4"]
    assert all(p["args"]["$top"] == "2" for p in pages)
    assert run.summary["entities"]["drive_items"]["rows_written"] == 4  # the root is skipped
    assert table_rows(sync, "drive_items", ["id", "etag", "path"]) == [
        (f"i{i}", f"v1-{i}", f"/Shared/Exports/q{i}.xlsx") for i in range(1, 5)]

    fake.items[2].update(eTag="v2-2", lastModifiedDateTime="2026-01-06T00:00:00Z")
    fake.items.append({"id": "i5", "name": "q5.xlsx", "eTag": "v1-5",
                       "lastModifiedDateTime": "2026-01-07T00:00:00Z",
                       "parentReference": {"path": "/drive/root:/Shared/Exports"}})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert "$skiptoken" not in fake.data_requests(DELTA)[0]["args"]
    assert run.summary["entities"]["drive_items"]["rows_written"] == 2
    assert table_rows(sync, "drive_items", ["id", "etag"]) == [
        ("i1", "v1-1"), ("i2", "v2-2"), ("i3", "v1-3"), ("i4", "v1-4"), ("i5", "v1-5")]

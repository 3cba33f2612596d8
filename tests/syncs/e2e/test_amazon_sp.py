"""Amazon SP-API end to end through the API against a fake of Login with Amazon and Orders v0.

The fake's LWA token endpoint takes the ``refresh_token`` grant with the app's client id and
secret (a wrong refresh token gets ``invalid_grant``); its access tokens go in
``x-amz-access-token`` (others get SP-API's 403 ``Unauthorized``). ``getOrders`` needs
``MarketplaceIds``, filters on ``LastUpdatedAfter`` (inclusive), pages with
``MaxResultsPerPage`` and ``payload.NextToken``."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json, instant

SECRETS = {"lwa_client_id": "amzn1.application-oa2-client.0001",
           "lwa_client_secret": "lwa-s3cr3t-0001", "refresh_token": "Atzr|s3cr3t-0001"}
ORDERS = "/orders/v0/orders"


class FakeAmazonSp(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.orders = [{"AmazonOrderId": f"111-000000{i}", "OrderStatus": "Shipped",
                        "LastUpdateDate": f"2026-01-0{i}T00:00:00Z"} for i in range(1, 6)]
        self.next_tokens: dict[str, list] = {}
        server.expect_request("/auth/o2/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/sellers/v1/marketplaceParticipations") \
            .respond_with_handler(self.participations)
        server.expect_request(ORDERS).respond_with_handler(self.get_orders)

    def token(self, request):
        return self.form_grant(request, {
            "grant_type": "refresh_token", "refresh_token": SECRETS["refresh_token"],
            "client_id": SECRETS["lwa_client_id"],
            "client_secret": SECRETS["lwa_client_secret"]}, as_json({
                "error_description": "The request has an invalid grant parameter : "
                                     "refresh_token", "error": "invalid_grant"}, 400))

    def denied(self, request):
        if request.headers.get("x-amz-access-token") in self.tokens:
            return None
        return as_json({"errors": [{"code": "Unauthorized", "message": "Access to requested "
                                    "resource is denied."}]}, 403)

    def participations(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"payload": [
            {"marketplace": {"id": "ATVPDKIKX0DER"}, "participation": {"isParticipating": True}}]})

    def get_orders(self, request):
        entry, answer = self.data_request(request, self.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        if args.get("MarketplaceIds") != "ATVPDKIKX0DER":
            return as_json({"errors": [{"code": "InvalidInput",
                                        "message": "MarketplaceIds is required"}]}, 400)
        if args.get("NextToken"):
            rows = self.next_tokens.pop(args["NextToken"])
        else:
            since = instant(args["LastUpdatedAfter"])
            rows = sorted((o for o in self.orders if instant(o["LastUpdateDate"]) >= since),
                          key=lambda o: o["AmazonOrderId"])
        size = int(args.get("MaxResultsPerPage", 100))
        payload = {"Orders": rows[:size]}
        if rows[size:]:
            token = f"next-{len(self.next_tokens) + len(self.requests)}"
            self.next_tokens[token] = rows[size:]
            payload["NextToken"] = token
        return as_json({"payload": payload})


def test_amazon_sp_end_to_end(api, httpserver, run_job):
    fake = FakeAmazonSp(httpserver)
    config = {"region": "na", "marketplace_ids": ["ATVPDKIKX0DER"], "page_size": 2,
              "base_url": httpserver.url_for("/"),
              "token_url": httpserver.url_for("/auth/o2/token")}
    connection = connect(api, "amazon_sp", config, SECRETS,
                         {**SECRETS, "refresh_token": "Atzr|wrong"},
                         "Amazon SP-API rejected the OAuth credentials (400: invalid_grant")
    sync = create_sync(api, connection, ["orders"])
    run = throttled_run(api, run_job, fake, sync, ORDERS)
    pages = fake.data_requests(ORDERS)[1:]
    assert len(pages) == 3 and pages[0]["args"]["MaxResultsPerPage"] == "2"
    assert pages[0]["args"]["LastUpdatedAfter"] == "2010-01-01T00:00:00Z"
    assert all(p["args"].get("NextToken") for p in pages[1:])
    assert run.summary["entities"]["orders"]["rows_written"] == 5
    assert table_rows(sync, "orders", ["amazonorderid", "orderstatus"],
                      order="amazonorderid") == [(f"111-000000{i}", "Shipped")
                                                 for i in range(1, 6)]

    fake.orders[0].update(OrderStatus="Canceled", LastUpdateDate="2026-01-07T00:00:00Z")
    fake.orders.append({"AmazonOrderId": "111-0000006", "OrderStatus": "Pending",
                        "LastUpdateDate": "2026-01-08T00:00:00Z"})
    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert fake.data_requests(ORDERS)[0]["args"]["LastUpdatedAfter"] == "2026-01-05T00:00:00Z"
    assert table_rows(sync, "orders", ["amazonorderid", "orderstatus"],
                      order="amazonorderid") == [
        ("111-0000001", "Canceled"), *[(f"111-000000{i}", "Shipped") for i in range(2, 6)],
        ("111-0000006", "Pending")]

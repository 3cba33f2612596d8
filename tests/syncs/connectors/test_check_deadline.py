"""Every connection check answers within SYNCS_CHECK_SECONDS, whatever its source: against a
server on 127.0.0.1 that accepts the connection and never says a word, each source's check
fails within the budget (and a little: drivers with whole-second timeouts round up), saying
the source did not answer in time. Runs keep their own, longer timeouts."""

from __future__ import annotations

import time

import pytest

from syncs.connectors import CheckDeadline, CheckFailed, CheckTimedOut, open_source
from tests.conftest import body
from tests.syncs.fakes.tcp import TcpFake

pytestmark = pytest.mark.timeout(60)

BUDGET = 1.0
SLACK = 1.5  # libpq's 2 s minimum connect_timeout, whole-second driver timeouts
PASSWORD = "pw-Silent-77-never-shown"


class SilentServer(TcpFake):
    """Accepts every connection (the kernel's backlog would too) and never answers."""

    def __init__(self) -> None:
        self.connections = 0
        super().__init__()

    def handle(self, client) -> None:
        self.connections += 1
        self.stopped.wait(30)


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def budget(settings):
    settings.SYNCS_CHECK_SECONDS = BUDGET
    return BUDGET


def configs(port: int) -> dict[str, tuple[dict, dict]]:
    """(config, secrets) of each source kind at ``port``, with their own timeouts long."""
    return {
        "postgres": ({"host": "127.0.0.1", "port": port, "database": "app",
                      "username": "reader", "statement_timeout_seconds": 60},
                     {"password": PASSWORD}),
        "sqlserver": ({"host": "127.0.0.1", "port": port, "database": "erp",
                       "username": "reader", "encrypt": False}, {"password": PASSWORD}),
        "mlflow": ({"tracking_uri": f"http://127.0.0.1:{port}/", "timeout_seconds": 60},
                   {"token": PASSWORD}),
        "s3": ({"bucket": "exports", "endpoint_url": f"http://127.0.0.1:{port}",
                "force_path_style": True},
               {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": PASSWORD}),
        "sftp": ({"host": "127.0.0.1", "port": port, "username": "loader", "root_path": "/",
                  "timeout_seconds": 60}, {"password": PASSWORD}),
        "http_api": ({"base_url": f"http://127.0.0.1:{port}/", "timeout_seconds": 60,
                      "auth": {"type": "bearer"},
                      "streams": [{"name": "things", "path": "/things"}]},
                     {"token": PASSWORD}),
    }


@pytest.mark.parametrize("provider", ["postgres", "sqlserver", "mlflow", "s3", "sftp",
                                      "http_api"])
def test_a_silent_server_fails_the_check_within_its_budget(provider, silent, budget):
    config, secrets = configs(silent.port)[provider]
    source = open_source(provider, config, secrets)
    started = time.monotonic()
    with pytest.raises(CheckTimedOut) as failure:
        source.check()
    took = time.monotonic() - started
    message = str(failure.value)
    assert budget * 0.9 <= took < budget + SLACK, (took, message)
    assert f"did not answer within {budget:g} s" in message, message
    assert PASSWORD not in message
    assert silent.connections >= 1  # it was reached, and said nothing


def test_the_deadline_handed_down_is_the_one_used(silent, settings):
    """A check given a deadline uses what is left of it, not a new budget."""
    settings.SYNCS_CHECK_SECONDS = 30.0
    config, secrets = configs(silent.port)["mlflow"]
    deadline = CheckDeadline.start(BUDGET)
    started = time.monotonic()
    with pytest.raises(CheckTimedOut, match="did not answer within 1 s"):
        open_source("mlflow", config, secrets).check(deadline)
    assert time.monotonic() - started < BUDGET + SLACK
    # Nothing left: the check fails at once, without connecting.
    before = silent.connections
    with pytest.raises(CheckTimedOut):
        open_source("mlflow", config, secrets).check(CheckDeadline.start(0))
    assert silent.connections == before


def test_runs_keep_their_own_timeouts(silent, budget):
    """Reading is not bound by the check's budget: a run waits as long as its source's
    configured timeout."""
    config, secrets = configs(silent.port)["mlflow"]
    source = open_source("mlflow", {**config, "timeout_seconds": 2.5, "max_retries": 0}, secrets)
    started = time.monotonic()
    with pytest.raises(Exception, match="(?i)timeout|timed out"):  # noqa: PT011 - httpx's
        list(source.read("experiments"))
    assert time.monotonic() - started >= 2.4


def test_the_deadline_arithmetic():
    deadline = CheckDeadline.start(5)
    assert 4.9 < deadline.left() <= 5 and not deadline.expired()
    assert deadline.timeout(2) == 2 and 4.9 < deadline.timeout() <= 5
    assert deadline.whole_seconds() == 5 and deadline.whole_seconds(2.2) == 3
    assert deadline.whole_seconds(0.1, minimum=2) == 2
    spent = CheckDeadline.start(0)
    assert spent.expired() and spent.left() == 0
    with pytest.raises(CheckTimedOut, match="^X did not answer within 0 s"):
        spent.timeout(what="X")
    error = CheckDeadline(seconds=8, at=0).exceeded("PostgreSQL at h:5432", "timeout expired.")
    assert isinstance(error, CheckFailed)
    assert str(error) == ("PostgreSQL at h:5432 did not answer within 8 s, the time a "
                          "connection check may take: timeout expired.")


def test_the_check_endpoint_answers_within_the_budget(api, silent, budget):
    """POST .../check of a PostgreSQL connection whose server never answers: 200, a failed
    check saying so, within the budget."""
    config, secrets = configs(silent.port)["postgres"]
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "postgres", "name": "silent", "config": config, "secrets": secrets})
    assert response.status_code == 201, response.content
    started = time.monotonic()
    checked = api.post(f"/api/v1/connections/{body(response)['data']['id']}/check")
    took = time.monotonic() - started
    assert checked.status_code == 200, checked.content
    attributes = body(checked)["data"]["attributes"]
    assert attributes["last_check_status"] == "failed"
    assert "did not answer within 1 s" in attributes["last_check_error"]
    assert PASSWORD.encode() not in checked.content
    assert took < budget + SLACK, took

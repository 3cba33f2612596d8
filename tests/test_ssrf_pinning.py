"""Outbound connections go to the address that passed the SSRF guard: a name resolved once per
connection, every address checked, the socket connected to a checked address, TLS (SNI and
certificate) and the Host header still the URL's host name. DNS rebinding between the check
and the connection cannot reach the service's own network."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading

import httpx
import orjson
import pytest

from syncs.connectors import CheckFailed, open_source
from syncs.connectors.http_api import HttpApiSource, SourceError
from syncservice import netguard, outbound
from syncservice.jsonapi import MEDIA_TYPE
from tests.conftest import error_of

PUBLIC = "93.184.216.34"


class Resolver:
    """A stand-in for the system resolver: names of ``answers`` resolve to the next address
    of their list (the last one repeats); others resolve as usual. Records every lookup."""

    def __init__(self, monkeypatch, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(values) for name, values in answers.items()}
        self.lookups: list[tuple[str, str]] = []
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            values = self.answers[host]
            address = values.pop(0) if len(values) > 1 else values[0]
            self.lookups.append((host, address))
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                     (address, int(port or 0)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket connects to."""
    seen: list[tuple] = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    return settings


def _source(base_url: str) -> HttpApiSource:
    return HttpApiSource({"base_url": base_url, "max_retries": 0,
                          "streams": [{"name": "orders", "path": "/orders"}]}, {})


def test_rebinding_between_check_and_connection_never_reaches_the_second_address(
        guarded, monkeypatch, httpserver, connects):
    httpserver.expect_request("/orders").respond_with_json({"data": []})
    resolver = Resolver(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    source = _source(f"http://rebind.test:{httpserver.port}/")
    with pytest.raises(SourceError, match="127.0.0.1, a private or internal address"):
        source.get(source.url("/orders"))
    # The guard saw the public address; the connection's own lookup answered 127.0.0.1 and
    # was refused before any socket was opened.
    assert resolver.lookups == [("rebind.test", PUBLIC), ("rebind.test", "127.0.0.1")]
    assert connects == []
    assert httpserver.log == []


def test_without_pinning_the_same_rebinding_reaches_the_internal_address(
        guarded, monkeypatch, httpserver):
    """What the pinning prevents: the check passes, a plain client resolves again and calls
    the internal server (this test fails if the scenario stops being a real attack)."""
    httpserver.expect_request("/orders").respond_with_json({"data": []})
    Resolver(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    url = f"http://rebind.test:{httpserver.port}/orders"
    netguard.check_url(url)
    with httpx.Client(trust_env=False) as plain:
        assert plain.get(url).status_code == 200
    assert len(httpserver.log) == 1


def test_a_connection_uses_the_checked_address_and_keeps_the_host_header(
        guarded, monkeypatch, httpserver, connects):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/orders").respond_with_json({"data": [{"id": 1}]})
    resolver = Resolver(monkeypatch, {"api.test": ["127.0.0.1"]})
    source = _source(f"http://api.test:{httpserver.port}/")
    for _ in range(3):
        assert source.get(source.url("/orders")).json() == {"data": [{"id": 1}]}
    request = httpserver.log[0][0]
    assert request.headers["Host"] == f"api.test:{httpserver.port}"
    # The guard's lookup (once per host), then one per connection: each socket connected to
    # the address its own lookup checked, never to the name.
    assert connects and set(connects) == {("127.0.0.1", httpserver.port)}
    assert len(resolver.lookups) == 1 + len(connects)


def test_an_internal_address_literal_is_refused_at_connect_time(guarded, connects):
    with outbound.client(timeout=2) as client, \
            pytest.raises(httpx.ConnectError, match="private or internal"):
        client.get("http://10.0.0.1/")
    assert connects == []


def test_an_unresolvable_host_is_a_connect_error(guarded, monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with outbound.client(timeout=2) as client, \
            pytest.raises(httpx.ConnectError, match="Cannot resolve nowhere.test"):
        client.get("http://nowhere.test/")


def test_allowed_hosts_are_pinned_too(settings, monkeypatch, httpserver, connects):
    settings.OUTBOUND_ALLOWED_HOSTS = ["trusted.test"]
    httpserver.expect_request("/x").respond_with_data("ok")
    Resolver(monkeypatch, {"trusted.test": ["127.0.0.1"]})
    with outbound.client(timeout=5) as client:
        assert client.get(f"http://trusted.test:{httpserver.port}/x").text == "ok"
    assert set(connects) == {("127.0.0.1", httpserver.port)}


# --- TLS: SNI and the certificate are the URL's host name's ---------------------------------

def _certificate(tmp_path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate for ``secure.test``; records the SNI
    names and Host headers it receives."""
    cert_file, key_file = _certificate(tmp_path, "secure.test")
    seen = {"sni": [], "host": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen["host"].append(self.headers["Host"])
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert_file, seen
    server.shutdown()
    server.server_close()


def test_tls_verifies_and_names_the_url_host_while_connecting_to_the_checked_address(
        guarded, monkeypatch, tls_server, connects):
    port, cert_file, seen = tls_server
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    Resolver(monkeypatch, {"secure.test": ["127.0.0.1"]})
    verify = ssl.create_default_context(cafile=str(cert_file))
    with outbound.client(timeout=5, verify=verify) as client:
        assert client.get(f"https://secure.test:{port}/orders").json() == {"data": []}
        # The same address by IP: the certificate does not name it, verification fails.
        with pytest.raises(httpx.ConnectError, match="certificate|hostname|IP address"):
            client.get(f"https://127.0.0.1:{port}/orders")
    assert seen["sni"][0] == "secure.test"
    assert seen["host"] == [f"secure.test:{port}"]
    assert connects[0] == ("127.0.0.1", port)


# --- SFTP and S3: the same guard, the same pinning ------------------------------------------

SFTP_SECRETS = {"password": "sftp-pw-Mx91"}
S3_SECRETS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
              "aws_secret_access_key": "s3-secret-Qw82"}


def _post_connection(api, provider: str, config: dict, secrets: dict):
    body = {"data": {"type": "connections", "attributes": {
        "provider": provider, "name": f"{provider} guarded", "config": config,
        "secrets": secrets}}}
    return api.post("/api/v1/connections", data=orjson.dumps(body), content_type=MEDIA_TYPE)


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "fd00::1"])
@pytest.mark.parametrize("provider,config,secrets,pointer", [
    ("http_api", {"base_url": "http://internal.test/"}, {}, "/data/attributes/config/base_url"),
    ("s3", {"bucket": "guarded", "endpoint_url": "http://internal.test/"}, S3_SECRETS,
     "/data/attributes/config/endpoint_url"),
    ("sftp", {"host": "internal.test", "username": "loader"}, SFTP_SECRETS,
     "/data/attributes/config/host"),
    ("google_drive", {"folder_id": "root", "token_url": "http://internal.test/token"},
     {"client_id": "cid", "client_secret": "cs", "refresh_token": "rt"},
     "/data/attributes/config/token_url"),
])
def test_a_host_resolving_to_an_internal_address_is_a_422_like_for_http(
        api, guarded, monkeypatch, address, provider, config, secrets, pointer):
    Resolver(monkeypatch, {"internal.test": [address]})
    error = error_of(_post_connection(api, provider, config, secrets), 422)
    assert error["source"] == {"pointer": pointer}
    assert error["detail"].startswith(f"internal.test resolves to {address}, a private or "
                                      "internal address")


@pytest.mark.parametrize("host", ["169.254.169.254", "10.1.2.3"])
def test_an_internal_sftp_address_literal_is_a_422_and_refused_when_the_source_opens(
        api, guarded, host):
    error = error_of(_post_connection(api, "sftp", {"host": host, "username": "loader"},
                                      SFTP_SECRETS), 422)
    assert error["source"] == {"pointer": "/data/attributes/config/host"}
    with pytest.raises(CheckFailed, match=f"{host} resolves to {host}, a private or internal"):
        open_source("sftp", {"host": host, "username": "loader"}, SFTP_SECRETS)


@pytest.fixture
def sftp_server():
    from tests.syncs.connectors.test_files import SftpServer

    server = SftpServer(SFTP_SECRETS["password"])
    yield server
    server.stop()


def _sftp_config(host: str, server) -> dict:
    return {"host": host, "port": server.port, "username": "loader", "root_path": "/",
            "host_key": server.host_key_line, "timeout_seconds": 5}


def test_sftp_rebinding_between_check_and_connection_never_reaches_the_second_address(
        guarded, monkeypatch, sftp_server, connects):
    resolver = Resolver(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    source = open_source("sftp", _sftp_config("rebind.test", sftp_server), SFTP_SECRETS)
    with pytest.raises(CheckFailed, match="127.0.0.1, a private or internal address"):
        source.check()
    # The guard saw the public address when the source opened; the connection's own lookup
    # answered 127.0.0.1 and was refused before any socket was opened.
    assert resolver.lookups == [("rebind.test", PUBLIC), ("rebind.test", "127.0.0.1")]
    assert connects == []
    assert sftp_server.transports == []


def test_sftp_connects_to_the_checked_address_and_checks_the_host_key_of_the_name(
        guarded, monkeypatch, sftp_server, connects, tmp_path):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    resolver = Resolver(monkeypatch, {"files.test": ["127.0.0.1"]})
    open_source("sftp", {**_sftp_config("files.test", sftp_server), "root_path": str(tmp_path)},
                SFTP_SECRETS).check()
    assert connects == [("127.0.0.1", sftp_server.port)]
    # One lookup when the source opened (the guard), one for the connection (pinned).
    assert resolver.lookups == [("files.test", "127.0.0.1")] * 2
    assert len(sftp_server.transports) == 1


def test_s3_rebinding_between_check_and_connection_never_reaches_the_second_address(
        guarded, monkeypatch, httpserver):
    httpserver.expect_request("/bucket").respond_with_data("")
    resolver = Resolver(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    source = open_source("s3", {"bucket": "bucket", "force_path_style": True,
                                "endpoint_url": f"http://rebind.test:{httpserver.port}"},
                         S3_SECRETS)
    with pytest.raises(CheckFailed, match="127.0.0.1, a private or internal address"):
        source.check()
    assert resolver.lookups[:2] == [("rebind.test", PUBLIC), ("rebind.test", "127.0.0.1")]
    assert {address for _, address in resolver.lookups[1:]} == {"127.0.0.1"}
    assert httpserver.log == []


def test_s3_endpoint_is_reached_at_the_checked_address_with_its_host_name(
        guarded, monkeypatch, httpserver):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/bucket").respond_with_data(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code>'
        "<Message>none</Message></Error>", status=404, content_type="application/xml")
    resolver = Resolver(monkeypatch, {"store.test": ["127.0.0.1"]})
    source = open_source("s3", {"bucket": "bucket", "force_path_style": True,
                                "endpoint_url": f"http://store.test:{httpserver.port}"},
                         S3_SECRETS)
    with pytest.raises(CheckFailed, match="no such bucket"):
        source.check()
    request = httpserver.log[0][0]
    assert request.headers["Host"] == f"store.test:{httpserver.port}"
    assert len(resolver.lookups) >= 2 and {a for _, a in resolver.lookups} == {"127.0.0.1"}


# --- PostgreSQL sources: libpq connects to the checked addresses (hostaddr) -------------------

def _pg_config(host: str) -> dict:
    return {"host": host, "port": 5432, "database": "postgres", "username": "postgres",
            "sslmode": "disable"}


def test_postgres_connects_to_the_checked_address_of_a_name_libpq_cannot_resolve(
        guarded, monkeypatch):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # "pg.test" resolves only through the guard's lookup (this process's resolver): libpq
    # reaches the server only if it connects to the checked address instead of the name.
    resolver = Resolver(monkeypatch, {"pg.test": ["127.0.0.1"]})
    open_source("postgres", _pg_config("pg.test"), {}).check()
    # One lookup when the source opened, one for the connection (then pinned).
    assert resolver.lookups == [("pg.test", "127.0.0.1")] * 2


def test_postgres_rebinding_between_check_and_connection_is_refused(guarded, monkeypatch):
    resolver = Resolver(monkeypatch, {"pg.rebind.test": [PUBLIC, "127.0.0.1"]})
    source = open_source("postgres", _pg_config("pg.rebind.test"), {})
    with pytest.raises(CheckFailed, match="127.0.0.1, a private or internal address"):
        source.check()
    assert resolver.lookups == [("pg.rebind.test", PUBLIC), ("pg.rebind.test", "127.0.0.1")]

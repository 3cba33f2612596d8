"""The http_api engine's choices, measured (issue 17, the composable HTTP engine).

    .venv/bin/python benchmarks/http_engine.py                      # ~1 min here
    .venv/bin/python benchmarks/http_engine.py --record benchmarks/http_engine.md

1. OAuth 1 signing: correctness against RFC 5849's worked example (section 1.2, HMAC-SHA1)
   and agreement on 2,000 random requests (HMAC-SHA256, query strings with spaces, unicode,
   reserved characters) between the shipped signer (authlib's RFC 5849 base string and header)
   and the former hand-written one (``--baseline`` commit's ``syncs/connectors/http_api.py``);
   then the cost of one ``Authorization`` header, each best of 5 rounds of 20,000.
2. Retries: a request signed with OAuth 1 and answered 503 then 200, sent through httpx-retries'
   ``RetryTransport`` and through the shipped loop: how many distinct nonces the server sees.
3. Reading: the engine reads pages of 1,000 records (~250 bytes: a nested object, a list, an
   ``updated_at`` cursor) served pre-rendered by a local server in another process, with the
   shipped engine and the ``--baseline`` engine alternately in the same run, as two stream
   shapes: plain (cursor asc) and flatten + client filter. Reported: records/s and CPU µs per
   record of the reading process (fetch, parse, select, shape, cursor), best of 3.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncservice.settings")
os.environ.setdefault("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import orjson  # noqa: E402
from _machine import machine  # noqa: E402

from syncs.connectors.http_api import HttpApiSource, OAuth1  # noqa: E402

RFC_URL = "http://photos.example.net/photos?file=vacation.jpg&size=original"
RFC_SIGNATURE = "tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"


def load_baseline(commit: str):
    """The former single-module engine, imported from git under another name."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:syncs/connectors/"
                           "http_api.py"], check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_http_api.py"
    path.write_text(text.replace('@register_source("http_api")', ""))
    spec = importlib.util.spec_from_file_location("baseline_http_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(rounds: int, fn) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


# --- 1. OAuth 1 -------------------------------------------------------------------------------
def oauth1(baseline) -> list[str]:
    from authlib.oauth1 import ClientAuth

    rfc = ("dpf43f3p2l4k3l03", "kd94hf93k423kf44", "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00")
    ours = OAuth1(*rfc, realm="Photos", signature_method="HMAC-SHA1")
    old = baseline.OAuth1(*rfc, realm="Photos", signature_method="HMAC-SHA1")
    fixed = {"timestamp": 1191242096, "nonce": "kllo9940pd9333jh"}
    lines = ["| signer | RFC 5849 §1.2 example |", "|---|---|"]
    for name, signer in (("shipped (authlib base string + header)", ours),
                         ("former hand-written", old)):
        ok = f'oauth_signature="{RFC_SIGNATURE}"' in signer.header("GET", RFC_URL, **fixed)
        lines.append(f"| {name} | {'passes' if ok else 'FAILS'} |")
    rng = random.Random(17)
    alphabet = "abcXYZ019 -._~!*'();:@&=+$,/?#[]%éü€"
    agree = {"": 0, ":443": 0}
    for _ in range(2000):
        pairs = "&".join(f"{quote(''.join(rng.choices(alphabet, k=5)))}="
                         f"{quote(''.join(rng.choices(alphabet, k=rng.randint(0, 12))))}"
                         for _ in range(rng.randint(0, 4)))
        keys = ["".join(rng.choices(alphabet, k=16)) for _ in range(4)]
        for port in agree:
            url = f"https://ACCT.suitetalk.api.netsuite.com{port}/services/rest/v1/x?{pairs}"
            a = OAuth1(*keys, realm="123_SB1").header("POST", url, **fixed)
            b = baseline.OAuth1(*keys, realm="123_SB1").header("POST", url, **fixed)
            agree[port] += a == b
    lines.append(f"\nHMAC-SHA256 headers of 2,000 random requests (keys and query strings with "
                 f"spaces, '%', reserved and non-ASCII characters) identical: {agree['']} of "
                 f"2000; with the default port written out (`:443`): {agree[':443']} of 2000 "
                 f"(RFC 5849 §3.4.1.2 leaves a default port out of the base string; the former "
                 f"signer kept it).")
    n = 20000
    authlib_client = ClientAuth(rfc[0], rfc[1], rfc[2], rfc[3], realm="Photos")
    url = "https://api.example.com/services/rest/record/v1/customer?limit=1000&offset=2000"
    costs = {
        "shipped (HMAC-SHA256)": best_of(5, lambda: [
            OAuth1(*rfc).header("GET", url) for _ in range(n)]),
        "former hand-written (HMAC-SHA256)": best_of(5, lambda: [
            baseline.OAuth1(*rfc).header("GET", url) for _ in range(n)]),
        "authlib ClientAuth.sign (HMAC-SHA1, for reference)": best_of(5, lambda: [
            authlib_client.sign("GET", url, {}, b"") for _ in range(n)]),
    }
    lines += ["", "| signer | µs per Authorization header |", "|---|---|"]
    lines += [f"| {name} | {seconds / n * 1e6:.1f} |" for name, seconds in costs.items()]
    return lines


# --- 2. retries and signatures -----------------------------------------------------------------
class _JsonHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {**(headers or {}), "Content-Type": "application/json",
                            "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Flaky(_JsonHandler):
    """503 (Retry-After: 0) to every other request; records the OAuth 1 nonces."""

    nonces: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        header = self.headers.get("Authorization", "")
        self.nonces.append(header.split('oauth_nonce="')[1].split('"')[0])
        first = len(self.nonces) % 2 == 1
        self.answer(503 if first else 200, b'{"data": []}', {"Retry-After": "0"})


def retries() -> list[str]:
    from httpx_retries import Retry, RetryTransport

    from syncservice import outbound

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    keys = ("ck", "cs", "tok", "ts")
    _Flaky.nonces = []
    transport = RetryTransport(transport=outbound.PinnedTransport(), retry=Retry(total=2))
    with httpx.Client(transport=transport, auth=OAuth1(*keys)) as client:
        client.get(base + "things")
    via_transport = list(_Flaky.nonces)
    _Flaky.nonces = []
    source = HttpApiSource({"base_url": base, "auth": {"type": "oauth1"}, "streams": [
        {"name": "things", "path": "/things", "record_selector": "data"}]},
        dict(zip(("consumer_key", "consumer_secret", "token_id", "token_secret"), keys,
                 strict=True)))
    list(source.read("things"))
    via_loop = list(_Flaky.nonces)
    server.shutdown()
    return ["| retry layer | requests | distinct nonces |", "|---|---|---|",
            f"| httpx-retries RetryTransport | {len(via_transport)} | "
            f"{len(set(via_transport))} |",
            f"| shipped loop (httpx-retries policy, above the auth flow) | {len(via_loop)} | "
            f"{len(set(via_loop))} |"]


# --- 3. reading -----------------------------------------------------------------------------
def _stamp(n: int) -> str:
    """Increasing UTC timestamps, one second apart."""
    day, rest = divmod(n, 86400)
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{rest // 3600:02d}:" \
        f"{rest // 60 % 60:02d}:{rest % 60:02d}Z"


def _pages(count: int, size: int) -> list[bytes]:
    pages = []
    for page in range(count):
        records = [{"id": page * size + i, "updated_at": _stamp(page * size + i),
                    "status": "paid", "amount": 12.5 + i, "currency": "EUR",
                    "attributes": {"name": f"customer {i}", "email": f"c{i}@example.com",
                                   "tier": "gold"},
                    "tags": ["a", "b", str(i % 7)], "note": None if i % 4 else "gift"}
                   for i in range(size)]
        pages.append(orjson.dumps({"data": records, "meta": {"more": page < count - 1}}))
    return pages


def _serve(port_queue, count: int, size: int) -> None:
    pages = _pages(count, size)

    class Pages(_JsonHandler):
        def do_GET(self):  # noqa: N802
            page = int(self.path.split("page=")[1].split("&")[0]) if "page=" in self.path else 1
            self.answer(200, pages[(page - 1) % len(pages)])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    port_queue.put(server.server_address[1])
    server.serve_forever()


STREAMS = {
    "plain": {"cursor_field": "updated_at"},
    "flatten + client filter": {"cursor_field": "updated_at", "client_filter": True,
                                "flatten": "attributes", "start_date": "2025-01-01"},
}


def reading(baseline, pages: int, size: int) -> list[str]:
    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(queue, pages, size), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{queue.get(timeout=60)}/"
    lines = ["| stream | engine | records/s | CPU µs/record | vs baseline (CPU) |",
             "|---|---|---|---|---|"]
    for shape, extra in STREAMS.items():
        config = {"base_url": base, "pagination": {
            "type": "page_number", "page_size": size, "has_more_path": "meta.more"},
            "streams": [{"name": "orders", "path": "/orders", "record_selector": "data",
                         **extra}]}
        results = {}
        for _ in range(3):
            for name, cls in (("baseline", baseline.HttpApiSource),
                              ("shipped", HttpApiSource)):
                source = cls(config, {})
                wall, cpu = time.perf_counter(), time.process_time()
                count = sum(len(b.records) for b in source.read("orders"))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert count == pages * size, count
                best = results.get(name, (float("inf"), float("inf")))
                results[name] = (min(best[0], wall), min(best[1], cpu))
        for name in ("baseline", "shipped"):
            wall, cpu = results[name]
            ratio = results["baseline"][1] / cpu
            lines.append(f"| {shape} | {name} | {pages * size / wall:,.0f} | "
                         f"{cpu / (pages * size) * 1e6:.1f} | "
                         f"{'' if name == 'baseline' else f'{ratio:.2f}x less CPU'} |")
    server.terminate()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="e406b6c",
                        help="commit of the single-module engine to compare with")
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--record", help="append the report to this markdown file")
    args = parser.parse_args()
    baseline = load_baseline(args.baseline)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    info = machine()
    report = [f"## Run of {info['date']} (commit {commit}, baseline {args.baseline})", "",
              f"Load average at start: {info['load']}; {info['cpu']}, {info['memory']}; "
              f"Python {info['python']}.", "", "### OAuth 1 signing", ""]
    report += oauth1(baseline)
    report += ["", "### Retries of a signed request (503 then 200)", ""] + retries()
    report += ["", f"### Reading {args.pages} pages of {args.page_size} records", ""]
    report += reading(baseline, args.pages, args.page_size)
    report += ["", f"Load average at the end: {machine()['load']}.", ""]
    text = "\n".join(report)
    print(text)
    if args.record:
        with open(args.record, "a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()

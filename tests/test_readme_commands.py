"""`make run` from this checkout: it installs (already done), migrates, seeds, prints a key and
the URL it serves; a real client then fetches /healthz and an authenticated list, and the
README's examples run as written (parsed from README.md, so they cannot drift), in one shell,
after the `export KEY=… URL=…` line `make run` printed."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXPORT_LINE = re.compile(r"^\s*(export KEY=\S+ URL=\S+)\s*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README, re.DOTALL | re.MULTILINE)


def example_blocks() -> list[str]:
    """The README's shell examples that talk to `make run`: every ```sh block using $URL."""
    return [block for block in sh_blocks() if "$URL" in block]


# --- what can be checked without a server ---------------------------------------------------

def test_the_readme_examples_use_the_printed_url_and_key():
    blocks = example_blocks()
    assert len(blocks) >= 4, blocks
    for block in blocks:
        assert "127.0.0.1:8000" not in block and "localhost" not in block, block
        for line in block.splitlines():
            if line.lstrip().startswith("curl ") and "/api/v1/\"" not in line:
                assert "$KEY" in line, line  # every API call authenticates
    # Every block with a curl is one the test runs.
    assert [block for block in sh_blocks() if "curl " in block] == blocks


def test_the_readme_names_the_commands_and_no_outside_paths():
    assert "../shared" not in README and "shared/" not in README.replace("shared metrics", "")
    for command in ("make run", "make test", "make test-fast"):
        assert f"{command} " in README, command
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-fast:", makefile, re.MULTILINE)
    # `make run` installs the runtime dependencies only; `make test` the test extras too.
    run_install = re.search(r"^\$\(VENV\)/\.installed:.*?\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert run_install and '".[test]"' not in run_install.group(1)
    assert re.search(r"^run: install$", makefile, re.MULTILINE)
    assert re.search(r"^test: install-test$", makefile, re.MULTILINE)


def _dry_run(tmp_path, target: str, *existing: str, edited: bool = False) -> str:
    """`make -n <target>` in a copy of the Makefile where ``existing`` markers (oldest
    first, all newer than pyproject.toml unless it was ``edited`` since) are in .venv: the
    commands it would run."""
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / ".venv").mkdir(exist_ok=True)
    when = 2_000_000 if edited else 1_000_000
    os.utime(tmp_path / "pyproject.toml", (when, when))
    for offset, marker in enumerate(existing, 1):
        (tmp_path / ".venv" / marker).touch()
        os.utime(tmp_path / ".venv" / marker, (1_000_000 + offset, 1_000_000 + offset))
    result = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


def test_make_run_installs_the_runtime_and_make_test_the_test_extras(tmp_path):
    fresh = _dry_run(tmp_path, "run")
    assert "-m venv .venv" in fresh and "pip install --quiet -e .\n" in fresh
    assert ".[test]" not in fresh
    # `make test` after `make run`: the test extras are added, the venv is kept.
    after_run = _dry_run(tmp_path, "test", ".created", ".installed")
    assert 'pip install --quiet -e ".[test]"' in after_run
    assert "-m venv" not in after_run and "pytest" in after_run
    # Then nothing more to install, for either; `make test-fast` deselects the slow tests.
    assert "pip install" not in _dry_run(tmp_path, "test", ".created", ".installed",
                                         ".installed-test")
    assert "pip install" not in _dry_run(tmp_path, "run", ".created", ".installed",
                                         ".installed-test")
    assert 'pytest -m "not slow"' in _dry_run(tmp_path, "test-fast", ".created", ".installed",
                                              ".installed-test")
    # A changed pyproject.toml redoes both installs.
    again = _dry_run(tmp_path, "test", ".created", ".installed", ".installed-test",
                     edited=True)
    assert "pip install --quiet -e .\n" in again and ".[test]" in again


def test_seed_demo_prints_the_url_it_is_given(db, capsys, settings):
    settings.DEMO_API = True
    settings.DEMO_API_BASE_URL = "http://127.0.0.1:8765"
    call_command("seed_demo", "--base-url", "http://127.0.0.1:8765/")
    out = capsys.readouterr().out
    assert ":8000" not in out
    (line,) = EXPORT_LINE.findall(out)
    assert line.endswith(" URL=http://127.0.0.1:8765")
    assert "Serving http://127.0.0.1:8765 " in out
    assert "demo-orders" in out and "http://127.0.0.1:8765/demo-api/" in out
    # Without --base-url: the URL `make run` gives the demo API.
    settings.DEMO_API_BASE_URL = "http://127.0.0.1:8766"
    call_command("seed_demo")
    assert EXPORT_LINE.findall(capsys.readouterr().out)[0].endswith("URL=http://127.0.0.1:8766")


def test_seed_demo_moves_the_demo_connection_with_the_server(db, settings):
    from syncs.models import Connection

    settings.DEMO_API = True
    for port in (8765, 8766):
        settings.DEMO_API_BASE_URL = f"http://127.0.0.1:{port}"
        call_command("seed_demo", "--quiet-key")
        connection = Connection.objects.get(name="demo-api")
        assert connection.config["base_url"] == f"http://127.0.0.1:{port}/demo-api/"


# --- `make run` itself ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """`make run PORT=<free port>` on a database of its own: (base URL, key, output lines,
    the printed export line)."""
    tmp_path = tmp_path_factory.mktemp("make-run")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "MEDIA_ROOT": str(tmp_path / "media"), "DJANGO_SETTINGS_MODULE": "syncservice.settings"}
    process = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    output: list[str] = []
    try:
        key = export = None
        deadline = time.monotonic() + 120
        while export is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            output.append(line)
            match = re.search(r"API key \(write scope, shown once\): (\S+)", line)
            key = match.group(1) if match else key
            match = EXPORT_LINE.match(line)
            export = match.group(1) if match else None
        assert key and export, "".join(output)
        # Keep reading: `make run` must never block on a full pipe.
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, key, output, export
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_make_run_serves_the_api_with_the_printed_key(make_run):
    base, key, output, export = make_run
    # The printed line is the URL served, with the key printed above it.
    assert export == f"export KEY={key} URL={base}", export
    assert not any(":8000" in line for line in output if "ssk_" in line or "URL=" in line)
    health = httpx.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json()["checks"]["database"] == "ok"
    response = httpx.get(f"{base}/api/v1/projects", headers={"X-API-Key": key}, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert [p["attributes"]["name"] for p in response.json()["data"]] == ["demo"]
    assert httpx.get(f"{base}/api/v1/projects", timeout=5).status_code == 401
    # `/` answers with where to go.
    index = httpx.get(f"{base}/", timeout=5).json()
    assert index["links"]["docs"] == f"{base}/api/v1/docs"
    # The worker started beside the server runs the demo jobs.
    deadline = time.monotonic() + 60
    statuses = {}
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{base}/api/v1/jobs", headers={"X-API-Key": key}, timeout=5)
        statuses = {j["attributes"]["job_class"]: j["attributes"]["status"]
                    for j in jobs.json()["data"]}
        if statuses.get("jobs.noop") == "succeeded" and statuses.get("jobs.fail") == "failed":
            break
        time.sleep(0.2)
    assert statuses.get("jobs.noop") == "succeeded", statuses
    assert statuses.get("jobs.fail") == "failed", statuses
    # The demo sync reads the demo API this server serves, into a table.
    headers = {"X-API-Key": key, "Content-Type": "application/vnd.api+json"}
    syncs = httpx.get(f"{base}/api/v1/syncs?filter[slug]=demo-orders", headers=headers,
                      timeout=5).json()["data"]
    assert len(syncs) == 1, syncs
    trigger = httpx.post(f"{base}/api/v1/syncs/{syncs[0]['id']}/trigger", headers=headers,
                         content=b'{"data": {"type": "sync-triggers", "attributes": {}}}',
                         timeout=5)
    assert trigger.status_code == 202, trigger.text
    run_url = f"{base}/api/v1/sync-runs/{trigger.json()['data']['id']}"
    run = {}
    while time.monotonic() < deadline:
        run = httpx.get(run_url, headers=headers, timeout=5).json()["data"]["attributes"]
        if run["status"] not in ("pending", "running"):
            break
        time.sleep(0.2)
    assert run["status"] == "succeeded", run
    assert run["summary"]["entities"]["orders"]["rows_written"] == 250


@pytest.mark.slow
def test_the_readme_examples_run_as_written(make_run, tmp_path):
    """Every README block that uses $URL, in order, in one bash, after the printed export
    line; any curl answering an HTTP error fails the run (the only thing added)."""
    base, key, output, export = make_run
    script = "\n".join([
        "set -euo pipefail",
        'curl() { command curl --fail-with-body --show-error "$@"; }',
        export,
        *example_blocks(),
    ])
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:],
                                    "".join(output)[-4000:])
    out = result.stdout  # (curl prints no newline after a document)
    # wait_done printed each outcome: 2 exports (jobs CSV, the demo table), 2 sync runs.
    outcomes = re.findall(r"\b(success|succeeded|failed)$", out, re.MULTILINE)
    assert outcomes == ["success", "succeeded", "success", "succeeded"], out[-4000:]
    # The jobs CSV (named by the server) and the demo orders as JSON Lines.
    (jobs_csv,) = [p for p in tmp_path.iterdir() if p.suffix == ".csv"]
    assert jobs_csv.read_text().splitlines()[0] == "id,job_class,status"
    orders = [json.loads(line) for line in (tmp_path / "demo_orders.jsonl").read_text()
              .splitlines()]
    assert len(orders) == 250
    assert all(isinstance(order["customer"], dict) for order in orders)  # JSON stays JSON
    listing, atomic = trailing_documents(out, 2)
    # The syncs listed after the run: the new one is fresh.
    mine = [s for s in listing["data"] if s["attributes"]["name"] == "My orders"]
    assert mine and mine[0]["attributes"]["stale"] is False
    # The atomic example added a connection and a sync that uses it, in one request.
    connection, sync = (result["data"] for result in atomic["atomic:results"])
    assert (connection["type"], sync["type"]) == ("connections", "syncs")
    assert sync["relationships"]["connection"]["data"]["id"] == connection["id"]


def trailing_documents(out: str, count: int) -> list:
    """The last ``count`` JSON documents of ``out`` (curl prints them back to back)."""
    decoder = json.JSONDecoder()
    documents, end = [], len(out.rstrip())
    for start in sorted((m.start() for m in re.finditer(r'\{"', out)), reverse=True):
        if len(documents) == count:
            break
        try:
            document, stop = decoder.raw_decode(out, start)
        except json.JSONDecodeError:
            continue
        if stop == end:
            documents.insert(0, document)
            end = start
    assert len(documents) == count, out[-4000:]
    return documents

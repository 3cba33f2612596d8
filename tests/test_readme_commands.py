"""`make run` from this checkout: it installs (already done), migrates, seeds, prints a key and
serves the API; a real client then fetches /healthz and an authenticated list."""

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

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_make_run_serves_the_api_with_the_printed_key(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "MEDIA_ROOT": str(tmp_path / "media"), "DJANGO_SETTINGS_MODULE": "syncservice.settings"}
    process = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    output = []
    try:
        key = None
        deadline = time.monotonic() + 120
        while key is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            output.append(line)
            match = re.search(r"API key \(write scope, shown once\): (\S+)", line)
            key = match.group(1) if match else None
        assert key, "".join(output)
        # Keep reading: `make run` must never block on a full pipe.
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200
        assert health.json()["checks"]["database"] == "ok"
        response = httpx.get(f"{base}/api/v1/projects", headers={"X-API-Key": key}, timeout=5)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.api+json"
        assert [p["attributes"]["name"] for p in response.json()["data"]] == ["demo"]
        assert httpx.get(f"{base}/api/v1/projects", timeout=5).status_code == 401
        # The worker started beside the server runs the demo jobs.
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
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)

"""A benchmark's own PostgreSQL database (dropped, created and migrated by the script) and its
child processes (set up on that database, waited for and measured from outside)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def admin_url(url: str) -> str:
    """The same server's ``postgres`` database, to drop and create others from."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def recreate_database(url: str, marker: str) -> None:
    """Drop (``WITH (FORCE)``) and create the database of ``url``. Refused, before anything is
    touched, unless its name holds ``marker`` and does not start with ``test_`` (the test
    runner's databases): a benchmark only ever drops a database of its own."""
    import psycopg
    from psycopg import sql

    name = db_name(url)
    if not name or name.startswith("test_") or marker not in name:
        raise SystemExit(f"Refusing to drop/create database {name!r}: use a name containing "
                         f"{marker!r} (not test_*).")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate(env: dict) -> None:
    """``manage.py migrate`` in a subprocess with ``env`` (its ``DATABASE_URL``)."""
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)


def child_env(url: str, **extra: str) -> dict:
    """The environment of a child process with Django set up on ``url`` (``DEBUG`` off; the
    synced tables go to the same database: no ``WAREHOUSE_DATABASE_URL``), plus ``extra``."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "syncservice.settings",
           "PYTHONPATH": str(ROOT), "DEBUG": "0", **extra}
    env.pop("WAREHOUSE_DATABASE_URL", None)
    return env


def run_child(command: list[str], env: dict, label: str, timeout: float) -> dict:
    """Run ``command`` in the checkout with ``env``, its output to a temporary file, killed
    after ``timeout`` seconds; exits (with the output) if it fails. Returns the JSON object of
    its last output line, with ``peak_rss_mb``: the process's ``ru_maxrss`` (``os.wait4``)."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"{label}: timed out after {timeout}s")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{label} failed ({process.returncode}):\n{text}")
    result = json.loads(text.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result

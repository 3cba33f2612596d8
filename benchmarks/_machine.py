"""What the benchmark reports say of the machine a run was taken on."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib.metadata import PackageNotFoundError, version


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """Date, CPU, memory, OS, load average (at the call) and the Python, Django and psycopg
    versions."""
    try:
        with open("/proc/meminfo") as fh:
            memory = f"{int(fh.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "?"
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load": ", ".join(f"{value:.1f}" for value in os.getloadavg()),
            "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs)", "memory": memory,
            "os": platform.platform(), "python": platform.python_version(),
            "django": package_version("django"), "psycopg": package_version("psycopg")}

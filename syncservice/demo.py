"""Demo data for `make run`: each app registers a seeder (in its AppConfig.ready), so the
`seed_demo` command needs to know no app above it."""

from __future__ import annotations

from collections.abc import Callable

_seeders: list[Callable] = []


def demo_seeder(func: Callable) -> Callable:
    """Register ``func(project)``; it must be idempotent (seed_demo runs on every start)."""
    if func not in _seeders:
        _seeders.append(func)
    return func


def run_seeders(project) -> None:
    for seeder in _seeders:
        seeder(project)

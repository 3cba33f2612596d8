"""`make run`'s last step: the development server and the job worker(s), stopped together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.core.management import get_commands
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and N job workers in the foreground; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Worker processes (0: none)")

    def handle(self, *args, host, port, workers, **options):
        manage = [sys.executable, "manage.py"]
        children: list[subprocess.Popen] = [
            subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload",
                              "--insecure"]),
        ]
        if "run_worker" in get_commands():
            children += [subprocess.Popen([*manage, "run_worker"]) for _ in range(workers)]
        self.stdout.write(f"Serving http://{host}:{port}/ with {len(children) - 1} worker(s); "
                          "Ctrl-C to stop.")

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [child for child in children if child.returncode not in (0, -15, None)]
        if failed:
            sys.exit(1)

"""What the fakes of the providers' APIs share: the requests seen (for assertions), a one-off
429 with Retry-After, JSON answers, and instants as the services write them."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime

from werkzeug import Response


def instant(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    return datetime.fromisoformat(text)


def as_json(document, status=200, headers=None):
    return Response(json.dumps(document), status=status, headers=headers or {},
                    content_type="application/json")


class Fake:
    """Common bookkeeping: requests seen, a one-off 429 with Retry-After."""

    def __init__(self, server):
        self.server = server
        self.requests: list[dict] = []
        self.throttle_next = 0          # answer the next N data requests 429 (Retry-After: 1)
        self.lock = threading.Lock()

    def seen(self, request) -> dict:
        entry = {"path": request.path, "args": request.args.to_dict(flat=True),
                 "headers": dict(request.headers), "time": time.monotonic()}
        with self.lock:
            self.requests.append(entry)
        return entry

    def throttled(self):
        with self.lock:
            if self.throttle_next:
                self.throttle_next -= 1
                return Response("Too Many Requests", status=429, headers={"Retry-After": "1"})
        return None

    def data_requests(self, path_part: str) -> list[dict]:
        return [r for r in self.requests if path_part in r["path"]]

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
    """Common bookkeeping: requests seen, a one-off 429 with Retry-After, access tokens
    issued by an OAuth 2 token endpoint and checked as Bearer tokens."""

    def __init__(self, server):
        self.server = server
        self.requests: list[dict] = []
        self.throttle_next = 0          # answer the next N data requests 429 (Retry-After: 1)
        self.lock = threading.Lock()
        self.tokens: set[str] = set()

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

    def data_request(self, request, refused) -> tuple[dict, Response | None]:
        """What a data endpoint does first: the request is seen, then answered 429 if a
        throttle is pending, else ``refused(request)`` (the fake's auth check: None when the
        credentials are good). Returns the request's entry and the answer that stops it (None:
        go on)."""
        entry = self.seen(request)
        answer = self.throttled()
        if answer is None:
            answer = refused(request)
        return entry, answer

    def data_requests(self, path_part: str) -> list[dict]:
        return [r for r in self.requests if path_part in r["path"]]

    def issue_token(self, prefix: str = "access") -> str:
        with self.lock:
            token = f"{prefix}-{len(self.tokens) + 1}"
            self.tokens.add(token)
        return token

    def form_grant(self, request, expected: dict, refusal: Response) -> Response:
        """An OAuth 2 token endpoint: a form holding ``expected`` gets a new access token,
        any other ``refusal`` (each service words it its own way)."""
        self.seen(request)
        if any(request.form.get(field) != value for field, value in expected.items()):
            return refusal
        return as_json({"access_token": self.issue_token(), "expires_in": 3600,
                        "token_type": "Bearer"})

    def bearer_refused(self, request, refusal: Response) -> Response | None:
        """None when the request carries an issued token as a Bearer, else ``refusal``."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return None if token in self.tokens else refusal


class ChangeLog:
    """What a change feed is made from: records by key, each with the sequence number of its
    last change (a fake's delta token or cursor remembers the sequence it was handed out at)."""

    def __init__(self) -> None:
        self.sequence = 0
        self.records: dict[str, dict] = {}
        self.changed: dict[str, int] = {}

    def put(self, key: str, record: dict) -> None:
        self.sequence += 1
        self.records[key] = record
        self.changed[key] = self.sequence

    def since(self, sequence: int) -> list[dict]:
        """The records changed after ``sequence``, deleted ones as they are now."""
        return [r for key, r in self.records.items() if self.changed[key] > sequence]

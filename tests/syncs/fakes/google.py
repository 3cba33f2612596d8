"""Google's OAuth 2 token endpoint for service accounts: the JWT bearer grant (RFC 7523), the
assertion's RS256 signature verified with the service account's public key, its audience, scope,
issuer, subject and lifetime checked as Google does (``invalid_grant`` otherwise)."""

from __future__ import annotations

import base64
import json
import time

from tests.syncs.fakes.base import Fake, as_json

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLIENT_EMAIL = "sync@acme.iam.gserviceaccount.com"


def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def key_file(pem: str) -> str:
    """A service account key file as Google issues it (its token_uri is Google's)."""
    return json.dumps({"type": "service_account", "project_id": "acme",
                       "private_key_id": "k1", "private_key": pem,
                       "client_email": CLIENT_EMAIL, "client_id": "1234567890",
                       "token_uri": GOOGLE_TOKEN_URI})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGoogleToken(Fake):
    """The token endpoint at ``path``; ``pem`` is the service account's key (its public half
    verifies the assertions)."""

    def __init__(self, server, pem: str, scope: str, subject: str | None,
                 path: str = "/token"):
        super().__init__(server)
        from cryptography.hazmat.primitives import serialization

        self.public_key = serialization.load_pem_private_key(pem.encode(),
                                                             password=None).public_key()
        self.scope, self.subject, self.path = scope, subject, path
        self.claims: list[dict] = []
        server.expect_request(path, method="POST").respond_with_handler(self.token)

    def refuse(self, why: str):
        return as_json({"error": "invalid_grant", "error_description": why}, 400)

    def token(self, request):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self.seen(request)
        if request.form.get("grant_type") != JWT_BEARER:
            return as_json({"error": "unsupported_grant_type"}, 400)
        try:
            header, claims, signature = request.form["assertion"].split(".")
            self.public_key.verify(_unb64(signature), f"{header}.{claims}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except (KeyError, ValueError, InvalidSignature):
            return self.refuse("Invalid JWT Signature.")
        if json.loads(_unb64(header)).get("alg") != "RS256":
            return self.refuse("Invalid JWT: unsupported algorithm.")
        claims = json.loads(_unb64(claims))
        now = time.time()
        if claims.get("aud") != self.server.url_for(self.path):
            return self.refuse("Invalid JWT: Token must be a short-lived token and in a "
                               "reasonable timeframe.")
        if claims.get("iss") != CLIENT_EMAIL or claims.get("sub") != self.subject or \
                claims.get("scope") != self.scope:
            return self.refuse("Invalid grant: account not found")
        if not claims["iat"] - 300 <= now <= claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            return self.refuse("Invalid JWT: Token must be a short-lived token.")
        self.claims.append(claims)
        return as_json({"access_token": self.issue_token("ya29"), "expires_in": 3599,
                        "token_type": "Bearer"})

    def denied(self, request):
        return self.bearer_refused(request, as_json({"error": {
            "code": 401, "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED"}}, 401))


class PageTokens:
    """Google's list paging: a page of ``size`` rows and, when more follow, the rest kept
    under a ``nextPageToken`` that the next request sends back as ``pageToken``."""

    def __init__(self) -> None:
        self.rest: dict[str, list] = {}
        self.issued = 0

    def page(self, rows: list, size: int) -> tuple[list, dict]:
        """(this page's rows, ``{"nextPageToken": ...}`` or ``{}``)."""
        if not rows[size:]:
            return rows[:size], {}
        self.issued += 1
        token = f"page-{self.issued}"
        self.rest[token] = rows[size:]
        return rows[:size], {"nextPageToken": token}

    def following(self, args: dict) -> list | None:
        """The rows a request's ``pageToken`` stands for (None on a first page)."""
        return self.rest.pop(args["pageToken"]) if args.get("pageToken") else None

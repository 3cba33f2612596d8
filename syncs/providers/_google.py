"""Google APIs authentication shared by the Drive and Gmail presets.

A service account key (JSON) signs a JWT (RS256) exchanged at the token endpoint for an access
token (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``), impersonating ``subject``
through domain-wide delegation when given; or an OAuth client's refresh token is exchanged at
the token endpoint. The token endpoint is the config's ``token_url`` (default Google's,
``https://oauth2.googleapis.com/token``); a service account key naming its own ``token_uri`` is
honoured while the config keeps the default. The access token is cached and fetched again
once on a 401.
"""

from __future__ import annotations

import base64
import json
import time

from syncs.connectors.http_api import AuthFailed
from syncs.providers._saas import SaasSource

TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_account_assertion(key: dict, scope: str, subject: str | None = None,
                              now: int | None = None, audience: str | None = None) -> str:
    """The signed JWT a service account presents at its token endpoint (``audience``, by
    default the key's ``token_uri``: Google checks the JWT is addressed to the endpoint)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    issued = int(now or time.time())
    claims = {"iss": key["client_email"], "scope": scope,
              "aud": audience or key.get("token_uri") or TOKEN_URL,
              "iat": issued, "exp": issued + 3600}
    if subject:
        claims["sub"] = subject
    header = {"alg": "RS256", "typ": "JWT"}
    if key.get("private_key_id"):
        header["kid"] = key["private_key_id"]
    signing_input = f"{_b64(json.dumps(header).encode())}." \
                    f"{_b64(json.dumps(claims).encode())}".encode()
    private_key = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64(signature)}"


class GoogleSource(SaasSource):
    scope = ""
    credential_noun = "the credentials"
    credential_hint = ("check the service account key (and its domain-wide delegation) or the "
                       "OAuth client id, secret and refresh token")

    def google_auth(self) -> dict:
        return {"type": "oauth2", "token_url": self.settings.get("token_url") or TOKEN_URL,
                "grant_type": "refresh_token"}

    def service_account_token_url(self, key: dict) -> str:
        """The config's ``token_url`` when it names another endpoint than Google's, else the
        key's own ``token_uri`` (Google's in every key file Google issues)."""
        configured = self.settings.get("token_url")
        if configured and configured != TOKEN_URL:
            return configured
        return key.get("token_uri") or TOKEN_URL

    def subject(self) -> str | None:
        return None

    def _key(self) -> dict | None:
        raw = self.secrets.get("service_account_json")
        if not raw:
            return None
        try:
            key = json.loads(raw)
        except ValueError:
            raise AuthFailed(f"The {self.service} service account key is not JSON: paste the "
                             "key file's content.") from None
        missing = [k for k in ("client_email", "private_key") if not key.get(k)]
        if missing:
            raise AuthFailed(f"The {self.service} service account key has no "
                             f"{' or '.join(missing)}: paste the whole key file.")
        self.redact.add(key["private_key"])
        return key

    def fetch_token(self) -> tuple[str, float | None]:
        key = self._key()
        if key is None:
            return super().fetch_token()
        token_url = self.service_account_token_url(key)
        try:
            assertion = service_account_assertion(key, self.scope, self.subject(),
                                                  audience=token_url)
        except (ValueError, TypeError):
            raise AuthFailed(f"The {self.service} service account's private key cannot be "
                             "read: paste the whole key file.") from None
        self.redact.add(assertion)
        document = self.post_token(token_url, {"grant_type": JWT_BEARER,
                                               "assertion": assertion},
                                   what="the service account")
        token = document.get("access_token")
        if not token:
            raise AuthFailed(f"{self.service} token endpoint answered without an access token.")
        return token, document.get("expires_in")

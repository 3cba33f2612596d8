"""OAuth 1.0a request signing (RFC 5849) with HMAC-SHA256 or HMAC-SHA1, e.g. NetSuite TBA.

The signature base string (parameter normalisation, base string URI, percent-encoding) and the
header rendering are authlib's RFC 5849 functions; the HMAC is computed here because authlib
signs only HMAC-SHA1 (HMAC-SHA256 would need registering a method on its class globally).
authlib's httpx ``OAuth1Auth`` is not used: its httpx integration now targets ``httpx2`` and
warns with httpx, and it adds an ``oauth_body_hash`` to JSON bodies, which the signing
providers here do not expect. Each request (each retry too) is signed with a fresh nonce and
timestamp: a retried request must not replay a nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.oauth1.rfc5849.parameters import prepare_headers
from authlib.oauth1.rfc5849.signature import construct_base_string
from authlib.oauth1.rfc5849.util import escape

_DIGESTS = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}


class OAuth1(httpx.Auth):
    """Signs each request's ``Authorization`` header (OAuth 1.0a, header transport)."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str,
                 realm: str | None = None, signature_method: str = "HMAC-SHA256") -> None:
        if signature_method not in _DIGESTS:
            raise ValueError(f"unsupported OAuth 1 signature_method {signature_method!r}; "
                             f"supported: {sorted(_DIGESTS)}")
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.token, self.token_secret = token, token_secret
        self.realm, self.signature_method = realm, signature_method

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = self.header(request.method, str(request.url))
        yield request

    def header(self, method: str, url: str, *, timestamp: int | None = None,
               nonce: str | None = None) -> str:
        """The ``Authorization`` header value of one request (``timestamp``/``nonce`` fixed
        only to check against published test vectors)."""
        oauth = [
            ("oauth_consumer_key", self.consumer_key), ("oauth_token", self.token),
            ("oauth_signature_method", self.signature_method),
            ("oauth_timestamp", str(timestamp or int(time.time()))),
            ("oauth_nonce", nonce or secrets.token_hex(16)), ("oauth_version", "1.0"),
        ]
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        # authlib unescapes oauth_* values (as received in a header): hand them over escaped,
        # or a value holding "%b0" would be signed as a different one.
        base = construct_base_string(method, url, query + [(k, escape(v)) for k, v in oauth])
        key = f"{escape(self.consumer_secret)}&{escape(self.token_secret)}"
        digest = hmac.new(key.encode(), base.encode(), _DIGESTS[self.signature_method])
        oauth.append(("oauth_signature", base64.b64encode(digest.digest()).decode()))
        return prepare_headers(oauth, {}, realm=self.realm)["Authorization"]

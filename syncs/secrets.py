"""Connection secrets, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from ``SYNCS_SECRETS_KEYS`` (comma list, newest first; default: one key derived from
SECRET_KEY). Rotation: put the new key first, keep the old ones after it, run
``python manage.py rotate_connection_secrets`` to re-encrypt, then drop the old keys.
"""

from __future__ import annotations

import base64
import hashlib

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretsError(Exception):
    pass


def _fernet() -> MultiFernet:
    keys = list(settings.SYNCS_SECRETS_KEYS)
    if not keys:
        digest = hashlib.sha256(f"syncs-secrets:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt(secrets: dict) -> str:
    if not secrets:
        return ""
    return _fernet().encrypt(orjson.dumps(secrets)).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return orjson.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretsError("The connection's secrets cannot be decrypted with the configured "
                           "SYNCS_SECRETS_KEYS.") from exc


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode() if token else token


def redact(secrets: dict) -> dict:
    """What may be shown of secrets: their names only."""
    return {name: "********" for name in secrets}

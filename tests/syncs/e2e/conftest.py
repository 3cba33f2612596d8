"""Fixtures of the end-to-end provider tests."""

import pytest

from tests.syncs.fakes.google import private_key_pem


@pytest.fixture(scope="module")
def google_keys() -> tuple[str, str]:
    """Two service account keys (PEM): the account's, and another whose key file the fake
    token endpoint refuses."""
    return private_key_pem(), private_key_pem()

from cryptography.fernet import Fernet
from django.core.management import call_command

from syncs import secrets
from syncs.models import Connection


def test_round_trip_and_rotation(db, project, settings):
    old_key = Fernet.generate_key().decode()
    settings.SYNCS_SECRETS_KEYS = [old_key]
    connection = Connection.objects.create(project=project, provider="http_api", name="c",
                                           secrets_encrypted=secrets.encrypt({"token": "s3"}))
    assert "s3" not in connection.secrets_encrypted
    new_key = Fernet.generate_key().decode()
    settings.SYNCS_SECRETS_KEYS = [new_key, old_key]
    assert secrets.decrypt(connection.secrets_encrypted) == {"token": "s3"}
    call_command("rotate_connection_secrets")
    connection.refresh_from_db()
    settings.SYNCS_SECRETS_KEYS = [new_key]  # the old key is gone: still readable
    assert secrets.decrypt(connection.secrets_encrypted) == {"token": "s3"}
    settings.SYNCS_SECRETS_KEYS = [old_key]
    import pytest

    with pytest.raises(secrets.SecretsError):
        secrets.decrypt(connection.secrets_encrypted)

"""SFTP: files on an SSH file server (paramiko).

The server is walked from ``root_path`` (``listdir_attr``: name, size, ``st_mtime``); files
modified since the checkpoint are read. ``files`` is the listing, ``file_contents`` the files
copied to object storage, and each configured stream (files matching globs, parsed as
CSV/JSONL/Parquet/...) is a dynamic entity whose rows carry ``_file_path`` and
``_file_last_modified``. Authentication: a password or a private key (OpenSSH/PEM, optionally
passphrase-protected); the server's host key can be pinned.
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, incremental

CONFIG_SCHEMA = js.obj({
    "host": js.hostname("Server host name or IP address."),
    "port": js.port(22),
    "username": js.string("SSH user.", minLength=1),
    "root_path": js.string("Directory walked.", pattern=r"^/", default="/"),
    "recursive": js.boolean("Walk subdirectories.", default=True),
    "host_key": js.string("Expected host public key (\"ssh-ed25519 AAAA...\", as in "
                          "known_hosts); omitted: any key is accepted.",
                          pattern=r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp[0-9]+) [!-~]+"),
    "streams": js.file_streams("/outbound/orders_*.csv"),
    "timeout_seconds": js.integer("Connection and read timeout.", minimum=1, maximum=600,
                                  default=30),
    "start_date": js.start_date("Only files modified at or after this instant on the first run; "
                                "null reads every file."),
}, required=["host", "username"], title="SFTP connection", examples=[{
    "host": "sftp.example.com", "username": "acme", "root_path": "/outbound",
    "streams": [{"name": "orders", "globs": ["/outbound/orders_*.csv"], "format": "csv"}],
}])

SECRETS_SCHEMA = js.obj({
    "password": js.secret("Password of the SSH user."),
    "private_key": js.secret("Private key (OpenSSH or PEM format)."),
    "private_key_passphrase": js.secret("Passphrase of the private key."),
}, title="SFTP secrets", dependentRequired={"private_key_passphrase": ["private_key"]},
    **{"if": {"required": ["private_key"]}, "else": {"required": ["password"]}},
    examples=[{"password": "example-password"}])

RESOURCES = [
    incremental("files", "Files", "listdir_attr", "The files under root_path: path, name, size, "
                "modified time.", cursor="modified_at", size="s", primary_key=["path"]),
    blobs("file_contents", "File contents", None, "The files changed in the run, copied as they "
          "are.", parent="files", storage_description="One blob per file in object storage, "
          "keyed by path and replaced when the file changes.", primary_key=["path"],
          default_selected=False),
]

SPEC = define_provider("sftp", "SFTP",
    "Files on an SFTP server: the listing, the files and tabular streams parsed from them.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)

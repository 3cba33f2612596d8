"""File sources through fsspec: S3 (s3fs), SFTP (paramiko) and local folders.

Each configured stream (``{name, globs, format, compression, csv, load_mode, ...}``, see
``syncs.providers.schemas.file_streams``) is an entity: the files matching its globs are parsed
(CSV/TSV with ``csv``, JSON Lines, JSON, Parquet with pyarrow, XLSX with openpyxl) and streamed
in batches, never loading a whole CSV/JSONL/Parquet file. Each row carries ``_file_path``,
``_file_last_modified`` and ``_file_row`` (its 1-based row number in the file; with
``_file_path`` a natural key).

Incremental by modification time: the cursor is the greatest modification time read (ISO 8601,
UTC, ``Z``); a later run reads the files modified after it (a file whose time equals the
cursor is not read again). Files are read in (modified time, path) order and the cursor only
moves once every file of a given time has been read, so a resumed run never skips a file (a
file interrupted mid-way is read again from its start). ``load_mode: replace`` streams re-read
every matching file. On a first run, ``start_date`` keeps the files modified at or after it.

Listing entities: ``objects`` (S3: key, size, etag, storage_class, last_modified) and
``files`` (SFTP: path, name, size, modified_at), incremental on the modification time too.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from syncs.connectors.sources import (
    Batch,
    CheckDeadline,
    CheckFailed,
    CheckTimedOut,
    register_source,
)
from syncs.connectors.sql import jsonable, scrub
from syncservice import netguard, outbound

BATCH_SIZE = 5000
COMPRESSIONS = {"auto": "infer", "none": None, "gzip": "gzip", "zstd": "zstd", "bz2": "bz2"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_moment(value: Any) -> datetime | None:
    """A cursor or start_date (ISO string, epoch seconds) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def modified_of(info: dict) -> datetime:
    for key in ("LastModified", "mtime", "last_modified", "updated", "modified"):
        value = info.get(key)
        if value is not None:
            moment = parse_moment(value)
            if moment is not None:
                return moment
    raise ValueError(f"no modification time for {info.get('name')!r}")


# --- parsing ----------------------------------------------------------------------------------

def _text(handle, encoding: str) -> io.TextIOWrapper:
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # the same, but a byte order mark (Excel) is dropped
    return io.TextIOWrapper(handle, encoding=encoding, newline="")


def csv_rows(handle, options: dict, delimiter: str) -> Iterator[dict]:
    text = _text(handle, options.get("encoding") or "utf-8")
    for _ in range(int(options.get("skip_rows") or 0)):
        if not text.readline():
            return
    reader = csv.reader(text, delimiter=options.get("delimiter") or delimiter,
                        quotechar=options.get("quote_char") or '"')
    names: list[str] | None = None
    if options.get("header", True):
        names = next(reader, None)
        if names is None:
            return
    for row in reader:
        if not row:
            continue
        if names is None or len(row) > len(names):
            names = (names or []) + [f"column_{i + 1}" for i in range(len(names or []),
                                                                      len(row))]
        yield dict(zip(names, row, strict=False))


def jsonl_rows(handle, options: dict, path: str) -> Iterator[dict]:
    text = _text(handle, options.get("encoding") or "utf-8")
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        yield value if isinstance(value, dict) else {"value": value}


def json_rows(handle, options: dict) -> Iterator[dict]:
    document = json.load(_text(handle, options.get("encoding") or "utf-8"))
    for value in document if isinstance(document, list) else [document]:
        yield value if isinstance(value, dict) else {"value": value}


def parquet_rows(handle, batch_size: int) -> Iterator[dict]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    for record_batch in parquet.iter_batches(batch_size=batch_size):
        for row in record_batch.to_pylist():
            yield {key: jsonable(value) for key, value in row.items()}


def xlsx_rows(handle, options: dict) -> Iterator[dict]:
    try:
        import openpyxl
    except ImportError:
        raise RuntimeError("reading xlsx files needs openpyxl: pip install "
                           "syncservice[xlsx]") from None
    workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        for _ in range(int(options.get("skip_rows") or 0)):
            next(rows, None)
        names = None
        if options.get("header", True):
            header = next(rows, None)
            if header is None:
                return
            names = [str(n) if n is not None else f"column_{i + 1}"
                     for i, n in enumerate(header)]
        for row in rows:
            if all(v is None for v in row):
                continue
            keys = names or []
            keys = keys + [f"column_{i + 1}" for i in range(len(keys), len(row))]
            yield {k: jsonable(v) for k, v in zip(keys, row, strict=False)}
    finally:
        workbook.close()


def chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the source -------------------------------------------------------------------------------

class FileSource:
    """Streams of files of one fsspec filesystem. Subclasses say how a configured glob maps
    to a filesystem path and how a filesystem path is shown (``_file_path``)."""

    provider = "files"
    listing_entity: str | None = None

    def __init__(self, config: dict, secrets: dict | None = None, *,
                 batch_size: int = BATCH_SIZE) -> None:
        self.config = config
        self.secrets = secrets or {}
        self.streams = {s["name"]: s for s in config.get("streams") or []}
        self.batch_size = batch_size
        self._fs = None
        # Set while ``check()`` runs: connecting and listing end by then.
        self._deadline: CheckDeadline | None = None

    # --- filesystem -----------------------------------------------------------------------------
    def make_filesystem(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def fs(self):
        if self._fs is None:
            self._fs = self.make_filesystem()
        return self._fs

    def close(self) -> None:
        self._fs = None

    def fs_path(self, glob: str) -> str:
        return glob

    def display_path(self, path: str) -> str:
        return path

    def error(self, exc: BaseException) -> str:
        text = str(exc).strip()
        return scrub(f"{type(exc).__name__}{': ' + text if text else ''}", self.secrets)

    def check(self, deadline: CheckDeadline | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    # --- listing --------------------------------------------------------------------------------
    def matching(self, stream: dict) -> list[tuple[datetime, str]]:
        found: dict[str, datetime] = {}
        for glob in stream.get("globs") or []:
            for path, info in self.fs.glob(self.fs_path(glob), detail=True).items():
                if info.get("type", "file") != "directory":
                    found[path] = modified_of(info)
        return sorted((moment, path) for path, moment in found.items())

    def selected(self, items: list[tuple[datetime, Any]], cursor: Any, window: tuple | None,
                 incremental: bool = True) -> list[tuple[datetime, Any]]:
        after = parse_moment(cursor) if incremental else None
        until = None
        if window is not None:
            after, until = parse_moment(window[0]), parse_moment(window[1])
        start = parse_moment(self.config.get("start_date")) if after is None else None
        return [(moment, item) for moment, item in items
                if (after is None or moment > after) and (until is None or moment <= until)
                and (start is None or moment >= start)]

    # --- reading --------------------------------------------------------------------------------
    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        try:
            if entity == self.listing_entity:
                yield from self.read_listing(cursor, window)
                return
            stream = self.streams.get(entity)
            if stream is None:
                known = sorted(self.streams) + ([self.listing_entity] if self.listing_entity
                                                else [])
                raise KeyError(f"{self.provider} has no stream {entity!r}; entities: "
                               f"{', '.join(known) or 'none'}")
            incremental = stream.get("load_mode") != "replace"
            files = self.selected(self.matching(stream), cursor, window, incremental)
            yield from self._read_files(stream, files, cursor if incremental else None)
        finally:
            self.close()

    def _read_files(self, stream: dict, files: list[tuple[datetime, str]],
                    cursor: Any) -> Iterator[Batch]:
        reached = cursor
        for index, (moment, path) in enumerate(files):
            # The cursor moves past a time once every file of that time has been read.
            last_of_time = index + 1 == len(files) or files[index + 1][0] != moment
            held: list[dict] | None = None
            for records in chunks(self.rows(stream, path, moment), self.batch_size):
                if held is not None:
                    yield Batch(records=held, cursor=reached)
                held = records
            if last_of_time:
                reached = iso(moment)
            yield Batch(records=held or [], cursor=reached)

    def rows(self, stream: dict, path: str, moment: datetime) -> Iterator[dict]:
        kind = stream.get("format") or "csv"
        options = stream.get("csv") or {}
        compression = COMPRESSIONS[stream.get("compression") or "auto"]
        shown, modified = self.display_path(path), iso(moment)
        with self.fs.open(path, "rb", compression=compression) as handle:
            if kind in ("csv", "tsv"):
                parsed = csv_rows(handle, options, "\t" if kind == "tsv" else ",")
            elif kind == "jsonl":
                parsed = jsonl_rows(handle, options, shown)
            elif kind == "json":
                parsed = json_rows(handle, options)
            elif kind == "parquet":
                parsed = parquet_rows(handle, self.batch_size)
            elif kind == "xlsx":
                parsed = xlsx_rows(handle, options)
            else:
                raise ValueError(f"unsupported file format {kind!r}")
            for number, row in enumerate(parsed, 1):
                row["_file_path"] = shown
                row["_file_last_modified"] = modified
                row["_file_row"] = number
                yield row

    def listing(self) -> list[tuple[datetime, dict]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_listing(self, cursor: Any, window: tuple | None) -> Iterator[Batch]:
        items = self.selected(sorted(self.listing(), key=lambda i: (i[0], i[1]["_sort"])),
                              cursor, window)
        reached = cursor
        batch: list[dict] = []
        for index, (moment, record) in enumerate(items):
            record.pop("_sort", None)
            batch.append(record)
            last_of_time = index + 1 == len(items) or items[index + 1][0] != moment
            if last_of_time:
                reached = iso(moment)
                if len(batch) >= self.batch_size:
                    yield Batch(records=batch, cursor=reached)
                    batch = []
        if batch:
            yield Batch(records=batch, cursor=reached)


class LocalFileSource(FileSource):
    """Files of a local folder (``root_path``); not a catalog provider (tests, tooling)."""

    provider = "local files"

    def make_filesystem(self):
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    def fs_path(self, glob: str) -> str:
        root = self.config.get("root_path") or "/"
        return glob if glob.startswith("/") else f"{root.rstrip('/')}/{glob}"

    def check(self, deadline: CheckDeadline | None = None) -> None:
        if not self.fs.isdir(self.config.get("root_path") or "/"):
            raise CheckFailed(f"{self.config.get('root_path')} is not a folder.")


class S3Source(FileSource):
    provider = "s3"
    listing_entity = "objects"

    def __init__(self, config: dict, secrets: dict | None = None, **kwargs) -> None:
        super().__init__(config, secrets, **kwargs)
        self.bucket = config["bucket"]
        self.prefix = config.get("prefix") or ""

    def _credentials(self) -> dict:
        secrets = self.secrets
        credentials = {"key": secrets.get("aws_access_key_id"),
                       "secret": secrets.get("aws_secret_access_key"),
                       "token": secrets.get("aws_session_token")}
        if not self.config.get("role_arn"):
            return credentials
        import botocore.session

        session = botocore.session.get_session()
        sts = session.create_client(
            "sts", region_name=self._region(), aws_access_key_id=credentials["key"],
            aws_secret_access_key=credentials["secret"],
            aws_session_token=credentials["token"], config=self._sts_config())
        assumed = sts.assume_role(RoleArn=self.config["role_arn"],
                                  RoleSessionName="syncservice")["Credentials"]
        return {"key": assumed["AccessKeyId"], "secret": assumed["SecretAccessKey"],
                "token": assumed["SessionToken"]}

    def _sts_config(self):
        """botocore's defaults, but during a check: one attempt ending by its deadline."""
        if self._deadline is None:
            return None
        from botocore.config import Config

        left = self._deadline.timeout(what=self.where())
        return Config(connect_timeout=min(60.0, left), read_timeout=min(60.0, left),
                      retries={"max_attempts": 1})

    def _region(self) -> str:
        return self.config.get("region") or "us-east-1"

    def where(self) -> str:
        endpoint = self.config.get("endpoint_url") or f"s3.{self._region()}.amazonaws.com"
        return f"S3 at {endpoint} (bucket {self.bucket})"

    def make_filesystem(self, attempts: int = 3):
        import s3fs

        connect_timeout, read_timeout = 30.0, 60.0
        if self._deadline is not None:  # a check: one attempt, ending by its deadline
            left = self._deadline.timeout(what=self.where())
            connect_timeout, read_timeout, attempts = min(connect_timeout, left), \
                min(read_timeout, left), 1
        config_kwargs: dict = {"connect_timeout": connect_timeout, "read_timeout": read_timeout,
                               "retries": {"max_attempts": attempts}}
        if self.config.get("force_path_style"):
            config_kwargs["s3"] = {"addressing_style": "path"}
        # A custom endpoint's connections go to the address the SSRF guard checked (no DNS
        # rebinding), and not through environment proxies (they would resolve it).
        self._resolver = outbound.aiohttp_resolver()
        config_kwargs["connector_args"] = {"resolver": self._resolver}
        config_kwargs["proxies"] = {}
        fs = s3fs.S3FileSystem(
            **self._credentials(), endpoint_url=self.config.get("endpoint_url"),
            client_kwargs={"region_name": self._region()}, config_kwargs=config_kwargs,
            skip_instance_cache=True, use_listings_cache=False)
        if self._deadline is not None:
            fs.retries = 1  # s3fs's own retries (of timeouts too), around botocore's
        return fs

    def error(self, exc: BaseException) -> str:
        # botocore reports a refused endpoint as any unreachable one: the guard says why.
        refused = getattr(getattr(self, "_resolver", None), "refused", None)
        return scrub(refused[-1], self.secrets) if refused else super().error(exc)

    def fs_path(self, glob: str) -> str:
        return f"{self.bucket}/{glob.lstrip('/')}"

    def display_path(self, path: str) -> str:
        return path.removeprefix(f"{self.bucket}/")

    def check(self, deadline: CheckDeadline | None = None) -> None:
        self._deadline = deadline = deadline or CheckDeadline.start()
        try:
            self._fs = self.make_filesystem(attempts=1)  # someone is waiting: fail fast
            # fsspec's own timeout too: the listing ends by the deadline, whatever it waits on.
            self.fs.ls(f"{self.bucket}/{self.prefix}".rstrip("/"), refresh=True,
                       timeout=deadline.timeout(what=self.where()))
        except CheckTimedOut:
            raise
        except FileNotFoundError:
            raise CheckFailed(f"s3://{self.bucket}/{self.prefix}: no such bucket or "
                              "prefix.") from None
        except PermissionError:
            raise CheckFailed(f"s3://{self.bucket}: access denied (check the access key and "
                              "the bucket policy).") from None
        except Exception as exc:  # noqa: BLE001 - reported to the user, scrubbed
            if deadline.expired():
                raise deadline.exceeded(self.where(), self.error(exc)) from None
            raise CheckFailed(f"Cannot list s3://{self.bucket}/{self.prefix}: "
                              f"{self.error(exc)}") from None
        finally:
            self._deadline = None
            self.close()

    def listing(self) -> list[tuple[datetime, dict]]:
        found = self.fs.find(f"{self.bucket}/{self.prefix}".rstrip("/"), detail=True)
        items = []
        for path, info in found.items():
            if info.get("type") == "directory":
                continue
            moment = modified_of(info)
            key = self.display_path(path)
            items.append((moment, {"key": key, "size": info.get("size"),
                                   "etag": (info.get("ETag") or "").strip('"') or None,
                                   "storage_class": info.get("StorageClass"),
                                   "last_modified": iso(moment), "_sort": key}))
        return items


def pinned_host_key(expected: str):
    """A paramiko missing-host-key policy accepting only the configured key (no known_hosts
    file is loaded, so every server key goes through it)."""
    import paramiko

    kind, data = expected.split()[:2]

    class PinnedHostKey(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key) -> None:
            if key.get_name() != kind or key.get_base64() != data:
                raise paramiko.SSHException(
                    f"the host key of {hostname} ({key.get_name()}) is not the configured "
                    "host_key")

    return PinnedHostKey()


def private_key(text: str, passphrase: str | None):
    import paramiko

    classes = [paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey]
    for key_class in classes:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise CheckFailed("The private key is encrypted: set private_key_passphrase.") \
                from None
        except (paramiko.SSHException, ValueError):
            continue
    raise CheckFailed("The private key is not an OpenSSH or PEM Ed25519, ECDSA or RSA key "
                      "(or the passphrase is wrong).")


class SftpSource(FileSource):
    provider = "sftp"
    listing_entity = "files"

    def make_filesystem(self):
        import paramiko
        from fsspec.implementations.sftp import SFTPFileSystem

        config, secrets = self.config, self.secrets
        timeout = float(config.get("timeout_seconds") or 30)
        deadline, server = self._deadline, self.where()
        if deadline is not None:  # a check: connecting, the handshake and login end by then
            timeout = deadline.timeout(timeout, what=server)
        kwargs: dict = {"port": int(config.get("port") or 22), "username": config["username"],
                        "timeout": timeout, "banner_timeout": timeout, "auth_timeout": timeout,
                        "allow_agent": False, "look_for_keys": False,
                        "skip_instance_cache": True}
        if deadline is not None:
            kwargs["channel_timeout"] = timeout  # opening the SFTP channel (paramiko: 1 h)
        policy = pinned_host_key(config["host_key"]) if config.get("host_key") \
            else paramiko.AutoAddPolicy()

        class PolicySFTPFileSystem(SFTPFileSystem):
            """fsspec's SFTP filesystem with our host key policy (whatever the fsspec
            version: older ones have no host_key_policy argument)."""

            def _connect(self) -> None:
                self.client = paramiko.SSHClient()
                self.client.set_missing_host_key_policy(policy)
                # The socket goes to the address the SSRF guard checked (no second lookup
                # for paramiko to make); host keys are still the host name's.
                sock = outbound.connect_socket(self.host, self.ssh_kwargs["port"], timeout)
                try:
                    self.client.connect(self.host, sock=sock, **self.ssh_kwargs)
                except BaseException:
                    sock.close()
                    raise
                self.ftp = self.client.open_sftp()
                if deadline is not None:  # the check's requests (a stat) too
                    self.ftp.get_channel().settimeout(deadline.timeout(what=server))

        if secrets.get("private_key"):
            kwargs["pkey"] = private_key(secrets["private_key"],
                                         secrets.get("private_key_passphrase"))
        if secrets.get("password"):
            kwargs["password"] = secrets["password"]
        where = f"{config['username']}@{config['host']}:{kwargs['port']}"
        try:
            return PolicySFTPFileSystem(config["host"], **kwargs)
        except paramiko.AuthenticationException:
            raise CheckFailed(f"SFTP authentication failed for {where} (check the password or "
                              "private key).") from None
        except netguard.UnsafeDestination as exc:
            raise CheckFailed(str(exc)) from None
        except (paramiko.SSHException, OSError) as exc:
            if deadline is not None and deadline.expired():
                raise deadline.exceeded(server, self.error(exc)) from None
            raise CheckFailed(f"Cannot connect to SFTP {where}: {self.error(exc)}") from None

    def close(self) -> None:
        fs, self._fs = self._fs, None
        if fs is not None:
            with contextlib.suppress(Exception):
                fs.ftp.close()
            with contextlib.suppress(Exception):
                fs.client.close()

    def root(self) -> str:
        return self.config.get("root_path") or "/"

    def where(self) -> str:
        return f"The SFTP server {self.config['host']}:{int(self.config.get('port') or 22)}"

    def fs_path(self, glob: str) -> str:
        return glob if glob.startswith("/") else f"{self.root().rstrip('/')}/{glob}"

    def check(self, deadline: CheckDeadline | None = None) -> None:
        self._deadline = deadline = deadline or CheckDeadline.start()
        try:
            if not self.fs.isdir(self.root()):  # also when its stat timed out (an OSError)
                if deadline.expired():
                    raise deadline.exceeded(self.where())
                raise CheckFailed(f"{self.root()} is not a directory on the SFTP server.")
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the user, scrubbed
            if deadline.expired():
                raise deadline.exceeded(self.where(), self.error(exc)) from None
            raise CheckFailed(f"Cannot list {self.root()}: {self.error(exc)}") from None
        finally:
            self._deadline = None
            self.close()

    def listing(self) -> list[tuple[datetime, dict]]:
        depth = None if self.config.get("recursive", True) else 1
        found = self.fs.find(self.root(), maxdepth=depth, detail=True)
        items = []
        for path, info in found.items():
            if info.get("type") != "file":
                continue
            moment = modified_of(info)
            items.append((moment, {"path": path, "name": re.split(r"/", path)[-1],
                                   "size": info.get("size"), "modified_at": iso(moment),
                                   "_sort": path}))
        return items

    def read(self, entity: str, **kwargs) -> Iterator[Batch]:
        if entity == "file_contents":
            raise NotImplementedError("file_contents (copying files to object storage) is not "
                                      "supported by the sftp connector yet; select the files "
                                      "listing or a stream.")
        return super().read(entity, **kwargs)


def _with_defaults(provider: str, config: dict) -> dict:
    from syncs.providers import base

    spec = base.get_provider(provider)
    return spec.with_defaults(config) if spec else dict(config)


@register_source("s3")
def s3_source(config: dict, secrets: dict) -> S3Source:
    return S3Source(_with_defaults("s3", config), secrets)


@register_source("sftp")
def sftp_source(config: dict, secrets: dict) -> SftpSource:
    return SftpSource(_with_defaults("sftp", config), secrets)

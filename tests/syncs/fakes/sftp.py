"""A local SFTP server (paramiko, in a thread) over the local filesystem: password or public
key auth for the user ``loader``, a generated host key."""

from __future__ import annotations

import os
import socket
import threading

import paramiko


class LocalSftpHandle(paramiko.SFTPHandle):
    def stat(self):
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))


class LocalSftp(paramiko.SFTPServerInterface):
    """Read-only SFTP over the local filesystem (paths are local absolute paths)."""

    def _attributes(self, path):
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(path))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def list_folder(self, path):
        try:
            names = os.listdir(path)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        found = []
        for name in names:
            attributes = paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(path, name)))
            attributes.filename = name
            found.append(attributes)
        return found

    def stat(self, path):
        return self._attributes(path)

    lstat = stat

    def open(self, path, flags, attr):
        try:
            handle_file = open(path, "rb")  # noqa: SIM115 - closed by the handle
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        handle = LocalSftpHandle(flags)
        handle.filename, handle.readfile = path, handle_file
        return handle

    def canonicalize(self, path):
        return os.path.normpath(path if path.startswith("/") else "/" + path)


class SshServer(paramiko.ServerInterface):
    def __init__(self, password, public_key):
        self.password, self.public_key = password, public_key

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else \
            paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_auth_password(self, username, password):
        ok = (username, password) == ("loader", self.password)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = username == "loader" and key.get_base64() == self.public_key.get_base64()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED


class SftpServer:
    def __init__(self, password):
        self.host_key = paramiko.RSAKey.generate(2048)
        self.client_key = paramiko.RSAKey.generate(2048)
        self.password = password
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def host_key_line(self) -> str:
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"

    def serve(self):
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(client)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, LocalSftp)
            self.transports.append(transport)
            try:
                transport.start_server(server=SshServer(self.password, self.client_key))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        for transport in self.transports:
            transport.close()
        self.listener.close()

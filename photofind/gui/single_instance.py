"""One running app per user and library: a second launch hands its request over and exits.

The first app listens on a ``QLocalServer`` named after the user and the library's data folder
(so two libraries can be open side by side, never one library twice). A later ``photofind IMAGE``
or ``photofind FOLDER`` (from a file manager's "Open with", the launcher, a terminal) connects
with a ``QLocalSocket``, sends one JSON line ``{"images": [...], "folders": [...]}``, waits for
``ok`` and exits; the running window searches by the images and offers to add the folders.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

logger = logging.getLogger(__name__)

CONNECT_MS = 1000
ANSWER_MS = 5000


@dataclass
class OpenRequest:
    """What a launch asks the app to open: images to search by, folders to offer to add."""

    images: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)

    @classmethod
    def from_paths(cls, paths: list[str]) -> OpenRequest:
        request = cls()
        for path in paths:
            path = os.path.abspath(path)
            (request.folders if os.path.isdir(path) else request.images).append(path)
        return request

    @property
    def empty(self) -> bool:
        return not (self.images or self.folders)

    def encode(self) -> bytes:
        return json.dumps({"images": self.images, "folders": self.folders}).encode() + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> OpenRequest:
        raw = json.loads(data.decode("utf-8", "replace") or "{}")
        return cls([str(p) for p in raw.get("images", [])], [str(p) for p in raw.get("folders", [])])


def server_name(data_dir: str | os.PathLike[str]) -> str:
    """Per user and per library (the resolved data folder)."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha1(os.path.realpath(os.fspath(data_dir)).encode("utf-8", "surrogateescape")).hexdigest()
    return f"photofind-{user}-{digest[:12]}"


def hand_over(name: str, request: OpenRequest) -> bool:
    """Give ``request`` to the app already running on this library; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(request.encode())
    socket.flush()
    answered = socket.waitForReadyRead(ANSWER_MS) and bytes(socket.readAll().data()).startswith(b"ok")
    socket.disconnectFromServer()
    return answered


class InstanceServer(QObject):
    """Listens for later launches; ``on_request`` runs on the GUI thread for each one."""

    def __init__(self, name: str, on_request: Callable[[OpenRequest], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_request = on_request
        self._buffers: dict[QLocalSocket, bytes] = {}
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._connected)
        if not self.server.listen(name):
            # a socket file left by an app that crashed: nobody answers on it (hand_over said so)
            QLocalServer.removeServer(name)
            if not self.server.listen(name):
                logger.warning("cannot listen for other launches on %s: %s", name, self.server.errorString())
                return
        logger.info("listening for other launches as %s", name)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def close(self) -> None:
        self.server.close()

    def _connected(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _read(self, socket: QLocalSocket) -> None:
        self._buffers[socket] = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in self._buffers[socket]:
            return
        line = self._buffers[socket].split(b"\n", 1)[0]
        self._buffers[socket] = b""
        try:
            request = OpenRequest.decode(line)
        except (ValueError, AttributeError) as exc:
            logger.warning("ignoring a malformed request from another launch: %r", exc)
            socket.write(b"error\n")
            return
        socket.write(b"ok\n")
        socket.flush()
        logger.info("another launch asks to open %d images, %d folders", len(request.images), len(request.folders))
        self._on_request(request)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

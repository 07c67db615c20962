"""Where a tiled log lives: a directory, or a read-only HTTP(S) prefix.

Paths are the C2SP tlog-tiles resource names relative to the log prefix
(``checkpoint``, ``tile/0/x001/234``, ``tile/entries/000.p/7``). Every read is
capped by the kind of resource (:func:`max_size`), so a hostile store cannot make
a reader hold more than one bundle's worth of bytes at a time.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Protocol

from generator.tlog.errors import NotFound, TransportError
from generator.tlog.note import MAX_NOTE_SIZE
from generator.tlog.tiles import FULL_TILE_SIZE, MAX_BUNDLE_SIZE

CHECKPOINT_PATH = "checkpoint"
"""Where a log keeps its signed checkpoint (C2SP tlog-tiles §Checkpoints)."""

MAX_OTHER_SIZE = 1 << 20
"""Cap on any resource that is not a checkpoint, tile or bundle, in bytes."""

_MAX_PATH = 1024


class TileStore(Protocol):
    """A place to read a log's checkpoint, tiles and entry bundles from."""

    def read(self, path: str) -> bytes:
        """The file at ``path``; raises NotFound or TransportError."""
        ...


class WritableStore(TileStore, Protocol):
    """A store a log writer can also write to."""

    def write(self, path: str, data: bytes) -> None:
        """Replace the file at ``path`` with ``data`` atomically."""
        ...

    def exists(self, path: str) -> bool:
        """Whether the file at ``path`` exists."""
        ...


def max_size(path: str) -> int:
    """The largest file a reader accepts at ``path``, by resource kind (C2SP tlog-tiles)."""
    if path == CHECKPOINT_PATH:
        return MAX_NOTE_SIZE
    if path.startswith("tile/entries/"):
        return MAX_BUNDLE_SIZE
    if path.startswith("tile/"):
        return FULL_TILE_SIZE
    return MAX_OTHER_SIZE


def check_path(path: str) -> str:
    """Reject a path that could leave the store: absolute, ``..``, empty parts, odd bytes."""
    parts = path.split("/")
    if (
        not path
        or len(path) > _MAX_PATH
        or any(part in ("", ".", "..") for part in parts)
        or any(c < " " or c in "\\\x7f" for c in path)
    ):
        raise ValueError(f"not a relative store path: {path[:120]!r}")
    return path


class DirStore:
    """A log in a local directory; writes are atomic (temp file, then ``os.replace``).

    With ``durable``, each file is flushed to disk (fsync) before it is renamed into
    place, so a checkpoint never reaches the disk before the tiles it covers.
    """

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.root = Path(root)
        self.durable = durable
        self._counter = itertools.count()

    def _file(self, path: str) -> str:
        return os.path.join(self.root, check_path(path))

    def read(self, path: str) -> bytes:
        """The file at ``path``, at most :func:`max_size` bytes."""
        file = self._file(path)
        cap = max_size(path)
        try:
            with open(file, "rb") as handle:
                data = handle.read(cap + 1)
        except FileNotFoundError:
            raise NotFound(f"{file}: no such file") from None
        except OSError as error:
            raise TransportError(f"{file}: {error.strerror or error}") from None
        if len(data) > cap:
            raise TransportError(f"{file}: larger than {cap:,} bytes")
        return data

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file in the store."""
        return os.path.isfile(self._file(path))

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to a temp file beside ``path`` and rename it into place."""
        file = self._file(path)
        head, tail = os.path.split(file)
        temp = os.path.join(head, f".{tail}.{os.getpid()}.{next(self._counter)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(temp, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(head, exist_ok=True)
            fd = os.open(temp, flags, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        if self.durable:
            dir_fd = os.open(head, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


class _Watchdog:
    """Shuts a request's socket down when its total time is up (slow-drip defence)."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.seconds = seconds
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def attach(self, sock: socket.socket) -> None:
        """Watch ``sock``, the connection just opened (a redirect opens another)."""
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _HTTPConnection(http.client.HTTPConnection):
    watchdog: _Watchdog

    def connect(self) -> None:
        super().connect()
        self.watchdog.attach(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    watchdog: _Watchdog

    def connect(self) -> None:
        super().connect()
        self.watchdog.attach(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = _HTTPConnection(host, **kwargs)
        conn.watchdog = self._watchdog
        return conn

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog, tls: ssl.SSLContext | None) -> None:
        super().__init__(context=tls)
        self._tls = tls
        self._watchdog = watchdog

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = _HTTPSConnection(host, **kwargs)
        conn.watchdog = self._watchdog
        return conn

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self._tls)


class _Retry(Exception):
    """A failure worth another attempt: connection trouble or an HTTP 5xx."""


class HTTPStore:
    """A read-only log at an HTTP(S) URL prefix (C2SP tlog-tiles §APIs).

    Each read takes at most ``timeout`` seconds in total, however slowly the server
    sends; reads at most ``max_bytes`` (default: :func:`max_size` for the path), and
    accepts gzip content encoding within the same cap. Connection errors and HTTP
    5xx are retried ``retries`` times with a short backoff; 404 is :class:`NotFound`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_bytes: int | None = None,
        retries: int = 2,
        backoff: float = 0.1,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        # Loading the CA store is slow: once per store, and only for an https prefix.
        self._tls = ssl.create_default_context() if parsed.scheme == "https" else None
        self.timeout, self.max_bytes = timeout, max_bytes
        self.retries, self.backoff = retries, backoff

    def read(self, path: str) -> bytes:
        """GET the resource at ``path`` under the prefix."""
        url = self.base_url + urllib.parse.quote(check_path(path))
        cap = self.max_bytes if self.max_bytes is not None else max_size(path)
        attempt = 0
        while True:
            try:
                return self._get(url, cap)
            except _Retry as error:
                attempt += 1
                if attempt > self.retries:
                    raise TransportError(f"{url}: {error} (after {attempt} attempts)") from None
            time.sleep(self.backoff * 2 ** (attempt - 1))

    def _get(self, url: str, cap: int) -> bytes:
        request = urllib.request.Request(
            url, headers={"Accept-Encoding": "gzip, identity", "User-Agent": "smki-tlog"}
        )
        with _Watchdog(self.timeout) as watchdog:
            opener = urllib.request.OpenerDirector()
            for handler in (
                urllib.request.ProxyHandler(),
                _HTTPHandler(watchdog),
                _HTTPSHandler(watchdog, self._tls),
                urllib.request.HTTPDefaultErrorHandler(),
                urllib.request.HTTPRedirectHandler(),
                urllib.request.HTTPErrorProcessor(),
            ):
                opener.add_handler(handler)
            try:
                with opener.open(request, timeout=self.timeout) as response:
                    return _read_body(response, url, cap, watchdog)
            except urllib.error.HTTPError as error:
                error.close()
                if error.code in (404, 410):
                    raise NotFound(f"{url}: HTTP {error.code}") from None
                if error.code >= 500:
                    raise _Retry(f"HTTP {error.code}") from None
                raise TransportError(f"{url}: HTTP {error.code}") from None
            except (OSError, http.client.HTTPException) as error:
                if watchdog.expired:
                    raise _deadline(url, watchdog.seconds) from None
                reason = getattr(error, "reason", None) or error
                raise _Retry(f"{type(error).__name__}: {reason}") from None


def _deadline(url: str, timeout: float) -> TransportError:
    return TransportError(f"{url}: no complete response within {timeout:g} s")


def _read_body(
    response: http.client.HTTPResponse, url: str, cap: int, watchdog: _Watchdog
) -> bytes:
    headers = response.headers
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise TransportError(f"{url}: unsupported Content-Encoding {encoding!r}")
    length_text = headers.get("Content-Length")
    length = int(length_text) if length_text and length_text.isdigit() else None
    if length is not None and length > cap:
        raise TransportError(f"{url}: {length:,} bytes, more than the {cap:,} allowed")
    chunks, total = [], 0
    while chunk := response.read1(65536):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise TransportError(f"{url}: response larger than {cap:,} bytes")
    if watchdog.expired:
        raise _deadline(url, watchdog.seconds)
    if length is not None and total != length:
        raise _Retry(f"response truncated at {total} of {length} bytes")
    body = b"".join(chunks)
    if encoding == "identity":
        return body
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, cap + 1)
    except zlib.error:
        raise TransportError(f"{url}: invalid gzip body") from None
    if len(data) > cap or inflater.unconsumed_tail:
        raise TransportError(f"{url}: response larger than {cap:,} bytes once decompressed")
    if not inflater.eof or inflater.unused_data:
        raise TransportError(f"{url}: invalid gzip body")
    return data


def open_store(prefix: str) -> DirStore | HTTPStore:
    """The store at ``prefix``: an :class:`HTTPStore` for http(s) URLs, else a :class:`DirStore`."""
    if prefix.startswith(("http://", "https://")):
        return HTTPStore(prefix)
    return DirStore(prefix)

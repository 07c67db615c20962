"""Stores: a directory (atomic writes, no way out of the root) and a read-only HTTP
prefix tested against real servers on 127.0.0.1 that misbehave on purpose.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator.tlog.errors import NotFound, TransportError
from generator.tlog.store import (
    CHECKPOINT_PATH,
    DirStore,
    HTTPStore,
    max_size,
    open_store,
)
from generator.tlog.tiles import FULL_TILE_SIZE, MAX_BUNDLE_SIZE

# -- DirStore --------------------------------------------------------------------------------


def test_dir_store_round_trip(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "log")
    assert not store.exists("tile/0/000")
    store.write("tile/0/000", b"one")
    store.write("tile/0/000", b"two")  # replaced in place
    assert store.read("tile/0/000") == b"two"
    assert store.exists("tile/0/000")
    assert sorted(p.name for p in (tmp_path / "log/tile/0").iterdir()) == ["000"]  # no temp files
    with pytest.raises(NotFound, match="no such file"):
        store.read("tile/0/001")


def test_dir_store_durable(tmp_path: Path) -> None:
    store = DirStore(tmp_path, durable=True)
    store.write("checkpoint", b"x\n")
    assert (tmp_path / "checkpoint").read_bytes() == b"x\n"


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../outside", "tile/../../x", "tile//0", "./checkpoint", "tile/0/",
     "tile\\0", "tile/\x00", "a/\n", "x" * 2000],
)
def test_dir_store_refuses_paths_out_of_the_root(tmp_path: Path, path: str) -> None:
    store = DirStore(tmp_path / "log")
    for action in (store.read, store.exists, lambda p: store.write(p, b"x")):
        with pytest.raises(ValueError, match="not a relative store path"):
            action(path)
    assert not (tmp_path / "outside").exists()


def test_dir_store_caps_reads(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    store.write("tile/0/000", b"\0" * (FULL_TILE_SIZE + 1))
    with pytest.raises(TransportError, match="larger than 8,192 bytes"):
        store.read("tile/0/000")
    (tmp_path / "tile/0/001").mkdir()
    with pytest.raises(TransportError):
        store.read("tile/0/001")


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    (tmp_path / "checkpoint").mkdir()  # os.replace onto a directory fails
    with pytest.raises(OSError):
        store.write("checkpoint", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_max_size_by_kind() -> None:
    assert max_size(CHECKPOINT_PATH) == 1 << 20
    assert max_size("tile/3/x001/002") == FULL_TILE_SIZE == 8192
    assert max_size("tile/entries/000.p/3") == MAX_BUNDLE_SIZE == 256 * 65537
    assert max_size("index.html") == 1 << 20


def test_open_store(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), DirStore)
    assert isinstance(open_store("https://example.com/log"), HTTPStore)
    with pytest.raises(ValueError):
        HTTPStore("ftp://example.com/log/")
    with pytest.raises(ValueError):
        HTTPStore("http:///log/")


# -- HTTPStore against real servers ----------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


def send(body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return route


def drip(handler: BaseHTTPRequestHandler) -> None:
    """A body that never ends: one byte every 20 ms."""
    handler.send_response(200)
    handler.end_headers()
    for _ in range(500):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.02)


def drip_headers(handler: BaseHTTPRequestHandler) -> None:
    """Headers that never end: one byte of a header line every 20 ms."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(500):
        handler.wfile.write(b"y")
        handler.wfile.flush()
        time.sleep(0.02)


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A fast body with no length that never ends."""
    handler.send_response(200)
    handler.end_headers()
    for _ in range(10_000):
        handler.wfile.write(b"z" * 65536)


def truncated(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    handler.wfile.write(b"only ten..")


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 answering from a table of routes."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                route = server.routes.get(self.path, send(b"not found", status=404))
                with contextlib.suppress(OSError):  # the client hangs up on hostile answers
                    route(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/log/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def store(
    server: Server, *, retries: int = 0, max_bytes: int | None = None
) -> HTTPStore:
    """The server's log prefix with a 1 s deadline and a fast backoff."""
    return HTTPStore(server.url, timeout=1.0, retries=retries, backoff=0.01, max_bytes=max_bytes)


def test_http_reads(server: Server) -> None:
    server.routes["/log/checkpoint"] = send(b"note\n")
    server.routes["/log/tile/0/x001/002.p/3"] = send(b"t" * 96)
    assert store(server).read("checkpoint") == b"note\n"
    assert store(server).read("tile/0/x001/002.p/3") == b"t" * 96
    with pytest.raises(NotFound, match=r"/log/tile/0/000: HTTP 404"):
        store(server).read("tile/0/000")
    with pytest.raises(ValueError):
        store(server).read("../secret")


def test_http_gzip(server: Server) -> None:
    server.routes["/log/tile/entries/000"] = send(
        gzip.compress(b"\x00\x01a"), headers={"Content-Encoding": "gzip"}
    )
    assert store(server).read("tile/entries/000") == b"\x00\x01a"
    server.routes["/log/tile/0/000"] = send(
        gzip.compress(b"\0" * 1_000_000), headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(TransportError, match="larger than 8,192 bytes once decompressed"):
        store(server).read("tile/0/000")
    server.routes["/log/tile/0/001"] = send(b"not gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(TransportError, match="invalid gzip"):
        store(server).read("tile/0/001")
    server.routes["/log/tile/0/002"] = send(b"x", headers={"Content-Encoding": "br"})
    with pytest.raises(TransportError, match="unsupported Content-Encoding"):
        store(server).read("tile/0/002")


def test_http_oversized(server: Server) -> None:
    server.routes["/log/tile/0/000"] = send(b"t" * (FULL_TILE_SIZE + 1))
    with pytest.raises(TransportError, match="8,193 bytes, more than the 8,192 allowed"):
        store(server).read("tile/0/000")
    server.routes["/log/tile/0/001"] = endless
    start = time.monotonic()
    with pytest.raises(TransportError, match="response larger than 8,192 bytes"):
        store(server).read("tile/0/001")
    assert time.monotonic() - start < 1
    server.routes["/log/x"] = send(b"12345")
    with pytest.raises(TransportError, match="5 bytes, more than the 4 allowed"):
        store(server, max_bytes=4).read("x")


@pytest.mark.parametrize("route", [drip, drip_headers], ids=["slow body", "slow headers"])
def test_http_total_deadline(server: Server, route: Route) -> None:
    server.routes["/log/checkpoint"] = route
    start = time.monotonic()
    with pytest.raises(TransportError, match=r"/log/checkpoint: no complete response within 1 s"):
        store(server, retries=2).read("checkpoint")
    assert time.monotonic() - start < 1.8  # no retry after a deadline


def test_http_retries_5xx_not_4xx(server: Server) -> None:
    answers = iter([send(b"", status=503), send(b"", status=500), send(b"ok")])
    server.routes["/log/checkpoint"] = lambda handler: next(answers)(handler)
    assert store(server, retries=2).read("checkpoint") == b"ok"
    assert server.hits["/log/checkpoint"] == 3
    server.routes["/log/tile/0/000"] = send(b"", status=503)
    with pytest.raises(TransportError, match=r"HTTP 503 \(after 2 attempts\)"):
        store(server, retries=1).read("tile/0/000")
    server.routes["/log/tile/0/001"] = send(b"no", status=403)
    with pytest.raises(TransportError, match="HTTP 403"):
        store(server, retries=2).read("tile/0/001")
    assert server.hits["/log/tile/0/001"] == 1
    with pytest.raises(NotFound):
        store(server, retries=2).read("tile/0/002")
    assert server.hits["/log/tile/0/002"] == 1


def test_http_truncated_body_is_retried_then_fails(server: Server) -> None:
    server.routes["/log/checkpoint"] = truncated
    with pytest.raises(TransportError, match="truncated at 10 of 100 bytes"):
        store(server, retries=1).read("checkpoint")
    assert server.hits["/log/checkpoint"] == 2


def test_http_connection_refused(server: Server) -> None:
    url = server.url
    server.close()
    started = time.monotonic()
    with pytest.raises(TransportError, match="after 2 attempts"):
        HTTPStore(url, timeout=1.0, retries=1, backoff=0.01).read("checkpoint")
    assert time.monotonic() - started < 1

"""In-process nodes on loopback for the routing tests.

:class:`Served` is a real threaded HTTP server on an ephemeral port whose
WSGI app is set after the port is known (a node's ``base_url`` must be its
own address).  :class:`FakeNode` answers every request with whatever the
test says, to play a misbehaving or malicious remote.  :func:`silent_port`
accepts connections and never answers; :func:`closed_port` refuses them.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from werkzeug.serving import make_server

from idres.app import create_app
from idres.auth import OPERATOR
from idres.config import Config
from idres.handles import parse_handle
from idres.node import init_node
from idres.registrar import PutRequest, put_handle, stamp
from idres.storage import open_database, records
from idres.values import parse_values, utc_timestamp

logging.getLogger("werkzeug").setLevel(logging.ERROR)
SECRET = "routing-node-admin-secret"


def site(url: str, *, primary: bool = True) -> dict[str, Any]:
    """An HS_SITE value naming one HTTP interface."""
    return {"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {
        "protocolVersion": "2.10", "primarySite": primary, "multiPrimary": False,
        "servers": [{"serverId": 1, "interfaces": [{"protocol": "HTTP", "type": "QUERY", "url": url}]}]}}}


class Served:
    """A threaded WSGI server on 127.0.0.1; ``app`` may be set after ``url`` is known."""

    def __init__(self) -> None:
        self.app: Callable | None = None
        self.requests = 0
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _dispatch(self, environ: dict, start_response: Callable) -> Any:
        self.requests += 1
        return self.app(environ, start_response)

    def stop(self) -> None:
        """Close the port: connections are refused from now on."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Node:
    """An idres app served on loopback, with its database for direct setup."""

    served: Served
    config: Config
    db: Any
    app: Any = None
    closers: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    def put(self, handle: str, values: list[dict]) -> None:
        """Create or replace a record through the registrar (the node's own rules)."""
        put_handle(self.db, self.config, OPERATOR, PutRequest(handle, values))

    def store(self, handle: str, values: list[dict]) -> None:
        """Write a record as-is, bypassing the registrar's naming rules (test setup of
        a node's prefix records that point wherever the test wants)."""
        h = parse_handle(handle)
        stamped = stamp([], parse_values(values), utc_timestamp())
        with self.db.write() as s:
            if records.handle_exists(s, h.key):
                records.delete_handle(s, h.key)
            records.insert_handles(s, [(h.key, h.text, h.prefix_key, stamped)])

    def close(self) -> None:
        self.served.stop()
        self.app.extensions["idres"].db.close()
        self.db.close()


@contextmanager
def running_node(tmp: Path, prefix: str, role: str = "secondary", upstream: str = "",
                 timeout: float = 2.0, database: str | None = None) -> Iterator[Node]:
    """A node with its admin record, served on an ephemeral port."""
    served = Served()
    tmp.mkdir(parents=True, exist_ok=True)
    config = Config(database=database or str(tmp / "idres.db"), node_prefix=prefix,
                    base_url=served.url, node_role=role, upstream_url=upstream,
                    upstream_timeout=timeout, ledger_key_file=str(tmp / "ledger.key"), hdl_port=0)
    db = open_database(config.database)
    init_node(db, config, SECRET)
    node = Node(served, config, db, create_app(config))
    served.app = node.app
    try:
        yield node
    finally:
        node.close()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    length: bool = True  # False: no Content-Length, the body ends when the connection closes


class FakeNode:
    """An HTTP server answering every GET with ``reply`` (what a broken or hostile node sends)."""

    def __init__(self) -> None:
        fake = self
        self.reply = Reply()
        self.seen: list[tuple[str, dict[str, str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.seen.append((self.path, dict(self.headers)))
                r = fake.reply
                self.send_response(r.status)
                for k, v in r.headers.items():
                    self.send_header(k, v)
                if r.length and "Content-Length" not in r.headers:
                    self.send_header("Content-Length", str(len(r.body)))
                self.end_headers()
                self.wfile.write(r.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def silent_port() -> Iterator[str]:
    """A listening socket that is never accepted from: connects succeed, nothing is answered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@contextmanager
def dripping_port(interval: float = 0.05) -> Iterator[str]:
    """Accepts and answers a status line one byte every ``interval`` seconds, forever."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def drip() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    if stop.is_set():
                        break
                    conn.sendall(bytes([byte]))
                    time.sleep(interval)
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=drip, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        sock.close()


def closed_port() -> str:
    """The URL of a port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

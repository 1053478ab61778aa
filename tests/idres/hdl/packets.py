"""Packets built and read by hand from RFC 3652's layout, independently of idres.hdl.wire.

Envelope (20 bytes): major, minor (1 each), message flags (2), session id,
request id, sequence number, message length (4 each).  Header (24 bytes):
opcode, response code, op flags (4 each), site info serial (2), recursion
count (1), reserved (1), expiration time, body length (4 each).  Then the
body and a credential (4-byte length, 0 here).
"""
from __future__ import annotations

import asyncio
import socket
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from idres.hdl.server import HdlServer

TRUNCATED = 0x2000
KEEP_CONNECTION = 0x02000000
REQUEST_DIGEST = 0x00800000


def text(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(raw)) + raw


def resolution_body(handle: str, indexes: tuple[int, ...] = (), types: tuple[str, ...] = ()) -> bytes:
    return (text(handle) + struct.pack(">I", len(indexes))
            + b"".join(struct.pack(">I", i) for i in indexes)
            + struct.pack(">I", len(types)) + b"".join(text(t) for t in types))


def message(body: bytes, *, opcode: int = 1, rc: int = 0, flags: int = 0,
            body_length: int | None = None) -> bytes:
    header = struct.pack(">IIIHBBII", opcode, rc, flags, 0, 0, 0, 0,
                         len(body) if body_length is None else body_length)
    return header + body + struct.pack(">I", 0)


def envelope(length: int, *, request_id: int = 7, major: int = 2, minor: int = 1,
             flags: int = 0) -> bytes:
    return struct.pack(">BBHIIII", major, minor, flags, 0, request_id, 0, length)


def request(handle: str, *, indexes: tuple[int, ...] = (), types: tuple[str, ...] = (),
            request_id: int = 7, flags: int = 0, opcode: int = 1) -> bytes:
    msg = message(resolution_body(handle, indexes, types), opcode=opcode, flags=flags)
    return envelope(len(msg), request_id=request_id) + msg


@dataclass
class Value:
    index: int
    timestamp: int
    ttl_type: int
    ttl: int
    permissions: int
    type: str
    data: bytes
    refs: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Response:
    request_id: int
    sequence: int
    env_flags: int
    opcode: int
    rc: int
    flags: int
    handle: str = ""
    values: list[Value] = field(default_factory=list)
    message: str = ""


class Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data), f"short: {n} bytes at {self.pos} of {len(self.data)}"
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def blob(self) -> bytes:
        return self.take(self.u32())


def parse(packet: bytes) -> Response:
    """One complete response (envelope + whole message)."""
    _, _, env_flags, _, request_id, sequence, length = struct.unpack(">BBHIIII", packet[:20])
    assert len(packet) == 20 + length, (len(packet), length)
    opcode, rc, flags, _, _, _, _, body_length = struct.unpack(">IIIHBBII", packet[20:44])
    body = Cursor(packet[44:44 + body_length])
    out = Response(request_id, sequence, env_flags, opcode, rc, flags)
    if flags & REQUEST_DIGEST:
        algorithm = body.take(1)[0]
        body.take({1: 16, 2: 20, 3: 32}[algorithm])
    if rc == 1:
        out.handle = body.blob().decode()
        out.values = [_value(body) for _ in range(body.u32())]
    else:
        out.message = body.blob().decode()
    assert body.pos == body_length
    return out


def _value(c: Cursor) -> Value:
    index, stamp, ttl_type, ttl, perms = struct.unpack(">IIBIB", c.take(14))
    vtype = c.blob().decode()
    data = c.blob()
    refs = [(c.blob().decode(), c.u32()) for _ in range(c.u32())]
    return Value(index, stamp, ttl_type, ttl, perms, vtype, data, refs)


def udp_exchange(port: int, packet: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def tcp_exchange(port: int, packet: bytes, timeout: float = 2.0) -> bytes:
    """Send, then read one framed response (b"" when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(packet)
        return read_framed(s)


def read_framed(s: socket.socket) -> bytes:
    head = recv_exact(s, 20)
    if len(head) < 20:
        return b""
    length = struct.unpack(">I", head[16:20])[0]
    return head + recv_exact(s, length)


def recv_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def running(answer: Any, **limits: Any) -> Iterator[HdlServer]:
    """A real HdlServer on an ephemeral loopback port, its loop in a thread."""
    loop = asyncio.new_event_loop()
    server = HdlServer(answer, "127.0.0.1", 0, **limits)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def udp_pieces(port: int, packet: bytes, timeout: float = 2.0) -> list[bytes]:
    """Every datagram of one answer: one, or all pieces of a truncated (TC) answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        first = s.recv(65535)
        pieces = [first]
        flags, length = struct.unpack(">H", first[2:4])[0], struct.unpack(">I", first[16:20])[0]
        if flags & TRUNCATED:
            expected = -(-length // (512 - 20))
            s.settimeout(0.5)
            try:
                while len(pieces) < expected:
                    pieces.append(s.recv(65535))
            except socket.timeout:
                pass
        return pieces


def reassemble(pieces: list[bytes]) -> bytes:
    """A whole response from TC pieces: ordered by sequence number, one envelope in front."""
    ordered = sorted(pieces, key=lambda p: struct.unpack(">I", p[12:16])[0])
    body = b"".join(p[20:] for p in ordered)
    head = bytearray(ordered[0][:20])
    head[2:4] = b"\0\0"
    return bytes(head) + body

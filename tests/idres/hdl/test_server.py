"""The binary server on a real loopback port, against hand-built packets, on each backend.

Answers must carry the same values, permissions and response codes as the
REST API (anonymous reader); malformed input must be answered or dropped
and never stop the server from answering the next good request.
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import random
import socket
import struct
import time
from typing import Any, Iterator

import pytest

from idres.hdl.answer import local_answer
from tests.conftest import ENT, ENT_AUTH
from tests.idres.hdl.packets import (KEEP_CONNECTION, REQUEST_DIGEST, TRUNCATED, envelope,
                                     message, parse, read_framed, reassemble, request,
                                     resolution_body, running, tcp_exchange, text, udp_exchange,
                                     udp_pieces)

H = f"{ENT}/HDL-1"
VALUES = [
    {"index": 1, "type": "URL", "data": "https://example.test/part/1"},
    {"index": 2, "type": "PART.TYPE", "data": "ENGINE-1.5T", "ttl": 3600},
    {"index": 3, "type": "NOTE.INTERNAL", "data": "admins only", "permissions": "1100"},
    {"index": 4, "type": "CHECKSUM", "data": {"format": "hex", "value": "00ff10"}},
    {"index": 5, "type": "SEE.ALSO", "data": "x", "references": [{"handle": f"{ENT}/HDL-2", "index": 1}]},
]


@pytest.fixture
def server(db: Any, config: Any, client: Any) -> Iterator[Any]:
    r = client.put(f"/api/handles/{H}", json={"values": VALUES}, headers=ENT_AUTH)
    assert r.status_code == 201, r.json
    with running(local_answer(db, config), read_timeout=0.5) as srv:
        yield srv


def expected_data(value: dict) -> bytes:
    """A REST value's data as RFC 3651 bytes, computed here from the JSON."""
    fmt, val = value["data"]["format"], value["data"]["value"]
    if fmt == "string":
        return val.encode()
    if fmt == "hex":
        return bytes.fromhex(val)
    if fmt == "base64":
        return base64.b64decode(val)
    if fmt == "admin":
        return struct.pack(">H", int(val["permissions"], 2)) + text(val["handle"]) \
            + struct.pack(">I", int(val["index"]))
    raise AssertionError(f"no expectation for format {fmt}")


def assert_same_as_rest(answer: Any, rest: dict) -> None:
    assert answer.rc == rest["responseCode"] == 1
    assert answer.handle == rest["handle"]
    assert [v.index for v in answer.values] == [v["index"] for v in rest["values"]]
    for got, want in zip(answer.values, rest["values"]):
        assert (got.type, got.ttl_type, got.ttl) == (want["type"], 0, want["ttl"])
        assert got.timestamp == calendar.timegm(time.strptime(want["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        assert got.permissions == int(want.get("permissions", "1110"), 2)
        assert got.refs == [(r["handle"], r["index"]) for r in want.get("references", [])]
        if want["data"]["format"] != "site":
            assert got.data == expected_data(want)


def good_request_answered(port: int) -> None:
    """The check after every malformed input: a UDP and a TCP request still get answers."""
    udp = parse(reassemble(udp_pieces(port, request(H, indexes=(1,), request_id=99))))  # sent once
    assert (udp.rc, udp.request_id, [v.index for v in udp.values]) == (1, 99, [1])
    tcp = parse(tcp_exchange(port, request(H, types=("URL",), request_id=98)))
    assert (tcp.rc, tcp.request_id, [v.type for v in tcp.values]) == (1, 98, ["URL"])


def test_udp_and_tcp_answers_equal_rest(server: Any, client: Any) -> None:
    rest = client.get(f"/api/handles/{H}").json
    assert 3 not in [v["index"] for v in rest["values"]]   # anonymous REST hides it too
    authed = client.get(f"/api/handles/{H}?auth=true", headers=ENT_AUTH).json
    assert 3 in [v["index"] for v in authed["values"]]      # ... but it is there
    udp = parse(reassemble(udp_pieces(server.port, request(H, request_id=1))))
    tcp = parse(tcp_exchange(server.port, request(H, request_id=2)))
    assert (udp.request_id, tcp.request_id) == (1, 2)
    assert_same_as_rest(udp, rest)
    assert_same_as_rest(tcp, rest)
    # the prefix record: HS_ADMIN and HS_SITE are public, the HS_SECKEY is not sent
    prefix = parse(tcp_exchange(server.port, request(f"0.NA/{ENT}")))
    assert sorted(v.type for v in prefix.values) == ["HS_ADMIN", "HS_SITE"]
    rest_prefix = client.get(f"/api/handles/0.NA/{ENT}").json
    assert_same_as_rest(prefix, rest_prefix)
    site = next(v.data for v in prefix.values if v.type == "HS_SITE")
    check_site_bytes(site)


def check_site_bytes(raw: bytes) -> None:
    """HS_SITE of a prefix (idres.node): one server with an HTTP query interface on port 80."""
    version, major, minor, serial, mask, _ = struct.unpack(">HBBHBB", raw[:8])
    assert (version, major, minor, serial, mask & 0x80) == (1, 2, 10, 1, 0x80)
    pos = 8
    pos += 4 + struct.unpack(">I", raw[pos:pos + 4])[0]       # hash filter
    assert struct.unpack(">I", raw[pos:pos + 4])[0] == 0       # no attributes
    assert struct.unpack(">I", raw[pos + 4:pos + 8])[0] == 1   # one server
    pos += 8 + 4 + 16                                          # server id, address
    pos += 4 + struct.unpack(">I", raw[pos:pos + 4])[0]       # public key
    count = struct.unpack(">I", raw[pos:pos + 4])[0]
    interfaces = [struct.unpack(">BBI", raw[pos + 4 + 6 * i:pos + 10 + 6 * i]) for i in range(count)]
    assert (2, 2, 80) in interfaces                            # QUERY, HTTP, port 80
    assert pos + 4 + 6 * count == len(raw)


def test_filters_codes_and_flags(server: Any, client: Any) -> None:
    port = server.port
    # union of type and index filters, as REST
    r = parse(tcp_exchange(port, request(H, indexes=(1,), types=("PART.",))))
    assert [v.index for v in r.values] == [1, 2]
    # filters that match nothing: rc 200 (REST: 200 with values [])
    assert client.get(f"/api/handles/{H}?type=NOPE").json["responseCode"] == 200
    assert parse(tcp_exchange(port, request(H, types=("NOPE",)))).rc == 200
    # not found, invalid, not responsible: the REST codes
    for handle, rc in ((f"{ENT}/NOPE", 100), ("99.1/X", 301), (f"{ENT}/", 102)):
        rest = client.get(f"/api/handles/{handle}").json["responseCode"]
        got = parse(udp_exchange(port, request(handle)))
        assert got.rc == rest == rc, (handle, got)
        assert got.message
    # RD: the answer carries a SHA-1 digest of our header and body; KC keeps TCP open
    packet = request(H, indexes=(2,), flags=REQUEST_DIGEST | KEEP_CONNECTION)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(packet)
        first = read_framed(s)
        s.sendall(request(H, indexes=(1,), request_id=8))
        second = parse(read_framed(s))
    msg = packet[20:]
    body_length = struct.unpack(">I", msg[20:24])[0]
    assert first[44:45] == b"\x02"
    assert first[45:65] == hashlib.sha1(msg[:24 + body_length]).digest()
    assert [v.index for v in parse(first).values] == [2]
    assert (second.rc, second.request_id) == (1, 8)


def test_large_answer_is_cut_into_udp_pieces(server: Any, client: Any) -> None:
    big = "y" * 1500
    assert client.put(f"/api/handles/{ENT}/BIG", json={"values": [{"index": 1, "type": "T", "data": big}]},
                      headers=ENT_AUTH).status_code == 201
    # a short request may not draw 16x its size: one TC piece, the client asks over TCP
    short = request(f"{ENT}/BIG", request_id=4)
    alone = udp_pieces(server.port, short, timeout=2.0)
    assert len(alone) == 1 and struct.unpack(">H", alone[0][2:4])[0] & TRUNCATED
    assert struct.unpack(">I", alone[0][16:20])[0] + 20 * 4 > 16 * len(short)  # 4 pieces' worth
    # a request padded with type filters (matching nothing more) is big enough for all pieces
    padded = request(f"{ENT}/BIG", types=("T",) + tuple(f"PAD.TYPE.{i:02}" for i in range(10)),
                     request_id=5)
    pieces = udp_pieces(server.port, padded)
    assert len(pieces) > 1 and all(len(p) <= 512 for p in pieces)
    assert sum(map(len, pieces)) <= 16 * len(padded)
    assert all(struct.unpack(">H", p[2:4])[0] & TRUNCATED for p in pieces)
    assert sorted(struct.unpack(">I", p[12:16])[0] for p in pieces) == list(range(len(pieces)))
    whole = parse(reassemble(pieces))
    assert (whole.rc, whole.values[0].data) == (1, big.encode())
    assert parse(tcp_exchange(server.port, request(f"{ENT}/BIG"))).values[0].data == big.encode()


def framed(msg: bytes) -> bytes:
    return envelope(len(msg)) + msg


def lying(port: int, packet: bytes) -> Any:
    answer = udp_exchange(port, packet)
    assert answer is not None
    return parse(answer)


def test_malformed_packets_get_errors_and_the_server_keeps_answering(server: Any) -> None:
    port = server.port
    good = message(resolution_body(H))
    cases = {
        "envelope length lies": (envelope(len(good) + 50) + good, 4, "envelope message length"),
        "header body length lies": (framed(good[:20] + struct.pack(">I", 9999) + good[24:]), 4,
                                    "header body length"),
        "handle length lies": (framed(message(struct.pack(">I", 5000) + b"88.118.8/x" + b"\0" * 8)),
                               4, "handle"),
        "index count lies": (framed(message(text(H) + struct.pack(">I", 10**9) + b"\0" * 8)), 4,
                             "index list count"),
        "not UTF-8": (framed(message(text(b"\xff\xfe/x") + b"\0" * 8)), 4, "UTF-8"),
        "trailing bytes": (framed(message(resolution_body(H) + b"zz")), 4, "unexpected bytes"),
        "unknown opcode": (request(H, opcode=999), 5, "operation 999"),
        "response code in a request": (framed(message(resolution_body(H), rc=1)), 4, "response code 1"),
        "version 5": (envelope(len(good), major=5) + good, 4, "version 5"),
        "multi-packet request": (envelope(len(good), flags=TRUNCATED) + good, 5, "multi-packet"),
        "no header": (envelope(10) + b"\0" * 10, 4, "message header"),
    }
    for name, (packet, rc, text_part) in cases.items():
        got = lying(port, packet)
        assert (got.rc, got.request_id) == (rc, 7), name
        assert text_part in got.message, (name, got.message)
    # too short for an envelope: dropped, no answer
    assert udp_exchange(port, b"\x02\x01short", timeout=0.3) is None
    # over TCP: a lying envelope length (over the 64 KiB cap) is answered, then the stream closed
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(envelope(10**9) + good)
        got = parse(read_framed(s))
        assert got.rc == 4 and "exceeds" in got.message
        assert s.recv(10) == b""
    # a truncated envelope over TCP: the server closes once the read times out
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(b"\x02\x01\x00")
        assert s.recv(10) == b""
    good_request_answered(port)


def test_garbage_and_slow_clients(server: Any) -> None:
    port = server.port
    junk = random.Random(6).randbytes(64 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(junk)
        answered = read_framed(s)  # an error for the first "envelope", then the close
        if answered:
            assert parse(answered).rc in (4, 5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(0, len(junk), 1024):
            s.sendto(junk[i:i + 1024], ("127.0.0.1", port))
    good_request_answered(port)
    # a slow client holds its connection, but others are served meanwhile, and it is cut off
    slow = socket.create_connection(("127.0.0.1", port), timeout=3)
    slow.sendall(request(H)[:30])
    t0 = time.monotonic()
    good_request_answered(port)
    assert slow.recv(10) == b""
    assert time.monotonic() - t0 < 2.5
    slow.close()


def test_limits(db: Any, config: Any) -> None:
    """Past the open-connection cap new connections are closed; past the pending cap: rc 3."""
    with running(local_answer(db, config), max_connections=1, read_timeout=1.0) as srv:
        holder = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
        time.sleep(0.1)
        try:  # closed at once: an empty read, or a reset since our request went unread
            assert tcp_exchange(srv.port, request(f"0.NA/{ENT}")) == b""
        except ConnectionResetError:
            pass
        holder.close()
        time.sleep(0.1)
        assert parse(tcp_exchange(srv.port, request(f"0.NA/{ENT}"))).rc == 1
    with running(local_answer(db, config), max_pending=0) as srv:
        busy = parse(udp_exchange(srv.port, request(f"0.NA/{ENT}")))
        assert (busy.rc, busy.request_id) == (3, 7)

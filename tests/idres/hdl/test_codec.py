"""The codec: round trips, agreement with hand-built bytes, and precise errors on lies."""
from __future__ import annotations

import struct

import pytest

from idres.hdl import records, site
from idres.hdl.client import parse_response
from idres.hdl.exchange import encode_reply, error, tcp_frame, udp_frames
from idres.hdl.answer import Reply
from idres.hdl.wire import (Envelope, Message, ProtocolError, Reader, ResolutionRequest,
                            decode_envelope, decode_message, decode_resolution_request)
from tests.idres.hdl.packets import TRUNCATED, parse, reassemble, request, resolution_body, text

STAMP = "2026-11-30T08:15:00Z"
SITE = {"version": 1, "protocolVersion": "2.10", "serialNumber": 3, "primarySite": True,
        "multiPrimary": False, "hashOption": 2, "hashFilter": "",
        "attributes": [{"name": "desc", "value": "secondary node A"}],
        "servers": [{"serverId": 1, "address": "192.0.2.7",
                     "interfaces": [{"type": "QUERY", "protocol": "TCP", "port": 2641},
                                    {"type": "QUERY", "protocol": "UDP", "port": 2641},
                                    {"type": "ADMIN_AND_QUERY", "protocol": "HTTP", "port": 8000}]},
                    {"serverId": 2, "address": "2001:db8::5", "publicKey": "AAEC",
                     "interfaces": [{"type": "QUERY", "protocol": "HTTPS", "port": 443}]}]}
VALUES = [
    {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.test/é"},
     "ttl": 86400, "timestamp": STAMP},
    {"index": 2, "type": "BLOB", "data": {"format": "base64", "value": "AAECAwD/"}, "ttl": 60,
     "timestamp": STAMP, "permissions": "1111"},
    {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
        "handle": "0.NA/88.118.8", "index": 300, "permissions": "011111110011"}},
     "ttl": 86400, "timestamp": STAMP},
    {"index": 3, "type": "HS_VLIST", "data": {"format": "vlist", "value": [
        {"handle": "0.NA/88.118.8", "index": 300}, {"handle": "88.118.8/ADM", "index": 301}]},
     "ttl": 86400, "timestamp": STAMP, "references": [{"handle": "88.118.8/X", "index": 2}]},
    {"index": 4, "type": "HS_SITE", "data": {"format": "site", "value": SITE}, "ttl": 86400,
     "timestamp": STAMP},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: v["type"])
def test_value_round_trip(value: dict) -> None:
    raw = records.encode_value(value)
    r = Reader(raw, "test")
    assert records.decode_value(r) == value
    assert r.left == 0


def test_hex_comes_back_as_base64_of_the_same_bytes() -> None:
    value = {"index": 1, "type": "CHECKSUM", "data": {"format": "hex", "value": "00ff10"},
             "ttl": 5, "timestamp": STAMP}
    back = records.decode_value(Reader(records.encode_value(value), "test"))
    assert back["data"] == {"format": "base64", "value": "AP8Q"}


def test_admin_and_site_bytes_are_the_rfc_layouts() -> None:
    admin = records.encode_data("HS_ADMIN", "admin", VALUES[2]["data"]["value"])
    # 0b011111110011: everything but LIST_HANDLES (0x800), ADD_NA (0x4), DELETE_NA (0x8)
    assert admin == struct.pack(">H", 0x7F3) + text("0.NA/88.118.8") + struct.pack(">I", 300)
    raw = site.encode_site(SITE)
    assert raw[:8] == struct.pack(">HBBHBB", 1, 2, 10, 3, 0x80, 2)
    address = raw.index(b"\0" * 10 + b"\xff\xff" + bytes([192, 0, 2, 7]))  # IPv4-mapped
    assert raw[address - 4:address] == struct.pack(">I", 1)                # server id 1
    assert struct.pack(">BBI", 2, 1, 2641) in raw and struct.pack(">BBI", 3, 2, 8000) in raw


def test_site_from_idres_and_cnri_json_and_endpoints() -> None:
    cnri = {"version": 1, "protocolVersion": "2.10", "serialNumber": 1,
            "primaryMask": {"primary": True, "multiPrimary": True}, "hashOption": "HASH_TYPE_BY_ALL",
            "servers": [{"serverId": 1, "address": "10.0.0.1",
                         "interfaces": [{"query": True, "admin": False, "protocol": "TCP", "port": 2641}]}]}
    decoded = site.decode_site(site.encode_site(cnri))
    assert (decoded["primarySite"], decoded["multiPrimary"]) == (True, True)
    assert decoded["servers"][0]["interfaces"] == [{"type": "QUERY", "protocol": "TCP", "port": 2641}]
    node = {"protocolVersion": "2.10", "primarySite": True, "servers": [{"serverId": 1, "interfaces": [
        {"protocol": "HTTP", "type": "QUERY", "url": "http://127.0.0.1:8000"}]}]}
    decoded = site.decode_site(site.encode_site(node))
    assert decoded["servers"][0]["address"] == "127.0.0.1"
    assert site.endpoints(decoded) == [site.Endpoint("HTTP", "127.0.0.1", 8000, "http://127.0.0.1:8000")]
    assert [e.protocol for e in site.endpoints(SITE, ("TCP", "UDP"))] == ["TCP", "UDP"]
    named = site.decode_site(site.encode_site({"servers": [{"address": "node.example", "interfaces": []}]}))
    assert named["servers"][0]["address"] == "::"  # the layout holds IP addresses only
    with pytest.raises(ValueError, match="interface protocol 'FTP'"):
        site.encode_site({"servers": [{"interfaces": [{"type": "QUERY", "protocol": "FTP"}]}]})


def test_request_encoder_agrees_with_hand_built_bytes() -> None:
    body = ResolutionRequest("88.118.8/A", (1, 2), ("URL", "HS_")).pack()
    assert body == resolution_body("88.118.8/A", (1, 2), ("URL", "HS_"))
    packet = request("88.118.8/A", indexes=(1, 2), types=("URL", "HS_"), request_id=42)
    env = decode_envelope(packet)
    assert (env.major, env.minor, env.request_id, env.length) == (2, 1, 42, len(packet) - 20)
    msg = decode_message(packet[20:])
    assert (msg.header.opcode, msg.header.rc, msg.credential) == (1, 0, b"")
    assert decode_resolution_request(msg.body) == ResolutionRequest("88.118.8/A", (1, 2), ("URL", "HS_"))
    assert Message(msg.header, msg.body).pack() == packet[20:]


def test_reply_round_trips_through_the_client_parser() -> None:
    env = Envelope(request_id=9)
    req = decode_message(request("88.118.8/A")[20:])
    values = (*VALUES, {**VALUES[0], "index": 9, "data": {"format": "string", "value": "w" * 600}})
    outcome = encode_reply(env, req, Reply(1, "88.118.8/A", values))
    framed = tcp_frame(outcome)
    assert parse(framed).rc == 1 and parse(framed).request_id == 9
    assert parse_response(framed[20:], "88.118.8/A") == Reply(1, "88.118.8/A", values)
    pieces = udp_frames(outcome)
    assert len(pieces) > 1 and all(len(p) <= 512 for p in pieces)
    assert all(decode_envelope(p).flags & TRUNCATED for p in pieces)
    assert reassemble(list(reversed(pieces))) == framed
    referral = encode_reply(env, req, Reply(302, "0.NA/88.118", tuple(VALUES[4:])))
    assert parse_response(referral.message, "x") == Reply(302, "0.NA/88.118", tuple(VALUES[4:]))
    err = error(env, req, 100, "Handle not found")
    assert parse(tcp_frame(err)).message == "Handle not found"


@pytest.mark.parametrize("data, field", [
    (b"\0" * 19, "envelope"),
])
def test_short_envelope(data: bytes, field: str) -> None:
    with pytest.raises(ProtocolError, match=field):
        decode_envelope(data)


@pytest.mark.parametrize("data, message", [
    (b"\0" * 23, "message header: needs 24 bytes"),
    (struct.pack(">IIIHBBII", 1, 0, 0, 0, 0, 0, 0, 50) + b"\0" * 10, "header body length is 50 bytes"),
    (struct.pack(">IIIHBBII", 1, 0, 0, 0, 0, 0, 0, 0) + struct.pack(">I", 9), "credential is 9 bytes"),
    (struct.pack(">IIIHBBII", 1, 0, 0, 0, 0, 0, 0, 0) + b"\0" * 6, "2 unexpected bytes"),
])
def test_message_lies(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_message(data)


@pytest.mark.parametrize("body, message", [
    (b"", "handle length is 4 bytes at offset 0, only 0 left"),
    (struct.pack(">I", 99) + b"abc", "handle is 99 bytes at offset 4, only 3 left"),
    (text("a/b") + struct.pack(">I", 3) + b"\0" * 4, "index list count says 3 items"),
    (text("a/b") + struct.pack(">I", 0) + struct.pack(">I", 2) + text("URL"), "type list count says 2"),
    (text("a/b") + struct.pack(">II", 0, 1) + struct.pack(">I", 8) + b"\xc3(\0\0\0\0\0\0",
     "type is not UTF-8"),
])
def test_request_body_lies(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_resolution_request(body)


def test_value_and_site_lies() -> None:
    raw = records.encode_value(VALUES[0])
    with pytest.raises(ProtocolError, match="value 1 data is"):
        records.decode_value(Reader(raw[:30], "response"))
    lying_refs = raw[:-4] + struct.pack(">I", 1000)
    with pytest.raises(ProtocolError, match="reference count says 1000"):
        records.decode_value(Reader(lying_refs, "response"))
    with pytest.raises(ProtocolError, match="server count says"):
        site.decode_site(site.encode_site({"servers": []})[:-4] + struct.pack(">I", 5))
    with pytest.raises(ProtocolError, match="unexpected bytes"):
        records.decode_data("HS_ADMIN", records.encode_data("HS_ADMIN", "admin", VALUES[2]["data"]["value"]) + b"x")

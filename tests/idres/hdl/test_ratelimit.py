"""UDP response-rate limiting: the limiter on a fake clock, then a real server flooded over loopback.

Loopback sources are exempt by default, so the server tests set
``limit_loopback``; other sources are 127.0.0.2.. (all of 127/8 is local).
Counts, never timings: the refill rate is so small that no token comes back
while a test runs.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

import pytest

from idres.hdl import client as hdl_client
from idres.hdl.answer import local_answer
from idres.hdl.exchange import Outcome, use_tcp_frame, udp_frames
from idres.hdl.ratelimit import SourceLimiter, UdpLimits, Verdict, source_key
from idres.hdl.wire import Envelope
from tests.conftest import ENT, ENT_AUTH
from tests.idres.hdl.packets import (TRUNCATED, parse, reassemble, request, running,
                                     tcp_exchange, udp_pieces)

ANSWER, SLIP, DROP = Verdict.ANSWER, Verdict.SLIP, Verdict.DROP
SLOW = 0.001   # tokens per second: none come back during a test


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(**settings: Any) -> tuple[SourceLimiter, Clock]:
    clock = Clock()
    return SourceLimiter(UdpLimits(**{"limit_loopback": True, **settings}), clock), clock


def test_bucket_burst_refill_and_slip() -> None:
    lim, clock = limiter(rate=2, burst=3, slip=2)
    a, b = ("192.0.2.1", 4000), ("192.0.2.2", 4000)
    assert [lim.admit(a) for _ in range(8)] == [ANSWER] * 3 + [SLIP, DROP, SLIP, DROP, SLIP]
    assert lim.admit(b) == ANSWER                      # another source: its own bucket
    assert lim.admit(("192.0.2.1", 9)) == DROP         # by address, not port (6th over)
    clock.now += 1.0          # 2 tokens back
    assert [lim.admit(a) for _ in range(3)] == [ANSWER, ANSWER, SLIP]
    clock.now += 100.0        # refills up to the burst only
    assert [lim.admit(a) for _ in range(4)] == [ANSWER] * 3 + [DROP]
    # extra pieces of a long answer are charged: 3 - 5 = -2, the source waits for them
    clock.now += 100.0
    lim.charge(a, 5)
    assert lim.admit(a) == SLIP
    clock.now += 2.0          # -2 + 4 = 2 tokens
    assert [lim.admit(a) for _ in range(3)] == [ANSWER, ANSWER, DROP]


def test_slip_settings_and_no_limit() -> None:
    every, _ = limiter(rate=SLOW, burst=1, slip=1)
    never, _ = limiter(rate=SLOW, burst=1, slip=0)
    src = ("198.51.100.7", 1)
    assert [every.admit(src) for _ in range(4)] == [ANSWER, SLIP, SLIP, SLIP]
    assert [never.admit(src) for _ in range(4)] == [ANSWER, DROP, DROP, DROP]
    off, _ = limiter(rate=0, burst=1)
    assert {off.admit(src) for _ in range(100)} == {ANSWER} and len(off) == 0
    loopback = SourceLimiter(UdpLimits(rate=SLOW, burst=1))   # exempt by default
    assert {loopback.admit(("127.0.0.1", 1)) for _ in range(10)} == {ANSWER}
    assert {loopback.admit(("::1", 1, 0, 0)) for _ in range(10)} == {ANSWER}
    assert [loopback.admit(("203.0.113.9", 1)) for _ in range(2)] == [ANSWER, SLIP]
    for bad in ({"rate": -1}, {"burst": 0}, {"slip": -1}, {"max_sources": 0},
                {"amplification": 0}):
        with pytest.raises(ValueError):
            UdpLimits(**bad)


def test_sources_are_addresses_and_ipv6_slash_64() -> None:
    assert source_key("192.0.2.1") == ("192.0.2.1", False)
    assert source_key("::ffff:192.0.2.1") == ("192.0.2.1", False)  # dual-stack socket
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:bbbb::9%eth0") \
        == ("2001:db8:1:2::/64", False)
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("127.0.0.9")[1] and source_key("::1")[1]
    assert source_key("not an address") is None
    lim, _ = limiter(rate=SLOW, burst=2)
    # one host hopping addresses inside its /64 shares one bucket
    assert [lim.admit((f"2001:db8:1:2::{i:x}", 1, 0, 0)) for i in range(3)] == [ANSWER] * 2 + [SLIP]


def test_tracked_sources_are_bounded_oldest_evicted() -> None:
    lim, _ = limiter(rate=SLOW, burst=1, max_sources=50)
    first = ("10.0.0.1", 1)
    assert [lim.admit(first), lim.admit(first)] == [ANSWER, SLIP]
    for i in range(10_000):
        assert lim.admit((str(ipaddress.IPv4Address(0x0A000100 + i)), 1)) == ANSWER
        assert len(lim) <= 50
    assert len(lim) == 50
    assert lim.admit(first) == ANSWER   # evicted long ago: a new (full) bucket
    recent = (str(ipaddress.IPv4Address(0x0A000100 + 9990)), 1)
    assert lim.admit(recent) == SLIP    # among the last 50 seen: still remembered as spent


def test_multi_piece_answers_bounded_by_request_size() -> None:
    env = Envelope(request_id=3, length=60)
    big = Outcome(env, b"m" * 1500)             # 4 pieces, 1,580 bytes with envelopes
    assert len(udp_frames(big)) == 4            # no bound given: as before
    assert len(udp_frames(big, 100, 16)) == 4   # 1,580 <= 1,600
    assert len(udp_frames(big, 98, 16)) == 1    # 1,580 > 1,568
    small = Outcome(env, b"m" * 400)            # one datagram: never cut or refused
    assert len(udp_frames(small, 20, 1)) == 1 and len(udp_frames(small, 20, 1)[0]) == 420
    slip = use_tcp_frame(env)
    _, _, flags, _, request_id, _, length = struct.unpack(">BBHIIII", slip[:20])
    assert (flags & TRUNCATED, request_id, length) == (TRUNCATED, 3, len(slip) - 20)
    reply = parse(slip)
    assert (reply.rc, reply.message) == (3, "Use TCP")
    assert len(slip) <= 20 + 24 + 4 + 4 + 4 + 4  # a request for the empty handle, the smallest


def counting(answer: Any) -> Any:
    def wrapped(query: Any, hop: Any) -> Any:
        wrapped.calls += 1  # type: ignore[attr-defined]
        return answer(query, hop)
    wrapped.calls = 0  # type: ignore[attr-defined]
    return wrapped


def flood(port: int, packets: list[bytes], source: str = "127.0.0.1",
          expect: int | None = None) -> list[bytes]:
    """Send every packet from ``source`` at once, then collect what comes back.

    Until a second passes without a datagram, or ``expect`` of them came.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        for packet in packets:
            s.sendto(packet, ("127.0.0.1", port))
        s.settimeout(1.0)
        got = []
        try:
            while len(got) != expect:
                got.append(s.recv(65535))
        except socket.timeout:
            pass
        return got


def test_flood_from_one_source_is_limited_others_and_tcp_still_answered(db: Any, config: Any) -> None:
    answer = counting(local_answer(db, config))
    limits = UdpLimits(rate=SLOW, burst=5, slip=2, limit_loopback=True)
    with running(answer, udp_limits=limits) as srv:
        packets = [request(f"0.NA/{ENT}", request_id=100 + i) for i in range(40)]
        got = [parse(p) for p in flood(srv.port, packets)]
        full = [r for r in got if not r.env_flags & TRUNCATED]
        slips = [r for r in got if r.env_flags & TRUNCATED]
        assert [r.rc for r in full] == [1] * 5 and answer.calls == 5   # nothing more resolved
        assert len(slips) == 18 and {r.rc for r in slips} == {3}      # over-limit 1, 3, ..., 35
        assert len({r.request_id for r in got}) == len(got) == 23      # the rest: nothing
        # a slip answer is never larger than the request it answers
        assert len(use_tcp_frame(Envelope(request_id=1))) <= min(map(len, packets))
        # another source is answered in full
        other = flood(srv.port, [request(f"0.NA/{ENT}", request_id=7)], source="127.0.0.2", expect=1)
        assert [(r.rc, r.request_id, r.env_flags) for r in map(parse, other)] == [(1, 7, 0)]
        # TCP from the flooding source: not limited
        for i in range(10):
            assert parse(tcp_exchange(srv.port, request(f"0.NA/{ENT}", request_id=i))).rc == 1
        # our client from the flooding source: dropped or told to use TCP, resolves all the same
        reply = hdl_client.resolve("127.0.0.1", srv.port, f"0.NA/{ENT}", timeout=5)
        assert reply.rc == 1 and reply.values


def test_client_resolves_multi_piece_answer_and_sources_stay_bounded(db: Any, config: Any,
                                                                     client: Any) -> None:
    big = [{"index": i, "type": "URL", "data": f"https://example.test/{i}/" + "q" * 200}
           for i in range(1, 8)]
    assert client.put(f"/api/handles/{ENT}/MANY", json={"values": big},
                      headers=ENT_AUTH).status_code == 201
    limits = UdpLimits(max_sources=4, limit_loopback=True)  # default rate, burst, slip, bound
    with running(local_answer(db, config), udp_limits=limits) as srv:
        reply = hdl_client.resolve("127.0.0.1", srv.port, f"{ENT}/MANY", timeout=5)
        urls = [v["data"]["value"] for v in reply.values if v["type"] == "URL"]
        assert urls == [v["data"] for v in big]
        # by hand: a short request gets one TC piece, charged as one datagram
        first = udp_pieces(srv.port, request(f"{ENT}/MANY"))
        assert len(first) == 1 and struct.unpack(">H", first[0][2:4])[0] & TRUNCATED
        for i in range(2, 12):   # ten more sources: at most four tracked
            got = flood(srv.port, [request(f"0.NA/{ENT}", request_id=i)], source=f"127.0.0.{i}",
                        expect=1)
            assert parse(got[0]).rc == 1
            assert len(srv.limiter) <= 4
        assert len(srv.limiter) == 4
        whole = parse(reassemble(udp_pieces(srv.port, request(f"{ENT}/MANY", types=(
            "URL",) + tuple(f"PAD.{i:03}" for i in range(20))))))
        assert len(whole.values) == 7

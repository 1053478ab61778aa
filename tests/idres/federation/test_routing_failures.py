"""Resolution routing when other nodes fail or lie: timeouts, refused and binary-only sites,
malicious answers, relayed errors, the binary server's flags and the cache's byte bound
(fixtures in :mod:`routing_fixtures`)."""
from __future__ import annotations

import time

import pytest

from idres.errors import NotResponsible
from idres.federation.binary import binary_answer
from idres.federation.cache import AnswerCache
from idres.federation.remote import RecursionLimit
from idres.federation.routing import MAX_RECURSION, Router
from idres.federation.sites import node_url, sites_of
from idres.hdl.answer import Hop as HdlHop
from idres.resolver import ResolveQuery
from tests.idres.federation.routing_fixtures import (  # noqa: F401  (fixtures used by name)
    PART, PART_VALUES, TIMEOUT, Clock, Node, clock, error, get, node_a, node_b, node_b_backends, top)
from tests.idres.federation.routing_nodes import (FakeNode, closed_port, dripping_port, silent_port,
                                                  site)


def test_silent_node_times_out_fast(node_b: Node, top: Node) -> None:
    for hang in (silent_port, dripping_port):
        with hang() as url:
            top.store("0.NA/88.118.8", [site(url)])
            started = time.monotonic()
            body = error(get(node_b, f"88.118.8/SLOW-{hang.__name__}", "?auth=true"), 504, 2)
            assert time.monotonic() - started < TIMEOUT + 0.4, body
            assert url in body["message"]


def test_refused_node_fails_fast_and_mirrors_are_tried(node_b: Node, node_a: Node, top: Node) -> None:
    dead = closed_port()
    top.store("0.NA/88.118.8", [site(dead)])
    started = time.monotonic()
    assert dead in error(get(node_b, "88.118.8/ENG-1"), 502, 2)["message"]
    assert time.monotonic() - started < TIMEOUT
    mirror = site(node_a.url, primary=False)
    top.store("0.NA/88.118.8", [{**mirror, "index": 2}, site(dead)])
    get(node_b, "0.NA/88.118.8", "?auth=true")  # refresh B's cached prefix record
    assert get(node_b, PART).status_code == 200  # the primary is down; the other server answers


def test_binary_only_or_cnri_style_sites(node_b: Node, node_a: Node, top: Node) -> None:
    port = int(node_a.url.rsplit(":", 1)[1])
    cnri = {"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {
        "primaryMask": {"primary": True}, "servers": [{"serverId": 1, "address": "127.0.0.1", "interfaces": [
            {"query": True, "protocol": "UDP", "port": 2641}, {"query": True, "protocol": "HTTP", "port": port}]}]}}}
    top.store("0.NA/88.118.8", [cnri])
    assert get(node_b, PART).status_code == 200
    dead = int(closed_port().rsplit(":", 1)[1])
    top.store("0.NA/88.118.8", [{"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {
        "servers": [{"address": "127.0.0.1", "interfaces": [{"protocol": "TCP", "port": dead}]}]}}}])
    started = time.monotonic()  # no HTTP interface: asked over the binary protocol, which is down
    assert f"127.0.0.1:{dead}" in error(get(node_b, "88.118.8/ENG-1", "?auth=true"), 502, 2)["message"]
    assert time.monotonic() - started < TIMEOUT
    top.store("0.NA/88.118.8", [{"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {
        "servers": [{"address": "127.0.0.1", "interfaces": [{"protocol": "SMTP", "port": 25}]}]}}}])
    assert "no HTTP or binary" in error(get(node_b, "88.118.8/ENG-1", "?auth=true"), 502, 2)["message"]


MALICIOUS = [
    (200, b'{"responseCode":1,"handle":"88.118.8/OTHER","values":[]}'),           # another handle
    (200, b'{"responseCode":1,"values":[]}'),                                      # no handle
    (200, b"<html>hello</html>"),                                                  # not JSON
    (200, b'["responseCode", 1]'),                                                 # not an object
    (200, b'{"responseCode":"1","handle":"88.118.8/M","values":[]}'),              # rc not an int
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":{}}'),                # values not a list
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":[{"index":1,"type":"URL",'
          b'"data":{"format":"string","value":"x"},"ttl":"60","timestamp":""}]}'),  # ttl a string
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":[{"index":1,"type":"URL",'
          b'"data":"x","ttl":60,"timestamp":""}]}'),                               # bare data
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":[{"index":1,"type":"U\\u0000",'
          b'"data":{"format":"string","value":"x"},"ttl":60}]}'),                   # control char
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":[' + b'[' * 5000 + b']' * 5000 + b']}'),
    (500, b'{"responseCode":1,"handle":"88.118.8/M","values":[]}'),                # rc 1 with 500
    (200, b'{"responseCode":1,"handle":"88.118.8/M","values":[{"index":1,"type":"URL","data":'
          b'{"format":"string","value":"x"},"ttl":60},{"index":1,"type":"URL","data":'
          b'{"format":"string","value":"y"},"ttl":60}]}'),                          # index twice
]


def test_malicious_answers_are_rejected_and_not_cached(node_b: Node, top: Node) -> None:
    fake = FakeNode()
    try:
        top.store("0.NA/88.118.8", [site(fake.url)])
        router = node_b.app.extensions["idres.router"]
        for status, body in MALICIOUS:
            fake.reply.status, fake.reply.body = status, body
            error(get(node_b, "88.118.8/M"), 502, 2)
            assert router.cache.get("88.118.8/m") is None, body
        fake.reply.body = b'{"responseCode":1,"handle":"88.118.8/M","values":[' + b'"x",' * 600_000 + b'1]}'
        fake.reply.length = False  # no Content-Length: read until the cap, then refused
        assert "over" in error(get(node_b, "88.118.8/M"), 502, 2)["message"]
        fake.reply.length = True
        fake.reply.headers = {"Content-Type": "application/json", "Content-Length": str(10**9)}
        fake.reply.body = b"{}"
        assert "bytes" in error(get(node_b, "88.118.8/M"), 502, 2)["message"]  # declared too big
        fake.reply.headers = {"Content-Type": "application/json"}
        fake.reply.status, fake.reply.body = 404, b'{"responseCode":100,"handle":"88.118.8/m"}'
        error(get(node_b, "88.118.8/M"), 404, 100)  # a good answer after all that: used
    finally:
        fake.close()


def test_remote_errors_are_relayed_and_secrets_dropped(node_b: Node, top: Node) -> None:
    fake = FakeNode()
    try:
        top.store("0.NA/88.118.8", [site(fake.url)])
        fake.reply.status, fake.reply.body = 400, b'{"responseCode":301,"handle":"88.118.8/R1","message":"no"}'
        assert fake.url in error(get(node_b, "88.118.8/R1"), 400, 301)["message"]
        fake.reply.status, fake.reply.body = 504, b'{"responseCode":2,"handle":"88.118.8/R2","message":"late"}'
        assert error(get(node_b, "88.118.8/R2"), 504, 2)["message"] == f"via {fake.url}: late"
        fake.reply.status, fake.reply.body = 403, b'{"responseCode":400,"handle":"88.118.8/R3"}'
        error(get(node_b, "88.118.8/R3"), 502, 2)
        fake.reply.status = 200
        fake.reply.body = (b'{"responseCode":1,"handle":"88.118.8/R4","values":[{"index":300,"type":"HS_SECKEY",'
                           b'"data":{"format":"string","value":"s3cret"},"ttl":60,"timestamp":""},'
                           b'{"index":1,"type":"URL","data":{"format":"string","value":"u"},"ttl":60,'
                           b'"timestamp":"2026-11-30T08:15:00Z"}]}')
        r = get(node_b, "88.118.8/R4")
        assert r.status_code == 200 and [v["type"] for v in r.json["values"]] == ["URL"]
        assert b"s3cret" not in r.data
    finally:
        fake.close()


def test_site_parsing_ignores_what_it_cannot_contact() -> None:
    def http(url: str, **server) -> dict:
        return {"type": "HS_SITE", "data": {"format": "site", "value": {"servers": [
            {"interfaces": [{"protocol": "HTTP", "url": url}], **server}]}}}

    bad = [http(u) for u in ("ftp://x.test", "http://x.test:99999", "http://[::1", "http://", "x")]
    assert sites_of(bad) == []
    assert sites_of([{"type": "URL", "data": "http://x.test"}, {"type": "HS_SITE", "data": "nope"},
                     {"type": "HS_SITE", "data": {"format": "site", "value": {"servers": "x"}}}]) == []
    primary = {**http("http://p.test:8000/"), "index": 2}
    primary["data"]["value"]["primarySite"] = True
    assert [s.http_url for s in sites_of([http("http://m.test"), primary])] == ["http://p.test:8000", "http://m.test"]
    assert node_url("HTTP://P.test/") == node_url("http://p.test:80") == "http://p.test:80"


def test_binary_protocol_answer_maps_the_header_flags(node_b: Node, node_a: Node) -> None:
    answer = binary_answer(node_b.db, node_b.config)
    reply = answer(ResolveQuery(PART.lower()), HdlHop())
    assert (reply.rc, reply.handle, list(reply.values)) == (1, PART.lower(), get(node_a, PART).json["values"])
    referral = answer(ResolveQuery(PART), HdlHop(recursive=False))  # REC cleared: where to go
    assert referral.rc == 302 and referral.values[0]["type"] == "HS_SITE"
    with pytest.raises(NotResponsible):  # REC cleared and DNRF: neither an answer nor a referral
        answer(ResolveQuery(PART), HdlHop(recursive=False, do_not_refer=True))
    with pytest.raises(RecursionLimit) as too_deep:
        answer(ResolveQuery("88.118.8/ENG-7"), HdlHop(recursion_count=MAX_RECURSION))
    assert too_deep.value.rc == 6
    assert answer(ResolveQuery(PART, types=("NOPE",)), HdlHop()).rc == 200


ODD_VALUES = [  # REST-shaped enough for the router, impossible in RFC 3651's layout
    b'{"index":1,"type":"URL","data":{"format":"string","value":"x"},"ttl":8589934592}',
    b'{"index":100,"type":"HS_ADMIN","data":{"format":"admin","value":{"handle":5,"index":1,'
    b'"permissions":"111111111111"}},"ttl":60}',
    b'{"index":100,"type":"HS_ADMIN","data":{"format":"admin","value":{"handle":"0.NA/88.118.8",'
    b'"index":-1,"permissions":"111111111111"}},"ttl":60}',
]


def test_remote_values_the_binary_layout_cannot_hold_get_an_error_answer(node_b_backends: Node,
                                                                         top: Node) -> None:
    """A remote's answer relayed over the binary protocol: an error response, not a dropped request."""
    from idres.hdl import exchange, wire
    from tests.idres.hdl.packets import request
    fake = FakeNode()
    try:
        top.store("0.NA/88.118.8", [site(fake.url)])
        answer = binary_answer(node_b_backends.db, node_b_backends.config)
        for n, value in enumerate(ODD_VALUES):
            handle = f"88.118.8/ODD-{n}"
            fake.reply.status = 200
            fake.reply.body = b'{"responseCode":1,"handle":"%s","values":[%s]}' % (handle.encode(), value)
            packet = request(handle, flags=wire.FLAG_REC)
            outcome = exchange.respond(wire.decode_envelope(packet), packet[wire.ENVELOPE_SIZE:], answer)
            header = wire.decode_message(outcome.message).header
            assert header.rc == wire.RC_ERROR, value
    finally:
        fake.close()


def test_cache_is_bounded_in_bytes(node_b: Node, top: Node, clock: Clock) -> None:
    """A remote serving large records for many handles cannot fill a worker's memory."""
    fake = FakeNode()
    budget = 2 * 1024 * 1024
    cache = AnswerCache(clock=clock, max_bytes=budget)
    node_b.app.extensions["idres.router"] = Router(node_b.db, node_b.config, cache)
    try:
        top.store("0.NA/88.118.8", [site(fake.url)])
        for n in range(40):  # about 100 kB each: 4 MB asked, 2 MiB kept at most
            handle = f"88.118.8/BIG-{n}"
            fake.reply.body = (b'{"responseCode":1,"handle":"%s","values":[{"index":1,"type":"BLOB",'
                               b'"data":{"format":"string","value":"%s"},"ttl":3600}]}'
                               % (handle.encode(), b"x" * 100_000))
            assert get(node_b, handle).status_code == 200
            assert cache.bytes <= budget
        assert cache.get("88.118.8/big-39") is not None      # the newest is kept
        assert cache.get("88.118.8/big-0") is None           # the oldest made room
        assert 10 < len(cache) < 40
        fake.reply.body = (b'{"responseCode":1,"handle":"88.118.8/HUGE","values":[{"index":1,"type":"BLOB",'
                           b'"data":{"format":"string","value":"%s"},"ttl":3600}]}' % (b"x" * 200_000))
        assert get(node_b, "88.118.8/HUGE").status_code == 200  # answered, but over 1/16: not kept
        assert cache.get("88.118.8/huge") is None and cache.get("88.118.8/big-39") is not None
    finally:
        fake.close()

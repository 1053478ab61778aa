"""Resolution routing between real nodes on loopback (in-process servers).

Top-level node T (``88``) holds ``0.NA/88.118.8`` naming secondary A
(``88.118``), which holds ``88.118.8/ENG-1``.  Node B (``88.119``, upstream
T, on each backend) is the router under test: it is asked through its REST
API (Flask test client) and talks real HTTP to T and A.
"""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from idres.errors import NotResponsible
from idres.federation.binary import binary_answer
from idres.federation.cache import NEGATIVE_TTL, AnswerCache
from idres.federation.remote import RecursionLimit
from idres.federation.routing import MAX_RECURSION, Router
from idres.federation.sites import node_url, sites_of
from idres.hdl.answer import Hop as HdlHop
from idres.node import create_prefix
from idres.resolver import ResolveQuery
from tests.idres.federation.routing_nodes import (FakeNode, Node, closed_port, dripping_port,
                                                  running_node, silent_port, site)

PART = "88.118.8/ENG-1"
PART_VALUES = [{"index": 1, "type": "URL", "data": "https://a.example/eng-1", "ttl": 300},
               {"index": 2, "type": "PART.TYPE", "data": "ENGINE", "ttl": 60},
               {"index": 3, "type": "PART.DESCRIPTION", "data": "K20 engine", "ttl": 3600}]
TIMEOUT = 0.6  # B's upstream_timeout: the deadline of every routed request


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def top(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("top"), "88", "top-level") as node:
        yield node


@contextmanager
def secondary_a(tmp: Path, top: Node) -> Iterator[Node]:
    """Node A holding 88.118.8 and PART, registered (directly) at the top-level node."""
    with running_node(tmp, "88.118") as node:
        create_prefix(node.db, node.config, "88.118.8", "engine-maker-secret")
        node.put(PART, PART_VALUES)
        top.store("0.NA/88.118.8", [site(node.url)])
        yield node


@pytest.fixture(scope="module")
def node_a(tmp_path_factory: pytest.TempPathFactory, top: Node) -> Iterator[Node]:
    with secondary_a(tmp_path_factory.mktemp("a"), top) as node:
        yield node


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def secondary_b(tmp: Path, database: str, top: Node, node_a: Node, clock: Clock) -> Iterator[Node]:
    """A fresh B (and cache); T and A back as the module's fixtures built them."""
    top.store("0.NA/88.118.8", [site(node_a.url)])
    node_a.put(PART, PART_VALUES)
    with running_node(tmp, "88.119", upstream=top.url, timeout=TIMEOUT, database=database) as node:
        node.app.extensions["idres.router"] = Router(node.db, node.config, AnswerCache(clock=clock))
        yield node


@pytest.fixture
def node_b(tmp_path: Path, top: Node, node_a: Node, clock: Clock) -> Iterator[Node]:
    """B on SQLite: routing itself does not touch B's database."""
    with secondary_b(tmp_path / "b", str(tmp_path / "b.db"), top, node_a, clock) as node:
        yield node


@pytest.fixture
def node_b_backends(tmp_path: Path, database_url: str, top: Node, node_a: Node,
                    clock: Clock) -> Iterator[Node]:
    """B on each backend, for the tests where B's own records take part."""
    with secondary_b(tmp_path / "b", database_url, top, node_a, clock) as node:
        yield node


def get(node: Node, handle: str, query: str = "", **headers: str):
    return node.app.test_client().get(f"/api/handles/{handle}{query}", headers=headers)


def error(r, status: int, rc: int) -> dict:
    assert (r.status_code, r.json["responseCode"]) == (status, rc), r.json
    return r.json


def test_recursive_answer_echoes_spelling_and_filters(node_b_backends: Node, node_a: Node) -> None:
    node_b = node_b_backends
    r = get(node_b, PART)
    assert r.status_code == 200 and r.json["responseCode"] == 1
    assert r.json["values"] == get(node_a, PART).json["values"]
    r = get(node_b, "88.118.8/eng-1")  # ASCII case folded; the asked spelling echoed
    assert r.status_code == 200 and r.json["handle"] == "88.118.8/eng-1"
    assert [v["index"] for v in get(node_b, PART, "?type=PART.").json["values"]] == [2, 3]
    assert [v["index"] for v in get(node_b, PART, "?index=1&type=PART.DESCRIPTION").json["values"]] == [1, 3]
    r = get(node_b, PART, "?type=NOPE")
    assert (r.status_code, r.json) == (200, {"responseCode": 200, "handle": PART, "values": []})
    error(get(node_b, PART, "?index=x"), 400, 4)


def test_prefix_record_routes_upward(node_b: Node, top: Node, node_a: Node) -> None:
    r = get(node_b, "0.NA/88.118.8")
    assert r.status_code == 200 and r.json["handle"] == "0.NA/88.118.8"
    assert r.json["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["url"] == node_a.url
    # a prefix nobody registered: rc 100 from the top-level node, relayed
    error(get(node_b, "0.NA/88.118.77"), 404, 100)
    error(get(node_b, "88.118.77/X"), 404, 100)


def test_top_level_follows_its_own_prefix_records(top: Node, node_a: Node) -> None:
    r = get(top, PART)
    assert r.status_code == 200 and r.json["values"] == get(node_a, PART).json["values"]
    assert get(top, "0.NA/88.118.8").json["values"][0]["type"] == "HS_SITE"  # held there
    error(get(top, "88.118.8/NOPE"), 404, 100)    # A's answer
    error(get(top, "88.117.1/X"), 400, 301)       # no record says who holds 88.117.1
    error(get(top, "99.1/X"), 400, 301)           # outside 88 and nothing above the top


def test_local_handles_stay_local(node_b_backends: Node, top: Node) -> None:
    node_b = node_b_backends
    asked = top.served.requests
    create_prefix(node_b.db, node_b.config, "88.119.3", "bolt-maker-secret")
    node_b.put("88.119.3/B-1", [{"index": 1, "type": "URL", "data": "https://b.example/"}])
    assert get(node_b, "88.119.3/B-1").status_code == 200
    error(get(node_b, "88.119.3/NOPE"), 404, 100)
    error(get(node_b, "88.119.77/X"), 400, 301)  # B's own namespace: nobody else holds it
    assert top.served.requests == asked


def test_cache_lasts_the_smallest_ttl_and_is_never_served_stale(
        tmp_path: Path, node_b: Node, top: Node, clock: Clock) -> None:
    with secondary_a(tmp_path / "own-a", top) as node_a:  # this test stops its A
        assert get(node_b, PART).status_code == 200
        asked_a, asked_top = node_a.served.requests, top.served.requests
        clock.now += 59  # the smallest TTL of the part's values is 60 s
        assert get(node_b, "88.118.8/ENG-1").status_code == 200
        assert (node_a.served.requests, top.served.requests) == (asked_a, asked_top)
        clock.now += 2
        assert get(node_b, PART).status_code == 200
        assert node_a.served.requests == asked_a + 1
        assert top.served.requests == asked_top  # the prefix record (TTL one day) still cached
        node_a.served.stop()
        assert get(node_b, PART).status_code == 200  # within the TTL: A is not asked
        clock.now += 61
        started = time.monotonic()
        assert "unreachable" in error(get(node_b, PART), 502, 2)["message"]
        assert time.monotonic() - started < TIMEOUT


def test_not_found_is_cached_briefly(node_b: Node, node_a: Node, clock: Clock) -> None:
    new = f"88.118.8/NEW-{uuid.uuid4().hex[:8]}"
    error(get(node_b, new), 404, 100)
    node_a.put(new, [{"index": 1, "type": "URL", "data": "https://a.example/new"}])
    error(get(node_b, new), 404, 100)
    clock.now += NEGATIVE_TTL + 0.1
    assert get(node_b, new).status_code == 200


def test_auth_true_bypasses_the_cache(node_b: Node, node_a: Node) -> None:
    assert get(node_b, PART).status_code == 200
    node_a.put(PART, [{"index": 1, "type": "URL", "data": "https://a.example/changed"}])
    assert get(node_b, PART).json["values"][0]["data"]["value"] == "https://a.example/eng-1"
    r = get(node_b, PART, "?auth=true")
    assert [v["data"]["value"] for v in r.json["values"]] == ["https://a.example/changed"]
    assert len(get(node_b, PART).json["values"]) == 1  # the fresh answer replaced the cached one


def test_do_not_refer_answers_a_referral(node_b: Node, node_a: Node, top: Node) -> None:
    asked = node_a.served.requests
    body = error(get(node_b, PART, "?doNotRefer"), 400, 301)
    assert body["handle"] == PART and [v["type"] for v in body["values"]] == ["HS_SITE"]
    assert body["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["url"] == node_a.url
    assert node_a.served.requests == asked  # A itself is not contacted
    body = error(get(node_b, "0.NA/88.118.8", "?doNotRefer=true"), 400, 301)
    assert top.url in body["message"] and body["values"] == []
    body = error(get(top, PART, "?doNotRefer"), 400, 301)  # the top-level node refers from its record
    assert body["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["url"] == node_a.url
    error(get(node_b, PART, "?doNotRefer=maybe"), 400, 4)


def test_recursion_count_is_bounded(node_b: Node) -> None:
    body = error(get(node_b, PART, **{"X-Handle-Recursion": str(MAX_RECURSION)}), 508, 6)
    assert "Recursion limit" in body["message"] and body["handle"] == PART
    assert get(node_b, PART, **{"X-Handle-Recursion": str(MAX_RECURSION - 1)}).status_code == 200
    for bad in ("x", "-1", "256", "1.5", "²", "", " "):  # present but empty is not 0
        assert error(get(node_b, "88.118.8/ENG-2", **{"X-Handle-Recursion": bad}), 400, 4)[
            "field"] == "X-Handle-Recursion"


def test_forwarded_requests_carry_count_and_path(node_b: Node, top: Node) -> None:
    fake = FakeNode()
    try:
        fake.reply.body = b'{"responseCode":100,"handle":"88.118.8/X 1"}'
        fake.reply.status = 404
        top.store("0.NA/88.118.8", [site(fake.url)])
        error(get(node_b, "88.118.8/X 1", **{"X-Handle-Recursion": "3", "X-Handle-Via": "http://c.test"}),
              404, 100)
        path, headers = fake.seen[-1]
        assert path == "/api/handles/88.118.8/X%201"
        assert headers["X-Handle-Recursion"] == "4"
        assert headers["X-Handle-Via"] == f"http://c.test:80, {node_b.url}"  # normalized
        assert "Authorization" not in headers
    finally:
        fake.close()


def test_loops_are_refused(node_b: Node, top: Node) -> None:
    # the upstream is already on the request's path
    body = error(get(node_b, PART, **{"X-Handle-Via": f"http://a.test, {top.url}/"}), 508, 2)
    assert "IDRES_UPSTREAM_URL" in body["message"]
    # the prefix record's site points back at B, which does not hold the prefix
    top.store("0.NA/88.118.8", [site(node_b.url)])
    body = error(get(node_b, "88.118.8/ENG-9"), 508, 2)
    assert "HS_SITE of 0.NA/88.118.8" in body["message"]
    error(get(node_b, PART, **{"X-Handle-Via": "ftp://x"}), 400, 4)
    error(get(node_b, PART, **{"X-Handle-Via": ",".join(["http://x.test"] * 17)}), 400, 4)


def test_two_nodes_pointing_at_each_other(tmp_path: Path) -> None:
    with running_node(tmp_path / "c", "88.120") as c, running_node(tmp_path / "d", "88.121") as d:
        c.app.extensions["idres.router"] = Router(c.db, _with(c, upstream_url=d.url))
        d.app.extensions["idres.router"] = Router(d.db, _with(d, upstream_url=c.url))
        started = time.monotonic()
        body = error(get(c, "0.NA/88.118.8"), 508, 2)
        assert f"via {d.url}" in body["message"] and time.monotonic() - started < 1.0
        with running_node(tmp_path / "e", "88.122") as node:  # a node whose upstream is itself
            node.app.extensions["idres.router"] = Router(node.db, _with(node, upstream_url=node.url + "/"))
            error(get(node, PART), 508, 2)


def _with(node: Node, **changes):
    from dataclasses import replace

    return replace(node.config, **changes)


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

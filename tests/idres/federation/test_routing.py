"""Resolution routing between real nodes on loopback: recursive answers, the cache,
referrals, recursion counts and loops (fixtures in :mod:`routing_fixtures`)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

from idres.federation.cache import NEGATIVE_TTL
from idres.federation.routing import MAX_RECURSION, Router
from idres.node import create_prefix
from tests.idres.federation.routing_fixtures import (  # noqa: F401  (fixtures used by name)
    PART, TIMEOUT, Clock, Node, clock, error, get, node_a, node_b, node_b_backends, secondary_a, top,
    with_config)
from tests.idres.federation.routing_nodes import FakeNode, running_node, site


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
        c.app.extensions["idres.router"] = Router(c.db, with_config(c, upstream_url=d.url))
        d.app.extensions["idres.router"] = Router(d.db, with_config(d, upstream_url=c.url))
        started = time.monotonic()
        body = error(get(c, "0.NA/88.118.8"), 508, 2)
        assert f"via {d.url}" in body["message"] and time.monotonic() - started < 1.0
        with running_node(tmp_path / "e", "88.122") as node:  # a node whose upstream is itself
            node.app.extensions["idres.router"] = Router(node.db, with_config(node, upstream_url=node.url + "/"))
            error(get(node, PART), 508, 2)

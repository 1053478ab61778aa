"""Recall scopes on a generated cluster, checked against an answer computed here from the events.

The expected scope is found by replaying the plan's events in Python (no
SQL, no projections): who sits in which assembly at the scope's time, what
was made from what, which parts were commissioned in which batch, and who
holds each part; then a breadth-first walk up from the suspects.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from idres.app import create_app
from idres.config import Config
from idres.events.projector import utc_text
from idres.handles import fold
from idres.node import init_node
from idres.storage import open_database
from tests.conftest import ADMIN_SECRET, NODE, _drop_schema, _fresh_schema

cluster_module = pytest.importorskip("idres.cluster", reason="the cluster generator (scripts/gen_cluster) is not here")
load_cluster, plan_cluster = cluster_module.load_cluster, cluster_module.plan_cluster
PARTS, SEED = 2000, 11


@dataclass
class World:
    """The cluster as of one time, replayed from its events."""

    parent: dict[str, str] = field(default_factory=dict)              # assembly child -> parent
    made_into: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # input -> outputs
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))    # batch -> parts
    holder: dict[str, str] = field(default_factory=dict)
    spelling: dict[str, str] = field(default_factory=dict)


def replay(events: list[dict[str, Any]], until: str | None = None) -> World:
    """Everything the events say up to ``until`` (UTC text; all events when None)."""
    w = World()
    for e in events:
        if until is not None and utc_text(e["event_time"]) > until:
            continue
        kind, actor = e["event_type"], e["actor"]
        if kind == "commissioned":
            w.holder[fold(e["handle"])] = actor
            w.spelling[fold(e["handle"])] = e["handle"]
            if "batch" in e:
                w.members[fold(f"batch:{actor}/{e['batch']}")].add(fold(e["handle"]))
        elif kind == "assembled":
            w.parent.update((fold(c), fold(e["parent"])) for c in e["children"])
        elif kind == "disassembled":
            for c in e["children"]:
                del w.parent[fold(c)]
        elif kind == "transformed":
            for i in e["inputs"]:
                source = fold(i["handle"]) if "handle" in i else fold(f"batch:{actor}/{i['batch']}")
                w.made_into[source].update(fold(o) for o in e["outputs"])
            w.holder.update((fold(o), actor) for o in e["outputs"])
        elif kind in ("shipped", "received"):
            w.holder.update((fold(h), e["to_party"]) for h in e["handles"])
    return w


def expected_scope(w: World, batches: list[str], handles: list[str] = (),
                   holders: World | None = None) -> dict[str, str]:
    """Top-level product -> holder (today's, from ``holders``), walking up from the suspects."""
    todo = [fold(h) for h in handles]
    for b in batches:
        todo += sorted(w.members.get(fold(b), ())) + sorted(w.made_into.get(fold(b), ()))
    seen: set[str] = set()
    products = {}
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        above = ([w.parent[node]] if node in w.parent else []) + sorted(w.made_into.get(node, ()))
        if not above:
            products[w.spelling[node]] = (holders or w).holder.get(node)
        todo += above
    return products


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    tmp: Path = tmp_path_factory.mktemp("cluster")
    base = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    schema, url = _fresh_schema(base) if base else (None, str(tmp / "idres.db"))
    config = Config(database=url, node_prefix=NODE, base_url="http://node.test",
                    ledger_key_file=str(tmp / "ledger.key"))
    db = open_database(url)
    init_node(db, config, ADMIN_SECRET)
    plan = plan_cluster(PARTS, seed=SEED)
    load_cluster(db, config, plan, batch=2000)
    app = create_app(config)
    yield app.test_client(), plan.event_list()
    app.extensions["idres"].db.close()
    db.close()
    if schema:
        _drop_schema(base, schema)


def batches_of(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(raw-material batches: of lots consumed by transformations, production batches of assembled parts)."""
    inputs = {fold(i["handle"]) for e in events if e["event_type"] == "transformed" for i in e["inputs"]
              if "handle" in i}
    children = {fold(c) for e in events if e["event_type"] == "assembled" for c in e["children"]}
    raw, made = set(), set()
    for e in events:
        if e["event_type"] == "commissioned" and "batch" in e:
            name = f"batch:{e['actor']}/{e['batch']}"
            (raw if fold(e["handle"]) in inputs else made if fold(e["handle"]) in children else set()).add(name)
    return sorted(raw), sorted(made)


def api_scope(client, body: dict[str, Any]) -> dict[str, str]:
    r = client.post("/api/recalls/scope", json=body)
    assert r.status_code == 200, r.json
    return {p["handle"]: p["holder"] for p in r.json["products"]}


def test_scope_of_every_raw_material_batch_matches_the_events(cluster):
    client, events = cluster
    raw, _ = batches_of(events)
    assert len(raw) >= 3
    world = replay(events)
    for batch in raw:
        want = expected_scope(world, [batch])
        assert want, batch
        assert api_scope(client, {"batches": [batch]}) == want, batch


def test_scope_of_production_batches_and_handles_as_of_mid_production(cluster):
    client, events = cluster
    _, made = batches_of(events)
    middle = utc_text(events[len(events) // 2]["event_time"])
    world, now = replay(events, middle), replay(events)
    for batch in made[:: max(1, len(made) // 6)]:
        assert api_scope(client, {"batches": [batch]}) == expected_scope(now, [batch]), batch
        assert api_scope(client, {"batches": [batch], "asOf": middle}) == expected_scope(world, [batch], holders=now), batch
    bad = sorted({h for e in events if e.get("result") == "non_conformant" for h in e["handles"]})
    assert bad
    assert api_scope(client, {"handles": bad}) == expected_scope(now, [], bad)

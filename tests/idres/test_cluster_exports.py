"""Cluster exports to an EU importer (``ClusterSpec.exports_per_vehicle``) and the part types the loader
registers: the plan on its own, then a small cluster on both backends whose exported bolts' CBAM figure
is recomputed here from the plan's events."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal, localcontext
from typing import Any

import pytest

from idres.carbon.rollup import see_of
from idres.cluster import load_cluster, plan_cluster
from idres.cluster.catalogue import EU_IMPORTER, KINDS
from idres.handles import fold
from tests.idres.test_cluster import new_node  # noqa: F401  (fixture)

PARTS, SEED, EXPORTS = 1500, 3, 4


def exported(events: list[dict[str, Any]]) -> Counter:
    return Counter(h for e in events if e["event_type"] == "shipped" and e["to_party"] == EU_IMPORTER
                   for h in e["handles"])


def test_default_plan_exports_nothing_and_the_export_plan_keeps_the_size():
    assert not exported(plan_cluster(PARTS, seed=SEED).event_list())
    plan = plan_cluster(PARTS, seed=SEED, exports_per_vehicle=EXPORTS)
    events = plan.event_list()
    assert sum(1 for _ in plan.handles()) == plan.summary()["parts"] == PARTS
    shipped = exported(events)
    assert set(shipped.values()) == {1} and len(shipped) == plan.summary()["exported"]
    assert len(shipped) == 2 * EXPORTS * plan.layout.vehicles
    types = {e["handle"]: e["part_type"] for e in events if e["event_type"] == "commissioned"}
    assert Counter(types[h] for h in shipped) == {"BOLT-M10X1.25": len(shipped) // 2,
                                                  "BRACKET-ENG-MOUNT": len(shipped) // 2}
    made = {o for e in events if e["event_type"] == "transformed" for o in e["outputs"]}
    built_in = {c for e in events if e["event_type"] == "assembled" for c in e["children"]}
    assert set(shipped) <= made and not set(shipped) & built_in  # made from lots, never assembled


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def node_with_exports(request, tmp_path_factory):
    factory = new_node.__wrapped__(request, tmp_path_factory)
    make = next(factory)
    node = make()
    plan = plan_cluster(PARTS, seed=SEED, exports_per_vehicle=EXPORTS)
    load_cluster(node.db, node.config, plan)
    yield node, plan
    next(factory, None)


def hand_see(events: list[dict[str, Any]], handle: str) -> Decimal:
    """Direct SEE of a bolt: (batch direct + sum consumed lot mass x lot SEE) / batch activity level."""
    commissioned = {e["handle"]: e for e in events if e["event_type"] == "commissioned"}
    actor, batch = commissioned[handle]["actor"], commissioned[handle]["batch"]
    members = {h for h, e in commissioned.items() if e.get("batch") == batch and e["actor"] == actor}
    records = [e for e in events if e["event_type"] == "carbon.recorded"]
    own = [r for r in records if r.get("batch") == batch and r["actor"] == actor]
    lot = {r["handle"]: Decimal(r["direct_g"]) / r["activity_level_g"] for r in records if "handle" in r}
    with localcontext(prec=50):
        return _see(events, own, lot, members)


def _see(events: list[dict[str, Any]], own: list[dict], lot: dict[str, Decimal], members: set[str]) -> Decimal:
    precursors = sum((i["consumed_mass_g"] * lot[i["handle"]] for e in events
                      if e["event_type"] == "transformed" and set(e["outputs"]) <= members
                      for i in e["inputs"]), Decimal(0))
    return (sum(r["direct_g"] for r in own) + precursors) / sum(r["activity_level_g"] for r in own)


def test_exported_goods_are_cbam_goods_with_their_figure(node_with_exports):
    node, plan = node_with_exports
    events = plan.event_list()
    shipped = sorted(exported(events))
    with node.db.read() as s:
        rows = s.all("SELECT handle_key FROM shipments WHERE to_party_key = ?", (fold(EU_IMPORTER),))
        assert sorted(r["handle_key"] for r in rows) == sorted(fold(h) for h in shipped)
        registered = s.all("SELECT code, cn_code FROM carbon_part_types")
        assert {(r["code"], r["cn_code"]) for r in registered} == {(k.part_type, k.cn_code) for k in KINDS}
        bolt = next(h for h in shipped if "/B10-" in h)
        result = see_of(s, bolt, 2026)
    assert result.cbam_good and result.cn_code == "73181568" and result.installation_id == "CN-CZF-HEADER-01"
    assert result.direct == hand_see(events, bolt)

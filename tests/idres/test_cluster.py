"""The synthetic cluster generator: the plan as data, and loading it on both backends.

The plan is checked on its own (exact sizes, time order, schema-valid
events, mass balance, determinism); then a 1,000-part cluster is loaded once
per backend (module scope) and the projections are compared with counts
computed here from the plan's events.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from idres.auth import OPERATOR
from idres.cluster import (ClusterLoadError, ClusterPlan, create_prefixes, load_cluster, mint_plan,
                           plan_cluster)
from idres.cluster.catalogue import KIND_BY_KEY, PARTS_PER_VEHICLE, PartKind
from idres.config import Config
from idres.events.projector import mentioned, utc_text
from idres.events.service import record_events, replay
from idres.ledger_key import load_signer
from idres.node import init_node
from idres.storage import open_database, projections
from ledger import store as ledger_store
from ledger.log import Log, canonical
from ledger.verify import verify_database
from schemas.events import load_event
from tests.conftest import ADMIN_SECRET, NODE, _drop_schema, _fresh_schema

REPO = Path(__file__).resolve().parents[2]
PARTS, SEED = 1000, 7


def count(db, sql: str, params: tuple = ()) -> int:
    with db.read() as s:
        return int(s.one(sql, params)["n"])


# -- the plan, without a database ------------------------------------------------------

@pytest.mark.parametrize("parts", [50, 999, 1000, 1001, 4321])
def test_plan_has_exactly_the_asked_parts_and_events_in_time_order(parts):
    plan = plan_cluster(parts, seed=3)
    handles = list(plan.handles())
    assert len(handles) == len(set(handles)) == parts == plan.summary()["parts"]
    events = plan.event_list()
    assert {h for e in events for h, _ in mentioned(e)} == set(handles)
    assert len({e["event_id"] for e in events}) == len(events)
    times = [utc_text(e["event_time"]) for e in events]
    assert times == sorted(times)
    for e in events:
        assert load_event(e) == e          # strict schemas accept every event unchanged
    assert Counter(e["event_type"] for e in events)["commissioned"] == parts


@pytest.mark.parametrize("per_wave", [1, 20, 50])
def test_plan_follows_the_state_rules_in_time_order(per_wave):
    """Walk the events in Python: commissioned first, one assembly at a time, disassembly of what is in."""
    plan = plan_cluster(3000, seed=11, vehicles_per_wave=per_wave)
    events = plan.event_list()
    seen: set[str] = set()
    inside: dict[str, str] = {}
    for e in events:
        kind = e["event_type"]
        if kind == "commissioned":
            assert e["handle"] not in seen
            seen.add(e["handle"])
        assert {h for h, _ in mentioned(e)} <= seen, e
        if kind == "assembled":
            assert not any(c in inside for c in e["children"]), e
            inside.update((c, e["parent"]) for c in e["children"])
        if kind == "disassembled":
            assert all(inside.pop(c) == e["parent"] for c in e["children"]), e
    assert inside and not any(c.startswith(plan.prefixes["oem"] + "/") for c in inside)  # vehicles: top level


def test_plan_shape_per_vehicle():
    plan = plan_cluster(PARTS, seed=SEED)
    events = plan.event_list()
    totals = plan.layout.totals
    vehicles = plan.layout.vehicles
    assert totals["vehicle"] == totals["engine"] == totals["gearbox"] == totals["block"] == vehicles
    assert totals["bracket"] == 2 * vehicles and totals["bolt_m8"] == 4 * vehicles
    assert vehicles * PARTS_PER_VEHICLE <= PARTS
    vins = {e["parent"]: e["children"] for e in events
            if e["event_type"] == "assembled" and e["actor"] == plan.prefixes["oem"]}
    assert len(vins) == vehicles and all(len(c) == 2 for c in vins.values())
    assert all(len(v.split("/", 1)[1]) == 17 for v in vins)     # VIN-like suffixes
    blocks = Counter(e["parent"] for e in events
                     if e["event_type"] == "assembled" and e["actor"] == plan.prefixes["casting"])
    reworks = list(plan.reworks())
    assert reworks and sum(blocks.values()) == vehicles + len(reworks)
    kinds = Counter(e["event_type"] for e in events)
    assert kinds["disassembled"] == len(reworks)
    assert {e["defect_code"] for e in events if e.get("result") == "non_conformant"}
    assert {e["method"] for e in events if e["event_type"] == "carbon.recorded"} == {"actual", "default"}
    shipped = [e for e in events if e["event_type"] in ("shipped", "received")]
    assert all(e["from_party" if e["event_type"] == "shipped" else "to_party"] == e["actor"] for e in shipped)


_KIND_OF_TYPE = {k.part_type: k for k in KIND_BY_KEY.values()}


def kind_of(part_type_code: str) -> PartKind:
    return _KIND_OF_TYPE[part_type_code]


def part_type(events: list[dict], handle: str) -> str:
    return next(e["part_type"] for e in events if e["event_type"] == "commissioned" and e["handle"] == handle)


def test_transformations_balance_mass():
    """Lots are never overdrawn; a transformation consumes what its outputs need, scrap included."""
    plan = plan_cluster(4321, seed=5)
    events = plan.event_list()
    lot_mass = {e["handle"]: e["net_mass_g"] for e in events
                if e["event_type"] == "commissioned" and kind_of(e["part_type"]).net_mass_g is None}
    drawn: Counter = Counter()
    multi = 0
    for e in (e for e in events if e["event_type"] == "transformed"):
        kind = kind_of(part_type(events, e["outputs"][0]))
        assert sum(i["consumed_mass_g"] for i in e["inputs"]) == kind.consumed_g * len(e["outputs"])
        multi += sum(1 for i in e["inputs"] if "handle" in i) > 1
        for i in e["inputs"]:
            if "handle" in i:
                drawn[i["handle"]] += i["consumed_mass_g"]
    assert multi and all(drawn[h] <= lot_mass[h] for h in drawn)


def test_same_seed_same_plan_other_seed_differs():
    one, again, other = (plan_cluster(PARTS, seed=s).event_list() for s in (SEED, SEED, SEED + 1))
    assert one == again
    assert one != other
    assert not {e["event_id"] for e in one} & {e["event_id"] for e in other}
    assert plan_cluster(PARTS, seed=SEED, prefix_base=40).event_list()[0]["actor"] == f"{NODE}.40"


def test_mint_chunks_cover_every_handle():
    plan = plan_cluster(PARTS, seed=SEED)
    chunks = list(plan.mint_chunks(size=100))
    assert max(c.count for c in chunks) == 100
    assert [h for c in chunks for h in c.handles()] == list(plan.handles())


# -- loaded clusters, on each backend ----------------------------------------------------

@dataclasses.dataclass
class Node:
    db: Any
    config: Config


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def new_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A factory of fresh initialized nodes (each with its own ledger key) on one backend."""
    made: list[tuple[Any, str | None]] = []
    base = request.getfixturevalue("postgres_url") if request.param == "postgres" else None

    def make(**overrides: Any) -> Node:
        where = tmp_path_factory.mktemp("cluster")
        schema, url = _fresh_schema(base) if base else (None, str(where / "idres.db"))
        config = Config(database=url, node_prefix=NODE, base_url="http://node.test",
                        ledger_key_file=str(where / "ledger.key"), **overrides)
        db = open_database(url)
        made.append((db, schema))
        init_node(db, config, ADMIN_SECRET)
        return Node(db, config)

    yield make
    for db, schema in made:
        db.close()
        if schema:
            _drop_schema(base, schema)


@pytest.fixture(scope="module")
def loaded(new_node) -> tuple[Node, ClusterPlan, Any]:
    """A 1,000-part cluster, minted in chunks of 300 and recorded in batches of 500."""
    node = new_node(max_mint=300)
    plan = plan_cluster(PARTS, seed=SEED)
    report = load_cluster(node.db, node.config, plan, batch=500)
    return node, plan, report


def entries(db) -> list[str]:
    with db.read() as s:
        size, _ = ledger_store.head(s)
        return [r["entry"] for r in ledger_store.entries(s, 0, size)]


def test_cluster_loads_with_the_planned_counts(loaded):
    node, plan, report = loaded
    events = plan.event_list()
    assert (report.parts, report.minted, report.events, report.duplicates) == (PARTS, PARTS, len(events), 0)
    assert report.checkpoint["size"] == len(events)
    prefixes = tuple(p.lower() for p in plan.prefixes.values())
    marks = ", ".join("?" * len(prefixes))
    in_cluster = f"SELECT COUNT(*) AS n FROM handles WHERE prefix_key IN ({marks})"
    assert count(node.db, in_cluster, prefixes) == PARTS
    assert count(node.db, "SELECT COUNT(*) AS n FROM part_state") == PARTS
    by_type = Counter(e["event_type"] for e in events)
    expected_edges = sum(len(e["children"]) for e in events if e["event_type"] == "assembled") \
        + sum(len(e["inputs"]) * len(e["outputs"]) for e in events if e["event_type"] == "transformed")
    assert count(node.db, "SELECT COUNT(*) AS n FROM genealogy_edges") == expected_edges
    assert count(node.db, "SELECT COUNT(*) AS n FROM carbon_records") == by_type["carbon.recorded"]
    vehicles = count(node.db, "SELECT COUNT(*) AS n FROM part_state WHERE part_type = 'VEHICLE-SUV-A'")
    assert vehicles == plan.layout.vehicles


def test_ledger_holds_exactly_the_planned_events(loaded):
    node, plan, _ = loaded
    assert entries(node.db) == [canonical(e).decode("utf-8") for e in plan.events()]


def test_rework_appears_as_closed_edges(loaded):
    node, plan, _ = loaded
    with node.db.read() as s:
        closed = {(r["parent"], r["child"], r["valid_to"]) for r in s.all(
            "SELECT parent, child, valid_to FROM genealogy_edges WHERE valid_to IS NOT NULL")}
        reworks = list(plan.reworks())
        assert closed == {(r.block, r.removed, utc_text(r.removed_at)) for r in reworks}
        for r in reworks:
            edge = s.one("SELECT valid_from, valid_to FROM genealogy_edges "
                         "WHERE child = ? AND kind = 'assembly'", (r.replacement,))
            assert (edge["valid_from"], edge["valid_to"]) == (utc_text(r.replaced_at), None)


def test_ledger_verifies_and_replays(loaded):
    node, _, report = loaded
    with node.db.read() as s:
        assert verify_database(s, [load_signer(node.config).verifier()]) == report.events
        before = projections.dump(s)
    replay(node.db)
    with node.db.read() as s:
        assert projections.dump(s) == before


def test_same_seed_gives_the_same_ledger(loaded, new_node):
    node, plan, report = loaded
    twin = new_node()                       # another key, default chunk and batch sizes
    again = load_cluster(twin.db, twin.config, plan_cluster(PARTS, seed=SEED))
    assert entries(twin.db) == entries(node.db)
    assert again.checkpoint["root"] == report.checkpoint["root"]
    assert again.checkpoint["note"] != report.checkpoint["note"]    # signed by another key


def test_loading_again_is_idempotent_and_another_plan_is_refused(loaded):
    node, plan, report = loaded
    again = load_cluster(node.db, node.config, plan, batch=1000)
    assert (again.minted, again.duplicates, again.secrets) == (0, report.events, {})
    assert again.events == report.events
    assert again.checkpoint["root"] == report.checkpoint["root"]
    handles = count(node.db, "SELECT COUNT(*) AS n FROM handles")
    for other in (plan_cluster(PARTS, seed=SEED + 1), plan_cluster(2 * PARTS, seed=SEED),
                  plan_cluster(PARTS - 19, seed=SEED + 1)):
        with pytest.raises(ClusterLoadError, match="use a fresh database"):
            load_cluster(node.db, node.config, other)
    assert len(entries(node.db)) == report.events
    assert count(node.db, "SELECT COUNT(*) AS n FROM handles") == handles


def test_an_interrupted_load_resumes(loaded, new_node):
    """Handles minted and 700 events recorded, then a crash: loading again finishes the same ledger."""
    _, plan, report = loaded
    node = new_node()
    create_prefixes(node.db, node.config, plan)
    mint_plan(node.db, node.config, plan)
    signer = load_signer(node.config)
    head = plan.event_list()[:700]
    record_events(node.db, node.config, Log(signer, signer.name), OPERATOR, {"events": head})
    resumed = load_cluster(node.db, node.config, plan, batch=500)
    assert (resumed.minted, resumed.duplicates, resumed.events) == (0, 700, report.events)
    assert resumed.checkpoint["root"] == report.checkpoint["root"]


def test_loading_checks_the_node_prefix(new_node):
    node = new_node()
    with pytest.raises(ClusterLoadError, match="node prefix"):
        load_cluster(node.db, node.config, plan_cluster(PARTS, node_prefix="86.5000"))


# -- the script ----------------------------------------------------------------------------

def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "IDRES_DATABASE": "", "IDRES_LEDGER_KEY_FILE": "", "IDRES_LEDGER_KEY": ""}
    return subprocess.run([sys.executable, str(REPO / "scripts" / "gen_cluster"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_script_loads_a_cluster(tmp_path):
    db_path = tmp_path / "c.db"
    run = run_script("--database", str(db_path), "--parts", "300", "--seed", "4")
    assert run.returncode == 0, run.stderr
    plan = plan_cluster(300, seed=4)
    assert f"loaded 300 parts and {len(plan.event_list()):,} events" in run.stdout
    assert "events/s" in run.stdout and "events 413 (wave 2/2)" in run.stderr    # timing, progress
    assert run.stdout.count("(shown once)") == 9                    # node admin and eight firms
    db = open_database(str(db_path))
    try:
        assert entries(db) == [canonical(e).decode("utf-8") for e in plan.events()]
        assert count(db, "SELECT COUNT(*) AS n FROM audit_log WHERE actor = ?", (OPERATOR.name,)) > 0
    finally:
        db.close()


def test_script_dry_run_and_dump_touch_no_database(tmp_path):
    run = run_script("--database", str(tmp_path / "none.db"), "--parts", "1000", "--dry-run", "--quiet")
    assert run.returncode == 0 and '"parts": 1000' in run.stdout
    dump = run_script("--database", str(tmp_path / "none.db"), "--parts", "200", "--dump", "-", "--quiet")
    assert dump.returncode == 0 and len(dump.stdout.splitlines()) == len(plan_cluster(200).event_list())
    assert not (tmp_path / "none.db").exists()
    bad = run_script("--parts", "10", "--dry-run")
    assert bad.returncode == 2 and "parts must be" in bad.stderr

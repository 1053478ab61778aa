"""GET /api/genealogy/{handle}: bill of materials and where-used as of a time, on both backends."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ENT, OTHER, OTHER_AUTH, row_count
from tests.idres.events import accepted, commissioned, event, mint_parts, post
from tests.idres.trace import STEEL7, Plant, build, day, utc


@pytest.fixture
def plant(shared) -> Plant:
    return shared.plant


@pytest.fixture
def client(shared):
    """The shared node's client (tests here add unrelated parts at most, never touch the plant's)."""
    return shared.client


def genealogy(client, handle: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/genealogy/{handle}", query_string=params)
    assert r.status_code == 200, r.json
    return r.json


def paths(body: dict[str, Any], short: bool = True) -> list[list[str]]:
    """Each node's path, handles shortened to their suffix (batches kept whole)."""
    return [[p.split("/", 1)[1] if short and not p.startswith("batch:") else p for p in n["path"]]
            for n in body["nodes"]]


def test_bill_of_materials_goes_down_to_the_steel_lot(client, plant):
    h, seq = plant.h, plant.seq
    body = genealogy(client, h["VIN-1"], direction="down")
    assert (body["direction"], body["depth"], body["truncated"], body["count"]) == ("down", 50, False, 6)
    assert body["root"]["handle"] == h["VIN-1"] and body["root"]["partType"] == "VEHICLE"
    assert paths(body) == [
        ["VIN-1", "ENG-1"], ["VIN-1", "ENG-1", "BLOCK-1"], ["VIN-1", "ENG-1", "BLOCK-1", "BOLT-001"],
        ["VIN-1", "ENG-1", "BLOCK-1", "BOLT-001", STEEL7], ["VIN-1", "ENG-1", "BLOCK-1", "BOLT-003"],
        ["VIN-1", "ENG-1", "BLOCK-1", "BOLT-003", STEEL7]]
    bolt, lot = body["nodes"][2], body["nodes"][3]
    assert bolt["seqs"] == [seq["vin1"], seq["eng1"], seq["block1"]]
    assert (bolt["kind"], bolt["seq"], bolt["validFrom"], bolt["validTo"], bolt["partType"]) == (
        "assembly", seq["block1"], utc(3), None, "BOLT-M10")
    assert (lot["handle"], lot["kind"], lot["seq"], lot["consumedMassG"], lot["depth"]) == (
        STEEL7, "transformation", seq["steel7"], 260, 4)
    assert lot["seqs"] == [seq["vin1"], seq["eng1"], seq["block1"], seq["steel7"]]
    assert body["nodes"][5]["seqs"][2] == seq["rework-in"]  # BOLT-003 came in with the rework


def test_where_used_goes_up_from_a_part_and_from_a_batch(client, plant):
    h, seq = plant.h, plant.seq
    body = genealogy(client, h["BOLT-001"], direction="up")
    assert paths(body) == [["BOLT-001", "BLOCK-1"], ["BOLT-001", "BLOCK-1", "ENG-1"],
                           ["BOLT-001", "BLOCK-1", "ENG-1", "VIN-1"]]
    assert body["nodes"][-1]["seqs"] == [seq["block1"], seq["eng1"], seq["vin1"]]
    lot = genealogy(client, STEEL7, direction="up", depth=1)
    assert lot["root"] == {"handle": STEEL7, "kind": "batch"}
    assert paths(lot) == [[STEEL7, f"BOLT-00{i}"] for i in range(1, 5)]
    assert {n["kind"] for n in lot["nodes"]} == {"transformation"}
    lot1 = f"batch:{ENT}/bolt-lot-1"  # batch names fold like handles
    members = genealogy(client, lot1, direction="up")
    assert [p for p in paths(members) if len(p) == 2] == [[lot1, "BOLT-001"], [lot1, "BOLT-002"]]
    first = members["nodes"][0]
    assert (first["kind"], first["seq"], first["validFrom"]) == ("member", seq[f"c:{h['BOLT-001']}"], utc(1))
    assert ["VIN-1"] == [p[-1] for p in paths(members) if len(p) == 5]
    assert genealogy(client, STEEL7, direction="down")["nodes"] == []  # a raw lot contains nothing


def test_rework_before_the_as_of_time_is_excluded_after_it_included(client, plant):
    h = plant.h
    block = lambda when: [p[-1] for p in paths(genealogy(client, h["BLOCK-1"], asOf=when, depth=1))]  # noqa: E731
    assert block(day(9)) == ["BOLT-001", "BOLT-002"]
    assert block(day(10)) == ["BOLT-001"]  # removed at exactly 10-10 08:00: valid_to is exclusive
    assert block(day(11)) == ["BOLT-001"]
    assert block(day(12)) == ["BOLT-001", "BOLT-003"]
    assert block(day(2)) == []  # before assembly
    assert paths(genealogy(client, h["BOLT-002"], direction="up", asOf=day(9)))[-1] == [
        "BOLT-002", "BLOCK-1", "ENG-1", "VIN-1"]
    assert genealogy(client, h["BOLT-002"], direction="up")["nodes"] == []
    # offsets are honoured: 10-10 09:00+01:00 is the removal instant
    assert block("2026-10-10T09:00:00+01:00") == ["BOLT-001"]
    assert block("2026-10-10T08:59:59+01:00") == ["BOLT-001", "BOLT-002"]


def test_a_part_in_two_vehicles_over_time(client, plant):
    h = plant.h
    top = lambda when: [p[-1] for p in paths(genealogy(client, h["BOLT-004"], direction="up", asOf=when))]  # noqa: E731
    assert top(day(6)) == ["BLOCK-2", "ENG-2", "VIN-2"]
    assert top(day(12)) == ["BLOCK-2", "ENG-2"]
    assert top(day(14)) == ["BLOCK-2", "ENG-2", "VIN-3"]
    vin2 = genealogy(client, h["VIN-2"], asOf=day(6))["nodes"][0]
    assert (vin2["handle"], vin2["validTo"], vin2["endedSeq"]) == (h["ENG-2"], utc(11), plant.seq["vin2-out"])
    assert genealogy(client, h["VIN-2"])["nodes"] == []


def test_depth_limits(client, plant):
    h = plant.h
    two = genealogy(client, h["VIN-1"], depth=2)
    assert paths(two) == [["VIN-1", "ENG-1"], ["VIN-1", "ENG-1", "BLOCK-1"]]
    assert two["truncated"] is True
    three = genealogy(client, h["VIN-1"], depth=3)
    assert (three["count"], three["truncated"]) == (4, True)  # the bolts still have their lot below
    four = genealogy(client, h["VIN-1"], depth=4)
    assert (four["count"], four["truncated"]) == (6, False)
    assert genealogy(client, h["BOLT-001"], direction="up", depth=1)["truncated"] is True


def test_cycles_are_rejected_and_transformation_loops_end(client, shared, plant):
    h, db, config = plant.h, shared.db, shared.config
    before = row_count(db, "ledger_entries")
    r = post(client, event("assembled", day(25), parent=h["BOLT-001"], children=[h["VIN-1"]]))
    assert (r.status_code, r.json["field"]) == (409, "event.children[0]"), r.json
    assert "cannot contain itself" in r.json["message"]
    r = post(client, event("assembled", day(25), OTHER, parent=h["VIN-1"],
                           children=[h["VIN-1"]]), OTHER_AUTH)
    assert r.status_code == 409, r.json
    assert row_count(db, "ledger_entries") == before
    # made-from links never end, and the projector cannot see a loop through them: the walk must stop
    a, b = mint_parts(db, config, ENT, 2, "LOOP-{seq}")
    accepted(client, {"events": [commissioned(a), commissioned(b),
                                 event("transformed", day(3), inputs=[{"handle": b, "consumed_mass_g": 1}],
                                       outputs=[a]),
                                 event("transformed", day(4), inputs=[{"handle": a, "consumed_mass_g": 1}],
                                       outputs=[b])]})
    down = genealogy(client, a, depth=1000)
    assert (paths(down), down["truncated"]) == ([["LOOP-1", "LOOP-2"]], False)
    assert paths(genealogy(client, a, direction="up", depth=1000)) == [["LOOP-1", "LOOP-2"]]


@pytest.mark.parametrize("params, field", [
    ({"direction": "sideways"}, "direction"), ({"depth": "0"}, "depth"), ({"depth": "1001"}, "depth"),
    ({"depth": "two"}, "depth"), ({"depth": "-1"}, "depth"), ({"asOf": "yesterday"}, "asOf"),
    ({"asOf": "2026-10-10T08:00:00"}, "asOf"), ({"asOf": "2026-13-01"}, "asOf")])
def test_bad_parameters_are_400_naming_the_parameter(client, plant, params, field):
    r = client.get(f"/api/genealogy/{plant.h['VIN-1']}", query_string=params)
    assert (r.status_code, r.json["field"]) == (400, field), r.json


def test_unknown_and_malformed_nodes(client, shared):
    [part] = mint_parts(shared.db, shared.config, ENT, 1, "FRESH-{seq}")
    assert genealogy(client, part)["root"] == {"handle": part, "kind": "part", "partType": None, "status": None,
                                                "holder": None, "batch": None, "commissioned": None}  # no events yet
    for path, status in ((f"{ENT}/NOPE-1", 404), (f"batch:{ENT}/NO-SUCH-LOT", 404), ("no-slash", 400),
                         ("batch:nolot", 400), ("batch:bad prefix/LOT", 400)):
        r = client.get(f"/api/genealogy/{path}")
        assert r.status_code == status, (path, r.json)
        assert "Traceback" not in r.get_data(as_text=True)


def test_as_of_with_a_plus_decoded_as_a_space(client, plant):
    h = plant.h
    r = client.get(f"/api/genealogy/{h['BLOCK-1']}?asOf=2026-10-10T08:59:59+01:00&depth=1")
    assert r.status_code == 200, r.json
    assert r.json["asOf"] == "2026-10-10T07:59:59.000000Z" and r.json["count"] == 2

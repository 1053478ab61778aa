"""POST /api/recalls/scope and POST /api/recalls on the hand-built plant, on both backends."""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import ENT, ENT_AUTH, OTHER, OTHER_AUTH, row_count
from tests.idres.trace import LOT1, STEEL7, build, day, utc

CAMPAIGN = "RC-2026-07"


def scope(client, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = client.post("/api/recalls/scope", json=body, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def short(handle: str) -> str:
    return handle if handle.startswith("batch:") else handle.split("/", 1)[1]


def products(body: dict[str, Any]) -> dict[str, list[str]]:
    """Each product (short name) with its path (short names)."""
    return {short(p["handle"]): [short(h) for h in p["path"]] for p in body["products"]}


def steel7(**extra: Any) -> dict[str, Any]:
    return {"batches": [{"actor": ENT, "batch": "STEEL-7"}], **extra}


def test_scope_of_a_raw_material_lot_now_and_before_the_rework(shared):
    client, h, seq = shared.client, shared.plant.h, shared.plant.seq
    body = scope(client, steel7())
    assert products(body) == {"BOLT-002": [STEEL7, "BOLT-002"],
                              "VIN-1": [STEEL7, "BOLT-001", "BLOCK-1", "ENG-1", "VIN-1"],
                              "VIN-3": [STEEL7, "BOLT-004", "BLOCK-2", "ENG-2", "VIN-3"]}
    vin1, vin3 = body["products"][1], body["products"][2]
    assert vin1["seqs"] == [seq["steel7"], seq["block1"], seq["eng1"], seq["vin1"]]
    assert (vin1["paths"], vin3["paths"], body["products"][0]["paths"]) == (2, 1, 1)
    assert {k: vin1[k] for k in ("holder", "status", "partType", "commissioned", "lastShipped", "lastReceived")} == {
        "holder": "DEALER-1", "status": "in_transit", "partType": "VEHICLE", "commissioned": utc(5, 6),
        "lastShipped": utc(20), "lastReceived": None}
    assert (vin3["holder"], vin3["lastShipped"], vin3["lastReceived"]) == (ENT, utc(21), utc(22))
    assert body["holders"] == [{"holder": ENT, "count": 2}, {"holder": "DEALER-1", "count": 1}]
    assert (body["count"], body["truncated"]) == (3, False)
    before = scope(client, steel7(asOf=day(6)))
    assert products(before) == {"BOLT-003": [STEEL7, "BOLT-003"],
                                "VIN-1": [STEEL7, "BOLT-001", "BLOCK-1", "ENG-1", "VIN-1"],
                                "VIN-2": [STEEL7, "BOLT-004", "BLOCK-2", "ENG-2", "VIN-2"]}
    assert h["VIN-2"] in [p["handle"] for p in before["products"]]


def test_scope_by_handles_and_by_a_production_batch(shared):
    client, h, seq = shared.client, shared.plant.h, shared.plant.seq
    assert products(scope(client, {"handles": [h["BOLT-001"], h["ENG-2"]]})) == {
        "VIN-1": ["BOLT-001", "BLOCK-1", "ENG-1", "VIN-1"], "VIN-3": ["ENG-2", "VIN-3"]}
    assert products(scope(client, {"handles": [h["VIN-2"], h["BOLT-005"]]})) == {
        "VIN-2": ["VIN-2"], "BOLT-005": ["BOLT-005"]}  # top-level suspects are their own products
    lot = scope(client, {"batches": [LOT1]})
    assert products(lot) == {"BOLT-002": [LOT1, "BOLT-002"], "VIN-1": [LOT1, "BOLT-001", "BLOCK-1", "ENG-1", "VIN-1"]}
    assert lot["products"][1]["seqs"][0] == seq[f"c:{h['BOLT-001']}"]  # membership: the commissioning event
    mixed = scope(client, {"handles": [h["ENG-1"]], "batches": [{"actor": ENT, "batch": "steel-8"}]})
    assert products(mixed) == {"BOLT-005": [f"batch:{ENT}/steel-8", "BOLT-005"], "VIN-1": ["ENG-1", "VIN-1"]}


def test_scope_by_part_type_and_window_and_only_non_conformant(shared):
    client = shared.client
    window = {"partType": "BOLT-M10", "producedFrom": "2026-10-02", "producedTo": "2026-10-03T00:00:00+00:00"}
    assert products(scope(client, window)) == {
        "BOLT-005": ["BOLT-005"], "VIN-1": ["BOLT-003", "BLOCK-1", "ENG-1", "VIN-1"],
        "VIN-3": ["BOLT-004", "BLOCK-2", "ENG-2", "VIN-3"]}
    assert products(scope(client, {**window, "onlyNonConformant": True})) == {
        "VIN-1": ["BOLT-003", "BLOCK-1", "ENG-1", "VIN-1"]}
    assert products(scope(client, steel7(onlyNonConformant=True))) == {
        "VIN-1": [STEEL7, "BOLT-003", "BLOCK-1", "ENG-1", "VIN-1"]}
    assert scope(client, {**window, "producedTo": "2026-10-02T08:00:00Z"})["products"] == []  # [from, to)
    assert scope(client, {**window, "partType": "NO-SUCH-TYPE"})["count"] == 0


def test_depth_limit_is_reported(shared):
    body = scope(shared.client, {"handles": [shared.plant.h["BOLT-001"]], "depth": 2})
    assert (body["products"], body["truncated"]) == ([], True)


def test_csv_parses_and_matches_the_json(shared):
    body = steel7(partType="BOLT-M10", producedFrom="2026-10-01", producedTo="2026-10-03")
    as_json = scope(shared.client, body)
    r = shared.client.post("/api/recalls/scope", json=body, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == as_json["count"] == 4
    for row, p in zip(rows, as_json["products"]):
        assert row["handle"] == p["handle"] and row["holder"] == (p["holder"] or "")
        assert row["path"].split(" > ") == p["path"]
        assert [int(s) for s in row["seqs"].split()] == p["seqs"]
        assert (row["commissioned"], row["last_shipped"]) == (p["commissioned"] or "", p["lastShipped"] or "")
        assert (int(row["depth"]), int(row["paths"]), row["status"]) == (p["depth"], p["paths"], p["status"])


@pytest.mark.parametrize("body, field", [
    ({}, "handles"), ({"handles": []}, "handles"), ({"handles": ["88.118.8/BOLT-001", "nohandle"]}, "handles[1]"),
    ({"handles": ["88.118.8/BOLT-001", 7]}, "handles[1]"), ({"batches": [{"actor": ENT}]}, "batches[0].batch"),
    ({"batches": ["nolot"]}, "batches[0]"), ({"batches": [{"actor": "bad prefix", "batch": "L"}]},
                                             "batches[0].actor"),
    ({"partType": "BOLT-M10"}, "producedFrom"), ({"producedFrom": "2026-10-01"}, "partType"),
    ({"partType": "B", "producedFrom": "2026-10-05", "producedTo": "2026-10-01"}, "producedTo"),
    ({"handles": ["88.118.8/BOLT-001"], "depth": 0}, "depth"), ({"handles": ["88.118.8/BOLT-001"], "asOf": "soon"}, "asOf"),
    ({"handles": ["88.118.8/BOLT-001"], "onlyNonConformant": "maybe"}, "onlyNonConformant"),
    ({"handles": ["88.118.8/BOLT-001"], "extra": 1}, "extra"), ([], "body")])
def test_bad_scope_requests_are_400_naming_the_field(shared, body, field):
    r = shared.client.post("/api/recalls/scope", json=body)
    assert (r.status_code, r.json.get("field")) == (400, field), r.json


def test_unknown_suspects_are_404_naming_the_field(shared):
    h = shared.plant.h
    for body, field in (({"handles": [h["BOLT-001"], f"{ENT}/NOPE"]}, "handles[1]"),
                        ({"batches": [{"actor": ENT, "batch": "STEEL-7"}, {"actor": ENT, "batch": "STEEL-9"}]},
                         "batches[1]")):
        r = shared.client.post("/api/recalls/scope", json=body)
        assert (r.status_code, r.json.get("field")) == (404, field), r.json


def test_campaign_records_recalled_events_for_the_callers_handles(client, db, config):
    plant = build(client, db, config)
    h = plant.h
    mine = sorted((h[x] for x in ("BLOCK-1", "BLOCK-2", "BOLT-001", "BOLT-002", "BOLT-003", "BOLT-004",
                                  "ENG-1", "ENG-2")), key=str.lower)
    body = steel7(campaignId=CAMPAIGN, eventTime="2026-10-30T09:00:00+08:00")
    r = client.post("/api/recalls", json=body, headers=ENT_AUTH)
    assert r.status_code == 201, r.json
    assert (r.json["recorded"], r.json["alreadyRecalled"], r.json["actor"]) == (mine, [], ENT)
    assert [n["handle"] for n in r.json["notRecorded"]] == [h["VIN-1"], h["VIN-3"]]
    assert "another prefix" in r.json["notRecorded"][0]["reason"] and len(r.json["entries"]) == 1
    assert r.json["scope"]["count"] == 3
    history = client.get(f"/api/handles/{h['BOLT-003']}/events").json["events"]
    assert history[-1]["event"] | {"event_id": None} == {
        "event_id": None, "event_type": "recalled", "actor": ENT, "campaign_id": CAMPAIGN,
        "event_time": "2026-10-30T01:00:00.000000Z", "handles": mine}
    with db.read() as s:
        row = s.one("SELECT status, recall_campaign FROM part_state WHERE handle_key = ?", (h["ENG-1"].lower(),))
    assert (row["status"], row["recall_campaign"]) == ("recalled", CAMPAIGN)

    theirs = client.post("/api/recalls", json=body, headers=OTHER_AUTH)
    assert (theirs.status_code, theirs.json["recorded"], theirs.json["actor"]) == (201, [h["VIN-1"], h["VIN-3"]], OTHER)
    assert [(n["handle"], n["recallCampaign"]) for n in theirs.json["notRecorded"]] == [(x, CAMPAIGN) for x in mine]
    size = row_count(db, "ledger_entries")
    again = client.post("/api/recalls", json=body, headers=ENT_AUTH)
    assert (again.status_code, again.json["recorded"], again.json["alreadyRecalled"]) == (200, [], mine)
    assert row_count(db, "ledger_entries") == size
    after = client.post("/api/recalls/scope", json=steel7()).json["products"]
    assert {(short(p["handle"]), p["status"], p["recallCampaign"]) for p in after} == {
        ("BOLT-002", "recalled", CAMPAIGN), ("VIN-1", "recalled", CAMPAIGN), ("VIN-3", "recalled", CAMPAIGN)}


@pytest.mark.parametrize("body, field, status", [
    (steel7(), "campaignId", 400), (steel7(campaignId=""), "campaignId", 400),
    ({"campaignId": CAMPAIGN, "handles": ["88.118.8/BOLT-001", "bad"]}, "handles[1]", 400),
    (steel7(campaignId=CAMPAIGN, eventTime="later"), "eventTime", 400),
    ({"campaignId": CAMPAIGN, "batches": [{"actor": ENT, "batch": "STEEL-0"}]}, "batches[0]", 404)])
def test_bad_campaigns_append_nothing(shared, body, field, status):
    size = row_count(shared.db, "ledger_entries")
    r = shared.client.post("/api/recalls", json=body, headers=ENT_AUTH)
    assert (r.status_code, r.json.get("field")) == (status, field), r.json
    assert shared.client.post("/api/recalls", json=steel7(campaignId=CAMPAIGN)).status_code == 401
    assert row_count(shared.db, "ledger_entries") == size

"""Projections written with each append (part state, genealogy, carbon) and rebuilt by replay."""
from __future__ import annotations

from typing import Any

from idres.events.service import replay
from idres.storage import projections
from tests.conftest import ENT, OTHER, OTHER_AUTH, row_count
from tests.idres.events import (SHA, accepted, carbon, commissioned, counts, event, mint_parts, post,
                                setup_parts)

T1 = "2026-11-03T10:00:00+08:00"  # 02:00Z
T2 = "2026-11-10T09:30:00-05:00"  # 14:30Z
T3 = "2026-11-20T00:00:00Z"


def state(db, handle: str) -> dict[str, Any]:
    with db.read() as s:
        return dict(s.one("SELECT * FROM part_state WHERE handle_key = ?", (handle.lower(),)))


def edges(db, kind: str = "assembly") -> list[tuple]:
    with db.read() as s:
        rows = s.all("SELECT parent, child, valid_from, valid_to, created_seq, ended_seq, consumed_mass_g "
                     "FROM genealogy_edges WHERE kind = ? ORDER BY created_seq, child", (kind,))
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]


def conflict(client, db, body: Any, field: str, words: str, status: int = 409) -> None:
    before = counts(db)
    r = post(client, body)
    assert (r.status_code, r.json.get("field")) == (status, field), r.json
    assert words in r.json["message"], r.json
    assert counts(db) == before


def test_part_state_follows_the_lifecycle(client, db, config):
    [part] = mint_parts(db, config, ENT, 1)
    seq = accepted(client, commissioned(part, net_mass_g=52, batch="LOT-9"))["entries"][0]["seq"]
    row = state(db, part)
    assert {k: row[k] for k in ("handle", "status", "holder", "part_type", "batch", "net_mass_g")} == {
        "handle": part, "status": "active", "holder": ENT, "part_type": "BOLT-M10", "batch": "LOT-9",
        "net_mass_g": 52}
    assert (int(row["last_seq"]), row["last_event_type"], row["last_event_time"]) == (
        seq, "commissioned", "2026-11-02T00:00:00.000000Z")

    accepted(client, event("shipped", T1, handles=[part], from_party=ENT, to_party=OTHER))
    assert (state(db, part)["status"], state(db, part)["holder"]) == ("in_transit", OTHER)
    accepted(client, event("received", T2, OTHER, handles=[part], from_party=ENT, to_party=OTHER), OTHER_AUTH)
    row = state(db, part)
    assert (row["status"], row["holder"], row["last_event_type"]) == ("received", OTHER, "received")
    assert row["last_event_time"] == "2026-11-10T14:30:00.000000Z"

    conflict(client, db, event("inspected", handles=[part], result="non_conformant"),
             "event.defect_code", "required", status=400)
    accepted(client, event("inspected", handles=[part], result="non_conformant", defect_code="THREAD-7"))
    assert state(db, part)["inspection"] == "non_conformant"
    accepted(client, event("recalled", handles=[part], campaign_id="RC-2026-01"))
    row = state(db, part)
    assert (row["status"], row["recall_campaign"], row["holder"]) == ("recalled", "RC-2026-01", OTHER)
    accepted(client, event("scrapped", T3, handles=[part]))
    row = state(db, part)
    assert (row["status"], row["recall_campaign"], row["inspection"]) == ("scrapped", "RC-2026-01", "non_conformant")


def test_assembly_edges_and_rework(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=5, other=0)
    engine, other_engine, bolt, nut = mine[0], mine[3], mine[1], mine[2]
    seq = accepted(client, event("assembled", T1, parent=engine, children=[bolt, nut, "99.1/SENSOR-1"]))[
        "entries"][0]["seq"]
    assert edges(db) == [(engine, c, "2026-11-03T02:00:00.000000Z", None, seq, None, None)
                         for c in sorted([bolt, nut, "99.1/SENSOR-1"])]
    assert state(db, "99.1/SENSOR-1")["status"] == "known"  # foreign parts are tracked, not owned

    conflict(client, db, event("assembled", T2, parent=other_engine, children=[mine[4], bolt]),
             "event.children[1]", f"already assembled into {engine}")
    conflict(client, db, {"events": [event("inspected", handles=[bolt], result="conformant"),
                                     event("assembled", T2, parent=other_engine, children=[nut])]},
             "events[1].children[0]", engine)
    conflict(client, db, event("assembled", T2, parent=bolt, children=[engine]),
             "event.children[0]", "cannot contain itself")
    conflict(client, db, event("assembled", T2, parent=bolt, children=[bolt]),
             "event.children[0]", "cannot contain itself")
    conflict(client, db, event("disassembled", T2, parent=other_engine, children=[bolt]),
             "event.children[0]", f"not assembled into {other_engine}")
    conflict(client, db, event("disassembled", "2026-11-01T00:00:00Z", parent=engine, children=[bolt]),
             "event.children[0]", "after this event's time")

    ended = accepted(client, event("disassembled", T2, parent=engine, children=[bolt]))["entries"][0]["seq"]
    conflict(client, db, event("disassembled", T3, parent=engine, children=[bolt]),
             "event.children[0]", "not assembled")
    # rework: the bolt goes into another engine, but not before it left the first one
    conflict(client, db, event("assembled", T1, parent=other_engine, children=[bolt]),
             "event.children[0]", "until 2026-11-10T14:30:00.000000Z")
    again = accepted(client, event("assembled", T3, parent=other_engine, children=[bolt]))["entries"][0]["seq"]
    got = [e for e in edges(db) if e[1] == bolt]
    assert got == [(engine, bolt, "2026-11-03T02:00:00.000000Z", "2026-11-10T14:30:00.000000Z", seq, ended, None),
                   (other_engine, bolt, "2026-11-20T00:00:00.000000Z", None, again, None, None)]
    assert state(db, bolt)["last_event_type"] == "assembled"


def test_transformation_edges(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=4, other=0)
    coil, bolts = mine[0], mine[1:3]
    body = accepted(client, event("transformed", T1, inputs=[
        {"handle": coil, "consumed_mass_g": 1_080_000}, {"batch": "ROD-LOT-7", "consumed_mass_g": 5_000},
        {"handle": "99.1/WIRE-9", "consumed_mass_g": 250}], outputs=bolts))
    seq = body["entries"][0]["seq"]
    want = sorted((b, child, "2026-11-03T02:00:00.000000Z", None, seq, None, mass) for b in bolts
                  for child, mass in ((coil, 1_080_000), (f"batch:{ENT}/ROD-LOT-7", 5_000), ("99.1/WIRE-9", 250)))
    assert sorted(edges(db, "transformation")) == want
    assert state(db, coil)["status"] == "transformed"
    assert [(state(db, b)["status"], state(db, b)["holder"]) for b in bolts] == [("active", ENT)] * 2
    conflict(client, db, event("transformed", T2, inputs=[{"handle": mine[3], "consumed_mass_g": 1}],
                               outputs=[mine[1], mine[3]]), "event.outputs[1]", "made from itself")


def test_carbon_records(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=1, other=0)
    seqs = [e["seq"] for e in accepted(client, {"events": [
        carbon(handle=mine[0]), carbon(T2, batch="COIL-LOT-3", method="default", direct_g=0)]})["entries"]]
    with db.read() as s:
        rows = [dict(r) for r in s.all("SELECT * FROM carbon_records ORDER BY seq")]
    assert [(int(r["seq"]), r["subject"], r["subject_kind"], r["installation_id"], r["period"], int(r["direct_g"]),
             int(r["indirect_g"]), int(r["activity_level_g"]), r["method"], r["evidence_sha256"], r["event_time"])
            for r in rows] == [
        (seqs[0], mine[0], "handle", "INST-1", "2026-Q4", 1200, 300, 52_000, "actual", SHA,
         "2026-11-02T00:00:00.000000Z"),
        (seqs[1], f"batch:{ENT}/COIL-LOT-3", "batch", "INST-1", "2026-Q4", 0, 300, 52_000, "default", SHA,
         "2026-11-10T14:30:00.000000Z")]


def full_history(client, db, config) -> list[str]:
    """Every event type, with rework (assemble, disassemble, reassemble elsewhere)."""
    mine, theirs = setup_parts(client, db, config, ent=7, other=2)
    e1, e2, bolt, nut, coil, out1, out2 = mine
    accepted(client, {"events": [
        event("shipped", T1, OTHER, handles=theirs, from_party=OTHER, to_party=ENT)]}, OTHER_AUTH)
    accepted(client, {"events": [
        event("received", T1, handles=theirs, from_party=OTHER, to_party=ENT),
        event("assembled", T1, parent=e1, children=[bolt, nut, theirs[0], "99.1/SENSOR-1"]),
        event("inspected", T1, handles=[e1], result="non_conformant", defect_code="LEAK"),
        event("disassembled", T2, parent=e1, children=[bolt, theirs[0]]),
        event("assembled", T3, parent=e2, children=[bolt, theirs[0]]),
        event("transformed", T2, inputs=[{"handle": coil, "consumed_mass_g": 9_000},
                                         {"batch": "ROD-1", "consumed_mass_g": 100}], outputs=[out1, out2]),
        carbon(T2, handle=out1), carbon(T2, batch="ROD-1", method="default"),
        event("shipped", T3, handles=[e2], from_party=ENT, to_party="OEM-1"),
        event("recalled", T3, handles=[e1, nut], campaign_id="RC-9"),
        event("scrapped", T3, handles=[e1]),
    ]})
    return mine + theirs


def test_replay_rebuilds_identical_tables(client, db, config):
    full_history(client, db, config)
    with db.read() as s:
        before = projections.dump(s)
    assert all(before[t] for t in projections.TABLES), {t: len(v) for t, v in before.items()}
    size = row_count(db, "ledger_entries")
    with db.write() as s:  # damage every projection; replay must restore them from the log alone
        s.run("UPDATE part_state SET status = 'bogus'")
        s.run("DELETE FROM genealogy_edges WHERE valid_to IS NOT NULL")
        s.run("UPDATE carbon_records SET direct_g = direct_g + 1")
        s.run("DELETE FROM handle_events WHERE role = 'children'")
        s.run("INSERT INTO part_state (handle_key, handle, status, last_seq, last_event_type, last_event_time) "
              "VALUES ('x/y', 'x/y', 'active', 0, 'commissioned', 'now')")
    with db.read() as s:
        assert projections.dump(s) != before
    assert replay(db) == size
    with db.read() as s:
        assert projections.dump(s) == before
    assert replay(db) == size  # idempotent
    with db.read() as s:
        assert projections.dump(s) == before


def test_handle_history_lists_every_event_about_a_part(client, db, config):
    mine = full_history(client, db, config)
    bolt = mine[2]
    body = client.get(f"/api/handles/{bolt}/events").json
    types = [(e["event"]["event_type"], e["event"].get("parent")) for e in body["events"]]
    assert types == [("commissioned", None), ("assembled", mine[0]), ("disassembled", mine[0]),
                     ("assembled", mine[1])]
    assert [e["seq"] for e in body["events"]] == sorted(e["seq"] for e in body["events"])
    theirs = client.get(f"/api/handles/{mine[7]}/events").json["events"]
    assert [e["event"]["event_type"] for e in theirs] == [
        "commissioned", "shipped", "received", "assembled", "disassembled", "assembled"]

"""POST /api/events: appends, signed checkpoints, idempotency, and every way to be rejected."""
from __future__ import annotations

import base64
import copy
import time
from typing import Any

from ledger.merkle import leaf_hash, root_of
from ledger.note import Verifier, open_checkpoint
from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, OTHER, OTHER_AUTH, basic, row_count
from tests.idres.events import (T0, accepted, carbon, commissioned, counts, event, mint_parts, post,
                                setup_parts)

FOREIGN = "99.1/X-1"  # a handle of a prefix this node does not hold


def signed(client, checkpoint: dict) -> Any:
    """The checkpoint of a response, opened with the key the node publishes."""
    key = client.get("/api/ledger/key").json
    cp = open_checkpoint(checkpoint["note"], [Verifier(key["verifierKey"])], key["origin"])
    assert cp.size == checkpoint["size"]
    assert base64.b64encode(cp.root).decode() == checkpoint["root"]
    return cp


def stored_leaves(db) -> list[bytes]:
    with db.read() as s:
        return [leaf_hash(r["entry"].encode()) for r in s.all("SELECT entry FROM ledger_entries ORDER BY seq")]


def test_single_event_is_appended_under_a_signed_checkpoint(client, db, config):
    [part] = mint_parts(db, config, ENT, 1)
    size = row_count(db, "ledger_entries")
    r = post(client, commissioned(part))
    assert r.status_code == 201, r.json
    assert r.json["responseCode"] == 1
    [entry] = r.json["entries"]
    assert entry["seq"] == size and entry["duplicate"] is False
    cp = signed(client, r.json["checkpoint"])
    assert cp.size == size + 1
    assert cp.root == root_of(stored_leaves(db))  # the signed root covers exactly what is stored


def test_batch_is_appended_in_order(client, db, config):
    parts = mint_parts(db, config, ENT, 5)
    before = counts(db)
    batch = [commissioned(p) for p in parts]
    body = accepted(client, {"events": batch})
    assert [e["event_id"] for e in body["entries"]] == [e["event_id"] for e in batch]
    seqs = [e["seq"] for e in body["entries"]]
    assert seqs == list(range(before["ledger_entries"], before["ledger_entries"] + 5))
    cp = signed(client, body["checkpoint"])
    assert cp.size == before["ledger_entries"] + 5 and cp.root == root_of(stored_leaves(db))
    after = counts(db)
    assert after["ledger_entries"] == before["ledger_entries"] + 5
    assert after["ledger_checkpoints"] == before["ledger_checkpoints"] + 1  # one signature per batch
    assert after["part_state"] == before["part_state"] + 5


def test_same_event_again_is_a_duplicate(client, db, config):
    parts = mint_parts(db, config, ENT, 2)
    first = commissioned(parts[0])
    original = accepted(client, first)
    before = counts(db)
    again = accepted(client, {**first, "event_id": first["event_id"].upper()})  # same UUID
    assert again["entries"] == [{**original["entries"][0], "duplicate": True}]
    assert again["checkpoint"] == original["checkpoint"]
    after = counts(db)
    assert {t: after[t] for t in after if t != "audit_log"} == {t: before[t] for t in before if t != "audit_log"}
    # in a batch: the known event is reported with its old number, the new one appended
    second = commissioned(parts[1])
    body = accepted(client, {"events": [first, second, second]})
    assert [(e["seq"], e["duplicate"]) for e in body["entries"]] == [
        (original["entries"][0]["seq"], True), (before["ledger_entries"], False),
        (before["ledger_entries"], True)]
    assert row_count(db, "ledger_entries") == before["ledger_entries"] + 1


def test_same_event_id_with_other_content_is_a_conflict(client, db, config):
    parts = mint_parts(db, config, ENT, 2)
    first = commissioned(parts[0])
    accepted(client, first)
    before = counts(db)
    r = post(client, {"events": [commissioned(parts[1]), {**first, "net_mass_g": 53}]})
    assert r.status_code == 409 and r.json["field"] == "events[1].event_id", r.json
    assert first["event_id"] in r.json["message"]
    other = commissioned(parts[1])
    r = post(client, {"events": [other, {**other, "bizLocation": "urn:epc:id:sgln:1"}]})
    assert r.status_code == 409 and r.json["field"] == "events[1].event_id", r.json
    assert counts(db) == before


def test_a_batch_with_one_bad_event_appends_nothing(client, db, config):
    mine, theirs = setup_parts(client, db, config)
    fresh = mint_parts(db, config, ENT, 2, "Q-{seq:03}")
    good = [commissioned(fresh[0]), commissioned(fresh[1]),
            event("assembled", parent=mine[0], children=[fresh[0]])]
    before = counts(db)
    cases = [
        (commissioned(mine[0], net_mass_g=-5), 400, 4, "events[3].net_mass_g"),
        (event("scrapped", handles=["88.118.8/NO-SUCH-PART"]), 404, 100, "events[3].handles[0]"),
        (event("scrapped", handles=[theirs[0]]), 403, 400, "events[3].handles[0]"),
        # valid alone, but fresh[0] went into mine[0] two events earlier: the state
        # conflict rolls back the appends and projections already made in this batch
        (event("assembled", parent=mine[1], children=[fresh[0]]), 409, 4, "events[3].children[0]"),
    ]
    for bad, status, rc, field in cases:
        r = post(client, {"events": good + [bad]})
        assert (r.status_code, r.json["responseCode"], r.json.get("field")) == (status, rc, field), r.json
        assert counts(db) == before, bad
    accepted(client, {"events": good})
    assert row_count(db, "ledger_entries") == before["ledger_entries"] + 3


# --- bad inputs, for every event type -----------------------------------------------------

def sample(kind: str, mine: list[str], theirs: list[str]) -> dict[str, Any]:
    """A valid event of each type, given commissioned parts (mine[1] assembled into mine[0])."""
    return {
        "commissioned": lambda: commissioned(mine[5], when="2026-11-04T08:00:00+08:00"),
        "assembled": lambda: event("assembled", parent=mine[0], children=[mine[2], FOREIGN]),
        "disassembled": lambda: event("disassembled", when="2026-11-05T08:00:00Z", parent=mine[0],
                                      children=[mine[1]]),
        "transformed": lambda: event("transformed", inputs=[
            {"batch": "COIL-7", "consumed_mass_g": 1000}, {"handle": "99.1/COIL-9", "consumed_mass_g": 20}],
            outputs=[mine[3]]),
        "shipped": lambda: event("shipped", handles=[mine[4]], from_party=ENT, to_party=OTHER),
        "received": lambda: event("received", handles=[theirs[0], FOREIGN], from_party=OTHER, to_party=ENT),
        "inspected": lambda: event("inspected", handles=[mine[4]], result="non_conformant", defect_code="D-17"),
        "recalled": lambda: event("recalled", handles=[mine[4]], campaign_id="RC-2026-01"),
        "scrapped": lambda: event("scrapped", handles=[mine[5]]),
        "carbon.recorded": lambda: carbon(handle=mine[0]),
    }[kind]()


COMMON = ("event_id", "event_type", "event_time", "actor")
REQUIRED = {
    "commissioned": ("handle", "part_type", "net_mass_g"), "assembled": ("parent", "children"),
    "disassembled": ("parent", "children"), "transformed": ("inputs", "outputs", "inputs.0.consumed_mass_g"),
    "shipped": ("handles", "from_party", "to_party"), "received": ("handles", "from_party", "to_party"),
    "inspected": ("handles", "result", "defect_code"), "recalled": ("handles", "campaign_id"),
    "scrapped": ("handles",),
    "carbon.recorded": ("handle", "installation_id", "period", "direct_g", "indirect_g",
                        "activity_level_g", "method", "evidence_sha256"),
}
# where a quantity (or, for types without one, a list item) gets a float or a negative number
NUMBERS = {
    "commissioned": ("net_mass_g",), "transformed": ("inputs.0.consumed_mass_g",),
    "carbon.recorded": ("direct_g", "indirect_g", "activity_level_g"),
    "assembled": ("children.0",), "disassembled": ("children.0",), "shipped": ("handles.0",),
    "received": ("handles.0",), "inspected": ("handles.0",), "recalled": ("handles.0",),
    "scrapped": ("handles.0",),
}
# the field naming a handle the actor must own (None: receipts are about others' parts)
SUBJECT = {"commissioned": "handle", "assembled": "parent", "disassembled": "parent",
           "transformed": "outputs.0", "shipped": "handles.0", "received": None, "inspected": "handles.0",
           "recalled": "handles.0", "scrapped": "handles.0", "carbon.recorded": "handle"}


def name(path: str) -> str:
    """``inputs.0.consumed_mass_g`` -> ``inputs[0].consumed_mass_g`` (as the API names it)."""
    out = ""
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def changed(ev: dict, path: str, value: Any = None, drop: bool = False) -> dict:
    ev = copy.deepcopy(ev)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = ev
    for p in parents:
        target = target[p]
    if drop:
        del target[last]
    else:
        target[last] = value
    return ev


def mutations(kind: str, good: dict) -> list[tuple[dict, int, int, str]]:
    """(bad event, HTTP status, rc, field named) for one event type."""
    out = [(changed(good, f, drop=True), 400, 4, name(f)) for f in COMMON + REQUIRED[kind]]
    out += [({**good, "colour": "red"}, 400, 4, "colour"),
            ({**good, "event_time": "2026-11-02T08:00:00"}, 400, 4, "event_time"),
            ({**good, "event_time": "2026-11-02 08:00:00+08:00"}, 400, 4, "event_time"),
            ({**good, "event_id": "not-a-uuid"}, 400, 4, "event_id"),
            ({**good, "actor": OTHER}, 403, 400, "actor")]
    for path in NUMBERS[kind]:
        out += [(changed(good, path, value), 400, 4, name(path)) for value in (1.5, 1.0, -1.0)]
        if not path.split(".")[-1].isdigit():  # a quantity: negative and string forms too
            out += [(changed(good, path, v), 400, 4, name(path)) for v in (-1, "-1", "1e3", 2**53)]
    subject = SUBJECT[kind]
    if subject:
        out.append((changed(good, subject, "88.118.9/P-00001"), 403, 400, name(subject)))
        out.append((changed(good, subject, "99.1/X-1"), 403, 400, name(subject)))
        out.append((changed(good, subject, "88.118.8/NO-SUCH-PART"), 404, 100, name(subject)))
    else:  # receipts: parts of prefixes held here must exist; foreign ones may be anything
        out.append((changed(good, "handles.0", "88.118.9/NO-SUCH-PART"), 404, 100, "handles[0]"))
        out.append((changed(good, "to_party", OTHER), 400, 4, "to_party"))
    if kind in ("assembled", "disassembled"):
        out.append((changed(good, "children.0", "88.118.8/NO-SUCH-PART"), 404, 100, "children[0]"))
    if kind == "transformed":
        out.append((changed(good, "inputs.1.handle", "88.118.8/NO-SUCH-PART"), 404, 100, "inputs[1].handle"))
        out.append((changed(good, "inputs.0.handle", FOREIGN), 400, 4, "inputs[0].handle"))  # and batch
    return out


def test_bad_inputs_for_every_event_type(client, db, config):
    """Each mutation of a valid event, alone and as events[2] of a batch, is rejected."""
    mine, theirs = setup_parts(client, db, config)
    accepted(client, event("assembled", parent=mine[0], children=[mine[1]]))
    filler = [event("inspected", handles=[mine[0]], result="conformant"),
              event("inspected", handles=[mine[2]], result="conformant")]
    goods = {kind: sample(kind, mine, theirs) for kind in REQUIRED}
    before = counts(db)
    for kind, good in goods.items():
        for bad, status, rc, field in mutations(kind, good):
            for body, where in ((bad, "event"), ({"events": filler + [bad]}, "events[2]")):
                r = post(client, body)
                got = (r.status_code, r.json["responseCode"], r.json.get("field"))
                assert got == (status, rc, f"{where}.{field}"), (kind, bad, r.json)
                assert counts(db) == before, (kind, bad)
    # the unmutated events are accepted: every rejection above was the mutation's doing
    body = accepted(client, {"events": filler + list(goods.values())})
    assert [e["duplicate"] for e in body["entries"]] == [False] * (2 + len(goods))
    assert row_count(db, "ledger_entries") == before["ledger_entries"] + 2 + len(goods)


def test_events_that_are_not_events(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=1, other=0)
    before = counts(db)
    cases = [
        (event("painted", handles=mine), 400, "event.event_type"),
        ({"events": [commissioned(mine[0]), event(7)]}, 400, "events[1].event_type"),
        ({"events": [commissioned(mine[0]), "scrapped"]}, 400, "events[1]"),
        ({"events": []}, 400, "events"),
        ({"events": {"event_type": "scrapped"}}, 400, "events"),
        ([commissioned(mine[0])], 400, "body"),
        (event("scrapped", handles=[]), 400, "event.handles"),
        (event("assembled", parent=mine[0], children=[FOREIGN, "99.1/x-1"]), 400, "event.children[1]"),
        (event("inspected", handles=mine, result="non_conformant"), 400, "event.defect_code"),
        (carbon(handle=mine[0], batch="LOT-1"), 400, "event.handle"),
        (carbon(period="2026-Q5", batch="LOT-1"), 400, "event.period"),
        (carbon(evidence_sha256="AB" * 32, batch="LOT-1"), 400, "event.evidence_sha256"),
        (event("scrapped", handles=["no-slash"]), 400, "event.handles[0]"),
    ]
    for body, status, field in cases:
        r = post(client, body)
        assert (r.status_code, r.json.get("field")) == (status, field), (body, r.json)
        assert counts(db) == before


def test_foreign_children_and_inputs_are_allowed(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=3, other=0)
    body = accepted(client, {"events": [
        event("assembled", parent=mine[0], children=["99.1/ENGINE-BOLT-1", "99.2/SENSOR-7"]),
        event("transformed", inputs=[{"handle": "99.1/COIL-3", "consumed_mass_g": 1_080_000}],
              outputs=[mine[1], mine[2]])]})
    assert [e["duplicate"] for e in body["entries"]] == [False, False]


def test_authentication_and_transport(client, db, config):
    mine, _ = setup_parts(client, db, config, ent=1, other=0)
    before = counts(db)
    ev = event("scrapped", handles=mine)
    r = post(client, ev, auth=None)
    assert (r.status_code, r.json["responseCode"]) == (401, 402)
    assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    r = post(client, ev, auth=basic(f"300:0.NA/{ENT}", "wrong-secret"))
    assert r.status_code == 401
    for auth in (OTHER_AUTH, ADMIN_AUTH):  # another enterprise, or the node admin, acting as 88.118.8
        r = post(client, ev, auth=auth)
        assert (r.status_code, r.json["responseCode"], r.json["field"]) == (403, 400, "event.actor")
    r = client.post("/api/events", data=str(ev), headers={**ENT_AUTH, "Content-Type": "text/plain"})
    assert (r.status_code, r.json["field"]) == (400, "Content-Type")
    r = client.post("/api/events", data="{", headers={**ENT_AUTH, "Content-Type": "application/json"})
    assert (r.status_code, r.json["field"]) == (400, "body")
    r = post(client, {"events": [ev] * 10_001})
    assert (r.status_code, r.json["field"]) == (400, "events")
    huge = b'{"events": [' + b" " * (32 * 1024 * 1024) + b"]}"
    r = client.post("/api/events", data=huge, headers={**ENT_AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json["responseCode"] == 4
    assert counts(db) == before


def test_ten_thousand_events_in_one_batch(client, db, config):
    parts = mint_parts(db, config, ENT, 10_000, "BOLT-{seq:05}")
    before = row_count(db, "ledger_entries")
    batch = [commissioned(p, when=T0) for p in parts]
    started = time.monotonic()
    body = accepted(client, {"events": batch})
    elapsed = time.monotonic() - started
    assert [e["seq"] for e in body["entries"]] == list(range(before, before + 10_000))
    assert signed(client, body["checkpoint"]).size == before + 10_000
    assert row_count(db, "part_state") == 10_000 and row_count(db, "handle_events") == 10_000
    assert elapsed < 30, f"10,000 events took {elapsed:.1f}s"

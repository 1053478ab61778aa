"""The ledger read API: key, checkpoints, entries, inclusion and consistency proofs, part histories."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ledger.merkle import VerificationError, root_of, verify_consistency, verify_inclusion
from ledger.note import Checkpoint, Verifier, open_checkpoint
from tests.conftest import ENT, row_count
from tests.idres.events import accepted, commissioned, event, mint_parts

B64 = base64.b64decode


def verifier(client) -> tuple[Verifier, str]:
    body = client.get("/api/ledger/key").json
    return Verifier(body["verifierKey"]), body["origin"]


def opened(client, note: str) -> Checkpoint:
    v, origin = verifier(client)
    return open_checkpoint(note, [v], origin)


@pytest.fixture
def history(client, db, config) -> dict[int, bytes]:
    """Events appended in batches of 1, 2, 3 and 4; returns the signed root at each batch's size."""
    parts = mint_parts(db, config, ENT, 10)
    roots = {}
    start = 0
    for n in (1, 2, 3, 4):
        body = accepted(client, {"events": [commissioned(p) for p in parts[start:start + n]]})
        cp = opened(client, body["checkpoint"]["note"])
        roots[cp.size] = cp.root
        start += n
    return roots


def test_key_is_published_in_the_prefix_record(client):
    key = client.get("/api/ledger/key")
    assert key.status_code == 200
    v = Verifier(key.json["verifierKey"])
    assert v.name == key.json["origin"] == "node.test/88.118"
    record = client.get("/api/handles/0.NA/88.118", query_string={"type": "IDRES.LEDGER_KEY"})
    assert record.status_code == 200, record.json
    [value] = record.json["values"]
    assert value["data"] == {"format": "string", "value": key.json["verifierKey"]}


def test_checkpoint_is_signed_and_covers_the_log(client, db, history):
    size = row_count(db, "ledger_entries")
    body = client.get("/api/ledger/checkpoint").json
    cp = opened(client, body["note"])
    assert (cp.size, body["size"]) == (size, size)
    assert cp.root == B64(body["root"]) == history[size]
    with db.read() as s:
        leaves = [hashlib.sha256(b"\x00" + r["entry"].encode()).digest()
                  for r in s.all("SELECT entry FROM ledger_entries ORDER BY seq")]
    assert root_of(leaves) == cp.root
    text = client.get("/api/ledger/checkpoint", headers={"Accept": "text/plain"})
    assert text.mimetype == "text/plain" and text.get_data(as_text=True) == body["note"]
    other = Verifier(key_of_another_node())
    with pytest.raises(VerificationError):
        open_checkpoint(body["note"], [other])


def key_of_another_node() -> str:
    from ledger.note import Signer

    return Signer.generate("node.test/88.118").verifier_key


def test_entries_hash_to_their_leaves(client, db, history):
    size = row_count(db, "ledger_entries")
    for seq in range(size):
        r = client.get(f"/api/ledger/entries/{seq}")
        assert r.status_code == 200, r.json
        raw = B64(r.json["entryBase64"])
        assert raw == r.json["entry"].encode("utf-8")
        assert B64(r.json["leafHash"]) == hashlib.sha256(b"\x00" + raw).digest()  # RFC 9162 leaf
        entry = json.loads(raw)
        assert r.json["seq"] == seq and entry["event_type"] in ("commissioned",)
        assert raw == json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    for missing in (size, 2**63, 10**30):
        r = client.get(f"/api/ledger/entries/{missing}")
        assert (r.status_code, r.json["responseCode"], r.json["field"]) == (404, 4, "seq")
    assert client.get("/api/ledger/entries/abc").status_code == 404


def test_inclusion_proofs_verify_for_every_entry(client, db, history):
    for size, root in history.items():
        for seq in range(size):
            r = client.get("/api/ledger/proof/inclusion", query_string={"entry": seq, "size": size})
            assert r.status_code == 200, r.json
            body = r.json
            assert (body["entry"], body["size"], B64(body["root"])) == (seq, size, root)
            entry = client.get(f"/api/ledger/entries/{seq}").json
            leaf = hashlib.sha256(b"\x00" + entry["entry"].encode()).digest()
            assert B64(body["leafHash"]) == leaf
            proof = [B64(p) for p in body["proof"]]
            verify_inclusion(leaf, seq, size, proof, root)
            if proof:  # a changed proof hash must not verify
                with pytest.raises(VerificationError):
                    verify_inclusion(leaf, seq, size, [bytes(32)] + proof[1:], root)


def test_consistency_proofs_verify_between_sizes(client, history):
    sizes = sorted(history)
    for first in sizes:
        for second in sizes:
            if first > second:
                continue
            r = client.get("/api/ledger/proof/consistency", query_string={"from": first, "to": second})
            assert r.status_code == 200, r.json
            body = r.json
            # the roots checked are the signed ones, not whatever the endpoint claims
            assert (B64(body["root1"]), B64(body["root2"])) == (history[first], history[second])
            verify_consistency(first, second, [B64(p) for p in body["proof"]], history[first], history[second])
    # between every pair of sizes, against roots computed here from the entries
    leaves = [B64(client.get(f"/api/ledger/entries/{n}").json["leafHash"]) for n in range(sizes[-1])]
    for first in range(1, sizes[-1] + 1):
        for second in range(first, sizes[-1] + 1):
            body = client.get("/api/ledger/proof/consistency", query_string={"from": first, "to": second}).json
            verify_consistency(first, second, [B64(p) for p in body["proof"]],
                               root_of(leaves[:first]), root_of(leaves[:second]))


def test_bad_proof_parameters(client, db, history):
    size = row_count(db, "ledger_entries")
    cases = [
        ("inclusion", {"size": 3}, "entry"), ("inclusion", {"entry": 0}, "size"),
        ("inclusion", {"entry": "x", "size": 3}, "entry"), ("inclusion", {"entry": -1, "size": 3}, "entry"),
        ("inclusion", {"entry": "1.0", "size": 3}, "entry"), ("inclusion", {"entry": 0, "size": "3x"}, "size"),
        ("inclusion", {"entry": 3, "size": 3}, "entry"), ("inclusion", {"entry": 0, "size": 0}, "entry"),
        ("inclusion", {"entry": 0, "size": size + 1}, "size"),
        ("inclusion", {"entry": 0, "size": 10**30}, "size"),
        ("consistency", {"to": 3}, "from"), ("consistency", {"from": 1}, "to"),
        ("consistency", {"from": 0, "to": 3}, "from"), ("consistency", {"from": 4, "to": 3}, "from"),
        ("consistency", {"from": "one", "to": 3}, "from"), ("consistency", {"from": 1, "to": size + 1}, "to"),
    ]
    for kind, params, field in cases:
        r = client.get(f"/api/ledger/proof/{kind}", query_string=params)
        assert (r.status_code, r.json["responseCode"], r.json.get("field")) == (400, 4, field), (kind, params, r.json)


def test_handle_events_come_with_proofs(client, db, config, history):
    parts = mint_parts(db, config, ENT, 2, "ENG-{seq:03}")
    accepted(client, {"events": [commissioned(p) for p in parts]})
    accepted(client, event("assembled", parent=parts[0], children=[parts[1], "99.1/X-1"]))
    accepted(client, event("inspected", handles=[parts[1]], result="conformant"))
    body = client.get(f"/api/handles/{parts[1]}/events").json
    assert body["responseCode"] == 1 and body["handle"] == parts[1]
    cp = opened(client, body["checkpoint"]["note"])
    assert (cp.size, cp.root) == (body["checkpoint"]["size"], B64(body["checkpoint"]["root"]))
    assert cp.size == row_count(db, "ledger_entries")
    assert [e["event"]["event_type"] for e in body["events"]] == ["commissioned", "assembled", "inspected"]
    for item in body["events"]:
        leaf = B64(item["leafHash"])
        canonical = json.dumps(item["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert leaf == hashlib.sha256(b"\x00" + canonical.encode()).digest()
        verify_inclusion(leaf, item["seq"], cp.size, [B64(p) for p in item["proof"]], cp.root)
    parent = client.get(f"/api/handles/{parts[0]}/events").json["events"]
    assert [e["event"]["event_type"] for e in parent] == ["commissioned", "assembled"]
    for missing in ("88.118.8/NO-SUCH-PART", "99.1/X-1"):
        r = client.get(f"/api/handles/{missing}/events")
        assert (r.status_code, r.json["responseCode"]) == (404, 100), r.json

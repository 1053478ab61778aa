"""A report's proof of origin, checked offline as a recipient would: signature, leaves, inclusion."""
from __future__ import annotations

import base64
import json

import pytest

from ledger import merkle
from ledger.note import NoteError, Verifier, open_checkpoint
from tests.idres.reports import post_report, quarterly_body


def b64d(text: str) -> bytes:
    return base64.b64decode(text)


def check_entry(item: dict, size: int, root: bytes) -> None:
    """What a recipient does per entry: hash the entry text, then follow the proof to the root."""
    leaf = merkle.leaf_hash(item["entry"].encode("utf-8"))
    if leaf != b64d(item["leaf_hash"]):
        raise merkle.VerificationError(f"entry {item['seq']} does not hash to its leaf hash")
    merkle.verify_inclusion(leaf, item["seq"], size, [b64d(p) for p in item["proof"]], root)


@pytest.fixture(scope="module")
def proof(shared) -> dict:
    h = shared.plant.h
    body = quarterly_body(handles=[h[n] for n in ("A3", "B1", "B2", "D1", "E1")])
    return post_report(shared.client, "quarterly", body).json["proof_of_origin"]


def test_every_listed_entry_is_proven_against_the_signed_checkpoint(shared, proof):
    key = shared.client.get("/api/ledger/key").json["verifierKey"]
    assert proof["verifier_key"] == key
    checkpoint = open_checkpoint(proof["checkpoint"]["note"], [Verifier(key)])
    assert (checkpoint.size, base64.b64encode(checkpoint.root).decode()) == (
        proof["checkpoint"]["size"], proof["checkpoint"]["root"])
    for item in proof["entries"]:
        check_entry(item, checkpoint.size, checkpoint.root)
        assert json.loads(item["entry"])["event_type"] == item["event_type"]
    seq = shared.plant.seq
    listed = {e["seq"] for e in proof["entries"]}
    # carbon and genealogy of the roll-ups (D1's coil default rests on its commissioning) + the shipment
    assert {seq[k] for k in ("co2-ROD-LOT-1", "t-A", "co2-BOLT-LOT-1", "co2-COIL-001", "co2-COIL-002",
                             "t-B", "co2-BOLT-LOT-2", "t-D", "co2-BOLT-LOT-3", "c-COIL-003", "c-E1",
                             "s-2026")} == listed
    assert {e["event_type"] for e in proof["entries"]} == {"carbon.recorded", "transformed", "commissioned",
                                                           "shipped"}


def test_a_tampered_entry_fails(proof):
    checkpoint = proof["checkpoint"]
    root = b64d(checkpoint["root"])
    item = next(e for e in proof["entries"] if e["event_type"] == "carbon.recorded")
    forged = {**item, "entry": item["entry"].replace('"direct_g":', '"direct_g":1', 1)}
    assert forged["entry"] != item["entry"]
    with pytest.raises(merkle.VerificationError):
        check_entry(forged, checkpoint["size"], root)
    # a forger who also replaces the leaf hash still cannot reach the signed root
    forged["leaf_hash"] = base64.b64encode(merkle.leaf_hash(forged["entry"].encode())).decode()
    with pytest.raises(merkle.VerificationError):
        check_entry(forged, checkpoint["size"], root)
    # nor may the proof of one entry stand for another
    other = next(e for e in proof["entries"] if e["seq"] != item["seq"])
    with pytest.raises(merkle.VerificationError):
        check_entry({**item, "proof": other["proof"]}, checkpoint["size"], root)


def test_a_tampered_checkpoint_fails(shared, proof):
    key = shared.client.get("/api/ledger/key").json["verifierKey"]
    note = proof["checkpoint"]["note"]
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    with pytest.raises(NoteError):
        open_checkpoint("\n".join(lines), [Verifier(key)])
    open_checkpoint(note, [Verifier(key)])  # the untouched note still opens

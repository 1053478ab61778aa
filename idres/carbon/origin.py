"""Proof of origin: the signed checkpoint a report was computed from, and its contributing entries.

A report lists every ledger entry its figures rest on (carbon records,
transformations, assemblies, commissioning events that name an installation,
and the shipments reported), each with its leaf hash and, when asked, the
entry text and an RFC 9162 inclusion proof against the latest signed
checkpoint.  All of it is read in the caller's session, the one that read
the report data (a snapshot: :meth:`Database.snapshot`), so the checkpoint
covers every listed entry.

A recipient checks: the checkpoint note's signature with the node's verifier
key (``GET /api/ledger/key``), then for each entry SHA-256(0x00 || entry)
equals the leaf hash and the proof leads from it to the checkpoint's root
(``ledger.merkle.verify_inclusion``).
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from idres.errors import HandleError
from idres.events.service import b64, checkpoint_json
from idres.storage.engine import Session
from ledger import log as ledger_log
from ledger import store as ledger_store


class NotCheckpointed(HandleError):
    """Entries the latest signed checkpoint does not cover (a log without checkpoints)."""

    rc, status, default_message = 2, 503, "The ledger has no signed checkpoint covering the report"


def latest_checkpoint(s: Session) -> dict[str, Any]:
    """The latest signed checkpoint: size, base64 root and the signed note."""
    cp = ledger_log.latest_checkpoint(s)
    if cp is None:
        raise NotCheckpointed("The ledger has no signed checkpoint yet")
    return checkpoint_json(cp)


def proof_of_origin(s: Session, seqs: Iterable[int], proofs: bool = True) -> dict[str, Any]:
    """The checkpoint and each entry of ``seqs`` (seq, event type, leaf hash; entry and proof if ``proofs``)."""
    checkpoint = latest_checkpoint(s)
    size = checkpoint["size"]
    wanted = sorted(set(seqs))
    if wanted and wanted[-1] >= size:
        raise NotCheckpointed(f"entry {wanted[-1]} is beyond the latest signed checkpoint (size {size})")
    rows = ledger_store.entries_at(s, wanted)
    proved = ledger_log.inclusion_proofs(s, wanted, size) if proofs else {}
    entries = []
    for seq in wanted:
        row = rows[seq]
        item: dict[str, Any] = {"seq": seq, "event_type": json.loads(row["entry"])["event_type"],
                                "leaf_hash": b64(bytes.fromhex(row["leaf_hash"]))}
        if proofs:
            item["entry"] = row["entry"]
            item["proof"] = [b64(p) for p in proved[seq]]
        entries.append(item)
    return {"checkpoint": checkpoint, "entries": entries,
            "how_to_verify": "open the checkpoint note with the node's verifier key (GET /api/ledger/key); "
                             "for each entry, SHA-256(0x00 || entry UTF-8) must equal leaf_hash and the "
                             "inclusion proof (RFC 9162) must lead to the checkpoint root; entries without "
                             "a proof here: GET /api/ledger/proof/inclusion?entry=<seq>&size=<size>"}

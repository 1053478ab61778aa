"""The append-only log: canonical entries, hash chain, Merkle tree, checkpoints.

Each entry is a JSON object canonicalized with RFC 8785.  Entry ``n`` has
leaf hash SHA-256(0x00 || entry) and chain hash SHA-256(chain[n-1] || leaf);
perfect Merkle subtrees are stored as they complete, so roots and proofs
cost O(log n) reads.  Every append that adds entries signs a C2SP checkpoint
in the same transaction, after checking it is consistent with the last one,
so the log never signs two inconsistent tree heads.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import rfc8785

from ledger import merkle, store
from ledger.note import Checkpoint, Signer
from ledger.replay import TreeBuilder, chain_next  # noqa: F401  (chain_next re-exported)
from ledger.store import Session


class LedgerConflict(Exception):
    """An entry id already in the log (or twice in a batch) with other content."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"entry {entry_id} already exists with different content")
        self.entry_id = entry_id


@dataclass(frozen=True)
class Receipt:
    """Where an entry is in the log; ``duplicate`` when it was there before."""

    seq: int
    entry_id: str
    duplicate: bool


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class AppendResult:
    receipts: list[Receipt]
    checkpoint: SignedCheckpoint | None


def canonical(entry: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of an entry.

    Rejects NaN, infinities and integers beyond 2^53-1; finite floats are
    accepted and rendered the ECMAScript way (2.0 -> 2, 1e21 -> 1e+21), so
    callers keep binary floats out of entries themselves.
    """
    return _canonical(entry)[1]


_SAFE_INT = 2**53 - 1
# Keys sort by UTF-16 code units in RFC 8785 and by code points in Python:
# the two orders agree unless a key holds a surrogate or a non-BMP character.
_NOT_BMP = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_json_text = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True,
                              separators=(",", ":")).encode


def _plain(value: Any) -> bool:
    """Whether the ``json`` module renders ``value`` exactly as RFC 8785 does.

    True for trees of exactly dict (str keys, all in the BMP), list, str,
    bool, None and int within +-(2^53-1).  For those, ``json`` with sorted
    keys, no whitespace and ``ensure_ascii=False`` escapes strings like RFC
    8785 (quote, backslash, the five short escapes, other control characters
    as lowercase ``\\u00xx``, everything else raw) and prints integers alike.
    Anything else (floats, tuples, subclasses, big integers, non-BMP keys)
    goes to ``rfc8785``.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            kind = type(item)
            if not (kind is str or kind is bool or item is None or _plain(item)):
                return False
        keys = "".join(value)
        return keys.isascii() or _NOT_BMP.search(keys) is None
    if kind is list:
        for item in value:
            kind = type(item)
            if not (kind is str or kind is bool or item is None or _plain(item)):
                return False
        return True
    return False


def _canonical(entry: Any) -> tuple[str, bytes]:
    """RFC 8785 text and bytes: the ``json`` module where it agrees, else ``rfc8785``."""
    if _plain(entry):
        text = _json_text(entry)
        try:
            return text, text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 rejects it below
            pass
    raw = rfc8785.dumps(entry)
    return raw.decode("utf-8"), raw


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Log:
    """One node's log, signing checkpoints with ``signer`` under ``origin``."""

    def __init__(self, signer: Signer, origin: str) -> None:
        self.signer = signer
        self.origin = origin

    def append(self, s: Session, entries: Sequence[Mapping[str, Any]],
               id_field: str = "event_id") -> AppendResult:
        """Append entries atomically (the caller's transaction); idempotent per id."""
        texts, order = self._dedupe(entries, id_field)
        tree = self._locked_tree(s)
        size = tree.size
        existing = store.entries_by_id(s, order)
        receipts: dict[str, Receipt] = {}
        for entry_id, (seq, text) in existing.items():
            if text != texts[entry_id]:
                raise LedgerConflict(entry_id)
            receipts[entry_id] = Receipt(seq, entry_id, True)
        old_root = tree.root()
        rows, nodes = [], []
        for entry_id in (i for i in order if i not in existing):
            leaf, completed = tree.add(texts[entry_id].encode("utf-8"))
            rows.append((tree.size - 1, entry_id, texts[entry_id], leaf.hex(), tree.chain))
            nodes.extend(completed)
            receipts[entry_id] = Receipt(tree.size - 1, entry_id, False)
        checkpoint = None
        if rows:
            store.insert_entries(s, rows)
            store.insert_nodes(s, nodes)
            store.set_head(s, tree.size, tree.chain, tree.edge_text())
            checkpoint = self._sign(s, tree.size, tree.root(), size, old_root)
        return AppendResult([receipts[entry_id] for entry_id in order], checkpoint)

    @staticmethod
    def _locked_tree(s: Session) -> TreeBuilder:
        """Lock the head; the tree's right edge, from the head or (if absent) the nodes."""
        size, chain, edge_text = store.lock_head_edge(s)
        edge = TreeBuilder.parse_edge(edge_text)
        if size and not edge:
            keys = merkle.perfect_subtrees(0, size)
            stored = store.read_nodes(s, keys)
            edge = [(level, idx, stored[(level, idx)]) for level, idx in keys]
        return TreeBuilder(size, chain, edge)

    @staticmethod
    def _dedupe(entries: Sequence[Mapping[str, Any]], id_field: str) -> tuple[dict[str, str], list[str]]:
        texts: dict[str, str] = {}
        order: list[str] = []
        for entry in entries:
            entry_id = str(entry[id_field])
            text = _canonical(entry)[0]
            if entry_id in texts:
                if texts[entry_id] != text:
                    raise LedgerConflict(entry_id)
                continue
            texts[entry_id] = text
            order.append(entry_id)
        return texts, order

    def _sign(self, s: Session, size: int, root: bytes, old_size: int, old_root: bytes) -> SignedCheckpoint:
        """Sign ``(size, root)`` after checking it extends the last signed checkpoint.

        The new tree is the old right edge plus new leaves, so it is consistent
        with the old tree by construction; what must hold is that the old edge
        really is the tree the last checkpoint signed.
        """
        previous = store.latest_checkpoint(s)
        if previous is not None and int(previous["size"]) == old_size:
            if previous["root"] != old_root.hex():
                raise merkle.VerificationError(
                    f"stored tree of size {old_size} differs from its signed checkpoint")
        elif previous is not None and 0 < int(previous["size"]) < size:
            proof = self.consistency_proof(s, int(previous["size"]), size)
            merkle.verify_consistency(int(previous["size"]), size, proof,
                                      bytes.fromhex(previous["root"]), root)
        note = self.signer.sign(Checkpoint(self.origin, size, root).body())
        store.insert_checkpoint(s, size, root, note, _now())
        return SignedCheckpoint(size, root, note)

    def ensure_checkpoint(self, s: Session) -> SignedCheckpoint:
        """The latest checkpoint, signing one for the current size if none covers it."""
        tree = self._locked_tree(s)
        row = store.latest_checkpoint(s)
        if row is not None and int(row["size"]) == tree.size:
            return SignedCheckpoint(tree.size, bytes.fromhex(row["root"]), row["note"])
        root = tree.root()
        return self._sign(s, tree.size, root, tree.size, root)

    def root(self, s: Session, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        return merkle.root_from_nodes(size, store.read_nodes(s, merkle.nodes_needed_for_root(size)))

    def inclusion_proof(self, s: Session, seq: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(
            seq, size, store.read_nodes(s, merkle.nodes_needed_for_inclusion(seq, size)))

    def consistency_proof(self, s: Session, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(
            size1, size2, store.read_nodes(s, merkle.nodes_needed_for_consistency(size1, size2)))

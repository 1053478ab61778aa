"""The append-only log: canonical entries, hash chain, Merkle tree, checkpoints.

Each entry is a JSON object canonicalized with RFC 8785.  Entry ``n`` has
leaf hash SHA-256(0x00 || entry) and chain hash SHA-256(chain[n-1] || leaf);
perfect Merkle subtrees are stored as they complete, so roots and proofs
cost O(log n) reads.  Every append that adds entries signs a C2SP checkpoint
in the same transaction, after checking it is consistent with the last one,
so the log never signs two inconsistent tree heads.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
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


def inclusion_proofs(s: Session, seqs: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """RFC 9162 inclusion proofs of several entries in the tree of ``size``: one read of the
    stored subtrees they need, not one per entry."""
    nodes = store.read_nodes(s, [key for seq in seqs for key in merkle.nodes_needed_for_inclusion(seq, size)])
    return {seq: merkle.inclusion_proof(seq, size, nodes) for seq in seqs}


def latest_checkpoint(s: Session) -> SignedCheckpoint | None:
    """The latest stored signed checkpoint (None before the first)."""
    row = store.latest_checkpoint(s)
    if row is None:
        return None
    return SignedCheckpoint(int(row["size"]), bytes.fromhex(row["root"]), row["note"])


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
if json.encoder.c_make_encoder is not None:  # CPython: build the C encoder once, not per call
    def _unexpected(value: Any) -> Any:
        raise TypeError(f"{type(value).__name__} is not JSON")  # _plain let it through: a bug

    _c_encoder = json.encoder.c_make_encoder(
        None, _unexpected, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def _json_text(value: Any) -> str:  # noqa: F811 - same output, a third faster
        return "".join(_c_encoder(value, 0))


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
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# From this many new entries on, an append copies their leaf hashes into the
# level-0 nodes with INSERT .. SELECT; below, sending them costs no extra statement.
COPY_LEAVES_FROM = 32


class Log:
    """One node's log, signing checkpoints with ``signer`` under ``origin``."""

    def __init__(self, signer: Signer, origin: str) -> None:
        self.signer = signer
        self.origin = origin

    def append(self, s: Session, entries: Sequence[Mapping[str, Any]],
               id_field: str = "event_id") -> AppendResult:
        """Append entries atomically (the caller's transaction); idempotent per id.

        Entries are inserted optimistically, skipping ids already in the log,
        and the head update counts what went in.  Only when some were skipped
        are this append's rows taken back out, the ids looked up and the new
        ones appended again; so appending new entries costs no lookup.
        """
        texts, order = self._dedupe(entries, id_field)
        if not order:
            return AppendResult([], None)
        tree = self._locked_tree(s)
        size, chain, edge = tree.size, tree.chain, list(tree.edge)
        old_root = tree.root()
        rows, nodes = self._grow(tree, order, texts)
        store.insert_new_entries(s, rows)
        appended, previous = store.advance_head(s, size, tree.size, tree.chain, tree.edge_text())
        existing: dict[str, tuple[int, str]] = {}
        if appended != len(rows):  # some ids are in the log already
            if appended and store.discard_uncommitted(s, size, size + len(rows)) != appended:
                raise RuntimeError("could not take back the rows of an interrupted append")
            existing = store.entries_by_id(s, order)
            for entry_id, (_, text) in existing.items():
                if text != texts[entry_id][0]:
                    raise LedgerConflict(entry_id)
            tree = TreeBuilder(size, chain, edge)
            rows, nodes = self._grow(tree, [i for i in order if i not in existing], texts)
            store.insert_new_entries(s, rows)
            appended, previous = store.advance_head(s, size, tree.size, tree.chain, tree.edge_text())
            if appended != len(rows):
                raise RuntimeError("entries appeared in the log while its head was locked")
        receipts: dict[str, Receipt] = {
            entry_id: Receipt(seq, entry_id, True) for entry_id, (seq, _) in existing.items()}
        for row in rows:
            receipts[row[1]] = Receipt(row[0], row[1], False)
        checkpoint = None
        if len(rows) >= COPY_LEAVES_FROM:  # one statement instead of a row per leaf
            store.copy_leaf_nodes(s, size, tree.size)
            store.insert_nodes(s, [node for node in nodes if node[0]])
        elif rows:
            store.insert_nodes(s, nodes)
        if rows:
            checkpoint = self._sign(s, tree.size, tree.root(), size, old_root, previous)
        return AppendResult([receipts[entry_id] for entry_id in order], checkpoint)

    @staticmethod
    def _grow(tree: TreeBuilder, ids: Sequence[str], texts: Mapping[str, tuple[str, bytes, bytes]]
              ) -> tuple[list[tuple[int, str, str, str, str]], list[tuple[int, int, bytes]]]:
        """Add entries to ``tree``: their rows and the perfect subtrees they complete."""
        start = tree.size
        chains, nodes = tree.extend([texts[entry_id][2] for entry_id in ids])
        rows = [(start + k, entry_id, texts[entry_id][0], texts[entry_id][2].hex(), chain.hex())
                for k, (entry_id, chain) in enumerate(zip(ids, chains))]
        return rows, nodes

    @staticmethod
    def _locked_tree(s: Session) -> TreeBuilder:
        """Lock the head; the tree's right edge, from the head or (if absent) the nodes."""
        size, chain, edge_text = store.lock_head_edge(s)
        edge = TreeBuilder.parse_edge(edge_text)
        if not TreeBuilder.edge_fits(size, edge):
            keys = merkle.perfect_subtrees(0, size)
            stored = store.read_nodes(s, keys)
            edge = [(level, idx, stored[(level, idx)]) for level, idx in keys]
        return TreeBuilder(size, chain, edge)

    @staticmethod
    def _dedupe(entries: Sequence[Mapping[str, Any]],
                id_field: str) -> tuple[dict[str, tuple[str, bytes, bytes]], list[str]]:
        """Each id once, in order, with its canonical text, bytes and leaf hash."""
        texts: dict[str, tuple[str, bytes, bytes]] = {}
        order: list[str] = []
        sha256 = hashlib.sha256
        for entry in entries:
            entry_id = str(entry[id_field])
            text, raw = _canonical(entry)
            if entry_id in texts:
                if texts[entry_id][0] != text:
                    raise LedgerConflict(entry_id)
                continue
            texts[entry_id] = (text, raw, sha256(b"\x00" + raw).digest())  # RFC 9162 leaf hash
            order.append(entry_id)
        return texts, order

    def _sign(self, s: Session, size: int, root: bytes, old_size: int, old_root: bytes,
              previous: tuple[int, str] | None) -> SignedCheckpoint:
        """Sign ``(size, root)`` after checking it extends the last signed checkpoint.

        ``previous`` is that checkpoint's ``(size, root hex)``.  The new tree
        is the old right edge plus new leaves, so it is consistent with the
        old tree by construction; what must hold is that the old edge really
        is the tree the last checkpoint signed.
        """
        if previous is not None and previous[0] == old_size:
            if previous[1] != old_root.hex():
                raise merkle.VerificationError(
                    f"stored tree of size {old_size} differs from its signed checkpoint")
        elif previous is not None and 0 < previous[0] < size:
            proof = self.consistency_proof(s, previous[0], size)
            merkle.verify_consistency(previous[0], size, proof, bytes.fromhex(previous[1]), root)
        elif previous is not None and previous[0] > old_size:
            raise merkle.VerificationError(
                f"a checkpoint of size {previous[0]} exists beyond the log's {old_size} entries")
        note = self.signer.sign(Checkpoint(self.origin, size, root).body())
        store.insert_checkpoint(s, size, root, note, _now())
        return SignedCheckpoint(size, root, note)

    def ensure_checkpoint(self, s: Session) -> SignedCheckpoint:
        """The latest checkpoint, signing one for the current size if none covers it."""
        tree = self._locked_tree(s)
        latest = latest_checkpoint(s)
        if latest is not None and latest.size == tree.size:
            return latest
        root = tree.root()
        previous = None if latest is None else (latest.size, latest.root.hex())
        return self._sign(s, tree.size, root, tree.size, root, previous)

    def root(self, s: Session, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        return merkle.root_from_nodes(size, store.read_nodes(s, merkle.nodes_needed_for_root(size)))

    def inclusion_proof(self, s: Session, seq: int, size: int) -> list[bytes]:
        return inclusion_proofs(s, [seq], size)[seq]

    def consistency_proof(self, s: Session, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(
            size1, size2, store.read_nodes(s, merkle.nodes_needed_for_consistency(size1, size2)))

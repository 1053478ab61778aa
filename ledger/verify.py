"""Verifying a ledger: a database (``verify_database``) or an export file.

``python -m ledger.verify EXPORT --key VERIFIER_KEY`` checks an export made by
``idres ledger export`` with nothing but this package: every leaf, chain
link and checkpoint root is recomputed and every checkpoint signature is
checked against the given key; entries after the last signed checkpoint are
rejected, since anyone can recompute their hashes.  The first inconsistency
is reported with its entry number and the process exits non-zero.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any, Callable, Iterable, Iterator

from ledger import merkle, store
from ledger.note import NoteError, Verifier, open_checkpoint
from ledger.replay import TreeBuilder
from ledger.store import Session

EXPORT_FORMAT = "idres-ledger-export/1"
CHUNK = 10_000
Progress = Callable[[int, int], None]


class LedgerVerificationError(merkle.VerificationError):
    """A stored or exported log that does not verify, at a given entry."""

    def __init__(self, seq: int | None, message: str) -> None:
        where = f"entry {seq}: " if seq is not None else ""
        super().__init__(where + message)
        self.seq = seq


def check_entry(builder: TreeBuilder, seq: int, text: str, leaf_hex: str | None,
                chain_hex: str | None) -> list[tuple[int, int, bytes]]:
    """Recompute one entry; compare with the stored leaf and chain hashes."""
    if seq != builder.size:
        raise LedgerVerificationError(builder.size, f"missing (next stored entry is {seq})")
    leaf, completed = builder.add(text.encode("utf-8"))
    if leaf_hex is not None and leaf.hex() != leaf_hex:
        raise LedgerVerificationError(seq, "leaf hash does not match the entry bytes")
    if chain_hex is not None and builder.chain != chain_hex:
        raise LedgerVerificationError(seq, "chain hash does not link to the previous entry")
    return completed


def check_checkpoint(builder: TreeBuilder, note: str, size: int,
                     verifiers: list[Verifier], origin: str | None,
                     stored_root: str | None = None) -> None:
    """A checkpoint at ``size`` must be validly signed and match the recomputed root.

    ``stored_root`` is the database's copy of the root (hex), which appends
    trust for their consistency check, so it must equal the signed one.
    """
    try:
        cp = open_checkpoint(note, verifiers, origin)
    except (NoteError, ValueError) as err:
        raise LedgerVerificationError(None, f"checkpoint at size {size}: {err}") from None
    if cp.size != size:
        raise LedgerVerificationError(None, f"checkpoint stored as size {size} says {cp.size}")
    if stored_root is not None and stored_root != cp.root.hex():
        raise LedgerVerificationError(None, f"checkpoint at size {size}: stored root differs "
                                            "from the signed one")
    if cp.root != builder.root():
        raise LedgerVerificationError(size - 1 if size else None,
                                      f"root of the first {size} entries differs from checkpoint")


def _stored_nodes(s: Session, start: int, end: int) -> dict[tuple[int, int], str]:
    """Stored perfect subtrees completed by entries ``start..end-1``."""
    found: dict[tuple[int, int], str] = {}
    level = 0
    while (1 << level) <= end:
        lo, hi = start >> level, end >> level
        for row in s.all("SELECT idx, hash FROM ledger_nodes WHERE level = ? AND idx >= ? AND idx <= ?",
                         (level, lo, hi)):
            found[(level, int(row["idx"]))] = row["hash"]
        level += 1
    return found


class _Mismatch(Exception):
    """Something in a chunk differs; the entry-by-entry pass finds and names it."""


def _check_chunk(s: Session, builder: TreeBuilder, rows: list[Any], start: int, end: int,
                 marks: dict[int, tuple[str, str]], verifiers: list[Verifier],
                 origin: str | None) -> None:
    """Entries ``start..end-1`` checked in bulk: leaves, chain, stored nodes, checkpoints.

    Compares whole lists at once instead of entry by entry; raises
    :class:`_Mismatch` on any difference without saying where.
    """
    if len(rows) != end - start:  # seq is unique, so then every seq in the range is there
        raise _Mismatch
    sha256 = hashlib.sha256
    leaves = [sha256(b"\x00" + row["entry"].encode("utf-8")).digest() for row in rows]
    if [leaf.hex() for leaf in leaves] != [row["leaf_hash"] for row in rows]:
        raise _Mismatch
    chains: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    done = start
    for size in sorted(m for m in marks if start < m <= end) + [end]:
        more_chains, more_nodes = builder.extend(leaves[done - start:size - start])
        chains += more_chains
        nodes += more_nodes
        done = size
        if size in marks:
            note, root = marks[size]
            try:
                check_checkpoint(builder, note, size, verifiers, origin, root)
            except LedgerVerificationError:
                raise _Mismatch from None
    if [chain.hex() for chain in chains] != [row["chain_hash"] for row in rows]:
        raise _Mismatch
    # Level 0 repeats the leaf hashes, just compared with the recomputed ones:
    # the database compares the two columns instead of sending the rows over.
    same = s.one("SELECT COUNT(*) AS n FROM ledger_nodes JOIN ledger_entries ON seq = idx "
                 "WHERE level = 0 AND idx >= ? AND idx < ? AND hash = leaf_hash", (start, end))
    if int(same["n"]) != end - start:
        raise _Mismatch
    by_level: dict[int, list[str]] = {}
    for level, _, h in nodes:  # per level in index order: [start >> level, end >> level)
        if level:
            by_level.setdefault(level, []).append(h.hex())
    for level, hashes in by_level.items():
        stored = s.all("SELECT hash FROM ledger_nodes WHERE level = ? AND idx >= ? AND idx < ? "
                       "ORDER BY idx", (level, start >> level, end >> level))
        if [row["hash"] for row in stored] != hashes:
            raise _Mismatch


def _check_entries(s: Session, builder: TreeBuilder, rows: list[Any], start: int, end: int,
                   marks: dict[int, tuple[str, str]], verifiers: list[Verifier],
                   origin: str | None) -> None:
    """Entries ``start..end-1`` one at a time, naming the first that does not verify."""
    nodes = _stored_nodes(s, start, start + len(rows))
    for row in rows:
        seq = int(row["seq"])
        for level, idx, h in check_entry(builder, seq, row["entry"], row["leaf_hash"], row["chain_hash"]):
            if nodes.get((level, idx)) != h.hex():
                raise LedgerVerificationError(seq, f"stored tree node ({level}, {idx}) is wrong or missing")
        if builder.size in marks:
            note, root = marks[builder.size]
            check_checkpoint(builder, note, builder.size, verifiers, origin, root)


def verify_database(s: Session, verifiers: list[Verifier], origin: str | None = None,
                    progress: Progress | None = None) -> int:
    """Verify every entry, chain link, stored node and checkpoint; returns the size.

    Each chunk of entries is checked in bulk first; only a chunk where
    something differs is gone through entry by entry, to name the first
    entry that does not verify.

    Verifies the log up to the head read first.  Under PostgreSQL's READ
    COMMITTED each statement sees newer commits, so rows that appends commit
    meanwhile (at or beyond that size, within the head read last) are not
    taken for tampering; in a snapshot (SQLite, REPEATABLE READ) nothing is.
    """
    size, head_chain = store.head(s)
    marks = {int(r["size"]): (r["note"], r["root"]) for r in store.checkpoints(s)}
    builder = TreeBuilder()
    if 0 in marks:
        check_checkpoint(builder, marks[0][0], 0, verifiers, origin, marks[0][1])
    for start in range(0, size, CHUNK):
        end = min(size, start + CHUNK)
        rows = store.entries(s, start, end)
        before = (builder.size, builder.chain, list(builder.edge))
        try:
            _check_chunk(s, builder, rows, start, end, marks, verifiers, origin)
        except _Mismatch:
            builder = TreeBuilder(*before)
            _check_entries(s, builder, rows, start, end, marks, verifiers, origin)
        if progress:
            progress(builder.size, size)
    _check_tail(s, builder, size, head_chain, marks)
    return size


def _check_tail(s: Session, builder: TreeBuilder, size: int, head_chain: str,
                marks: dict[int, tuple[str, str]]) -> None:
    if builder.size != size:
        raise LedgerVerificationError(builder.size, f"missing (the head says {size} entries)")
    extra = int(s.one("SELECT COUNT(*) AS n FROM ledger_entries WHERE seq >= ? OR seq < 0", (size,))["n"])
    now, _ = store.head(s)  # read after the count: it covers every append the count saw
    if extra > now - size:
        raise LedgerVerificationError(size, f"{extra - (now - size)} entries beyond the head's size {now}")
    if builder.chain != head_chain:
        raise LedgerVerificationError(size - 1, "head chain hash differs from the last entry's")
    beyond = [m for m in marks if m > now]
    if beyond:
        raise LedgerVerificationError(None, f"checkpoint at size {beyond[0]} beyond the log's {now}")
    _check_covered(max((m for m in marks if m <= size), default=0), size)


def _check_covered(signed: int, size: int) -> None:
    """Entries after the last signed checkpoint are authenticated by nothing.

    Their hashes can be recomputed by anyone, so they must not verify (every
    append signs a checkpoint for its new size in the same transaction).
    """
    if signed < size:
        raise LedgerVerificationError(signed, f"entries {signed}..{size - 1} are not covered "
                                              "by a signed checkpoint")


def read_export(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                record = json.loads(line)
            except ValueError:
                raise LedgerVerificationError(None, f"export line {number} is not JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("entry", ""), str):
                raise LedgerVerificationError(None, f"export line {number} is not a record")
            yield record


def verify_export(lines: Iterable[str], verifier: Verifier, progress: Progress | None = None) -> tuple[int, int]:
    """Verify an export; returns ``(entries, checkpoints verified)``."""
    records = read_export(lines)
    header = next(records, None)
    if not header or header.get("format") != EXPORT_FORMAT:
        raise LedgerVerificationError(None, f"not an {EXPORT_FORMAT} file")
    origin, total, builder, checked = header.get("origin"), int(header.get("size", 0)), TreeBuilder(), 0
    last = 0
    for record in records:
        if record.get("type") == "entry":
            check_entry(builder, int(record["seq"]), record["entry"], None, record.get("chain_hash"))
            if progress and builder.size % CHUNK == 0:
                progress(builder.size, total)
        elif record.get("type") == "checkpoint":
            size = int(record["size"])
            if size != builder.size:
                raise LedgerVerificationError(None, f"checkpoint at size {size} out of place "
                                                    f"(after {builder.size} entries)")
            check_checkpoint(builder, record["note"], size, [verifier], origin)
            checked, last = checked + 1, size
    if builder.size != total:
        raise LedgerVerificationError(builder.size, f"missing (the header says {total} entries)")
    if not checked:
        raise LedgerVerificationError(None, "the export contains no checkpoint to verify against")
    _check_covered(last, builder.size)
    return builder.size, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.verify",
                                     description="Verify an idres ledger export offline.")
    parser.add_argument("export", help="file written by `idres ledger export` (- for stdin)")
    parser.add_argument("--key", required=True, help="verifier key: name+keyid+base64")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def report(done: int, total: int) -> None:
        if not args.quiet:
            print(f"verified {done}/{total} entries", file=sys.stderr)

    try:
        verifier = Verifier(args.key)
        stream = sys.stdin if args.export == "-" else open(args.export, encoding="utf-8")
        with stream:
            size, checked = verify_export(stream, verifier, report)
    except (merkle.VerificationError, NoteError, ValueError, OSError, KeyError, TypeError) as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    print(f"OK: {size} entries, {checked} checkpoints verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())

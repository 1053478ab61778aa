"""Loading a plan into a node: prefix records, minting in chunks, events in batches.

Everything goes through the node's own service layer as the local operator
(``idres.auth.OPERATOR``, which may act as any enterprise): ``create_prefix``,
``mint`` (at most ``config.max_mint`` handles per call) and ``record_events``
(one atomic append with its projections per batch).  Memory stays bounded:
one mint chunk or one batch of events at a time.

Loading is restartable: prefix records that exist are kept, a mint chunk
whose handles exist is skipped (chunks are all or none), a batch whose last
event is in the ledger is skipped (batches are appended in order, each
atomically), and any other event already in the ledger is an idempotent
duplicate.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from idres.auth import OPERATOR
from idres.carbon.reference import put_installation
from idres.config import Config
from idres.cluster.plan import ClusterPlan, MintChunk
from idres.cluster.reference import register_part_types
from idres.events.service import checkpoint_json, record_events
from idres.handles import fold, prefix_record
from idres.ledger_key import load_signer
from idres.minting import MintRequest, mint, sequence_key
from idres.node import create_prefix
from idres.storage import Database, carbon as carbon_store, projections, records
from ledger import store as ledger_store
from ledger.log import Log, canonical, latest_checkpoint

DEFAULT_BATCH = 5000
Progress = Callable[[str], None]


class ClusterLoadError(Exception):
    """The database holds something that contradicts the plan (e.g. other handles)."""


@dataclass
class LoadReport:
    """What a load did, with its timings in seconds."""

    parts: int = 0
    minted: int = 0
    events: int = 0
    duplicates: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    prefix_seconds: float = 0.0
    mint_seconds: float = 0.0
    event_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.prefix_seconds + self.mint_seconds + self.event_seconds


def _quiet(_: str) -> None:
    pass


def create_prefixes(db: Database, config: Config, plan: ClusterPlan) -> dict[str, str]:
    """Create the firms' prefix records that do not exist yet; returns their new secrets.

    Secrets are random and returned once (only salted hashes are stored).
    """
    created = {}
    for firm, prefix in plan.firms:
        with db.read() as s:
            exists = records.handle_exists(s, prefix_record(prefix).key)
        if not exists:
            secret = secrets.token_urlsafe(12)
            create_prefix(db, config, prefix, secret)
            created[prefix] = secret
        _register_installation(db, firm, prefix)
    return created


def _register_installation(db: Database, firm: Any, prefix: str) -> None:
    """The firm's installation, which its carbon.recorded events name (intake requires it).

    The cluster's firms are all in China; the city is a placeholder (the firm name's first word).
    """
    with db.read() as s:
        if carbon_store.installation(s, fold(firm.installation)) is not None:
            return
    put_installation(db, OPERATOR, firm.installation,
                     {"name": firm.name, "country": "CN", "city": firm.name.split()[0]}, prefix)


def pending_chunks(db: Database, plan: ClusterPlan, size: int) -> tuple[list[MintChunk], int]:
    """The mint chunks still to do, and how many chunks exist already.

    Raises before anything is minted when the database holds handles of the
    plan's patterns that minting would not continue into the plan's names.
    """
    todo: list[MintChunk] = []
    present = 0
    expect: dict[tuple[str, str], int] = {}
    with db.read() as s:
        for chunk in plan.mint_chunks(size):
            pattern = (fold(chunk.prefix), sequence_key(chunk.pattern))
            if pattern not in expect:
                row = s.one("SELECT next_seq FROM mint_sequences WHERE prefix_key = ? AND pattern = ?",
                            pattern)
                expect[pattern] = int(row["next_seq"]) if row else 1
            ends = set(records.existing_keys(s, [fold(chunk.name(0)), fold(chunk.name(chunk.count - 1))]))
            if len(ends) == 2 and expect[pattern] >= chunk.first + chunk.count:
                present += 1
                continue
            if ends or expect[pattern] != chunk.first:
                raise ClusterLoadError(f"{chunk.prefix} has handles of pattern {chunk.pattern} that are not "
                                       f"this plan's (next sequence number {expect[pattern]}, expected "
                                       f"{chunk.first}); use a fresh database or another --prefix-base")
            expect[pattern] += chunk.count
            todo.append(chunk)
    return todo, present


def check_resumable(db: Database, plan: ClusterPlan) -> None:
    """Some handles of the plan exist: they must carry no events, or the plan's own.

    Handle names do not depend on the seed, so this tells a restart of the same
    cluster from an attempt to load another one over it (checked on the
    plan's first event and the handle it commissions).
    """
    first = next(plan.events())
    with db.read() as s:
        used = projections.event_seqs(s, fold(first["handle"]))
    if used and not in_ledger(db, first):
        raise ClusterLoadError(f"{first['handle']} and other handles of this plan exist with other events "
                               "(another seed or size?); use a fresh database or another --prefix-base")


def mint_plan(db: Database, config: Config, plan: ClusterPlan, progress: Progress = _quiet) -> int:
    """Mint the plan's handles in chunks of at most ``config.max_mint``; returns how many were new."""
    todo, present = pending_chunks(db, plan, config.max_mint)
    if present:
        check_resumable(db, plan)
        progress(f"mint: {present} chunks of this plan present, {len(todo)} to do")
    minted = 0
    for chunk in todo:
        started = time.monotonic()
        request = MintRequest(chunk.prefix, chunk.pattern, chunk.count, chunk.values)
        result = mint(db, config, OPERATOR, request)
        expected = (chunk.name(0), chunk.name(chunk.count - 1))
        if (result["first"], result["last"]) != expected:
            raise ClusterLoadError(f"minted {result['first']}..{result['last']}, expected "
                                   f"{expected[0]}..{expected[1]}")
        minted += chunk.count
        progress(f"mint {result['first']} .. {result['last']}: {chunk.count:,} handles "
                 f"in {time.monotonic() - started:.1f} s")
    return minted


def record_plan(db: Database, config: Config, plan: ClusterPlan, batch: int = DEFAULT_BATCH,
                progress: Progress = _quiet, report: LoadReport | None = None) -> LoadReport:
    """Record the plan's events in batches of ``batch`` (one atomic append each)."""
    if not 1 <= batch <= config.max_events:
        raise ValueError(f"batch must be 1..{config.max_events}")
    report = report or LoadReport()
    signer = load_signer(config)
    log = Log(signer, signer.name)
    waves = len(plan.layout.waves) + (1 if plan.layout.service else 0)
    started = time.monotonic()
    pending: list[dict[str, Any]] = []

    def flush(events: list[dict[str, Any]], done: int) -> None:
        report.events += len(events)
        if in_ledger(db, events[-1]):   # appended in order: the whole batch is there
            report.duplicates += len(events)
        else:
            result = record_events(db, config, log, OPERATOR, {"events": events})
            report.duplicates += sum(1 for e in result["entries"] if e["duplicate"])
            report.checkpoint = result["checkpoint"]
        elapsed = time.monotonic() - started
        progress(f"events {report.events:,} (wave {done:,}/{waves:,}), ledger size "
                 f"{report.checkpoint.get('size', 0):,}, {report.events / max(elapsed, 1e-9):,.0f} "
                 f"events/s, {elapsed:.1f} s")

    for done, wave_events in enumerate(plan.waves(), start=1):
        pending.extend(wave_events)
        while len(pending) >= batch:
            flush(pending[:batch], done)
            del pending[:batch]
    if pending:
        flush(pending, waves)
    with db.read() as s:
        report.checkpoint = checkpoint_json(latest_checkpoint(s))
    report.event_seconds = time.monotonic() - started
    return report


def in_ledger(db: Database, event: dict[str, Any]) -> bool:
    """Whether the ledger holds this very event (same id, same canonical text)."""
    with db.read() as s:
        found = ledger_store.entries_by_id(s, [event["event_id"]])
    return found.get(event["event_id"], (0, ""))[1] == canonical(event).decode("utf-8")


def load_cluster(db: Database, config: Config, plan: ClusterPlan, batch: int = DEFAULT_BATCH,
                 progress: Progress = _quiet) -> LoadReport:
    """Create the prefixes, mint the handles and record the events of ``plan``.

    The node must be initialized (``idres.node.init_node``) and its node
    prefix must be the plan's.
    """
    if fold(config.node_prefix) != fold(plan.spec.node_prefix):
        raise ClusterLoadError(f"the plan is for node prefix {plan.spec.node_prefix}, "
                               f"the node's is {config.node_prefix}")
    report = LoadReport(parts=plan.layout.parts)
    t = time.monotonic()
    report.secrets = create_prefixes(db, config, plan)
    register_part_types(db, plan)
    report.prefix_seconds = time.monotonic() - t
    t = time.monotonic()
    report.minted = mint_plan(db, config, plan, progress)
    report.mint_seconds = time.monotonic() - t
    progress(f"minted {report.minted:,} of {report.parts:,} handles in {report.mint_seconds:.1f} s")
    report = record_plan(db, config, plan, batch, progress, report)
    db.refresh_statistics()  # a bulk load: queries right after it need the planner's statistics
    return report

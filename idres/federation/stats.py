"""Per-prefix statistics a node reports to the node above (issue 6, item 5).

Identifiers registered are counted from the handle table when asked.
Resolutions served are counted in memory by each serving process
(:func:`count_resolution`: a lock and a dict increment, no database write)
and added to ``prefix_resolutions`` in one batched upsert by a background
thread every ``stats_flush_seconds`` and when the process exits normally
(gunicorn's graceful worker exit runs ``atexit``).  A process killed with
SIGKILL (or by gunicorn's worker timeout) loses what it counted since its last
flush: at most ``stats_flush_seconds`` of that process's resolutions.  A flush
that fails (database down) keeps its counts for the next one.

Who may read the report: callers holding LIST_HANDLES on this node's prefix
record, i.e. the node admin, or a read-only key ``idres stats reader`` adds to
that record for the upstream operator.  The upstream's own key cannot be used:
its HS_SECKEY lives on the upstream, so this node could not check it.
"""
from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable

from psycopg_pool import PoolClosed

from idres import serve_tasks
from idres.auth import Identity, require_authenticated
from idres.authority import listing_permissions
from idres.config import Config
from idres.errors import NotAuthorized
from idres.handles import NA_PREFIX, fold, prefix_record
from idres.storage import Database, federation, records
from idres.values import utc_timestamp

log = logging.getLogger("idres.stats")

READER_INDEX = 301
READER_ADMIN_INDEX = 101
READER_PERMISSIONS = "100000000000"  # LIST_HANDLES only (bit 11, written first)

_lock = threading.Lock()
# Weak keys: a database object nobody serves from any more takes its counts with it.
_pending: weakref.WeakKeyDictionary[Database, dict[str, int]] = weakref.WeakKeyDictionary()
_flusher: list[threading.Thread] = []


def count_resolution(db: Database, config: Config, handle: str) -> None:
    """Count one resolution this process answered from its own records.

    The REST API calls this after a successful resolution; the binary-protocol
    server must call it the same way (the handle as resolved).
    """
    key = fold(handle.partition("/")[0])
    with _lock:
        counts = _pending.get(db)
        if counts is None:
            counts = _pending[db] = {}
        counts[key] = counts.get(key, 0) + 1
        if not _flusher:
            _start_flusher(config.stats_flush_seconds)


def _start_flusher(interval: float) -> None:
    def run() -> None:
        while True:
            time.sleep(interval)
            flush_resolutions()

    thread = threading.Thread(target=run, name="idres-stats-flush", daemon=True)
    _flusher.append(thread)
    thread.start()


def pending_resolutions(db: Database) -> dict[str, int]:
    """This process's counts not yet written, by folded prefix."""
    with _lock:
        return dict(_pending.get(db, {}))


def flush_resolutions(db: Database | None = None) -> int:
    """Write this process's counts (of ``db``, or of every database); returns how many."""
    with _lock:
        targets = [db] if db is not None else list(_pending)
        batches = {d: _pending.pop(d) for d in targets if _pending.get(d)}
    written = 0
    now = utc_timestamp()
    for target, counts in batches.items():
        try:
            with target.write() as s:
                federation.add_resolutions(s, sorted(counts.items()), now)
            written += sum(counts.values())
        except PoolClosed:  # closed on purpose: nothing will ever serve from it again
            log.info("database closed; %d resolution counts dropped", sum(counts.values()))
        except Exception as err:  # noqa: BLE001  (kept for the next flush, never lost here)
            log.warning("could not write resolution counts, kept for the next flush: %s", err)
            with _lock:
                kept = _pending.setdefault(target, {})
                for key, n in counts.items():
                    kept[key] = kept.get(key, 0) + n
    return written


def _forget_after_fork() -> None:
    """A forked child starts with no counts and no flusher (the parent still owns both)."""
    global _lock
    _lock = threading.Lock()
    _pending.clear()
    _flusher.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(flush_resolutions)


def check_reader(db: Database, config: Config, who: Identity | None) -> None:
    """Reading the report needs LIST_HANDLES on this node's prefix record."""
    who = require_authenticated(who)
    if who.operator:
        return
    with db.read() as s:
        if "LIST_HANDLES" not in listing_permissions(s, config, who, NA_PREFIX):
            raise NotAuthorized(f"{who.name} may not read this node's statistics "
                                f"(needs LIST_HANDLES on 0.NA/{config.node_prefix})")


def prefix_report(db: Database, config: Config) -> dict[str, Any]:
    """Identifiers and resolutions per prefix this node holds (this process's counts flushed first)."""
    flush_resolutions(db)
    with db.read() as s:
        names = records.list_handles(s, fold(NA_PREFIX), 0, None)
        resolved = federation.resolution_counts(s)
        rows = []
        for name in names:
            prefix = name.split("/", 1)[1]
            count, at = resolved.get(fold(prefix), (0, None))
            rows.append({"prefix": prefix, "identifiers": records.count_handles(s, fold(prefix)),
                         "resolutions": count, "resolutionsUpdatedAt": at})
    return {"responseCode": 1, "node": config.node_prefix, "role": config.node_role,
            "generatedAt": utc_timestamp(),
            "flushSeconds": config.stats_flush_seconds, "prefixes": rows,
            "prefixRecordResolutions": resolved.get(fold(NA_PREFIX), (0, None))[0]}


def reader_values(config: Config, secret: str) -> list[dict[str, Any]]:
    """The read-only statistics key: HS_SECKEY at 301 and an HS_ADMIN granting only LIST_HANDLES."""
    record = prefix_record(config.node_prefix).text
    return [{"index": READER_INDEX, "type": "HS_SECKEY", "data": secret, "permissions": "1100"},
            {"index": READER_ADMIN_INDEX, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": record, "index": READER_INDEX, "permissions": READER_PERMISSIONS}}}]


def resolution_hook(db: Database, config: Config) -> Callable[[str], None]:
    """``Router.on_served`` for a serving process: counts each answered handle's prefix."""
    return functools.partial(count_resolution, db, config)


def counting(answer: Callable[[Any, Any], Any], db: Database, config: Config) -> Callable[[Any, Any], Any]:
    """Wrap the binary server's answer (``idres.hdl.answer.Answer``): replies with values
    (rc 1) or with none matching the filters (rc 200) count as served, as over REST."""

    def counted(query: Any, hop: Any) -> Any:
        reply = answer(query, hop)
        if reply.rc in (1, 200):
            count_resolution(db, config, query.handle)
        return reply

    return counted


@serve_tasks.register("resolution-counts")
async def flush_task(config: Config, db: Database) -> None:
    """Flush the supervisor's counts (binary-protocol answers) periodically and, when
    ``idres serve`` stops, once more before it closes the database."""
    try:
        while True:
            await asyncio.sleep(config.stats_flush_seconds)
            await asyncio.to_thread(flush_resolutions)
    finally:
        flush_resolutions()

"""Group commit: concurrent ``POST /api/events`` requests of a worker share one transaction.

A threaded worker (gunicorn ``gthread``) hands each request's validated
events to the worker's :class:`GroupCommitter`.  One request thread at a
time leads: it takes every request queued so far (its own first), appends
them in one transaction with one signed checkpoint, and wakes them after
the durable commit; then it hands the lead to the oldest request that
queued meanwhile.  So while one group holds the ledger's head lock and
waits for its commit, the next group gathers, and N concurrent appends
cost one lock, one signature and one commit instead of N.

Nothing is acknowledged before the commit that holds it.  A group that
fails as a whole (any request's conflict, missing handle, a database
error) commits nothing and each of its requests is then committed on its
own, so an error reaches only the request that caused it.  Under a sync
worker every group holds one request, which is exactly the old path.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

from idres.events.service import Prepared, commit_prepared, commit_together
from idres.storage import Database
from ledger.log import Log

MAX_GROUP_REQUESTS = 64


@dataclass
class _Waiting:
    """A queued request: woken when answered, or when it is its turn to lead."""

    prepared: Prepared
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    answer: dict[str, Any] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Commits the events of concurrent requests in shared transactions (one per group)."""

    def __init__(self, db: Database, log: Log, max_events: int,
                 max_requests: int = MAX_GROUP_REQUESTS,
                 together: Callable[[Database, Log, list[Prepared]], list[dict]] = commit_together
                 ) -> None:
        self.db, self.log = db, log
        self.max_events, self.max_requests = max_events, max_requests
        self._together = together  # tests pass a wrapper to see or break the shared commit
        self._mutex = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False
        self._turn = _sqlite_turn(db)

    def commit(self, prepared: Prepared) -> dict[str, Any]:
        """Commit one request's events (maybe with others'); its answer once durable."""
        me = _Waiting(prepared)
        with self._mutex:
            self._queue.append(me)
            lead, self._leading = not self._leading, True
        while True:
            if lead:
                self._lead()  # the queue is FIFO: our own request is in this group
            if me.finished:
                break
            me.wake.wait()
            me.wake.clear()
            lead = not me.finished  # woken without an answer: our turn to lead
        if me.error is not None:
            raise me.error
        assert me.answer is not None
        return me.answer

    def waiting(self) -> int:
        """Requests queued and not yet taken into a group."""
        with self._mutex:
            return len(self._queue)

    def _lead(self) -> None:
        """Commit the next group, then pass the lead on (or give it up when nobody waits)."""
        group = self._take()
        try:
            with self._turn():
                self._run(group)
        finally:
            for item in group:
                if not item.finished:  # only if _run itself broke
                    item.error = item.error or RuntimeError("group commit did not finish")
                    item.finished = True
                item.wake.set()
            with self._mutex:
                if self._queue:
                    self._queue[0].wake.set()  # the oldest waiter leads next
                else:
                    self._leading = False

    def _take(self) -> list[_Waiting]:
        """The oldest queued requests, up to the request and event limits (at least one)."""
        with self._mutex:
            count, events = 0, 0
            for item in self._queue:
                size = len(item.prepared.events)
                if count and (count == self.max_requests or events + size > self.max_events):
                    break
                count, events = count + 1, events + size
            group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _run(self, group: list[_Waiting]) -> None:
        """All in one transaction; if that fails, each on its own, errors to their owners."""
        if len(group) > 1:
            try:
                answers = self._together(self.db, self.log, [w.prepared for w in group])
            except Exception:  # noqa: BLE001 - whose fault it was shows below, request by request
                pass
            else:
                for item, answer in zip(group, answers):
                    item.answer, item.finished = answer, True
                return
        for item in group:
            try:
                item.answer = commit_prepared(self.db, self.log, item.prepared)
            except BaseException as err:  # noqa: BLE001 - re-raised in the request's own thread
                item.error = err
            item.finished = True


def _sqlite_turn(db: Database) -> Callable[[], ContextManager[Any]]:
    """What a leader holds around its transactions: SQLite's writers queue on a file lock.

    SQLite lets a writer that finds the database locked sleep and retry
    (1, 2, 5, 10 ms ...), so two busy workers mostly wait on sleeps, not on
    each other.  A blocking ``flock`` wakes the next worker as soon as the
    last one is done.  It only orders this node's appends: SQLite's own lock
    still guarantees one writer, for every other writer too.
    """
    path = getattr(db, "path", None)
    if getattr(db, "dialect", "") != "sqlite" or not path or path == ":memory:":
        return nullcontext

    @contextmanager
    def turn() -> Iterator[None]:
        fd = os.open(path + "-appends.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    return turn

"""An in-process cache of answers fetched from other nodes, bounded in size and by TTL.

One cache lives in each router, so in each gunicorn worker (and one in the
binary-protocol server): workers do not share entries, and a restart empties
it.  Entries expire at the smallest TTL of the record's values (REFERENCE
section 4, "cache by TTL"), capped at :data:`MAX_TTL` whatever a remote node
claims; a handle another node reports missing (rc 100) is kept only
:data:`NEGATIVE_TTL` seconds.  An expired entry is never served, not even
when the node it came from is down: a stale answer could hide a changed or
deleted record, so past its TTL the origin must answer again.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

MAX_ENTRIES = 10_000
MAX_TTL = 86_400.0   # one day: the default value TTL, and the most we trust a remote for
NEGATIVE_TTL = 10.0  # "not found" answers: briefly, so a new handle shows up soon


@dataclass(frozen=True)
class Answer:
    """What another node said about a handle: its public values, or rc 100."""

    rc: int                          # 1 (found) or 100 (not found)
    values: tuple[dict[str, Any], ...] = ()
    source: str = ""                 # base URL of the node that answered

    @property
    def ttl(self) -> float:
        """Seconds this answer may be reused: the smallest value TTL (0: not at all)."""
        if self.rc != 1:
            return NEGATIVE_TTL
        if not self.values:
            return NEGATIVE_TTL  # nothing public to keep; ask again soon
        smallest = min(v["ttl"] for v in self.values)
        return float(min(max(smallest, 0), MAX_TTL))


class AnswerCache:
    """An LRU map from folded handle to :class:`Answer`, with per-entry expiry."""

    def __init__(self, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()  # the binary server may call from several threads
        self.hits = self.misses = 0

    def get(self, key: str) -> Answer | None:
        """The live entry for ``key``; an expired one is dropped, not returned."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self.clock():
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: str, answer: Answer) -> None:
        """Keep ``answer`` for its TTL (a TTL of 0 keeps nothing)."""
        ttl = answer.ttl
        if ttl <= 0 or self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = (self.clock() + ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

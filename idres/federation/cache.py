"""An in-process cache of answers fetched from other nodes, bounded in size and by TTL.

One cache lives in each router, so in each gunicorn worker (and one in the
binary-protocol server): workers do not share entries, and a restart empties
it.  Entries expire at the smallest TTL of the record's values (REFERENCE
section 4, "cache by TTL"), capped at :data:`MAX_TTL` whatever a remote node
claims; a handle another node reports missing (rc 100) is kept only
:data:`NEGATIVE_TTL` seconds.  An expired entry is never served, not even
when the node it came from is down: a stale answer could hide a changed or
deleted record, so past its TTL the origin must answer again.

The cache is bounded in bytes as well as in entries: a remote node may answer
records up to the router's body cap (megabytes), so :data:`MAX_ENTRIES` of
them alone could hold gigabytes per worker.  Each entry is weighed by its
values' JSON size; past :data:`MAX_BYTES` the least recently used entries go,
and an answer over 1/:data:`MAX_ENTRY_SHARE` of it is not kept at all.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

MAX_ENTRIES = 10_000
MAX_TTL = 86_400.0   # one day: the default value TTL, and the most we trust a remote for
NEGATIVE_TTL = 10.0  # "not found" answers: briefly, so a new handle shows up soon
MAX_BYTES = 32 * 1024 * 1024   # JSON bytes of all entries of one cache (one per worker)
MAX_ENTRY_SHARE = 16           # one entry may take at most 1/16 of that
ENTRY_OVERHEAD = 256           # key, expiry and bookkeeping, so that empty answers weigh too


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
                 clock: Callable[[], float] = time.monotonic, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Answer, int]] = OrderedDict()
        self.bytes = 0  # the weight of the entries held
        self._lock = threading.Lock()  # the binary server may call from several threads
        self.hits = self.misses = 0

    def get(self, key: str) -> Answer | None:
        """The live entry for ``key``; an expired one is dropped, not returned."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self.clock():
                if entry is not None:
                    self._drop(key)
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
        size = weight(answer)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size > self.max_bytes // MAX_ENTRY_SHARE:
                return  # too big to keep: asked again next time
            self._entries[key] = (self.clock() + ttl, answer, size)
            self.bytes += size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        """Remove one entry (the lock held)."""
        self.bytes -= self._entries.pop(key)[2]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def weight(answer: Answer) -> int:
    """Roughly what an answer costs to keep: its values' JSON size plus a fixed overhead."""
    return ENTRY_OVERHEAD + len(json.dumps(answer.values, separators=(",", ":"), default=str))

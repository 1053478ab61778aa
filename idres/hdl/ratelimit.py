"""Response-rate limiting for UDP: what one (spoofable) source address may make us send.

A UDP request's source address can be forged, so an open UDP server can be
used to aim traffic at a victim.  Two bounds keep that small:

- a token bucket per source address (IPv4 address; IPv6 /64, the usual
  allocation to one site) counts the datagrams we send it: ``rate`` per
  second, ``burst`` at once.  A request over the limit is not resolved at
  all (no database read, no recursive lookup at another node); every
  ``slip``-th one gets a short answer with the TC flag that tells a real
  client to ask again over TCP (as DNS response-rate limiting does), the
  rest get nothing.  The short answer is never longer than the request, so
  an over-limit request is never amplified;
- ``amplification``: an answer cut into several UDP pieces is only sent
  whole while all its datagrams together stay within that multiple of the
  request's size; otherwise only the first piece goes out and its TC flag
  sends the client to TCP (see :func:`idres.hdl.exchange.udp_frames`).

TCP is not limited here: its handshake proves the source address.
Loopback sources are not limited unless ``limit_loopback`` is set: packets
from another host cannot carry a loopback source address, and local load
tools (``scripts/bench_resolve``) use it.
"""
from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable


class Verdict(str, Enum):
    """What to do with one UDP request."""

    ANSWER = "answer"   # resolve it and send the answer
    SLIP = "slip"       # over the limit: send the short "use TCP" answer only
    DROP = "drop"       # over the limit: send nothing


@dataclass(frozen=True)
class UdpLimits:
    """Settings of :class:`SourceLimiter` and the multi-piece bound (``rate=0``: no limit).

    Defaults: 20 datagrams/s with a burst of 40 per source covers a client
    resolving one handle after another (and its 0.5/1/1.5 s resends) with
    room to spare, while a spoofed flood reflects at most ~10 KiB/s of full
    answers to one victim.  ``slip=1`` answers every over-limit request with
    the short TC answer (no larger than the request): our own client and a
    federation peer relaying many resolutions then move to TCP at once
    instead of waiting 0.5 s for a resend.  ``amplification=16`` lets a typical
    70-byte request get a two-piece answer (about 1 KiB) over UDP.
    """

    rate: float = 20.0          # datagrams per second per source; 0: no rate limit
    burst: float = 40.0         # datagrams a quiet source may get at once
    slip: int = 1               # every slip-th over-limit request gets the TC answer; 0: none
    max_sources: int = 16384    # sources tracked (least recently seen evicted): bounds memory
    amplification: int = 16     # multi-piece UDP answers: at most this x the request's bytes
    limit_loopback: bool = False

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1 or self.slip < 0 or self.max_sources < 1 \
                or self.amplification < 1:
            raise ValueError(f"invalid UDP limits: {self}")


class _Bucket:
    __slots__ = ("tokens", "stamp", "over")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp, self.over = tokens, stamp, 0


class SourceLimiter:
    """Token buckets by source address, at most ``limits.max_sources`` of them.

    Used from the event loop only (no locking).  ``clock`` is injectable so
    tests can move time without sleeping.
    """

    def __init__(self, limits: UdpLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def admit(self, addr: Any) -> Verdict:
        """Take one datagram's token for ``addr`` (a socket address), or say how to refuse."""
        bucket = self._bucket(addr)
        if bucket is None:
            return Verdict.ANSWER
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict.ANSWER
        bucket.over += 1
        slip = self.limits.slip
        return Verdict.SLIP if slip and (bucket.over - 1) % slip == 0 else Verdict.DROP

    def charge(self, addr: Any, datagrams: int) -> None:
        """Count ``datagrams`` more sent to ``addr`` (the extra pieces of a long answer).

        The balance may go below zero: the source then waits longer before
        its next full answer, so the limit holds in datagrams, not requests.
        """
        bucket = self._bucket(addr)
        if bucket is not None and datagrams > 0:
            bucket.tokens = max(bucket.tokens - datagrams, -self.limits.burst)

    def _bucket(self, addr: Any) -> _Bucket | None:
        """The refilled bucket of ``addr``'s source, None when it is not limited."""
        if not self.limits.rate:
            return None
        source = source_key(addr[0])
        if source is None or (source[1] and not self.limits.limit_loopback):
            return None
        key = source[0]
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.limits.burst, now)
            if len(self._buckets) > self.limits.max_sources:
                self._buckets.popitem(last=False)  # the source seen longest ago
            return bucket
        self._buckets.move_to_end(key)
        bucket.tokens = min(self.limits.burst,
                            bucket.tokens + (now - bucket.stamp) * self.limits.rate)
        bucket.stamp = now
        return bucket


def source_key(host: str) -> tuple[str, bool] | None:
    """The limited unit for a source host and whether it is loopback (None: unparsable).

    The unit is the IPv4 address, or the IPv6 /64 (one site's usual share).
    """
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket sees IPv4 clients as ::ffff:a.b.c.d
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False)), ip.is_loopback
    return str(ip), ip.is_loopback

"""Resolution routing: answer locally, refer the client elsewhere, or resolve recursively.

REFERENCE section 4.  A node answers from its own database for the handles
it holds.  For any other handle it finds the node responsible for the
prefix from the ``HS_SITE`` values of ``0.NA/<prefix>``:

* a ``0.NA/<prefix>`` record this node stores whose site names another node
  (a top-level node stores its secondaries' prefix records) delegates the
  prefix and everything beneath it to that node;
* otherwise ``0.NA/<prefix>`` is resolved upward, at ``config.upstream_url``
  (a node without one keeps answering rc 301 as before).

With ``doNotRefer`` the answer is rc 301 (HTTP 400) carrying those site
values in ``values``, so the client can go there itself; by default the node
asks the responsible node (its REST interface; a server whose site names
only TCP/UDP interfaces over the binary protocol) and returns its answer
under the spelling the client used.  Answers from elsewhere (the handle's
and the prefix record's) are cached for their TTL (see
:mod:`idres.federation.cache`).  Client credentials are not forwarded: a
recursive answer holds the public values.

Bounds: a request that already passed :data:`MAX_RECURSION` nodes is not
sent further (rc 6, recursion count too high, HTTP 508); a site or upstream
URL naming this node, or a node already on the request's path
(``X-Handle-Via``), is a loop (rc 2, HTTP 508); and all calls one request
makes to other nodes share one deadline of ``config.upstream_timeout``
seconds, so a client waits at most about that long at this node however
many hops lie behind it.  Unreachable or broken nodes are rc 2 with HTTP 502
(refused, bad answer) or 504 (deadline passed).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

from idres.auth import Identity
from idres.config import Config
from idres.errors import BadRequest, HandleError, HandleNotFound, NotResponsible
from idres.federation.cache import Answer, AnswerCache
from idres.federation.remote import (RECURSION_HEADER, VIA_HEADER, Hop, LoopDetected, RecursionLimit,
                                     UpstreamError, fetch, fetch_binary)
from idres.federation.sites import Site, is_http_url, node_url, site_values, sites_of
from idres.handles import Handle, is_within, parse_handle, prefix_record
from idres.resolver import ResolveQuery, resolve, wanted
from idres.storage import Database, records

MAX_RECURSION = 8
MAX_RECURSION_COUNT = 255  # the binary header's recursion count is one byte
MAX_VIA = 16


def hop_headers(headers: Mapping[str, str]) -> tuple[int, tuple[str, ...]]:
    """The recursion count and node path a forwarded REST request carries (0, () from a client)."""
    raw, via_header = headers.get(RECURSION_HEADER), headers.get(VIA_HEADER)
    if raw is None and via_header is None:
        return 0, ()  # a client's request: nothing to check
    raw = ("0" if raw is None else raw).strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_RECURSION_COUNT:
        raise BadRequest(f"{RECURSION_HEADER} must be an integer from 0 to {MAX_RECURSION_COUNT}",
                         field=RECURSION_HEADER)
    via = tuple(u.strip() for u in (via_header or "").split(",") if u.strip())
    if len(via) > MAX_VIA or not all(is_http_url(u) for u in via):
        raise BadRequest(f"{VIA_HEADER} must list at most {MAX_VIA} http(s) base URLs",
                         field=VIA_HEADER)
    return int(raw), via


class Referral(NotResponsible):
    """rc 301 with the site values of the node that does hold the prefix."""

    def __init__(self, message: str, *, handle: str, values: list[dict[str, Any]]) -> None:
        super().__init__(message, handle=handle)
        self.values = values

    def body(self) -> dict[str, Any]:
        return {**super().body(), "values": self.values}


class Router:
    """Resolution for one node: local records, referrals and recursive answers.

    One router per app (so per gunicorn worker) and one per binary-protocol
    server; each keeps its own :class:`AnswerCache`.
    """

    def __init__(self, db: Database, config: Config, cache: AnswerCache | None = None) -> None:
        self.db, self.config = db, config
        self.cache = cache if cache is not None else AnswerCache()
        self.my_url = node_url(config.base_url)
        self.max_bytes = 2 * config.max_body_bytes  # a whole record, with timestamps and TTLs
        self.on_served: Callable[[str], None] | None = None  # statistics hook, handle text

    def resolve(self, viewer: Identity | None, query: ResolveQuery, *, recursion: int = 0,
                via: Iterable[str] = (), do_not_refer: bool = False,
                authoritative: bool = False) -> dict[str, Any]:
        """Answer ``query`` as the REST API does (errors raise HandleError)."""
        handle = parse_handle(query.handle)
        delegated = None
        if self._in_namespace(handle):
            try:
                return self._served(resolve(self.db, self.config, viewer, query, handle))
            except (NotResponsible, HandleNotFound):
                delegated = self._delegated(handle)
                if delegated is None:
                    raise
        hop = self._hop(recursion, via, authoritative)
        try:
            return self._remote(handle, query, delegated, hop, do_not_refer)
        except HandleError as err:
            err.handle = query.handle  # whatever went wrong further on, it is this handle's answer
            raise

    def _remote(self, handle: Handle, query: ResolveQuery, delegated: list[dict[str, Any]] | None,
                hop: Hop, do_not_refer: bool) -> dict[str, Any]:
        """The answer of the node that holds the handle (or a referral to it)."""
        if delegated is not None:
            return self._follow(handle, query, delegated, hop, do_not_refer)
        if not self.config.upstream_url:
            raise NotResponsible()  # nothing above this node to ask: not here, as before routing
        if handle.is_prefix_record:
            if do_not_refer:
                raise Referral(f"{handle.text} is not held here; ask the upstream node at "
                               f"{self.config.upstream_url}", handle=query.handle, values=[])
            return self._render(self._upward(handle.text, handle.key, hop), query)
        sites = self._prefix_sites(handle.prefix, hop)
        return self._follow(handle, query, sites, hop, do_not_refer)

    def answer(self, query: ResolveQuery, recursion: int, do_not_refer: bool = False) -> dict[str, Any]:
        """The binary-protocol server's resolver: anonymous, with the header's recursion count."""
        return self.resolve(None, query, recursion=recursion, do_not_refer=do_not_refer)

    def _hop(self, recursion: int, via: Iterable[str], authoritative: bool) -> Hop:
        return Hop(recursion, tuple(node_url(v) for v in via), authoritative,
                   time.monotonic() + self.config.upstream_timeout)

    def _in_namespace(self, handle: Handle) -> bool:
        """True when this node is the authority for where the handle lives."""
        return is_within(handle.suffix if handle.is_prefix_record else handle.prefix,
                         self.config.node_prefix)

    def _delegated(self, handle: Handle) -> list[dict[str, Any]] | None:
        """Site values of the nearest stored ``0.NA/`` record above the handle, when
        they name another node; None when this node holds the prefix (or nobody does)."""
        if handle.is_prefix_record:
            return None  # this node is the authority for prefix records in its namespace
        segments = handle.prefix.split(".")
        depth = len(self.config.node_prefix.split("."))
        with self.db.lookup() as s:
            for n in range(len(segments), depth, -1):
                record = records.load_record(s, prefix_record(".".join(segments[:n])).key)
                if record is not None:
                    values = site_values(v.to_json() for v in record.values if v.public_read)
                    here = [x for x in sites_of(values) if self._is_me(x)]
                    return values if values and not here else None
        return None

    def _prefix_sites(self, prefix: str, hop: Hop) -> list[dict[str, Any]]:
        """The site values of ``0.NA/<prefix>``, resolved upward (cached)."""
        record = prefix_record(prefix)
        answer = self._upward(record.text, record.key, hop)
        if answer.rc != 1:
            raise HandleNotFound(f"Prefix {prefix} is not registered ({record.text} not found "
                                 f"at {answer.source})")
        values = site_values(answer.values)
        if not values:
            raise NotResponsible(f"{record.text} names no site for {prefix}")
        return values

    def _upward(self, text: str, key: str, hop: Hop) -> Answer:
        return self._answer(text, key, [Site(self.config.upstream_url)], hop, "IDRES_UPSTREAM_URL")

    def _is_me(self, site: Site) -> bool:
        """True when ``site`` names this node (its REST URL, or without one, its binary port)."""
        if site.http_url:
            return node_url(site.http_url) == self.my_url
        return bool(self.config.hdl_port) and (site.hdl_host, site.hdl_port) == (
            self.config.hdl_address, self.config.hdl_port)

    def _follow(self, handle: Handle, query: ResolveQuery, sites: list[dict[str, Any]],
                hop: Hop, do_not_refer: bool) -> dict[str, Any]:
        """Refer the client to ``sites``, or ask them and return their answer."""
        where = f"0.NA/{handle.prefix}"
        if do_not_refer:
            raise Referral(f"That prefix doesn't live here; the HS_SITE values of {where} name "
                           "the node that holds it", handle=query.handle, values=sites)
        servers = sites_of(sites)
        if not servers:
            raise UpstreamError(f"The HS_SITE values of {where} name no HTTP or binary interface")
        return self._render(self._answer(query.handle, handle.key, servers, hop,
                                         f"HS_SITE of {where}"), query)

    def _answer(self, text: str, key: str, sites: list[Site], hop: Hop, what: str) -> Answer:
        """The cached answer for ``key``, or the first good answer of ``sites`` (then cached)."""
        if not hop.authoritative:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        targets = [s for s in sites if not self._is_me(s)
                   and not (s.http_url and node_url(s.http_url) in hop.via)]
        if not targets:
            raise LoopDetected(f"{what} leads back to a node already on this request's path "
                               f"({', '.join(s.name for s in sites)})")
        if hop.recursion >= MAX_RECURSION:
            raise RecursionLimit(f"Recursion limit reached: the request already passed "
                                 f"{hop.recursion} nodes (at most {MAX_RECURSION})")
        answer = self._first_answer(text, targets, hop)
        self.cache.put(key, answer)
        return answer

    def _first_answer(self, text: str, targets: list[Site], hop: Hop) -> Answer:
        """Ask each server in turn until one answers usably (a mirror may be down).
        REST when the server has an HTTP interface, else the binary protocol."""
        failure: UpstreamError | None = None
        for site in targets:
            try:
                if site.http_url:
                    return fetch(site.http_url, text, hop, self.my_url, self.max_bytes)
                return fetch_binary(site, text, hop)
            except UpstreamError as err:
                failure = err
        assert failure is not None
        raise failure

    def _render(self, answer: Answer, query: ResolveQuery) -> dict[str, Any]:
        """An answer from elsewhere, filtered like a local one, echoing the client's spelling."""
        if answer.rc != 1:
            raise HandleNotFound(handle=query.handle)
        values = list(answer.values)
        if query.types or query.indexes:
            values = [v for v in values if wanted(v, query.types, query.indexes)]
            if not values:
                return self._served({"responseCode": 200, "handle": query.handle, "values": []})
        return self._served({"responseCode": 1, "handle": query.handle, "values": values})

    def _served(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.on_served is not None:
            self.on_served(body["handle"])
        return body


"""Registering this node's prefixes at the node above (issue 6, item 2).

When a node with an upstream creates a prefix record (CLI, REST, demo, cluster
loader: all through :func:`idres.registrar.put_handle`), the registrar queues
the registration in the same transaction (:func:`queue`), and tries it once
right after the commit (:func:`register_now`).  What fails stays pending and
is retried with exponential backoff by :func:`sync_due`, which ``idres
upstream sync [--loop]`` and the serving process's background task run.

The upstream gets ``0.NA/<prefix>`` with an HS_SITE naming this node's HTTP
and binary-protocol interfaces and an HS_ADMIN naming this node's identity
there (``upstream_handle``), written through its Handle REST API with Basic
auth.  Re-registering is harmless (only those two values are rewritten); a
record another node holds there ends in the ``conflict`` state, which is not
retried until an operator queues it again.  The secret is sent only in the
Authorization header: it is never logged, stored or put in an error message.
"""
from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from idres import serve_tasks
from idres.config import Config
from idres.federation.remote import UpstreamError, UpstreamTimeout, http_request
from idres.handles import fold, prefix_record
from idres.storage import Database
from idres.storage import federation as store
from idres.storage.engine import Session
from idres.values import ALL_PERMISSIONS

log = logging.getLogger("idres.upstream")

SITE_INDEX = 1
ADMIN_INDEX = 100
BATCH = 50
MAX_ERROR_CHARS = 300
MAX_ANSWER_BYTES = 256 * 1024  # a prefix record's answer is a few kB
NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


@dataclass(frozen=True)
class Outcome:
    """What one attempt achieved: ``registered``, ``pending`` (retry) or ``conflict``."""

    state: str
    error: str = ""


def site_value(config: Config) -> dict[str, Any]:
    """The HS_SITE data naming this node's HTTP and (when served) binary-protocol interfaces."""
    interfaces: list[dict[str, Any]] = [{"protocol": "HTTP", "type": "QUERY", "url": config.base_url}]
    server: dict[str, Any] = {"serverId": 1, "interfaces": interfaces}
    if config.hdl_port:
        server["address"] = config.hdl_address
        interfaces += [{"protocol": p, "type": "QUERY", "port": config.hdl_port} for p in ("TCP", "UDP")]
    return {"format": "site", "value": {"protocolVersion": "2.10", "primarySite": True,
                                        "multiPrimary": False, "servers": [server]}}


def upstream_identity(config: Config) -> tuple[int, str]:
    """``(index, handle)`` of this node's key at the upstream."""
    index, _, handle = config.upstream_handle.partition(":")
    return int(index), handle


def registration_values(config: Config) -> list[dict[str, Any]]:
    """The values this node writes into ``0.NA/<prefix>`` at its upstream."""
    index, handle = upstream_identity(config)
    return [{"index": SITE_INDEX, "type": "HS_SITE", "data": site_value(config)},
            {"index": ADMIN_INDEX, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": handle, "index": index, "permissions": ALL_PERMISSIONS}}}]


def utc_text(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def queue(s: Session, config: Config, prefix: str, now: float | None = None) -> bool:
    """Queue the registration of ``prefix`` inside the caller's transaction (no-op without upstream)."""
    if not config.registers_upward:
        return False
    now = time.time() if now is None else now
    # Microseconds: queued_at also tells an outcome apart from a later re-queue of the same prefix.
    queued_at = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="microseconds")
    store.queue_registration(s, fold(prefix), prefix, config.upstream_url, now, queued_at)
    return True


def queue_node_prefix(db: Database, config: Config) -> bool:
    """Queue this node's own prefix once: the upstream's operator created its record there
    (with our key); registering writes our HS_SITE into it."""
    if not config.registers_upward:
        return False
    with db.read() as s:  # the common case, every round of the retry loop: already queued
        if store.load_registration(s, fold(config.node_prefix)) is not None:
            return False
    with db.write() as s:
        if store.load_registration(s, fold(config.node_prefix)) is not None:
            return False
        return queue(s, config, config.node_prefix)


def backoff(config: Config, attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed tries: doubling, capped, with 10% jitter."""
    delay = min(config.upstream_retry_base * 2 ** max(attempts - 1, 0), config.upstream_retry_max)
    return delay * (1 + random.random() / 10)


# -- the HTTP side ---------------------------------------------------------------------------

def _request(config: Config, method: str, path: str, body: Any = None,
             authenticated: bool = True) -> tuple[int, dict[str, Any]]:
    """One call to the upstream's REST API: ``(HTTP status, JSON body or {})``.

    The whole call, slow answers included, ends within ``upstream_timeout``
    (:func:`idres.federation.remote.http_request` and its watchdog): an
    upstream that drips its answer cannot hold a registration for ever.
    """
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if authenticated:
        user = quote(config.upstream_handle, safe="/")  # 300%3A0.NA/88.118, as pyhandle sends it
        token = base64.b64encode(f"{user}:{config.upstream_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    path = urlsplit(config.upstream_url).path.rstrip("/") + path
    try:
        status, raw = http_request(method, config.upstream_url, path, headers,
                                   time.monotonic() + config.upstream_timeout, MAX_ANSWER_BYTES,
                                   None if body is None else json.dumps(body).encode())
    except UpstreamTimeout:  # a cut-off answer may look complete: never trust it
        raise TimeoutError(f"no complete answer within {config.upstream_timeout:g} s") from None
    except UpstreamError as err:
        raise ConnectionError(err.message) from None
    return status, _json(raw)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(status: int, body: dict[str, Any]) -> str:
    message = str(body.get("message", ""))[:MAX_ERROR_CHARS]
    return f"upstream answered HTTP {status} rc {body.get('responseCode', '?')}: {message}".rstrip(": ")


def _held_by_someone_else(config: Config, record: str) -> str:
    """Who administers ``record`` at the upstream when it is not us ('' when it is us, or absent)."""
    status, body = _request(config, "GET", f"/api/handles/{record}", authenticated=False)
    if status != 200 or not isinstance(body.get("values"), list):
        return ""
    index, handle = upstream_identity(config)
    admins = [v["data"]["value"] for v in body["values"]
              if isinstance(v, dict) and v.get("type") == "HS_ADMIN"
              and isinstance(v.get("data"), dict) and isinstance(v["data"].get("value"), dict)]
    if any(fold(str(a.get("handle"))) == fold(handle) and str(a.get("index")) in ("0", str(index))
           for a in admins):
        return ""
    names = ", ".join(f"{a.get('index')}:{a.get('handle')}" for a in admins) or "no HS_ADMIN"
    return f"{record} is already held at the upstream by {names}"


def register(config: Config, prefix: str) -> Outcome:
    """Create or refresh ``0.NA/<prefix>`` at the upstream; never raises for network trouble."""
    record = prefix_record(prefix).text
    values = {"values": registration_values(config)}
    try:
        status, body = _request(config, "PUT", f"/api/handles/{record}?overwrite=false", values)
        if status == 409:  # already there: rewrite only our two values, keep anything else
            status, body = _request(config, "PUT", f"/api/handles/{record}?index={SITE_INDEX}"
                                    f"&index={ADMIN_INDEX}&overwrite=true", values)
        if status in (200, 201) and body.get("responseCode") == 1:
            return Outcome(store.REGISTERED)
        if status == 403:
            conflict = _held_by_someone_else(config, record)
            if conflict:  # lists the upstream's admins: as long as the upstream likes, so cut
                return Outcome(store.CONFLICT, conflict[:MAX_ERROR_CHARS])
        return Outcome(store.PENDING, _describe(status, body))
    except NETWORK_ERRORS as err:
        return Outcome(store.PENDING, f"upstream unreachable: {type(err).__name__}: {err}"[:MAX_ERROR_CHARS])


# -- attempts and the retry loop -------------------------------------------------------------

def _attempt(db: Database, config: Config, reg: store.Registration) -> Outcome:
    outcome = register(config, reg.prefix)
    now = time.time()
    next_try = now if outcome.state != store.PENDING else now + backoff(config, reg.attempts + 1)
    with db.write() as s:
        store.record_outcome(s, reg, outcome.state, outcome.error, next_try, utc_text(now))
    if outcome.state == store.REGISTERED:
        log.info("registered 0.NA/%s at %s", reg.prefix, config.upstream_url)
    else:
        log.warning("0.NA/%s not registered at %s (%s): %s", reg.prefix, config.upstream_url,
                    outcome.state, outcome.error)
    return outcome


def register_now(db: Database, config: Config, prefix: str) -> Outcome | None:
    """Try a just-queued registration at once (None when nothing is queued for it)."""
    if not config.registers_upward:
        return None
    with db.read() as s:
        reg = store.load_registration(s, fold(prefix))
    if reg is None or reg.state != store.PENDING:
        return None
    return _attempt(db, config, reg)


def sync_due(db: Database, config: Config, limit: int = BATCH, *,
             ignore_backoff: bool = False) -> dict[str, Outcome]:
    """Try every pending registration whose time has come (or every pending one, for an
    operator who asked now); returns outcomes by prefix."""
    if not config.registers_upward:
        return {}
    with db.read() as s:
        due = store.due_registrations(s, float("inf") if ignore_backoff else time.time(), limit)
    return {reg.prefix: _attempt(db, config, reg) for reg in due}


def seconds_until_due(db: Database, ceiling: float) -> float:
    """How long a retry loop may sleep: until the next pending try, at most ``ceiling``."""
    with db.read() as s:
        due = store.next_due(s)
    return ceiling if due is None else min(max(due - time.time(), 0.0), ceiling)


def requeue(db: Database, config: Config, prefixes: list[str]) -> int:
    """Queue these prefixes again (a conflict resolved, the node's address changed)."""
    with db.write() as s:
        return sum(queue(s, config, p) for p in prefixes)


def sync_forever(db: Database, config: Config, stop: threading.Event, ceiling: float = 5.0) -> None:
    """Retry pending registrations until ``stop`` is set (``idres upstream sync --loop``).

    The loop sleeps until the next registration is due, waking at least every
    ``ceiling`` seconds to see rows other processes queued.  A database error
    is logged and retried: the loop must outlive a database restart.
    """
    while not stop.is_set():
        stop.wait(_round(db, config, ceiling))


def _round(db: Database, config: Config, ceiling: float) -> float:
    """One pass of the retry loop; returns how long to sleep."""
    try:
        queue_node_prefix(db, config)
        sync_due(db, config)
        return max(seconds_until_due(db, ceiling), 0.05)
    except Exception:  # noqa: BLE001  (logged; the next round tries again)
        log.exception("upstream registration round failed")
        return ceiling


@serve_tasks.register("upstream-registration")
async def registration_task(config: Config, db: Database) -> None:
    """The retry loop inside ``idres serve`` (cancelled on shutdown).

    Each round runs in a worker thread: the HTTP calls and the database block.
    """
    if not config.registers_upward:
        return
    while True:
        await asyncio.sleep(await asyncio.to_thread(_round, db, config, 5.0))

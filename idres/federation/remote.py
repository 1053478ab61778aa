"""Asking another node about a handle over its REST API, and judging its answer.

Every call has a deadline (the router gives each request
``config.upstream_timeout`` seconds in all): the socket times out at the
remaining time and a watchdog shuts the socket when the deadline passes, so
a node that accepts and never answers, or drips its answer a byte at a time,
costs at most the deadline.  A refused or broken connection is rc 2 / HTTP
502, a deadline passed rc 2 / 504.  The body is capped, must be a Handle
JSON answer for the very handle asked (ASCII case folded) and its values
must have the REST shape; anything else is rejected (502) and not cached.
Client credentials are never forwarded: answers from other nodes are their
public values.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from idres.api.context import MAX_JSON_DEPTH, json_depth
from idres.errors import HandleError, NotResponsible
from idres.federation.cache import Answer
from idres.federation.sites import Site
from idres.handles import fold
from idres.hdl import client as hdl_client
from idres.values import FORMATS

RECURSION_HEADER = "X-Handle-Recursion"
VIA_HEADER = "X-Handle-Via"
MIN_BODY_CAP = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UpstreamError(HandleError):
    """Another node could not be reached or gave an unusable answer."""

    rc, status, default_message = 2, 502, "The responsible node gave no usable answer"


class UpstreamTimeout(UpstreamError):
    status, default_message = 504, "The responsible node did not answer in time"


class LoopDetected(HandleError):
    """A site or upstream that leads back to a node already on the request's path."""

    rc, status, default_message = 2, 508, "Resolution loop detected"


class RecursionLimit(LoopDetected):
    """The request already passed too many nodes (Handle's RC_RECURSION_COUNT_TOO_HIGH)."""

    rc, default_message = 6, "Recursion count too high"


@dataclass(frozen=True)
class Hop:
    """How a request reached this node and how far it may still go."""

    recursion: int = 0                 # nodes the request passed before this one
    via: tuple[str, ...] = ()          # their base URLs (REST only), normalized
    authoritative: bool = False        # auth=true: no cached answer
    deadline: float = float("inf")     # time.monotonic() by which everything must be done


def fetch(base_url: str, handle: str, hop: Hop, my_url: str, max_bytes: int) -> Answer:
    """GET ``handle`` from the node at ``base_url``; its validated public answer."""
    query = "?auth=true" if hop.authoritative else ""
    path = urlsplit(base_url).path.rstrip("/") + "/api/handles/" + quote(handle, safe="/") + query
    headers = {"Accept": "application/json", "User-Agent": "idres-federation",
               RECURSION_HEADER: str(hop.recursion + 1),
               VIA_HEADER: ", ".join((*hop.via, my_url))}
    status, body = http_request("GET", base_url, path, headers, hop.deadline,
                                max(max_bytes, MIN_BODY_CAP))
    return parse_answer(status, body, handle, base_url)


def fetch_binary(site: Site, handle: str, hop: Hop) -> Answer:
    """Resolve ``handle`` at a server that has only a binary-protocol interface."""
    remaining = hop.deadline - time.monotonic()
    if remaining <= 0:
        raise UpstreamTimeout(f"No time left to ask {site.name}")
    try:
        reply = hdl_client.resolve(site.hdl_host, site.hdl_port, handle, timeout=remaining,
                                   recursion=hop.recursion + 1, tcp="UDP" not in site.hdl_protocols,
                                   authoritative=hop.authoritative)
    except hdl_client.RemoteError as err:
        if err.rc == 100:
            return Answer(100, (), site.name)
        raise _relayed(err.status, err.rc, err.message, site.name) from None
    except hdl_client.UpstreamTimeout as err:
        raise UpstreamTimeout(err.message) from None
    except hdl_client.UpstreamFailure as err:
        raise UpstreamError(err.message) from None
    if reply.rc != 1:
        raise UpstreamError(f"{site.name} answered rc {reply.rc} instead of the handle's values")
    if fold(reply.handle) != fold(handle):
        raise UpstreamError(f"{site.name} answered for another handle than {handle}")
    return Answer(1, _values(list(reply.values), site.name), site.name)


def http_request(method: str, base_url: str, path: str, headers: dict[str, str], deadline: float,
                 max_bytes: int, body: bytes | None = None) -> tuple[int, bytes]:
    """One HTTP call with a hard deadline and a body cap; ``(status, body)``.

    Raises :class:`UpstreamTimeout` past the deadline and :class:`UpstreamError`
    for a refused or broken connection or an answer over ``max_bytes``.
    """
    parts = urlsplit(base_url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise UpstreamTimeout(f"No time left to ask {base_url}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=remaining)
    late = threading.Event()
    watchdog = threading.Timer(remaining, _abort, (conn, late))
    watchdog.daemon = True
    watchdog.start()
    try:
        status, answer = _exchange(conn, method, base_url, path, headers, body, max_bytes)
    except (TimeoutError, socket.timeout):
        late.set()
    except (OSError, http.client.HTTPException) as err:
        if not late.is_set():
            raise UpstreamError(f"{base_url} unreachable: {type(err).__name__}: {err}") from None
    finally:
        watchdog.cancel()
        conn.close()
    if late.is_set():  # a cut-off answer may look complete: EOF ends http.client's headers
        raise UpstreamTimeout(f"{base_url} did not answer within the {remaining:.2f} s left "
                              "to this request")
    return status, answer


def _exchange(conn: http.client.HTTPConnection, method: str, base_url: str, path: str,
              headers: dict[str, str], body: bytes | None, max_bytes: int) -> tuple[int, bytes]:
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamError(f"{base_url} sent a body of {declared} bytes (limit {max_bytes})")
    body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise UpstreamError(f"{base_url} sent a body over {max_bytes} bytes")
    return response.status, body


def _abort(conn: http.client.HTTPConnection, late: threading.Event) -> None:
    """Deadline passed: unblock whatever read or write the request is stuck in."""
    late.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def parse_answer(status: int, body: bytes, handle: str, source: str) -> Answer:
    """Judge a remote REST answer about ``handle``; errors other than rc 100 are raised."""
    data = _json_object(body, source)
    rc = data.get("responseCode")
    if not isinstance(rc, int) or isinstance(rc, bool):
        raise UpstreamError(f"{source} answered without an integer responseCode")
    answered = data.get("handle")
    if (rc in (1, 100) or answered is not None) and (
            not isinstance(answered, str) or fold(answered) != fold(handle)):
        raise UpstreamError(f"{source} answered for another handle than {handle}")
    if rc == 1 and status == 200:
        return Answer(1, _values(data.get("values"), source), source)
    if rc == 100 and status == 404:
        return Answer(100, (), source)
    raise _relayed(status, rc, _message(data), source)


def _json_object(body: bytes, source: str) -> dict[str, Any]:
    if json_depth(body) > MAX_JSON_DEPTH:
        raise UpstreamError(f"{source} answered JSON nested over {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UpstreamError(f"{source} answered with something that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError(f"{source} answered with JSON that is not an object")
    return data


def _message(data: dict[str, Any]) -> str:
    """The remote's message, shortened and without control characters (it is relayed)."""
    text = data.get("message")
    return _CONTROL.sub(" ", text)[:200] if isinstance(text, str) else ""


def _relayed(status: int, rc: int, message: str, source: str) -> HandleError:
    """A remote error as this node reports it."""
    if rc == 301 and status == 400:
        return NotResponsible(f"{source}: {message or 'not responsible'}")
    if rc == 6:
        return RecursionLimit(f"via {source}: {message}")
    if rc == 2 and status in (502, 504, 508):
        cls = {504: UpstreamTimeout, 508: LoopDetected}.get(status, UpstreamError)
        return cls(f"via {source}: {message}")
    return UpstreamError(f"{source} answered HTTP {status} with rc {rc}: {message}")


def _values(values: Any, source: str) -> tuple[dict[str, Any], ...]:
    """Check each value has the REST shape; secrets are dropped whatever the remote says."""
    if not isinstance(values, list):
        raise UpstreamError(f"{source} answered without a values array")
    seen: set[int] = set()
    out = []
    for value in values:
        problem = _value_problem(value)
        if problem:
            raise UpstreamError(f"{source} answered with a malformed value: {problem}")
        if value["index"] in seen:
            raise UpstreamError(f"{source} answered with index {value['index']} twice")
        seen.add(value["index"])
        if value["type"] != "HS_SECKEY":
            out.append(value)
    return tuple(out)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _value_problem(value: Any) -> str:
    """What is wrong with one value's shape ('' when nothing)."""
    if not isinstance(value, dict):
        return "not an object"
    if not _is_int(value.get("index")) or not 0 <= value["index"] < 2**31:
        return "index"
    vtype = value.get("type")
    if not isinstance(vtype, str) or not vtype or len(vtype) > 255 or _CONTROL.search(vtype):
        return "type"
    data = value.get("data")
    if not isinstance(data, dict) or data.get("format") not in FORMATS or "value" not in data:
        return "data"
    if not _is_int(value.get("ttl")) or value["ttl"] < 0:
        return "ttl"
    if not isinstance(value.get("timestamp", ""), str):
        return "timestamp"
    return ""

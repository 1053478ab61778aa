"""Per-request access to the node (config, database) and the caller."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from idres.auth import Identity, authenticate
from idres.config import Config
from idres.errors import BadRequest
from idres.storage import Database


class PagePathConverter(PathConverter):
    """A handle as a page path (scan page, labels): never ``api`` or under ``api/``, in
    any case, so the API's own 404 and 405 answers stand."""

    regex = r"(?![Aa][Pp][Ii](?:/|$))[^/].*?"


def add_page_path(state: BlueprintSetupState) -> None:
    """Give the app the ``<page_path:...>`` converter: ``bp.record_once(add_page_path)``,
    before the blueprint's rules are bound."""
    state.app.url_map.converters.setdefault("page_path", PagePathConverter)


@dataclass
class Node:
    """What the app factory wires together for the views."""

    config: Config
    db: Database


def node() -> Node:
    return current_app.extensions["idres"]


def caller() -> Identity | None:
    """The authenticated caller, ``None`` without credentials; 401 on bad ones."""
    if "caller" not in g:
        header = request.headers.get("Authorization")
        if not header:
            g.caller = None
        else:
            n = node()
            with n.db.lookup() as s:  # one statement: no transaction needed
                g.caller = authenticate(s, header)
    return g.caller


def flag(name: str, default: bool) -> bool:
    """A boolean query parameter; present without a value means true."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in ("", "true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false", field=name)


MAX_INT_ARG = 2**31 - 1


def is_uint(text: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also accepts '²')."""
    return text.isascii() and text.isdigit()


def int_arg(name: str) -> int | None:
    """A non-negative integer query parameter (at most 2**31 - 1), ``None`` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not is_uint(raw) or int(raw) > MAX_INT_ARG:
        raise BadRequest(f"{name} must be an integer from 0 to {MAX_INT_ARG}", field=name)
    return int(raw)


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), and could not be sent back as JSON."""
    raise ValueError(f"{name} is not valid JSON")


MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings skipped)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper than that: skip the scan
    depth = peak = 0
    for c in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if c in b"[{" else -1
        peak = max(peak, depth)
    return peak


def json_body() -> Any:
    """The request's JSON body; wrong Content-Type or bad JSON is rc 4.

    Nesting is bounded before parsing: the C parser recurses once per level
    and, when a library has raised the recursion limit, a deep body would
    overflow the C stack instead of raising RecursionError.
    """
    if request.mimetype != "application/json":
        raise BadRequest("Content-Type must be application/json", field="Content-Type")
    raw = request.get_data(cache=False)
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BadRequest(f"Body nests deeper than {MAX_JSON_DEPTH} levels", field="body")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"Body is not valid JSON: {err}", field="body") from None
    except RecursionError:
        raise BadRequest("Body is nested too deeply", field="body") from None


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # one encoder, not one per response
_PRETTY = json.JSONEncoder(ensure_ascii=False, indent=2)


def respond(body: Any, status: int = 200) -> Any:
    """Serialize a JSON response (``pretty`` indents it)."""
    # Without a query string there is no ``pretty``: don't parse the arguments for it.
    pretty = request.query_string and request.args.get("pretty") is not None
    text = (_PRETTY if pretty else _ENCODER).encode(body).encode("utf-8")
    return current_app.response_class(text, status=status, content_type="application/json")

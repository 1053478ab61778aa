"""``/api/handles``: the Handle.net JSON REST API (REFERENCE section 3)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from idres.api.context import caller, flag, int_arg, is_uint, json_body, node, respond
from idres.auth import require_authenticated
from idres.errors import BadRequest
from idres.federation.routing import Router, hop_headers
from idres.federation.stats import resolution_hook
from idres.registrar import PutRequest, delete_handle, put_handle
from idres.resolver import ResolveQuery, list_prefix

bp = Blueprint("handles", __name__, url_prefix="/api/handles")


def _indexes(allow_various: bool = False) -> tuple[tuple[int, ...] | None, bool]:
    """The repeatable ``index=`` parameter; ``various`` only where allowed."""
    raw = request.args.getlist("index")
    if not raw:
        return None, False
    if allow_various and raw == ["various"]:
        return None, True
    if not all(is_uint(r) for r in raw):
        raise BadRequest("index must be an integer", field="index")
    return tuple(int(r) for r in raw), False


@bp.get("")
def list_handles() -> Any:
    """List the handles under ``?prefix=`` (LIST_HANDLES)."""
    prefix = request.args.get("prefix")
    if not prefix:
        raise BadRequest("prefix is required", field="prefix")
    n = node()
    return respond(list_prefix(n.db, n.config, caller(), prefix,
                               int_arg("page"), int_arg("pageSize")))


@bp.get("/<path:handle>")
def get_handle(handle: str) -> Any:
    """Resolve a handle here, or refer or recurse to the node that holds it."""
    authoritative = do_not_refer = False
    if request.query_string:
        indexes, _ = _indexes()
        query = ResolveQuery(handle, tuple(request.args.getlist("type")), indexes or (),
                             flag("publicOnly", False))
        authoritative, do_not_refer = flag("auth", False), flag("doNotRefer", False)
    else:
        query = ResolveQuery(handle)  # the common case: no parameters to parse
    hop = hop_headers(request.headers)
    return respond(_router().resolve(caller(), query, recursion=hop[0], via=hop[1],
                                     do_not_refer=do_not_refer, authoritative=authoritative))


def _router() -> Router:
    """This app's router (one per worker: its answer cache is per process)."""
    routers = current_app.extensions
    if "idres.router" not in routers:
        n = node()
        router = routers["idres.router"] = Router(n.db, n.config)
        router.on_served = resolution_hook(n.db, n.config)  # per-prefix statistics, in memory
    return routers["idres.router"]


@bp.put("/<path:handle>")
def put(handle: str) -> Any:
    """Create, replace or partially update a handle record."""
    who = require_authenticated(caller())
    indexes, various = _indexes(allow_various=True)
    req = PutRequest(handle, json_body(), indexes, various, flag("overwrite", True),
                     flag("mintNewSuffix", False))
    n = node()
    status, body = put_handle(n.db, n.config, who, req)
    return respond(body, status)


@bp.delete("/<path:handle>")
def delete(handle: str) -> Any:
    """Delete a handle, or the values at ``index=``."""
    who = require_authenticated(caller())
    indexes, _ = _indexes()
    n = node()
    return respond(delete_handle(n.db, n.config, who, handle, indexes))

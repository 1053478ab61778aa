"""``/api/genealogy`` and ``/api/recalls``: genealogy queries, recall scopes and campaigns."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from idres.api.context import caller, int_arg, json_body, node, respond
from idres.api.ledger import current_log
from idres.auth import require_authenticated
from idres.genealogy import parse_time, trace
from idres.recall import create, load_request, scope, scope_csv

bp = Blueprint("trace", __name__)


@bp.get("/api/genealogy/<path:handle>")
def genealogy(handle: str) -> Any:
    """Bill of materials (``direction=down``) or where-used (``up``) ``asOf`` a time, ``depth`` levels."""
    direction = request.args.get("direction", "down")
    raw_as_of = request.args.get("asOf")
    as_of = parse_time(raw_as_of, "asOf") if raw_as_of is not None else None
    return respond(trace(node().db, handle, direction, as_of, int_arg("depth")))


@bp.post("/api/recalls/scope")
def recall_scope() -> Any:
    """The top-level products the suspects reach: JSON, or CSV with ``Accept: text/csv``."""
    suspects, _ = load_request(json_body())
    result = scope(node().db, suspects)
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return current_app.response_class(scope_csv(result), mimetype="text/csv")
    return respond(result)


@bp.post("/api/recalls")
def recall_create() -> Any:
    """Record a campaign: ``recalled`` events for the scope's handles under the caller's prefix."""
    who = require_authenticated(caller())
    n = node()
    status, answer = create(n.db, n.config, current_log(), who, json_body())
    return respond(answer, status)

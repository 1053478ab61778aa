"""``/api/reports/cbam``: the EU CBAM quarterly report and the annual summary (authenticated).

The caller's prefix is the exporter whose ``shipped`` events count; the node
admin may name any exporter (or none: every exporter).  Reports are
computed in one read snapshot and carry their proof of origin.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from idres.api.context import caller, json_body, node, respond
from idres.api.ledger import current_log
from idres.auth import require_authenticated
from idres.carbon.annual import annual_summary, summary_csv
from idres.carbon.quarterly import quarterly_report
from idres.carbon.requests import Annual, Quarterly
from idres.errors import BadRequest, HandleError

bp = Blueprint("reports", __name__, url_prefix="/api/reports/cbam")
MAX_REPORT_BODY = 16 * 1024 * 1024  # 100,000 handles fit


def _operation(summary: str, body: type, formats: dict[str, str]) -> dict[str, Any]:
    content = {"application/json": {"schema": {"type": "object"}}}
    content.update({mime: {"schema": {"type": "string"}} for mime in formats.values()})
    return {"post": {
        "summary": summary, "security": [{"basic": []}],
        "parameters": [{"name": "format", "in": "query", "required": False, "schema": {
            "type": "string", "enum": ["json", *formats]}, "description": "or the Accept header"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": {"description": "the report", "content": content},
                      "400": {"description": "bad request (rc 4), naming the field"},
                      "401": {"description": "authentication needed"},
                      "403": {"description": "another exporter's shipments"},
                      "422": {"description": "nothing to report, or carbon data that cannot be rolled up"},
                      "500": {"description": "the generated QReport failed the XSD (rc 2; a bug)"}}}}


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/reports/cbam/quarterly": _operation(
        "CBAM quarterly report (QReport v23 XML validated against the XSD, JSON twin, proof of origin)",
        Quarterly, {"xml": "application/xml"}),
    "/api/reports/cbam/annual": _operation(
        "CBAM definitive-period annual summary for an importer (certificates, de minimis)",
        Annual, {"csv": "text/csv"}),
}


def _format(allowed: tuple[str, ...]) -> str:
    """``?format=`` or, failing that, the Accept header: ``json`` or one of ``allowed``."""
    asked = request.args.get("format")
    if asked is not None:
        if asked not in ("json", *allowed):
            raise BadRequest(f"format must be json or {' or '.join(allowed)}", field="format")
        return asked
    types = {"xml": "application/xml", "csv": "text/csv"}
    best = request.accept_mimetypes.best_match(["application/json", *(types[a] for a in allowed)])
    return next((a for a in allowed if types[a] == best), "json")


def _with_verifier_key(answer: dict[str, Any]) -> dict[str, Any]:
    """The node's verifier key next to the checkpoint, when the node has a ledger key."""
    try:
        answer["proof_of_origin"]["verifier_key"] = current_log().signer.verifier_key
    except HandleError:
        pass
    return answer


@bp.post("/quarterly")
def quarterly() -> Any:
    """A QReport (v23) for a quarter: JSON twin + XML + proof of origin, or ``?format=xml`` alone."""
    who = require_authenticated(caller())
    request.max_content_length = MAX_REPORT_BODY
    n = node()
    answer = quarterly_report(n.db, n.config, who, json_body())
    if _format(("xml",)) == "xml":
        return current_app.response_class(answer["xml"], mimetype="application/xml")
    return respond(_with_verifier_key(answer))


@bp.post("/annual")
def annual() -> Any:
    """The definitive-period annual summary for an importer and year: JSON, or ``?format=csv``."""
    who = require_authenticated(caller())
    n = node()
    answer = annual_summary(n.db, n.config, who, json_body())
    if _format(("csv",)) == "csv":
        return current_app.response_class(summary_csv(answer), mimetype="text/csv")
    return respond(_with_verifier_key(answer))

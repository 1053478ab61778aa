"""``/api/stats``: what this node reports to the node above (issue 6, item 5)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from idres.api.context import caller, node, respond
from idres.federation.stats import check_reader, prefix_report

bp = Blueprint("stats", __name__, url_prefix="/api/stats")

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/stats/prefixes": {"get": {
        "summary": "Identifiers registered and resolutions served, per prefix this node holds",
        "description": "Needs LIST_HANDLES on this node's prefix record: the node admin, or the "
                       "read-only key `idres stats reader` creates for the upstream operator. "
                       "Resolution counts lag by at most the flush interval (flushSeconds).",
        "security": [{"basic": []}],
        "responses": {
            "200": {"description": "per-prefix counts", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "responseCode": {"type": "integer"}, "node": {"type": "string"},
                    "role": {"type": "string"}, "generatedAt": {"type": "string"},
                    "flushSeconds": {"type": "number"},
                    "prefixRecordResolutions": {"type": "integer"},
                    "prefixes": {"type": "array", "items": {"type": "object", "properties": {
                        "prefix": {"type": "string"}, "identifiers": {"type": "integer"},
                        "resolutions": {"type": "integer"},
                        "resolutionsUpdatedAt": {"type": "string", "nullable": True}}}}}}}}},
            "401": {"description": "authentication needed or invalid credentials (rc 402)"},
            "403": {"description": "not authorized (rc 400)"}}}},
}


@bp.get("/prefixes")
def prefixes() -> Any:
    """Per-prefix counts for the node admin or the upstream's read-only key."""
    n = node()
    check_reader(n.db, n.config, caller())
    return respond(prefix_report(n.db, n.config))

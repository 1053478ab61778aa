"""``/api/carbon``: reference data (installations, part types, CBAM default values) and roll-ups.

Reads are public; writes need credentials.  Installations and part types
may be written by any enterprise for itself; the default-value table only
by the node admin (``300:0.NA/<node prefix>``), as CSV.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from idres.api.context import caller, int_arg, json_body, node, respond
from idres.auth import Identity, require_authenticated
from idres.carbon import defaults, reference
from idres.carbon.scope import is_cbam_good, markup
from idres.carbon.service import footprint_answer, see_answer
from idres.errors import BadRequest, NotAuthorized
from idres.handles import prefix_record

bp = Blueprint("carbon", __name__, url_prefix="/api/carbon")
MAX_CSV_BYTES = 8 * 1024 * 1024


@bp.get("/installations")
def installations() -> Any:
    return respond({"installations": reference.list_installations(node().db)})


@bp.get("/installations/<installation_id>")
def installation(installation_id: str) -> Any:
    return respond(reference.get_installation(node().db, installation_id))


@bp.put("/installations/<installation_id>")
def put_installation(installation_id: str) -> Any:
    """Create (201) or replace (200) an installation owned by the caller's prefix."""
    who = require_authenticated(caller())
    created, row = reference.put_installation(node().db, who, installation_id, json_body())
    return respond(row, 201 if created else 200)


@bp.get("/part-types")
def part_types() -> Any:
    return respond({"part_types": reference.list_part_types(node().db, request.args.get("owner"))})


@bp.get("/part-types/<owner>/<code>")
def part_type(owner: str, code: str) -> Any:
    return respond(reference.get_part_type(node().db, owner, code))


@bp.put("/part-types/<owner>/<code>")
def put_part_type(owner: str, code: str) -> Any:
    """Create (201) or replace (200) a part type of ``owner``, which must be the caller's prefix."""
    who = require_authenticated(caller())
    created, row = reference.put_part_type(node().db, who, code, json_body(), owner)
    return respond(row, 201 if created else 200)


@bp.get("/defaults")
def default_values() -> Any:
    return respond({"default_values": [d.json() for d in defaults.list_defaults(node().db)]})


@bp.get("/defaults/match")
def default_match() -> Any:
    """The default value a good would get: ``country``, ``cn_code`` and ``year`` (for the mark-up)."""
    cn_code, country = request.args.get("cn_code", ""), request.args.get("country") or None
    if not is_cbam_good(cn_code):
        raise BadRequest(f"cn_code: {cn_code!r} is not the 8-digit CN code of a CBAM good", field="cn_code")
    added = _markup(int_arg("year"))
    row = defaults.match(defaults.list_defaults(node().db), country, cn_code)
    if row is None:
        raise BadRequest(f"No default value for {cn_code} from {country or 'any country'}",
                         field="cn_code", status=404)
    factor = 1 + added
    return respond({**row.json(), "markup": str(added), "direct_with_markup": str(row.direct * factor),
                    "indirect_with_markup": str(row.indirect * factor)})


@bp.put("/defaults")
def put_defaults() -> Any:
    """Replace the whole default-value table with a CSV body (node admin only)."""
    who = _node_admin(require_authenticated(caller()))
    if request.mimetype != "text/csv":
        raise BadRequest("Content-Type must be text/csv", field="Content-Type")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_CSV_BYTES:
        raise BadRequest("CSV body too large", field="body", status=413)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The CSV must be UTF-8", field="body") from None
    count = defaults.load_defaults(node().db, who, text, request.args.get("source", "uploaded"))
    return respond({"responseCode": 1, "rows": count})


@bp.get("/see/<path:subject>")
def see(subject: str) -> Any:
    """CBAM specific embedded emissions of a handle or ``batch:<prefix>/<batch>``, for ``year``."""
    year = int_arg("year")
    if year is not None:
        _markup(year)
    return respond(see_answer(node().db, subject, year))


@bp.get("/footprint/<path:subject>")
def footprint(subject: str) -> Any:
    """Cradle-to-gate product carbon footprint (not a CBAM figure)."""
    return respond(footprint_answer(node().db, subject))


def _markup(year: int | None) -> Any:
    if year is None:
        raise BadRequest("year is required", field="year")
    try:
        return markup(year)
    except ValueError as err:
        raise BadRequest(f"year: {err}", field="year") from None


def _node_admin(who: Identity) -> Identity:
    admin = prefix_record(current_app.extensions["idres"].config.node_prefix)
    if who.operator or (who.handle is not None and who.handle.key == admin.key):
        return who
    raise NotAuthorized(f"Only the node admin ({admin.text}) may replace the default values")

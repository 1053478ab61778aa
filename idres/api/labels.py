"""QR labels: ``/{handle}/label.png``, ``/{handle}/label.svg``, ``/api/labels/sheet``.

The label rules end in a static ``/label.png`` or ``/label.svg``, so
werkzeug's rule ordering tries them before the scan page's bare
``/<path:handle>`` whatever the blueprint order; ``/api/...`` rules start
with static segments and win over both.  Like the scan page, the label
rules never match under ``/api`` (any case), so an unknown API path stays a
404 rather than a label of the "handle" ``api/...``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from idres.api.context import add_page_path, json_body, node
from idres.label_sheet import MAX_SHEET_LABELS, sheet_pdf
from idres.labels import find_label, render_png, render_svg

bp = Blueprint("labels", __name__)


bp.record_once(add_page_path)  # runs before the rules below are added

# A label only changes if the handle is deleted and registered again: cache an hour.
_CACHE = "public, max-age=3600"


def _image(body: bytes | str, mimetype: str) -> Any:
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Cache-Control"] = _CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<page_path:handle>/label.png")
def label_png(handle: str) -> Any:
    """A PNG label: QR code of ``IDRES_BASE_URL/<handle>`` (level Q), the handle under it."""
    n = node()
    return _image(render_png(find_label(n.db, n.config, handle)), "image/png")


@bp.get("/<page_path:handle>/label.svg")
def label_svg(handle: str) -> Any:
    """The same label as SVG."""
    n = node()
    response = _image(render_svg(find_label(n.db, n.config, handle)), "image/svg+xml")
    # Opened on its own the SVG is a document of this origin: it needs nothing but its styles.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.post("/api/labels/sheet")
def sheet() -> Any:
    """An A4 PDF of labels for ``{"handles": [...]}`` or a minted range
    ``{"prefix", "pattern", "from", "to"}`` (at most 2,000 labels)."""
    n = node()
    pdf, count = sheet_pdf(n.db, n.config, json_body())
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'attachment; filename="labels.pdf"'
    response.headers["X-Label-Count"] = str(count)
    return response


# The operations for /api/openapi.json (merged by idres.api.openapi).
_ERROR = {"$ref": "#/components/schemas/Error"}
_HANDLE = {"name": "handle", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "prefix/suffix, e.g. 88.118.8/ENG-2026-000123 (any case)"}
_LABEL_ERRORS = {
    "400": {"description": "malformed handle (rc 102) or prefix not held here (rc 301)",
            "content": {"application/json": {"schema": _ERROR}}},
    "404": {"description": "handle not registered (rc 100)",
            "content": {"application/json": {"schema": _ERROR}}}}
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/{handle}/label.png": {"get": {
        "summary": "QR label (PNG) of IDRES_BASE_URL/<handle>, level Q, handle printed under it",
        "parameters": [_HANDLE],
        "responses": {"200": {"description": "the label",
                              "content": {"image/png": {"schema": {"type": "string",
                                                                   "format": "binary"}}}},
                      **_LABEL_ERRORS}}},
    "/{handle}/label.svg": {"get": {
        "summary": "QR label (SVG)", "parameters": [_HANDLE],
        "responses": {"200": {"description": "the label",
                              "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                      **_LABEL_ERRORS}}},
    "/api/labels/sheet": {"post": {
        "summary": f"A4 PDF sheet of labels, 24 a page, at most {MAX_SHEET_LABELS}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
            {"type": "object", "required": ["handles"], "additionalProperties": False,
             "properties": {"handles": {"type": "array", "minItems": 1,
                                        "maxItems": MAX_SHEET_LABELS,
                                        "items": {"type": "string"}}}},
            {"type": "object", "required": ["prefix", "pattern", "from", "to"],
             "additionalProperties": False,
             "properties": {"prefix": {"type": "string", "example": "88.118.8"},
                            "pattern": {"type": "string", "example": "ENG-2026-{seq:06}"},
                            "from": {"type": "integer", "minimum": 0},
                            "to": {"type": "integer", "minimum": 0}}}]}}}},
        "responses": {"200": {"description": "the sheet; X-Label-Count gives the labels",
                              "content": {"application/pdf": {"schema": {"type": "string",
                                                                         "format": "binary"}}}},
                      "400": {"description": "bad request naming the field (rc 4, 102, 301)",
                              "content": {"application/json": {"schema": _ERROR}}},
                      "404": {"description": "a handle is not registered (rc 100)",
                              "content": {"application/json": {"schema": _ERROR}}}}}},
}

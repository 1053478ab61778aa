"""``GET /{handle}``: the scan page behind a part's QR code, as HTML or JSON.

Registered last, and its rule never matches ``/api`` or ``/api/...`` (any
case), so every API path keeps its own 404 and 405 answers; a longer rule
such as ``/{handle}/label.png`` wins over it anyway.  Content negotiation:
``?format=json`` / ``?format=html`` decide; otherwise JSON only when the
client prefers ``application/json`` over ``text/html``.  Errors are
answered in the same form: browsers get a small HTML page (404 unknown,
400 malformed or not held here, 500 without any detail), JSON clients the
Handle-style body of the rest of the API.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from idres.api.context import add_page_path, node, respond
from idres.api.ledger import LedgerUnavailable, current_log
from idres.errors import BadRequest, HandleError, HandleNotFound, InvalidHandle, NotResponsible
from idres.scan import PART_LABELS, scan_part
from ledger.note import Verifier

bp = Blueprint("scan", __name__)
log = logging.getLogger("idres")


bp.record_once(add_page_path)  # before the rule below is bound

HTML_HEADERS = {
    # No script runs on this page, whatever a handle contains.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATUS_TEXT = {
    "known": "Known", "active": "In service", "in_transit": "In transit", "received": "Received",
    "transformed": "Consumed (transformed)", "recalled": "Recalled", "scrapped": "Scrapped",
}
ERROR_TITLES: list[tuple[type[HandleError], str]] = [
    (HandleNotFound, "Unknown identifier"),
    (InvalidHandle, "Malformed identifier"),
    (NotResponsible, "Not held by this node"),
    (BadRequest, "Bad request"),
]


def _wants_json() -> bool:
    """``?format=`` wins; else JSON only when preferred to HTML (ties and no Accept: HTML)."""
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt.lower() in ("json", "html"):
            return fmt.lower() == "json"
        raise BadRequest("format must be json or html", field="format")
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _ledger_key() -> tuple[Verifier | None, str | None]:
    """The node's verifier key and log origin (``None`` when the ledger key is unavailable)."""
    try:
        ledger_log = current_log()  # load_signer(config), cached per worker
    except LedgerUnavailable:
        return None, None
    return ledger_log.signer.verifier(), ledger_log.origin


@bp.get("/<page_path:handle>", merge_slashes=False)  # a//b is a handle, not a redirect
def page(handle: str) -> ResponseReturnValue:
    """The scan page of ``handle`` (HTML or JSON)."""
    as_json = False
    try:
        as_json = _wants_json()
        n = node()
        verifier, origin = _ledger_key()
        data = scan_part(n.db, n.config, handle, verifier, origin)
        if as_json:
            response = respond(data)
        else:
            response = _html(render_template(
                "scan/part.html", p=data, picture=tree_picture(data), labels=PART_LABELS,
                status_text=STATUS_TEXT, when=when, grams=grams), 200)
    except HandleError as err:
        response = _error(err, handle, as_json)
    except Exception:  # never a stack trace on a scanned page
        log.exception("Unhandled error on scan page %s", request.path)
        response = _error(HandleError("Internal error"), handle, as_json)
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-cache"  # a recall must show on the next scan
    return response


def _html(text: str, status: int) -> Any:
    response = current_app.response_class(text, status=status, mimetype="text/html")
    response.headers.update(HTML_HEADERS)
    return response


def _error(err: HandleError, handle: str, as_json: bool) -> Any:
    """The error in the negotiated form (the JSON body is the API's usual one)."""
    if err.handle is None:
        err.handle = handle
    if as_json:
        return respond(err.body(), err.status)
    title = next((t for cls, t in ERROR_TITLES if isinstance(err, cls)), "Something went wrong")
    try:
        text = render_template("scan/error.html", err=err, title=title, handle=handle)
    except Exception:  # the template itself failed: a bare page, still no detail
        log.exception("Scan error page failed to render")
        text = "<!doctype html><title>Error</title><p>The page could not be shown.</p>"
    return _html(text, err.status)


# --- presentation helpers ----------------------------------------------------


def when(text: str | None) -> str:
    """``2026-11-02T00:00:00.000000Z`` -> ``2026-11-02 00:00 UTC``."""
    if not text:
        return ""
    if len(text) >= 16 and text[10] == "T" and text.endswith("Z"):
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def grams(value: int | None) -> str:
    """Grams with thin thousands separators, or kilograms / tonnes when large."""
    if value is None:
        return ""
    if value >= 10_000_000:
        return f"{value / 1_000_000:,.2f} t"
    if value >= 10_000:
        return f"{value / 1000:,.1f} kg"
    return f"{value:,} g"


PICTURE_WIDTH = 360
BOX_HEIGHT = 34
ROW_GAP = 34
MAX_PER_ROW = 3


def _label(item: dict[str, Any], width: float) -> tuple[str, str]:
    """A short label that fits ``width`` (the end of the suffix) and the full name."""
    if item.get("handle"):
        full = item["handle"]
        short = full.split("/", 1)[1] if "/" in full else full
    else:
        full = f"batch {item['batchMaker']}/{item['batch']}"
        short = f"lot {item['batch']}"
    fits = max(4, int((width - 10) / 7))
    return (short if len(short) <= fits else "\u2026" + short[-(fits - 1):]), full


def _row(items: list[dict[str, Any]], total: int, y: float) -> list[dict[str, Any]]:
    """Boxes for one row, the last one saying how many more there are."""
    shown = items[:MAX_PER_ROW]
    more = total - len(shown)
    count = len(shown) + (1 if more > 0 else 0)
    if count == 0:
        return []
    gap = 8
    width = (PICTURE_WIDTH - gap * (count + 1)) / count
    boxes = []
    for i, item in enumerate(shown):
        label, full = _label(item, width)
        boxes.append({"x": round(gap + i * (width + gap), 1), "y": y, "w": round(width, 1),
                      "label": label, "title": full,
                      "href": item.get("path"), "cls": _box_class(item)})
    if more > 0:
        boxes.append({"x": round(gap + len(shown) * (width + gap), 1), "y": y, "w": round(width, 1),
                      "label": f"+{more} more", "title": f"{more} more", "href": None, "cls": "more"})
    return boxes


def _box_class(item: dict[str, Any]) -> str:
    if not item.get("handle"):
        return "batch"
    return "recalled" if item.get("status") == "recalled" else "part"


def tree_picture(data: dict[str, Any]) -> dict[str, Any]:
    """Boxes and lines of a small SVG: parents above, the part, children and inputs below."""
    g, totals = data["genealogy"], data["genealogy"]["totals"]
    up_items = ([g["parent"]] if g["parent"] else []) + g["madeInto"]
    down_items = g["children"] + g["inputs"]
    y = 6.0
    up = _row(up_items, totals["parent"] + totals["madeInto"], y)
    if up:
        y += BOX_HEIGHT + ROW_GAP
    width = PICTURE_WIDTH * 0.6
    label, full = _label({"handle": data["handle"]}, width)
    me: dict[str, Any] = {"x": (PICTURE_WIDTH - width) / 2, "y": y, "w": width, "label": label,
                          "title": full, "href": None,
                          "cls": "self recalled" if data["state"]["recalled"] else "self"}
    down = _row(down_items, totals["children"] + totals["inputs"], y + BOX_HEIGHT + ROW_GAP)
    centre_x = round(me["x"] + me["w"] / 2, 1)
    lines = [{"x1": round(b["x"] + b["w"] / 2, 1), "y1": b["y"] + BOX_HEIGHT, "x2": centre_x, "y2": me["y"]}
             for b in up]
    lines += [{"x1": centre_x, "y1": me["y"] + BOX_HEIGHT, "x2": round(b["x"] + b["w"] / 2, 1), "y2": b["y"]}
              for b in down]
    bottom = (down[0]["y"] if down else me["y"]) + BOX_HEIGHT + 6
    return {"width": PICTURE_WIDTH, "height": bottom, "box_height": BOX_HEIGHT,
            "boxes": up + [me] + down, "lines": lines, "empty": not up and not down}

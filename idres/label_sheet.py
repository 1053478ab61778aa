"""A4 sheets of QR labels, as a PDF.

Each page is a 3 x 8 grid of 70 x 37.125 mm cells (the whole A4 page, as on
24-up label stock such as 70 x 37 mm sheets); each cell holds a level-Q code
with its quiet zone and the handle centred under it.  Pages are drawn with
Pillow at 300 dpi in 1-bit black and white and written by the small PDF
writer below, one Flate-compressed image per page.  Pillow's own PDF
encoder would need every page in memory at once (``append_images``) and
stores 1-bit pages as CCITT G4 only when libtiff is present, JPEG otherwise;
this writer keeps one page in memory and is lossless everywhere.

A label costs about 4 ms of CPU (half of it the QR code), so the largest
request, 2,000 labels on 84 pages, takes about 8 s and yields about 3 MB.
"""
from __future__ import annotations

import io
import math
import zlib
from typing import Any, Iterable, Iterator

from PIL import Image, ImageDraw

from idres.config import Config
from idres.errors import BadRequest
from idres.handles import parse_handle, validate_prefix
from idres.labels import (QUIET_ZONE, Label, code_image, draw_text, find_labels, line_height,
                          load_font, text_lines)
from idres.minting import check_pattern, render
from idres.qr import qr_matrix
from idres.storage import Database

MAX_SHEET_LABELS = 2000
DPI = 300
PAGE_MM = (210.0, 297.0)
COLUMNS, ROWS = 3, 8
PER_PAGE = COLUMNS * ROWS
PAD_MM = 3.0                        # white border inside each cell
FONT_PX = (35, 30, 25, 20)          # handle text sizes tried, largest first (35 px = 8.4 pt)
MAX_LINES = 3                       # a smaller font is tried before wrapping to more lines
MIN_MODULE_PX = 3                   # 0.25 mm: below that phone cameras struggle
MAX_SEQ = 10**15
_RANGE_FIELDS = ("prefix", "pattern", "from", "to")


def _px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def _seq(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
        raise BadRequest(f"{name} must be an integer from 0 to {MAX_SEQ}", field=name)
    return value


def _unexpected(body: dict[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise BadRequest(f"Unexpected field {extra[0]}", field=extra[0])


def sheet_request(body: Any) -> tuple[list[str], list[str | None]]:
    """The handles a sheet request names, and the field to blame for each.

    Either ``{"handles": [...]}`` (printed in the given order, repeats
    included) or a minted range ``{"prefix", "pattern", "from", "to"}`` with
    ``{seq}`` filled from ``from`` to ``to`` inclusive.  At most
    :data:`MAX_SHEET_LABELS` labels.
    """
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object: handles, or prefix, pattern, from and to",
                         field="body")
    if "handles" in body:
        _unexpected(body, ("handles",))
        handles = body["handles"]
        if not isinstance(handles, list) or not handles:
            raise BadRequest("handles must be a non-empty list of handles", field="handles")
        if len(handles) > MAX_SHEET_LABELS:
            raise BadRequest(f"At most {MAX_SHEET_LABELS} labels per sheet request, not "
                             f"{len(handles)}", field="handles")
        for i, text in enumerate(handles):
            if not isinstance(text, str):
                raise BadRequest("Each handle must be a string", field=f"handles[{i}]")
        return list(handles), [f"handles[{i}]" for i in range(len(handles))]
    if not set(_RANGE_FIELDS) & set(body):
        raise BadRequest("Body needs handles, or prefix, pattern, from and to", field="body")
    _unexpected(body, _RANGE_FIELDS)
    prefix = body.get("prefix")
    if not isinstance(prefix, str):
        raise BadRequest("prefix must be a string such as 88.118.8", field="prefix")
    validate_prefix(prefix)
    pattern = check_pattern(body.get("pattern"))
    first, last = _seq(body, "from"), _seq(body, "to")
    if last < first:
        raise BadRequest("to must not be below from", field="to")
    if last - first + 1 > MAX_SHEET_LABELS:
        raise BadRequest(f"At most {MAX_SHEET_LABELS} labels per sheet request, not "
                         f"{last - first + 1}", field="to")
    parse_handle(f"{prefix}/{render(pattern, last)}", field="pattern")  # the longest of them
    return [f"{prefix}/{render(pattern, n)}" for n in range(first, last + 1)], [None] * (last - first + 1)


def sheet_pdf(db: Database, config: Config, body: Any) -> tuple[bytes, int]:
    """The PDF for a sheet request, and its number of labels.

    Every handle is looked up first (all must be registered here), so a
    failing request costs no rendering.
    """
    texts, fields = sheet_request(body)
    labels = find_labels(db, config, texts, fields)
    return render_sheet(labels, fields), len(labels)


def _cell(label: Label, width: int, height: int, field: str | None,
          fonts: dict[int, Any]) -> tuple[Image.Image, int, Any, list[str]]:
    """The code image, its module size, the font and the text lines of one cell."""
    pad = _px(PAD_MM)
    for size in FONT_PX:
        font = fonts.get(size) or fonts.setdefault(size, load_font(size))
        lines = text_lines(label.handle, font, width - 2 * pad)
        if len(lines) <= MAX_LINES:
            break
    matrix = qr_matrix(label.url)
    room = height - 2 * pad - len(lines) * line_height(font)
    module_px = min(room, width - 2 * pad) // (len(matrix) + 2 * QUIET_ZONE)
    if module_px < MIN_MODULE_PX:
        raise BadRequest(f"{label.handle} is too long for a code on a {COLUMNS}x{ROWS} sheet label; "
                         "use its label.png or label.svg", field=field, handle=label.handle)
    return code_image(matrix, module_px), module_px, font, lines


def _pages(labels: list[Label], fields: list[str | None]) -> Iterator[Image.Image]:
    """Page images, one at a time (a 300 dpi 1-bit A4 page is 1.1 MB)."""
    page_w, page_h = _px(PAGE_MM[0]), _px(PAGE_MM[1])
    fonts: dict[int, Any] = {}
    for start in range(0, len(labels), PER_PAGE):
        page = Image.new("1", (page_w, page_h), 1)
        draw = ImageDraw.Draw(page)
        for k, label in enumerate(labels[start:start + PER_PAGE]):
            row, col = divmod(k, COLUMNS)
            x0, x1 = round(col * page_w / COLUMNS), round((col + 1) * page_w / COLUMNS)
            y0, y1 = round(row * page_h / ROWS), round((row + 1) * page_h / ROWS)
            code, module_px, font, lines = _cell(label, x1 - x0, y1 - y0, fields[start + k], fonts)
            quiet = QUIET_ZONE * module_px
            side = code.width + 2 * quiet
            # The code (with its quiet zone) and the text, centred together in the cell.
            top = y0 + (y1 - y0 - side - len(lines) * line_height(font)) // 2
            left = x0 + (x1 - x0 - side) // 2
            page.paste(code, (left + quiet, top + quiet))
            draw_text(draw, lines, font, (x0 + x1) // 2, top + side)
        yield page


def pdf_document(pages: Iterable[Image.Image], count: int, size_pt: tuple[float, float],
                 title: str = "idres labels") -> bytes:
    """A PDF of ``count`` pages, each one 1-bit image filling a ``size_pt`` page.

    Objects: 1 catalog, 2 page tree, 3 info, then per page its page object,
    content stream and image.  No dates, so equal input gives equal bytes.
    """
    out = io.BytesIO()
    offsets: list[int] = []

    def obj(body: bytes, stream: bytes | None = None) -> None:
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % len(offsets))
        if stream is None:
            out.write(body + b"\nendobj\n")
        else:
            head = body.removesuffix(b">>").rstrip() + b" /Length %d >>" % len(stream)
            out.write(head + b"\nstream\n" + stream + b"\nendstream\nendobj\n")

    w, h = (f"{v:.2f}".encode() for v in size_pt)
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    kids = b" ".join(b"%d 0 R" % (4 + 3 * i) for i in range(count))
    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count))
    obj(b"<< /Title (%s) /Producer (idres) >>" % title.encode("ascii"))
    written = 0
    for page in pages:
        n = 4 + 3 * written
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R "
            b"/Resources << /XObject << /Im0 %d 0 R >> /ProcSet [/PDF /ImageB] >> >>"
            % (w, h, n + 1, n + 2))
        obj(b"<< >>", b"q %s 0 0 %s 0 0 cm /Im0 Do Q" % (w, h))
        # Mode "1" packs rows MSB first, 1 = white: DeviceGray at 1 bit as is.
        obj(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 1 /Filter /FlateDecode >>" % page.size,
            zlib.compress(page.tobytes(), 3))
        written += 1
    if written != count:
        raise ValueError(f"pdf_document: {written} pages given, {count} announced")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(offsets) + 1, xref))
    return out.getvalue()


def render_sheet(labels: list[Label], fields: list[str | None] | None = None) -> bytes:
    """An A4 PDF of the labels, 24 to a page, in order.

    ``fields`` names each label's request field in errors (a code too dense
    for a cell, see :data:`MIN_MODULE_PX`).
    """
    if not labels:
        raise BadRequest("A sheet needs at least one label", field="handles")
    size_pt = (PAGE_MM[0] / 25.4 * 72, PAGE_MM[1] / 25.4 * 72)
    pages = math.ceil(len(labels) / PER_PAGE)
    return pdf_document(_pages(labels, fields or [None] * len(labels)), pages, size_pt)

"""QR labels: a code for ``IDRES_BASE_URL/<handle>`` with the handle printed under it.

The code encodes the scan-page URL of the handle, spelled as registered
(case preserved), with error correction level Q (about 25 % of the code may
be damaged or covered).  The URL is ``<base_url>/<prefix>/<suffix>`` with the
suffix percent-encoded (:func:`label_url`).  Codes come from :mod:`idres.qr`;
PNG is drawn with Pillow, SVG is written by hand; A4 sheets are in
:mod:`idres.label_sheet`.  No Flask here.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence
from urllib.parse import quote
from xml.etree import ElementTree as ET

from PIL import Image, ImageDraw, ImageFont

from idres.authority import check_responsible
from idres.config import Config
from idres.errors import BadRequest, HandleError, HandleNotFound
from idres.handles import parse_handle
from idres.qr import Matrix, qr_matrix
from idres.storage import Database, records

QUIET_ZONE = 4          # modules of white around a code (ISO/IEC 18004)
PNG_MODULE_PX = 8       # pixels per module in label.png
TEXT_MODULES = 2.5      # font size of the handle, in modules (PNG and SVG)
MONO_ADVANCE = 0.6      # advance of a monospace glyph, in em (SVG wrapping estimate)
_FONT_NAMES = ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "DejaVuSans.ttf")
_DOT_SEGMENTS = {"", ".", ".."}
LABEL_PATHS = ("/label.png", "/label.svg")  # the label routes: /<handle>/label.png ...

Font = Any  # ImageFont.FreeTypeFont, or the bitmap ImageFont without FreeType


@dataclass(frozen=True)
class Label:
    """One label: the handle as registered and the URL its code encodes."""

    handle: str
    url: str


def label_url(base_url: str, handle: str, *, field: str = "handle") -> str:
    """The URL a label encodes: ``<base_url>/<prefix>/<percent-encoded suffix>``.

    The suffix's UTF-8 bytes outside RFC 3986's unreserved set (``A-Z a-z
    0-9 - . _ ~``) become ``%XX``.  Slashes inside the suffix stay as they are
    (``88.118.8/LOT/7`` -> ``.../88.118.8/LOT/7``) unless a segment between them
    is empty, ``.`` or ``..``: browsers and QR scanners would normalize such a
    path before sending it (RFC 3986 section 5.2.4, and WHATWG treats ``%2e``
    as a dot too), so then every slash of the suffix is sent as ``%2F``.  The
    server decodes ``%2F`` back to ``/`` before routing, so both forms reach
    ``/<path:handle>``.  A suffix that is exactly ``.`` or ``..`` cannot be put
    in a URL path at all and is refused (400), and so is a handle ending in
    ``/label.png`` or ``/label.svg``, whose URL is another handle's label.
    """
    prefix, _, suffix = handle.partition("/")
    if suffix in (".", ".."):
        raise BadRequest(f"{handle} cannot be addressed by a URL path: its suffix is a dot segment",
                         field=field, handle=handle)
    if handle.endswith(LABEL_PATHS):
        raise BadRequest(f"The URL of {handle} is taken by the label of "
                         f"{handle.rsplit('/', 1)[0]}: no label leads to its scan page",
                         field=field, handle=handle)
    keep = "" if _DOT_SEGMENTS & set(suffix.split("/")) else "/"
    return f"{base_url}/{prefix}/{quote(suffix, safe=keep)}"


def find_label(db: Database, config: Config, text: str) -> Label:
    """The label of one registered handle; rc 102 malformed, 301 not held here, 100 unknown."""
    return find_labels(db, config, [text], ["handle"])[0]


def find_labels(db: Database, config: Config, texts: Sequence[str],
                fields: Sequence[str | None]) -> list[Label]:
    """Labels for registered handles, in order; the first bad one raises.

    ``fields[i]`` names the request field of ``texts[i]`` in errors.  Lookups
    are by folded key, so ``88.118.8/eng-1`` finds ``88.118.8/ENG-1`` and the
    label shows (and encodes) the registered spelling.
    """
    parsed = [parse_handle(t, field=f or "handle") for t, f in zip(texts, fields)]
    found: list[Label] = []
    with db.read() as s:
        for handle, field in zip(parsed, fields):
            record = records.load_record(s, handle.key)
            if record is None:
                try:
                    check_responsible(s, config, handle)
                except HandleError as err:
                    err.field = field
                    raise
                raise HandleNotFound(f"{handle.text} is not registered here", handle=handle.text,
                                     field=field)
            found.append(Label(record.handle, label_url(config.base_url, record.handle,
                                                        field=field or "handle")))
    return found


def code_image(matrix: Matrix, module_px: int) -> Image.Image:
    """The code alone (mode ``1``, black on white), ``module_px`` pixels per module."""
    n = len(matrix)
    small = Image.frombytes("L", (n, n), bytes(0 if dark else 255 for row in matrix for dark in row))
    return small.convert("1").resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


@lru_cache(maxsize=None)
def _font_path() -> str | None:
    """A monospace TrueType font if the system has one (searched for once per process)."""
    for name in _FONT_NAMES:
        try:
            return str(ImageFont.truetype(name, 10).path)
        except OSError:
            continue
    return None


def load_font(px: int) -> Font:
    """A font ``px`` pixels high; a new object per call (FreeType faces are not shared)."""
    name = _font_path()
    return ImageFont.truetype(name, px) if name else ImageFont.load_default(px)


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Break a handle into lines that ``fits``: after the prefix's slash first,
    then at the last ``/ - _ .`` that fits, else anywhere.
    """
    if fits(text):
        return [text]
    lines: list[str] = []
    prefix, _, suffix = text.partition("/")
    rest = text
    if fits(prefix + "/"):
        lines.append(prefix + "/")
        rest = suffix
    while rest:
        if fits(rest):
            lines.append(rest)
            break
        lo, hi = 1, len(rest)  # longest fitting head: fits(rest[:lo]) or lo == 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(rest[:mid]) else (lo, mid - 1)
        cut = max(rest.rfind(c, 0, lo) for c in "/-_.") + 1
        cut = cut if cut > lo // 2 else lo
        lines.append(rest[:cut])
        rest = rest[cut:]
    return lines


def text_lines(text: str, font: Font, width: int) -> list[str]:
    """``text`` wrapped to ``width`` pixels in ``font``."""
    return wrap(text, lambda s: font.getlength(s) <= width)


def line_height(font: Font) -> int:
    """Distance between baselines of two lines of the handle."""
    return math.ceil(getattr(font, "size", 11) * 1.25)


def draw_text(draw: ImageDraw.ImageDraw, lines: list[str], font: Font, centre_x: int, top: int) -> None:
    """Draw centred lines in black, the first one's top at ``top``."""
    step = line_height(font)
    for i, line in enumerate(lines):
        x = centre_x - font.getlength(line) / 2
        draw.text((x, top + i * step), line, font=font, fill=0)


def render_png(label: Label, module_px: int = PNG_MODULE_PX) -> bytes:
    """A PNG label: the code with its quiet zone, the handle centred under it."""
    matrix = qr_matrix(label.url)
    side = (len(matrix) + 2 * QUIET_ZONE) * module_px
    font = load_font(max(10, round(TEXT_MODULES * module_px)))
    margin = 2 * module_px
    lines = text_lines(label.handle, font, side - 2 * margin)
    image = Image.new("L", (side, side + len(lines) * line_height(font) + margin), 255)
    image.paste(code_image(matrix, module_px), (QUIET_ZONE * module_px, QUIET_ZONE * module_px))
    draw_text(ImageDraw.Draw(image), lines, font, side // 2, side)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _xml_text(text: str) -> str:
    """``text`` with characters XML 1.0 cannot carry replaced by U+FFFD."""
    def ok(c: str) -> bool:
        o = ord(c)
        return o in (9, 10, 13) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000
    return "".join(c if ok(c) else "\ufffd" for c in text)


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def module_path(matrix: Matrix, offset: int) -> str:
    """SVG path data of the dark modules: one rectangle per horizontal run."""
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start + offset} {y + offset}h{x - start}v1h-{x - start}z")
    return "".join(parts)


def render_svg(label: Label) -> str:
    """An SVG label in module units (a module is 8 px at 100 % zoom).

    The handle is wrapped by estimating a monospace advance of 0.6 em; it is
    text, so it stays selectable and searchable.  Built with ElementTree,
    so handle characters are always escaped.
    """
    matrix = qr_matrix(label.url)
    side = len(matrix) + 2 * QUIET_ZONE
    size, margin = TEXT_MODULES, 2
    lines = wrap(label.handle, lambda s: len(s) * size * MONO_ADVANCE <= side - 2 * margin)
    step = size * 1.25
    height = side + len(lines) * step + margin
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "version": "1.1",
        "viewBox": f"0 0 {side} {_fmt(height)}",
        "width": str(side * PNG_MODULE_PX), "height": _fmt(height * PNG_MODULE_PX),
        "role": "img", "aria-label": _xml_text(label.handle)})
    ET.SubElement(svg, "title").text = _xml_text(label.handle)
    ET.SubElement(svg, "desc").text = _xml_text(label.url)
    ET.SubElement(svg, "rect", {"width": str(side), "height": _fmt(height), "fill": "#fff"})
    ET.SubElement(svg, "path", {"d": module_path(matrix, QUIET_ZONE), "fill": "#000",
                                "shape-rendering": "crispEdges"})
    for i, line in enumerate(lines):
        ET.SubElement(svg, "text", {
            "x": _fmt(side / 2), "y": _fmt(side + size + i * step), "text-anchor": "middle",
            "font-family": "DejaVu Sans Mono, Menlo, Consolas, monospace",
            "font-size": _fmt(size), "fill": "#000"}).text = _xml_text(line)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") + "\n"

"""Label rendering without a database: URLs, PNG, SVG, PDF sheets, the QR encoder."""
from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
import qrcode
from flask import Blueprint, Flask
from PIL import Image, ImageDraw
from qrcode import util
from qrcode.constants import ERROR_CORRECT_Q

from idres import qr
from idres.api import handles, labels as labels_api, ledger
from idres.errors import BadRequest
from idres.label_sheet import render_sheet
from idres.labels import Label, label_url, render_png, render_svg, wrap
from tests.idres.labels.conftest import decode, decode_one, sheet_urls

BASE = "https://idres.example.org"
SVG = "{http://www.w3.org/2000/svg}"
ODD_HANDLES = [
    "88.118.8/ENG-2026-000123",
    "88.118.8/LOT/7",                # slash kept
    "88.118.8/a b%#?&+=:@",          # reserved and unsafe characters
    "88.118.8/Motor-ÄÖÜ/中文",        # UTF-8
    "88.118.8/a/../b",               # dot segment: slashes sent as %2F
    "88.118.8/./x",
    "88.118.8/x/.",
    "88.118.8/a//b",                 # empty segment, too
    "88.118.8//x",
    "88.118.8/abc/",
    "88.118.8/<&>\"'",               # XML specials
]


def label(handle: str, base: str = BASE) -> Label:
    return Label(handle, label_url(base, handle))


@pytest.mark.parametrize(("handle", "url"), [
    ("88.118.8/ENG-2026-000123", f"{BASE}/88.118.8/ENG-2026-000123"),
    ("88.118.8/LOT/7", f"{BASE}/88.118.8/LOT/7"),
    ("88.118.8/a b%#?", f"{BASE}/88.118.8/a%20b%25%23%3F"),
    ("88.118.8/Ä", f"{BASE}/88.118.8/%C3%84"),
    ("88.118.8/a/../b", f"{BASE}/88.118.8/a%2F..%2Fb"),
    ("88.118.8/abc/", f"{BASE}/88.118.8/abc%2F"),
    ("88.118.8/~._-", f"{BASE}/88.118.8/~._-"),
])
def test_label_url(handle: str, url: str) -> None:
    assert label_url(BASE, handle) == url
    assert label_url(BASE + "/idres", handle) == url.replace(BASE, BASE + "/idres")


@pytest.mark.parametrize("handle", ["88.118.8/.", "88.118.8/..", "88.118.8/label.png",
                                    "88.118.8/A/label.svg"])
def test_label_url_refuses_unreachable_handles(handle: str) -> None:
    with pytest.raises(BadRequest) as err:
        label_url(BASE, handle, field="handles[3]")
    assert err.value.field == "handles[3]" and err.value.handle == handle


def _app(scan_first: bool) -> Flask:
    """The API blueprints and a stand-in for the scan page's catch-all rule."""
    app = Flask("labels-routing")
    scan = Blueprint("scan", __name__)

    @scan.get("/<path:handle>")
    def page(handle: str) -> str:
        return handle

    bps = [ledger.bp, handles.bp, labels_api.bp]
    for bp in ([scan, *bps] if scan_first else [*bps, scan]):
        app.register_blueprint(bp)
    return app


@pytest.mark.parametrize("scan_first", [True, False])
def test_label_rules_win_over_the_scan_page(scan_first: bool) -> None:
    """werkzeug orders rules by their static parts, not by registration."""
    adapter = _app(scan_first).url_map.bind("node.test")
    assert adapter.match("/88.118.8/A/b/label.png") == ("labels.label_png", {"handle": "88.118.8/A/b"})
    assert adapter.match("/88.118.8/A/label.svg") == ("labels.label_svg", {"handle": "88.118.8/A"})
    assert adapter.match("/88.118.8/A") == ("scan.page", {"handle": "88.118.8/A"})
    assert adapter.match("/api/labels/sheet", method="POST") == ("labels.sheet", {})
    assert adapter.match("/api/handles/88.118.8/A/label.png")[0] == "handles.get_handle"
    assert adapter.match("/apis/X/label.png") == ("labels.label_png", {"handle": "apis/X"})
    assert adapter.match("/api/X/label.png")[0] == "scan.page"  # never a label under /api


@pytest.mark.parametrize("handle", ODD_HANDLES)
def test_url_path_routes_back_to_the_handle(handle: str) -> None:
    """The server decodes the URL's path (%2F included) to exactly the handle."""
    client = _app(scan_first=False).test_client()
    path = urlsplit(label_url(BASE, handle)).path
    assert client.get(path).get_data(as_text=True) == handle


@pytest.mark.parametrize("handle", ODD_HANDLES)
def test_png_decodes_to_the_url(handle: str) -> None:
    lab = label(handle)
    data = render_png(lab)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    code = decode_one(data)
    assert code.text == lab.url
    assert code.ec_level == "Q"


def test_png_layout() -> None:
    """Quiet zone of 4 modules around the code, text below it."""
    lab = label("88.118.8/ENG-2026-000123")
    image = Image.open(io.BytesIO(render_png(lab))).convert("L")
    n = len(qr.qr_matrix(lab.url))
    side = (n + 8) * 8
    assert image.width == side and image.height > side
    assert image.crop((0, 0, side, 32)).getextrema() == (255, 255)            # quiet zone above
    assert image.crop((0, side - 32, side, side)).getextrema() == (255, 255)  # and below
    assert image.crop((0, side, side, image.height)).getextrema()[0] < 128     # the handle


def test_long_handle_wraps_and_still_decodes() -> None:
    handle = "88.118.8/" + "-".join(f"SEGMENT{i:02d}" for i in range(20))
    lab = label(handle)
    assert decode_one(render_png(lab)).text == lab.url
    root = ET.fromstring(render_svg(lab))
    lines = [t.text for t in root.iter(f"{SVG}text")]
    assert len(lines) > 2 and "".join(lines) == handle


def test_wrap() -> None:
    fits = lambda s: len(s) <= 10  # noqa: E731
    assert wrap("88.118.8/A", fits) == ["88.118.8/A"]
    assert wrap("88.118.8/ENG-2026-000001", fits) == ["88.118.8/", "ENG-2026-", "000001"]
    assert wrap("88.118.8/ABCDEFGHIJKLMNOP", fits) == ["88.118.8/", "ABCDEFGHIJ", "KLMNOP"]
    assert wrap("X" * 25, fits) == ["X" * 10, "X" * 10, "X" * 5]
    assert wrap("88.118.8/A", lambda s: False) == list("88.118.8/A")


def rasterize(svg: str, scale: int = 8) -> Image.Image:
    """Draw the module path of a label SVG (the rectangles it is made of)."""
    root = ET.fromstring(svg)
    _, _, width, _ = (float(v) for v in root.get("viewBox").split())
    image = Image.new("L", (int(width) * scale, int(width) * scale), 255)
    draw = ImageDraw.Draw(image)
    path = root.find(f"{SVG}path").get("d")
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle((x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1), fill=0)
    assert re.fullmatch(r"(M\d+ \d+h\d+v1h-\d+z)+", path)
    return image


@pytest.mark.parametrize("handle", ODD_HANDLES)
def test_svg(handle: str) -> None:
    lab = label(handle)
    svg = render_svg(lab)
    root = ET.fromstring(svg)  # well-formed XML whatever the handle holds
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == handle
    assert root.find(f"{SVG}desc").text == lab.url
    assert "".join(t.text for t in root.iter(f"{SVG}text")) == handle
    code = decode(rasterize(svg))
    assert [c.text for c in code] == [lab.url] and code[0].ec_level == "Q"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_svg_rendered_by_chromium_decodes(tmp_path: Path) -> None:
    """An independent renderer: headless Chromium screenshots the SVG."""
    lab = label("88.118.8/Motor-ÄÖ/7")
    svg_path, shot = tmp_path / "label.svg", tmp_path / "label.png"
    svg_path.write_text(render_svg(lab), encoding="utf-8")
    root = ET.fromstring(svg_path.read_text(encoding="utf-8"))
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={root.get('width')},{root.get('height')}",
                    f"--screenshot={shot}", svg_path.as_uri()],
                   check=True, capture_output=True, timeout=60, cwd=tmp_path)
    assert decode_one(shot.read_bytes()).text == lab.url


def test_sheet_has_one_code_per_label_in_order(tmp_path: Path) -> None:
    handles = [f"88.118.8/ENG-2026-{i:06d}" for i in range(1, 27)] + ["88.118.8/Ä b/../c"] * 2
    labels = [label(h) for h in handles]
    pdf = render_sheet(labels)
    assert sheet_urls(pdf, tmp_path) == [lab.url for lab in labels]
    assert sheet_urls(pdf, tmp_path, embedded=True) == [lab.url for lab in labels]
    assert render_sheet(labels) == pdf  # no dates: the same labels give the same bytes


def test_sheet_refuses_a_code_too_dense_for_a_cell() -> None:
    handle = "88.118.8/" + "é" * 120  # 240 bytes, 1,080 once percent-encoded: version 27
    with pytest.raises(BadRequest) as err:
        render_sheet([label("88.118.8/A"), label(handle)], [None, "handles[1]"])
    assert err.value.field == "handles[1]" and err.value.handle == handle
    assert decode_one(render_png(label(handle))).text == label(handle).url  # alone it is fine


def _random_texts(lengths: list[int], seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%/"
    return ["".join(rng.choice(alphabet) for _ in range(n)) for n in lengths]


def test_mask_choice_and_matrix_match_qrcode() -> None:
    """The fast encoder produces qrcode's symbol, mask included, at every size."""
    lengths = [1, 5, 10, 20, 30, 45, 60, 80, 100, 130, 160, 200, 250, 320, 400, 520, 700, 1000, 1600]
    texts = _random_texts(lengths, 4) + ["1" * 1400, "A" * 1200]  # numeric, alphanumeric mode
    versions = set()
    for text in texts:
        reference = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
        reference.add_data(text)
        reference.make()
        code = qr.qr_code(text)
        versions.add(code.version)
        assert code.modules == reference.modules, (text, code.version)
    assert min(versions) == 1 and max(versions) == 40 and len(versions) >= 15


def test_penalty_equals_qrcode_lost_point_for_every_mask() -> None:
    for url in _random_texts([3, 40, 150, 400], 5):
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
        code.add_data(url)
        code.best_fit()
        layout = qr._layout(code.version)
        for mask in range(8):
            code.makeImpl(True, mask)
            lines = ["".join("1" if m else "0" for m in row) for row in code.modules]
            rows = qr._pack(lines)
            columns = qr._pack(["".join(c) for c in zip(*lines)])
            assert qr.penalty(rows, columns, layout) == util.lost_point(code.modules), (url, mask)

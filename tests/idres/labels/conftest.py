"""Fixtures and helpers for the label tests: minted handles, decoding codes, reading PDFs."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from idres.auth import OPERATOR
from idres.minting import MintRequest, mint
from tests.conftest import ENT

PATTERN = "ENG-2026-{seq:06}"


@pytest.fixture
def minted(db, config) -> list[str]:
    """30 handles minted under 88.118.8, as registered (upper case)."""
    return mint(db, config, OPERATOR, MintRequest(ENT, PATTERN, 30))["handles"]


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    """Every QR code zxing-cpp finds in an image."""
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def decode_one(data: bytes) -> zxingcpp.Barcode:
    """The single QR code of a PNG."""
    found = decode(Image.open(io.BytesIO(data)))
    assert len(found) == 1, found
    return found[0]


def check_pdf_structure(pdf: bytes) -> int:
    """Cross-reference offsets point at their objects; returns the page count."""
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))
    assert pdf[start:start + 4] == b"xref"
    entries = re.findall(rb"(\d{10}) 00000 n ", pdf[start:])
    for number, offset in enumerate(entries, start=1):
        assert pdf[int(offset):].startswith(b"%d 0 obj" % number), number
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count %d\b" % pages, pdf)
    assert re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf) == [(b"595.28", b"841.89")] * pages
    return pages


def _embedded_pages(pdf: bytes) -> list[Image.Image]:
    """The page images of a PDF whose pages are one 1-bit Flate image each."""
    images = []
    for m in re.finditer(rb"<< /Type /XObject /Subtype /Image /Width (\d+) /Height (\d+) "
                         rb"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode "
                         rb"/Length (\d+) >>\nstream\n", pdf):
        width, height, length = (int(g) for g in m.groups())
        raw = zlib.decompress(pdf[m.end():m.end() + length])
        images.append(Image.frombytes("1", (width, height), raw))
    return images


def pdf_pages(pdf: bytes, tmp_path: Path, embedded: bool = False) -> list[Image.Image]:
    """The pages as images: rendered by poppler's pdftoppm when installed (an
    independent reader), else (or with ``embedded``) the embedded page images."""
    pages = check_pdf_structure(pdf)
    if embedded or shutil.which("pdftoppm") is None:
        images = _embedded_pages(pdf)
    else:
        path = tmp_path / "sheet.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(path), str(tmp_path / "page")],
                       check=True, timeout=60)
        files = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        images = [Image.open(f) for f in files]
    assert len(images) == pages
    return images


def sheet_urls(pdf: bytes, tmp_path: Path, embedded: bool = False) -> list[str]:
    """The URL of every code on a sheet, in label order (pages, rows, columns).

    Each code is placed in its grid cell by its centre; two codes in one cell,
    or a cell skipped before the last label, fail the test.
    """
    found: dict[int, str] = {}
    for page_no, page in enumerate(pdf_pages(pdf, tmp_path, embedded)):
        for code in decode(page):
            p = code.position
            x = (p.top_left.x + p.bottom_right.x) / 2
            y = (p.top_left.y + p.bottom_right.y) / 2
            cell = page_no * 24 + int(y * 8 / page.height) * 3 + int(x * 3 / page.width)
            assert cell not in found, f"two codes in cell {cell}"
            assert code.ec_level == "Q"
            found[cell] = code.text
    assert sorted(found) == list(range(len(found))), sorted(found)
    return [found[i] for i in range(len(found))]

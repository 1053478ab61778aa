"""QR code matrices, level Q, with a fast choice of the mask pattern.

``qrcode`` chooses the mask as ISO/IEC 18004 asks: it builds the symbol under
each of the eight masks and scores each with four penalty rules, module by
module in Python, about 6 ms a code (a 2,000-label sheet took half a
minute).  Here the symbol is built once, with mask 0; the other seven differ
from it only in the data modules where the two masks differ, so they are one
XOR away.  The whole symbol is packed into one big integer (rows joined by a
light guard bit; the transposed symbol likewise) and each rule is a handful
of shifts, ANDs and ``int.bit_count`` calls.

The rules and their tie-breaking are ``qrcode``'s own (``util.lost_point``
on the symbol with format and version information left light; the first
lowest score wins), so the mask and the final matrix are exactly what
``qrcode.QRCode(error_correction=ERROR_CORRECT_Q).make()`` produces; the
tests compare the two over many URLs and versions.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_Q

Matrix = list[list[bool]]
Cells = set[tuple[int, int]]

# 1:1:3:1:1 dark:light:dark:light:dark beside four light modules, both ways round.
_FINDER_LIKE = ("10111010000", "00001011101")


def _pack(lines: list[str]) -> int:
    """Lines of '0'/'1' as one integer, a '0' guard bit between lines."""
    return int("0".join(lines), 2)


def _lines(cells: Cells, n: int, transpose: bool = False) -> list[str]:
    grid = [["0"] * n for _ in range(n)]
    for r, c in cells:
        if transpose:
            r, c = c, r
        grid[r][c] = "1"
    return ["".join(row) for row in grid]


@dataclass(frozen=True)
class _Layout:
    """Packed masks of one version: modules, format/version information, mask flips."""

    n: int
    ones: int                      # every module (guard bits clear), rows packed
    info: tuple[int, int]          # format and version information: rows, columns packed
    flips: tuple[tuple[int, int], ...]  # per mask k: data modules where k differs from mask 0


def _function_and_info(version: int) -> tuple[Cells, Cells]:
    """Function-pattern modules, and format/version information modules, as qrcode places them."""
    n = 4 * version + 17
    used: Cells = set()
    for r0, c0 in ((0, 0), (0, n - 8), (n - 8, 0)):  # finders with separators
        used |= {(r0 + r, c0 + c) for r in range(8) for c in range(8)}
    centres = util.pattern_position(version)
    for r in centres:
        for c in centres:
            if (r, c) not in used:  # none over a finder; over the timing lines, yes
                used |= {(r + dr, c + dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    used |= {(6, i) for i in range(n)} | {(i, 6) for i in range(n)}
    info = {(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)} | {(r, 8) for r in (0, 1, 2, 3, 4, 5, 7)}
    info |= {(8, n - 1 - i) for i in range(8)} | {(n - 1 - i, 8) for i in range(8)}
    if version >= 7:
        info |= {(r, n - 11 + c) for r in range(6) for c in range(3)}
        info |= {(n - 11 + c, r) for r in range(6) for c in range(3)}
    return used, info


@lru_cache(maxsize=None)
def _layout(version: int) -> _Layout:
    n = 4 * version + 17
    used, info = _function_and_info(version)
    data = {(r, c) for r in range(n) for c in range(n)} - used - info
    f0 = util.mask_func(0)
    flips = []
    for k in range(8):
        fk = util.mask_func(k)
        cells = {(r, c) for r, c in data if f0(r, c) != fk(r, c)}
        flips.append((_pack(_lines(cells, n)), _pack(_lines(cells, n, True))))
    return _Layout(n, _pack(["1" * n] * n), (_pack(_lines(info, n)), _pack(_lines(info, n, True))),
                   tuple(flips))


def _runs_and_finders(dark: int, light: int) -> int:
    """Rules 1 and 3 along one direction of a packed symbol.

    Rule 1: a run of ``L >= 5`` same-coloured modules costs ``L - 2``, i.e.
    its ``L - 4`` five-module windows plus 2.  Rule 3: 40 per finder-like
    pattern.  Guard bits are clear in both planes, so nothing crosses lines.
    """
    windows = 0
    for plane in (dark, light):
        windows |= plane & plane >> 1 & plane >> 2 & plane >> 3 & plane >> 4
    runs = (windows & ~(windows >> 1)).bit_count()  # the last window of each run
    score = windows.bit_count() + 2 * runs
    for pattern in _FINDER_LIKE:
        match = -1
        for k, bit in enumerate(pattern):
            match &= (dark if bit == "1" else light) >> k
        score += 40 * match.bit_count()
    return score


def penalty(rows: int, columns: int, layout: _Layout) -> int:
    """``qrcode.util.lost_point`` of a symbol packed by rows and by columns."""
    n, ones, stride = layout.n, layout.ones, layout.n + 1
    light = ~rows & ones
    score = _runs_and_finders(rows, light) + _runs_and_finders(columns, ~columns & ones)
    blocks = 0  # rule 2: 3 per 2x2 block of one colour (overlapping blocks count)
    for plane in (rows, light):
        blocks |= plane & plane >> 1 & plane >> stride & plane >> (stride + 1)
    score += 3 * blocks.bit_count()
    # Rule 4: 10 per 5 % the share of dark modules departs from 50 % (qrcode's arithmetic).
    return score + int(abs(float(rows.bit_count()) / (n * n) * 100 - 50) / 5) * 10


def _best_mask(code: qrcode.QRCode) -> int:
    """The mask ``qrcode`` would choose, for a code built with mask 0."""
    layout = _layout(code.version)
    lines = ["".join("1" if m else "0" for m in row) for row in code.modules]
    rows = _pack(lines) & ~layout.info[0]
    columns = _pack(["".join(col) for col in zip(*lines)]) & ~layout.info[1]
    scores = [penalty(rows ^ fr, columns ^ fc, layout) for fr, fc in layout.flips]
    return scores.index(min(scores))


def qr_code(url: str) -> qrcode.QRCode:
    """A level-Q QR code for ``url``: smallest version, mask chosen as ``qrcode`` does."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0, mask_pattern=0)
    code.add_data(url)
    code.make(fit=True)
    mask = _best_mask(code)
    if mask:
        code.mask_pattern = mask
        code.makeImpl(False, mask)  # reuses the encoded data and error correction codewords
    return code


def qr_matrix(url: str) -> Matrix:
    """The modules of a level-Q QR code for ``url`` (no quiet zone)."""
    return [[bool(m) for m in row] for row in qr_code(url).modules]

"""CBAM default values: a replaceable CSV table, matched by country and CN code.

The file has a header ``country,cn_code,direct,indirect[,source]``; lines
starting with ``#`` are comments.  ``country`` is ISO 3166-1 alpha-2 or
``*`` (any country without a row of its own); ``cn_code`` is a CN code or
heading of 4, 6 or 8 digits, wholly within CBAM; ``direct`` and
``indirect`` are tCO2e per tonne as decimal strings.  Loading replaces the
whole table in one transaction: a bad line stores nothing.

The file shipped in ``idres/data/cbam_default_values.csv`` holds
illustrative placeholders, not the values published by the European
Commission; operators load the official table with
``idres cbam defaults load FILE``.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from marshmallow import ValidationError

from idres.auth import Identity
from idres.errors import BadRequest
from idres.storage import Database, carbon as store, records
from idres.values import utc_timestamp
from schemas.carbon import DefaultValueSchema

SHIPPED_CSV = Path(__file__).resolve().parents[1] / "data" / "cbam_default_values.csv"
COLUMNS = ("country", "cn_code", "direct", "indirect", "source")
MAX_ROWS = 100_000
_ROW = DefaultValueSchema()


@dataclass(frozen=True)
class DefaultValue:
    """Default specific embedded emissions of a good, tCO2e per tonne, before any mark-up."""

    country: str
    cn_code: str
    direct: Decimal
    indirect: Decimal
    source: str

    def json(self) -> dict[str, str]:
        return {"country": self.country, "cn_code": self.cn_code, "direct": str(self.direct),
                "indirect": str(self.indirect), "source": self.source}


def _lines(text: str) -> tuple[list[str], list[int]]:
    """The non-comment, non-blank lines and their 1-based line numbers in the file."""
    kept, numbers = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            kept.append(line)
            numbers.append(n)
    return kept, numbers


def _header(header: list[str], line: int) -> list[str]:
    names = [h.strip() for h in header]
    if names not in (list(COLUMNS), list(COLUMNS[:4])):
        raise BadRequest(f"line {line}: the header must be {','.join(COLUMNS)} (source optional)",
                         field=f"line {line}")
    return names


def _row(names: list[str], cells: list[str], line: int, source: str) -> DefaultValue:
    if len(cells) != len(names):
        raise BadRequest(f"line {line}: {len(cells)} cells, expected {len(names)}", field=f"line {line}")
    data = {name: cell.strip() for name, cell in zip(names, cells)}
    data.setdefault("source", source)
    try:
        row = _ROW.load(data)
    except ValidationError as err:
        name, messages = sorted(err.normalized_messages().items())[0]
        raise BadRequest(f"line {line}: {name}: {messages[0]}", field=f"line {line}.{name}") from None
    return DefaultValue(row["country"], row["cn_code"], Decimal(row["direct"]),
                        Decimal(row["indirect"]), row.get("source") or source)


def parse_csv(text: str, source: str) -> list[DefaultValue]:
    """Every row of a default-value file; a bad line raises BadRequest naming it."""
    lines, numbers = _lines(text)
    if len(lines) < 2:
        raise BadRequest("The file has no header and rows", field="body")
    if len(lines) > MAX_ROWS + 1:
        raise BadRequest(f"At most {MAX_ROWS} rows", field="body")
    parsed = list(csv.reader(io.StringIO("\n".join(lines))))
    names = _header(parsed[0], numbers[0])
    seen: dict[tuple[str, str], int] = {}
    out = []
    for cells, line in zip(parsed[1:], numbers[1:]):
        row = _row(names, cells, line, source)
        if (row.country, row.cn_code) in seen:
            raise BadRequest(f"line {line}: {row.country},{row.cn_code} repeats line "
                             f"{seen[(row.country, row.cn_code)]}", field=f"line {line}.cn_code")
        seen[(row.country, row.cn_code)] = line
        out.append(row)
    return out


def load_defaults(db: Database, who: Identity, text: str, source: str) -> int:
    """Replace the default-value table with the rows of ``text``; returns how many."""
    rows = parse_csv(text, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with db.write() as s:
        store.replace_default_values(
            s, [(r.country, r.cn_code, str(r.direct), str(r.indirect), r.source) for r in rows],
            utc_timestamp())
        records.record_audit(s, who.name, "cbam-defaults", "cbam:default-values",
                             {"rows": len(rows), "sha256": digest, "source": source})
    return len(rows)


def from_rows(rows: Iterable[Any]) -> list[DefaultValue]:
    """Stored rows as :class:`DefaultValue` objects."""
    return [DefaultValue(r["country"], r["cn_code"], Decimal(r["direct"]), Decimal(r["indirect"]),
                         r["source"]) for r in rows]


def list_defaults(db: Database) -> list[DefaultValue]:
    with db.read() as s:
        return from_rows(store.default_values(s))


def match(rows: Iterable[DefaultValue], country: str | None, cn_code: str) -> DefaultValue | None:
    """The row for a good: the country's longest matching CN prefix, else the ``*`` row's."""
    for wanted in ([country] if country else []) + ["*"]:
        fits = [r for r in rows if r.country == wanted and cn_code.startswith(r.cn_code)]
        if fits:
            return max(fits, key=lambda r: len(r.cn_code))
    return None

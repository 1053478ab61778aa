"""What the roll-up needs to know about a handle or batch, read once per roll-up.

A *subject* is a part handle (``88.118.8/BOLT-1``) or a batch in its
maker's namespace (``batch:88.118.8/LOT-1``, as the projector names them).
Its *members* are the parts it stands for: the handle itself, or every
part commissioned in the batch under the batch's prefix.  Its CN code and
net mass come from the members' part types (registered per maker prefix)
and their commissioned net masses.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from idres.carbon.defaults import DefaultValue, from_rows
from idres.carbon.results import CarbonDataError
from idres.errors import BadRequest
from idres.events.projector import batch_key
from idres.handles import fold, parse_handle
from idres.storage import carbon as store
from idres.storage.engine import Session

_BATCH = re.compile(r"^batch:([0-9A-Za-z._-]{1,64})/(.{1,100})$")


@dataclass
class Subject:
    """A handle or batch with its members' facts."""

    key: str
    text: str
    kind: str                               # "handle" | "batch"
    owner: str                              # the handle's prefix, or the batch's maker
    batch: str | None                       # a handle's batch name, or the batch's own name
    members: dict[str, Any] = field(default_factory=dict)  # part_state rows by handle key
    cn_code: str | None = None
    mass_g: int | None = None

    @property
    def batch_subject(self) -> str | None:
        """The batch a handle was commissioned in, as a subject."""
        return batch_key(self.owner, self.batch) if self.kind == "handle" and self.batch else None


def parse_subject(text: str) -> tuple[str, str, str | None]:
    """``(kind, owner, batch-or-None)`` of a subject; 400 naming ``subject`` when malformed."""
    if text.startswith("batch:"):
        match = _BATCH.match(text)
        if not match:
            raise BadRequest("A batch is batch:<maker prefix>/<batch>", field="subject")
        return "batch", match.group(1), match.group(2)
    return "handle", parse_handle(text, field="subject").prefix, None


class Facts:
    """Cached reads of parts, part types, installations and default values."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self._subjects: dict[str, Subject] = {}
        self._rows: dict[str, Any] = {}  # part rows read ahead (None: no such part), by handle key
        self._types: dict[tuple[str, str], Any] = {}
        self._installations: dict[str, Any] = {}
        self._defaults: list[DefaultValue] | None = None

    def subject(self, text: str) -> Subject:
        """A handle's or batch's facts, read once (from a row given to :meth:`read_ahead` if any)."""
        key = fold(text)
        subj = self._subjects.get(key)
        if subj is None:
            rows = None
            if key in self._rows:
                row = self._rows.pop(key)
                rows = [row] if row is not None else []
            subj = self._subjects[key] = self._build(text, rows)
        return subj

    def read_ahead(self, keys: list[str], rows: dict[str, Any]) -> None:
        """Take the part rows (by handle key) of many handles, read in bulk (reports over many parts).

        ``keys`` are folded handles; one without a row is no part.  A handle's subject is
        built from its row when first asked for: reports over many parts of few batches
        build one per lot, not one per part.
        """
        for key in keys:
            if key not in self._subjects:
                self._rows[key] = rows.get(key)

    def _build(self, text: str, rows: list[Any] | None) -> Subject:
        kind, owner, batch = parse_subject(text)
        subj = Subject(fold(text), text, kind, owner, batch)
        rows = self._members(subj) if rows is None else rows
        subj.members = {r["handle_key"]: r for r in rows}
        if kind == "handle" and rows:
            subj.batch = rows[0]["batch"]
        subj.cn_code = self._common_cn(rows)
        masses = [self.mass(r) for r in rows]
        subj.mass_g = sum(masses) if masses and None not in masses else None  # type: ignore[arg-type]
        return subj

    def _members(self, subj: Subject) -> list[Any]:
        if subj.kind == "handle":
            row = store.parts(self.s, [subj.key]).get(subj.key)
            return [row] if row is not None else []
        owner = fold(subj.owner)
        return [r for r in store.batch_members(self.s, fold(subj.batch or ""))
                if r["handle_key"].partition("/")[0] == owner]  # the key is the folded handle

    def part_type(self, row: Any) -> Any:
        """The registered type of a part (under its handle's prefix), or None."""
        if row is None or not row["part_type"]:
            return None
        raw = (row["handle"].partition("/")[0], row["part_type"])
        if raw not in self._types:  # by the spellings first: reports look up 100,000s of parts
            key = (fold(raw[0]), fold(raw[1]))
            if key not in self._types:
                self._types[key] = store.part_type(self.s, *key)
            self._types[raw] = self._types[key]
        return self._types[raw]

    def _common_cn(self, rows: list[Any]) -> str | None:
        codes = {t["cn_code"] if t is not None else None for t in map(self.part_type, rows)}
        return codes.pop() if len(codes) == 1 else None

    def mass(self, row: Any) -> int | None:
        """A part's net mass: as commissioned, else its part type's."""
        if row is None:
            return None
        if row["net_mass_g"] is not None:
            return int(row["net_mass_g"])
        kind = self.part_type(row)
        return int(kind["net_mass_g"]) if kind is not None else None

    def masses(self, keys: list[str]) -> dict[str, int | None]:
        rows = store.parts(self.s, keys)
        return {k: self.mass(rows.get(k)) for k in keys}

    def installation(self, installation_id: str, where: str) -> Any:
        """A registered installation; an unknown one is a 422 naming where it was met."""
        key = fold(installation_id)
        if key not in self._installations:
            self._installations[key] = store.installation(self.s, key)
        row = self._installations[key]
        if row is None:
            raise CarbonDataError(f"installation {installation_id!r} ({where}) is not registered; "
                                  f"add it with PUT /api/carbon/installations/{installation_id}",
                                  field="installation_id")
        return row

    def defaults(self) -> list[DefaultValue]:
        if self._defaults is None:
            self._defaults = from_rows(store.default_values(self.s))
        return self._defaults

    def commissioning(self, subj: Subject) -> list[tuple[int, str | None]]:
        """``(seq, installation id or None)`` of each member's ``commissioned`` event."""
        out = []
        for row in store.subject_entries(self.s, sorted(subj.members)):
            event = json.loads(row["entry"])
            if event.get("event_type") == "commissioned":
                out.append((int(row["seq"]), event.get("installation")))
        return out

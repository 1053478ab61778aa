"""What the CBAM reports share: whose shipments count, which ones, and their goods rolled up.

**Whose shipments.**  An enterprise reports the ``shipped`` events it
recorded (it is their actor, and intake holds ``from_party`` equal to it).
The node admin (``300:0.NA/<node prefix>``) and the local operator (CLI)
may name any ``exporter``, or none for every exporter's shipments.

**Which goods.**  A handle counts once per report however often it was
shipped in the period (a part sent back and shipped again is one good).
Only CBAM goods count (by the CN code of the part's registered type);
others are listed as left out.  Each good is rolled up with the CBAM policy
of the report's year (its default-value mark-up), in one :class:`Rollup`
over the report's read snapshot, with the handles prefetched in bulk.

**Groups.**  Goods are grouped by CN code, country of origin and the
installation that made them (the roll-up's own installation).  A group's
emissions are kept per contributing installation (its own, and each
precursor's, defaults apart): each contribution is mass-weighted over the
group, so its specific embedded emissions are tCO2e per tonne of the group's
goods and the contributions add up to the group's SEE.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

from idres.auth import Identity
from idres.carbon.results import Contribution, SeeResult
from idres.carbon.rollup import Rollup, cbam_policy
from idres.carbon.scope import is_cbam_good
from idres.carbon.subjects import Subject
from idres.errors import BadRequest, HandleError, NotAuthorized
from idres.handles import fold, prefix_record
from idres.storage import shipments as store
from idres.storage.engine import Session

GRAMS_PER_TONNE = Decimal(1_000_000)


class NothingToReport(HandleError):
    """A period without shipments, or without CBAM goods among them."""

    rc, status, default_message = 4, 422, "Nothing to report"


@dataclass(frozen=True)
class Period:
    """A year or a quarter, as UTC ``[start, end)`` in the shipments' time format."""

    year: int
    quarter: int | None = None

    @property
    def start(self) -> str:
        month = 1 if self.quarter is None else 3 * self.quarter - 2
        return f"{self.year}-{month:02d}-01T00:00:00Z"

    @property
    def end(self) -> str:
        if self.quarter is None or self.quarter == 4:
            return f"{self.year + 1}-01-01T00:00:00Z"
        return f"{self.year}-{3 * self.quarter + 1:02d}-01T00:00:00Z"

    @property
    def label(self) -> str:
        return str(self.year) if self.quarter is None else f"{self.year}-Q{self.quarter}"


def exporter_of(who: Identity, node_prefix: str, asked: str | None) -> str | None:
    """Whose shipments count: the caller's prefix; the node admin or operator may name one, or all (None)."""
    admin = who.operator or (who.handle is not None and who.handle.key == prefix_record(node_prefix).key)
    if admin:
        return asked
    if asked is not None and fold(asked) != fold(who.home_prefix):
        raise NotAuthorized(f"{who.name} may only report the shipments of {who.home_prefix}", field="exporter")
    return who.home_prefix


def _whose(exporter: str | None) -> str:
    return f"by {exporter}" if exporter else "by any exporter"


def shipments_to(s: Session, party: str, period: Period, exporter: str | None, field: str) -> list[Any]:
    """Each handle shipped to ``party`` in the period (its last shipment there); 422 when none."""
    rows = store.shipped_between(s, fold(party), period.start, period.end,
                                 fold(exporter) if exporter else None)
    if not rows:
        raise NothingToReport(f"No shipments {_whose(exporter)} to {party} in {period.label}", field=field)
    return list({r["handle_key"]: r for r in rows}.values())


def shipments_of_handles(s: Session, handles: list[str], period: Period, exporter: str | None) -> list[Any]:
    """The last shipment in the period of each listed handle; 422 naming a handle not shipped then."""
    keys = [fold(h) for h in handles]
    seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in seen:
            raise BadRequest(f"handles[{i}] repeats handles[{seen[key]}]", field=f"handles[{i}]")
        seen[key] = i
    found = {r["handle_key"]: r for r in store.shipments_of(s, keys, period.start, period.end)
             if exporter is None or r["actor_key"] == fold(exporter)}
    for i, key in enumerate(keys):
        if key not in found:
            raise NothingToReport(f"{handles[i]} was not shipped {_whose(exporter)} in {period.label}",
                                  field=f"handles[{i}]")
    return [found[k] for k in keys]


@dataclass
class Group:
    """Goods of one CN code, origin country and installation, with their emissions by contributor."""

    cn_code: str
    country: str
    installation_id: str | None
    description: str | None = None
    mass_g: int = 0
    count: int = 0
    handles: list[str] = field(default_factory=list)
    # Goods of one batch share their roll-up's tuples: masses are summed per tuple, multiplied once.
    _masses: dict[int, list[Any]] = field(default_factory=dict)
    _seqs: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def add(self, result: SeeResult, mass_g: int, count: int = 1) -> None:
        """Count ``count`` goods of ``mass_g`` each with the figure ``result`` (handles are the caller's)."""
        self.mass_g += mass_g * count
        self.count += count
        slot = self._masses.setdefault(id(result.installations), [result.installations, 0])
        slot[1] += mass_g * count
        self._seqs[id(result.contributing_seqs)] = result.contributing_seqs

    def contributions(self) -> list[tuple[Contribution, Decimal, Decimal]]:
        """Each contributor with its grams CO2e embedded in the group (direct, indirect), sorted."""
        sums: dict[tuple, list[Any]] = {}
        for parts, mass in self._masses.values():
            for c in parts:
                slot = sums.setdefault(c.key(), [c, Decimal(0), Decimal(0)])
                slot[1] += c.direct * mass
                slot[2] += c.indirect * mass
        return [tuple(sums[k]) for k in sorted(sums)]  # type: ignore[misc]

    def seqs(self) -> set[int]:
        return {q for seqs in self._seqs.values() for q in seqs}


@dataclass
class Goods:
    """The rolled-up CBAM goods of a report, grouped; and what was left out."""

    groups: dict[tuple, Group] = field(default_factory=dict)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    shipment_seqs: set[int] = field(default_factory=set)
    roll: Rollup | None = None
    unasked_mass_g: int = 0  # CBAM goods outside the asked CN codes: they still count toward de minimis

    def seqs(self) -> list[int]:
        """Every contributing ledger entry: the roll-ups' and the shipments'."""
        out = set(self.shipment_seqs)
        for group in self.groups.values():
            out |= group.seqs()
        return sorted(out)

    def mass_g(self) -> int:
        return sum(g.mass_g for g in self.groups.values())


@dataclass
class _Lot:
    """Shipped parts of one maker prefix, batch, part type and net mass, alike in having records of their own.

    When they take their batch's figure (no records of their own, the batch has some) the
    lot is rolled up and grouped once, from its first part; otherwise part by part.
    """

    subject: Subject             # the first part's facts (CN code, net mass, part type: the lot's)
    count: int = 0
    included: bool | None = None  # a CBAM good of a CN code asked for
    shared: bool | None = None   # decided when the lot's first CBAM good is met
    group: Group | None = None


def roll_up(s: Session, year: int, shipped: list[Any], cn_codes: Iterable[str] | None = None,
            fields: list[str] | None = None, keep_handles: bool = True) -> Goods:
    """Roll up each shipped handle's CBAM SEE for ``year`` and group the goods.

    ``fields`` names each shipment's request field for errors (``handles[3]``);
    without it an error names the handle in its message.  A CBAM good that
    cannot be rolled up, has no net mass or no known origin is a 422.  Parts
    that take their batch's figure are rolled up once per lot (:class:`_Lot`);
    per part there are only a few dictionary operations.
    """
    roll = Rollup(s, cbam_policy(year), year)
    lots = _lots(roll, shipped, roll.prefetch([r["handle"] for r in shipped]))
    wanted = set(cn_codes) if cn_codes else None
    goods = Goods(roll=roll)
    for i, (row, lot) in enumerate(zip(shipped, lots)):
        if lot.included is None:
            cn_code = lot.subject.cn_code
            lot.included = is_cbam_good(cn_code) and (wanted is None or cn_code in wanted)
        if not lot.included:
            _leave_out(goods, row["handle"], lot.subject)
            continue
        group = lot.group if lot.group is not None else _group_of(goods, roll, row, lot,
                                                                   fields[i] if fields else "subject")
        if keep_handles:
            group.handles.append(row["handle"])
        goods.shipment_seqs.add(int(row["seq"]))
    return goods


def _lots(roll: Rollup, shipped: list[Any], parts: dict[str, Any]) -> list[_Lot]:
    """Each shipped row's lot, in shipped order (rows of a part the node does not know share one)."""
    lots: dict[Any, _Lot] = {}
    out = []
    for row in shipped:
        part = parts.get(row["handle_key"])
        key = None if part is None else (row["handle_key"].partition("/")[0], part["batch"], part["part_type"],
                                         part["net_mass_g"], part["own_records"])
        lot = lots.get(key)
        if lot is None:
            lot = lots[key] = _Lot(roll.facts.subject(row["handle"]))
        lot.count += 1
        out.append(lot)
    return out


def _group_of(goods: Goods, roll: Rollup, row: Any, lot: _Lot, where: str) -> Group:
    """Count a shipped CBAM good in its group: its lot's when it shares its batch's figure, else on its own."""
    with _naming(row["handle"], where):
        if lot.shared is None:
            lot.shared = roll.batch_of(lot.subject) is not None
        result = roll.shared(row["handle"])  # the batch's result itself when shared: not the part's mass
    subject = lot.subject if lot.shared else roll.facts.subject(row["handle"])
    group = _group(goods, roll, row, subject, result, where)
    group.add(result, subject.mass_g, lot.count if lot.shared else 1)  # type: ignore[arg-type]
    if lot.shared:
        lot.group = group
    return group


def _leave_out(goods: Goods, handle: str, subject: Subject) -> None:
    if is_cbam_good(subject.cn_code):
        goods.unasked_mass_g += subject.mass_g or 0
    goods.left_out.append({"handle": handle, "cn_code": subject.cn_code,
                           "reason": "not a CBAM good" if not is_cbam_good(subject.cn_code)
                           else "CN code not asked for"})


@contextmanager
def _naming(handle: str, where: str) -> Iterator[None]:
    """Errors raised inside name the handle (message) and its request field."""
    try:
        yield
    except HandleError as err:
        err.message = f"{handle}: {err.message}"
        err.args = (err.message,)
        err.field = where
        raise


def _group(goods: Goods, roll: Rollup, row: Any, subject: Subject, result: SeeResult, where: str) -> Group:
    """The group a good of ``subject`` with figure ``result`` belongs in (made when new); 422 when it has none."""
    if subject.mass_g is None:
        raise NothingToReport(f"{row['handle']} has no net mass: commission it with net_mass_g or "
                              f"register its part type", field=where)
    if result.country is None:
        raise NothingToReport(f"{row['handle']}: the country of origin is unknown (no carbon record at, "
                              f"nor commissioning in, a registered installation)", field=where)
    key = (subject.cn_code, result.country, result.installation_id or "")
    group = goods.groups.get(key)
    if group is None:
        kind = roll.facts.part_type(next(iter(subject.members.values()), None))
        group = goods.groups[key] = Group(subject.cn_code or "", result.country, result.installation_id,
                                          kind["description"] if kind is not None else None)
    return group


def tonnes_text(grams: int | Decimal) -> str:
    """Grams as tonnes with 6 decimal places (the XSD's dec16-6; exact for whole grams)."""
    return format((Decimal(grams) / GRAMS_PER_TONNE).quantize(Decimal("0.000001")), "f")

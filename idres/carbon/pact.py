"""The footprints the PACT export offers: one per part type and one per batch.

**Identity.**  A footprint's ``id`` is a UUIDv5 over the node's prefix and the
footprint's subject (``part-type:<owner>/<code>`` or ``batch:<maker>/<batch>``,
ASCII case folded), so a subject keeps its id for as long as the node keeps
its prefix, on every call and after every restart, with nothing stored.

**Figures.**  A batch's figure is its cradle-to-gate footprint
(:func:`idres.carbon.footprint.footprint_of`).  A part type's figure is the
mass-weighted mean of its parts' footprints (per kg): parts that take their
batch's figure are rolled up once per batch, the others (own carbon records,
no batch, or a batch without records) one by one, exactly as the roll-up
would treat each part.  Parts whose roll-up fails (an unregistered
installation, no data at all) are left out of the mean and named as gaps.

**Version.**  ``version`` is the newest ledger entry behind the figure (the
largest contributing sequence number), so it goes up whenever new carbon or
genealogy data change what the figure rests on, and stays put otherwise.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, Iterable

from idres.carbon.footprint import PCF_POLICY, footprint
from idres.carbon.results import ZERO, CarbonDataError
from idres.carbon.rollup import PRECISION, Rollup
from idres.carbon.subjects import parse_subject
from idres.errors import HandleNotFound
from idres.events.projector import batch_key
from idres.handles import fold
from idres.storage import carbon as carbon_store, pact as store
from idres.storage.engine import Session

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:idres:pact-product-footprint")
MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class PactSubject:
    """What a footprint is about: a part type of an owner, or a batch of a maker."""

    kind: str      # "part-type" | "batch" | "part" (a single handle: CLI only)
    owner: str     # the enterprise prefix
    name: str      # the part type's code, or the batch's name

    @property
    def key(self) -> str:
        return f"{self.kind}:{fold(self.owner)}/{fold(self.name)}"

    @property
    def text(self) -> str:
        """As the roll-up names it (batches, parts) or as the CLI names it (part types)."""
        return f"{self.owner}/{self.name}" if self.kind == "part" else f"{self.kind}:{self.owner}/{self.name}"

    def footprint_id(self, node_prefix: str) -> str:
        """The stable PACT id of this subject's footprint on this node."""
        return str(uuid.uuid5(NAMESPACE, f"{fold(node_prefix)}|{self.key}"))


@dataclass(frozen=True)
class Figure:
    """A subject's footprint as the PACT export shows it (kgCO2e per kg, exact)."""

    subject: PactSubject
    per_kg: Decimal
    declared_mass_g: int | None    # one piece (part type) or the whole batch
    primary_share: Decimal         # percent
    default_used: bool
    gaps: tuple[str, ...]
    seqs: tuple[int, ...]
    country: str | None
    installation_id: str | None
    cn_code: str | None
    description: str | None
    parts: int

    @property
    def version(self) -> int:
        return min(max(self.seqs, default=0), MAX_VERSION)


def catalog(s: Session) -> list[PactSubject]:
    """Every subject with a footprint offer, part types first, each group in key order."""
    types = [PactSubject("part-type", r["owner"], r["code"]) for r in store.part_type_keys(s)]
    batches = {}
    for row in store.part_batches(s):
        subj = PactSubject("batch", row["prefix_key"], row["batch"])
        batches.setdefault(subj.key, subj)
    for row in store.carbon_batches(s):
        _, owner, name = parse_subject(row["subject"])
        subj = PactSubject("batch", owner, name or "")
        batches.setdefault(subj.key, subj)
    return types + [batches[k] for k in sorted(batches)]


def find(s: Session, node_prefix: str, footprint_id: str) -> PactSubject:
    """The subject whose footprint has this id; 404 naming ``id`` otherwise."""
    wanted = footprint_id.lower()
    for subj in catalog(s):
        if subj.footprint_id(node_prefix) == wanted:
            return subj
    raise HandleNotFound(f"No footprint {footprint_id} on this node", field="id")


def figure(s: Session, subj: PactSubject, roll: Rollup | None = None) -> Figure:
    """The footprint of one subject; raises :class:`CarbonDataError` when it has none."""
    roll = roll or Rollup(s, PCF_POLICY)
    if subj.kind == "part-type":
        return _part_type_figure(s, roll, subj)
    return _rolled_figure(roll, subj)


def _rolled_figure(roll: Rollup, subj: PactSubject) -> Figure:
    """A batch's or a part's own footprint."""
    fp = footprint(roll.see(subj.text))
    r = fp.rollup
    members = roll.facts.subject(subj.text).members
    return Figure(subj, fp.per_kg, fp.net_mass_g, fp.primary_data_share, r.default_used, r.gaps,
                  r.contributing_seqs, r.country, r.installation_id, r.cn_code, None, len(members))


@dataclass
class _Mean:
    """Mass-weighted sums over the parts of a part type."""

    mass: Decimal = ZERO
    emissions: Decimal = ZERO
    actual: Decimal = ZERO
    parts: int = 0

    def add(self, per_kg: Decimal, share: Decimal, mass_g: int, count: int) -> None:
        self.mass += mass_g
        self.emissions += per_kg * mass_g
        self.actual += per_kg * mass_g * share / 100
        self.parts += count


def _part_type_figure(s: Session, roll: Rollup, subj: PactSubject) -> Figure:
    kind = carbon_store.part_type(s, fold(subj.owner), fold(subj.name))
    if kind is None:
        raise HandleNotFound(f"No part type {subj.name} of {subj.owner}", field="id")
    rows = store.parts_of_type(s, fold(subj.owner), fold(subj.name))
    groups = _groups(s, subj.owner, rows, int(kind["net_mass_g"]))
    roll.prefetch([h for h in groups if not h.startswith("batch:")])
    mean, seqs, gaps, places, default_used = _Mean(), set(), set(), set(), False
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for subject, (mass, count) in groups.items():
            try:
                fp = footprint(roll.see(subject))
            except CarbonDataError:
                gaps.add(subject)
                continue
            mean.add(fp.per_kg, fp.primary_data_share, mass, count)
            seqs |= set(fp.rollup.contributing_seqs)
            gaps |= set(fp.rollup.gaps)
            places.add((fp.rollup.installation_id, fp.rollup.country))
            default_used = default_used or fp.rollup.default_used
        if not mean.mass:
            raise CarbonDataError(f"No part of type {subj.name} of {subj.owner} has a footprint",
                                  field="id")
        per_kg = mean.emissions / mean.mass
        share = Decimal(100) * mean.actual / mean.emissions if mean.emissions else Decimal(100)
    countries = {country for _, country in places}
    return Figure(subj, per_kg, int(kind["net_mass_g"]), share, default_used, tuple(sorted(gaps)),
                  tuple(sorted(seqs)), countries.pop() if len(countries) == 1 else None,
                  next(iter(places))[0] if len(places) == 1 else None,
                  kind["cn_code"], kind["description"], mean.parts)


def _groups(s: Session, owner: str, rows: list[Any], type_mass: int) -> dict[str, tuple[int, int]]:
    """``subject -> (mass in grams, parts)``: a part's batch when it takes the batch's figure."""
    batches = {batch_key(owner, r["batch"]) for r in rows if r["batch"] and not int(r["own"])}
    with_records = store.subjects_with_records(s, sorted(fold(b) for b in batches))
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        mass = int(r["net_mass_g"]) if r["net_mass_g"] is not None else type_mass
        batch = batch_key(owner, r["batch"]) if r["batch"] else None
        subject = batch if batch and not int(r["own"]) and fold(batch) in with_records else r["handle"]
        old = out.get(subject, (0, 0))
        out[subject] = (old[0] + mass, old[1] + 1)
    return out


def figures(s: Session, subjects: Iterable[PactSubject]) -> list[Figure]:
    """The figures of ``subjects`` that have one (one shared roll-up), in order."""
    roll = Rollup(s, PCF_POLICY)
    out = []
    for subj in subjects:
        try:
            out.append(figure(s, subj, roll))
        except (CarbonDataError, HandleNotFound):
            continue  # no footprint can be given: not offered (GET by id says why)
    return out

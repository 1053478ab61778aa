"""Specific embedded emissions (SEE) of a good, rolled up the CBAM way.

    SEE = (AttrEm + sum_i M_i x SEE_i) / AL        (direct and indirect apart)

**Where the terms come from.**  ``carbon.recorded`` events name a handle or
a batch (``batch:<maker>/<batch>``), an installation and, for the production
they cover, ``direct_g`` and ``indirect_g`` (grams CO2e) and
``activity_level_g`` (grams of good produced).  For a subject with records,
AttrEm is the sum of their ``direct_g`` (resp. ``indirect_g``) and AL the sum
of their ``activity_level_g``: records of one subject add up (periods, shifts).
A handle without records of its own takes its batch's (the batch it was
commissioned in), and with them the batch's inputs.  Grams over grams is
tonnes over tonnes, so SEE comes out in tCO2e/t directly.

**Inputs.**  ``transformed`` events give precursors: each input's
``consumed_mass_g`` (scrap and offcuts included; scrap carries no credit) is
M_i.  When an event made outputs outside the subject too, the subject gets the
share of its members' net mass among the outputs (the count share when a
mass is unknown).  ``assembled`` events give components: a child currently
built in (open edge) adds its net mass x its own SEE.  Every input is rolled up
recursively; each installation's part is carried separately, so precursors
from different installations are never averaged into one figure.

**Missing data.**  Without records, a CBAM good takes the default value for
its CN code and country of origin (from its ``commissioned`` installation)
times (1 + the year's mark-up), flagged as a default; a good that is no
CBAM good but has inputs counts only its inputs, per tonne of its net mass.
Anything else cannot be rolled up (422).  Records marked ``method: default``
are used as recorded (no second mark-up) and flagged.

**Checks made here, not at append time**: an installation named by a carbon
record (or by the ``commissioned`` event a default relies on) must be
registered, and one subject's records must all name the same installation
(a good is made at one installation); otherwise 422 naming the installation.

The CBAM policy follows CBAM goods and inputs of unknown CN code (which may be
CBAM precursors) and leaves other goods out; the footprint policy
(:mod:`idres.carbon.footprint`) follows every input.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from typing import Any

from idres.carbon import defaults as default_values
from idres.carbon.results import (ZERO, CarbonDataError, CarbonDataMissing, Contribution, Input,
                                  SeeResult, merge)
from idres.carbon.scope import is_cbam_good, markup
from idres.carbon.subjects import Facts, Subject
from idres.errors import BadRequest, HandleNotFound
from idres.handles import fold
from idres.storage import carbon as store
from idres.storage.engine import Session

PRECISION = 50


@dataclass(frozen=True)
class Policy:
    """What a roll-up counts."""

    name: str             # "cbam" | "pcf"
    every_input: bool     # follow inputs that are no CBAM goods too
    markup: Decimal       # added to default values
    gaps_allowed: bool    # an input without any data counts as zero and is listed


def cbam_policy(year: int) -> Policy:
    """CBAM goods and precursors, defaults marked up for ``year``; 400 before 2026."""
    try:
        return Policy("cbam", False, markup(year), False)
    except ValueError as err:
        raise BadRequest(f"year: {err}", field="year") from None


@dataclass(frozen=True)
class _Link:
    kind: str
    seq: int
    child: str
    mass_g: Decimal


class Rollup:
    """Roll-ups of many subjects over one session, sharing cached reads and results."""

    def __init__(self, s: Session, policy: Policy, year: int | None = None) -> None:
        self.s, self.policy, self.year = s, policy, year
        self.facts = Facts(s)
        self._records: dict[str, list[Any]] = {}
        self._links: dict[str, list[_Link]] = {}
        self._memo: dict[str, SeeResult] = {}
        self._active: set[str] = set()

    def see(self, subject: str) -> SeeResult:
        """The SEE of a handle or batch; 404 when the ledger knows nothing of it."""
        with localcontext() as ctx:
            ctx.prec = PRECISION
            subj = self.facts.subject(subject)
            if not subj.members and not self.records(subj.key) and not self.links(subj):
                raise HandleNotFound(f"The ledger has no parts, carbon records or inputs for {subject}",
                                     field="subject")
            return self.evaluate(subj)

    def prefetch(self, subjects: list[str]) -> dict[str, Any]:
        """Read the parts and carbon records of many handles at once, before :meth:`see` on each.

        Returns the handles' part rows by handle key, each with ``own_records`` (1 or 0).
        Only the records of parts that have some of their own are read (and of batches
        named): handles of one batch then cost no query each, only their batch is rolled up.
        """
        batches = {fold(t) for t in subjects if t.startswith("batch:")}
        handles = sorted({fold(t) for t in subjects if not t.startswith("batch:")})
        rows = store.parts(self.s, handles, own_records=True)
        self.facts.read_ahead(handles, rows)
        with_records = batches
        for key in handles:
            if key in rows and not rows[key]["own_records"]:
                self._records.setdefault(key, [])
            else:
                with_records.add(key)
        keys = sorted(with_records - set(self._records))
        found = store.carbon_records_of(self.s, keys)
        for key in keys:
            self._records[key] = found.get(key, [])
        return rows

    def records(self, key: str) -> list[Any]:
        if key not in self._records:
            self._records[key] = store.carbon_records(self.s, key)
        return self._records[key]

    def evaluate(self, subj: Subject) -> SeeResult:
        """A subject's SEE, computed once per roll-up; a cycle in the genealogy is a 422."""
        if subj.key in self._memo:
            return self._memo[subj.key]
        if subj.key in self._active:
            raise CarbonDataError(f"{subj.text} is among its own inputs", field="subject")
        self._active.add(subj.key)
        try:
            result = self._compute(subj)
        finally:
            self._active.discard(subj.key)
        self._memo[subj.key] = result
        return result

    def shared(self, subject: str) -> SeeResult:
        """Like :meth:`see`, but a handle whose figure is its batch's gets the batch's result itself.

        Its ``subject``, ``net_mass_g`` and ``cn_code`` are then the batch's: the caller takes
        those from the handle's facts.  Reports over many parts of few batches use this to
        skip building a result per part.
        """
        with localcontext() as ctx:
            ctx.prec = PRECISION
            via = self.batch_of(self.facts.subject(subject))
            return self.evaluate(via) if via is not None else self.see(subject)

    def batch_of(self, subj: Subject) -> Subject | None:
        """The batch whose records a handle without records of its own takes, if any."""
        batch = subj.batch_subject
        if not self.records(subj.key) and batch and self.records(fold(batch)):
            return self.facts.subject(batch)
        return None

    def _compute(self, subj: Subject) -> SeeResult:
        batch = self.batch_of(subj)
        if batch is not None:
            via = self.evaluate(batch)
            return replace(via, subject=subj.text, cn_code=subj.cn_code or via.cn_code,
                           cbam_good=is_cbam_good(subj.cn_code or via.cn_code), net_mass_g=subj.mass_g)
        if self.records(subj.key):
            return self._actual(subj, self.records(subj.key))
        found = self._default(subj)
        if found is not None:
            return found
        if self.links(subj) and subj.mass_g:
            return self._inputs_only(subj)
        raise CarbonDataMissing(
            f"No carbon data for {subj.text}: no carbon.recorded events, "
            + (f"no default value for CN {subj.cn_code}" if is_cbam_good(subj.cn_code)
               else "not a CBAM good with a default value") + ", and no inputs with a net mass",
            field="subject")

    # --- the three bases ---------------------------------------------------

    def _actual(self, subj: Subject, records: list[Any]) -> SeeResult:
        place = self._installation_of(subj, records)
        attr_d = sum(int(r["direct_g"]) for r in records)
        attr_i = sum(int(r["indirect_g"]) for r in records)
        level = Decimal(sum(int(r["activity_level_g"]) for r in records))
        flagged = any(r["method"] == "default" for r in records)
        own = Contribution(place["installation_id"], place["country"], flagged,
                           Decimal(attr_d) / level, Decimal(attr_i) / level)
        seqs = [int(r["seq"]) for r in records]
        return self._combine(subj, "actual", own, (attr_d, attr_i, level), seqs,
                             (place["installation_id"], place["country"]))

    def _default(self, subj: Subject) -> SeeResult | None:
        if not is_cbam_good(subj.cn_code):
            return None
        place, seqs = self._origin(subj)
        country = place["country"] if place is not None else None
        row = default_values.match(self.facts.defaults(), country, subj.cn_code or "")
        if row is None:
            return None
        factor = 1 + self.policy.markup
        where = (place["installation_id"] if place is not None else None, country)
        own = Contribution(*where, True, row.direct * factor, row.indirect * factor)
        return self._result(subj, "default", merge([own]), (0, 0, ZERO), seqs, where, [])

    def _inputs_only(self, subj: Subject) -> SeeResult:
        return self._combine(subj, "inputs", None, (0, 0, Decimal(subj.mass_g or 0)), [], (None, None))

    # --- pieces -------------------------------------------------------------

    def _installation_of(self, subj: Subject, records: list[Any]) -> Any:
        """The one registered installation a subject's records name."""
        named = {fold(r["installation_id"]): r for r in records}
        if len(named) > 1:
            ids = ", ".join(sorted(r["installation_id"] for r in named.values()))
            raise CarbonDataError(f"{subj.text} has carbon records from installations {ids}; a good "
                                  f"is made at one installation: record each one's output as its "
                                  f"own batch", field="installation_id")
        record = next(iter(named.values()))
        return self.facts.installation(record["installation_id"],
                                       f"carbon.recorded at ledger entry {record['seq']}")

    def _origin(self, subj: Subject) -> tuple[Any, list[int]]:
        """Where the members were commissioned: one installation (or None) and the entries that say so."""
        found = self.facts.commissioning(subj)
        named = {fold(i): i for _, i in found if i}
        places = [self.facts.installation(i, f"commissioned {subj.text}") for i in named.values()]
        countries = {p["country"] for p in places}
        if len(countries) > 1:
            raise CarbonDataError(f"{subj.text} was commissioned in several countries "
                                  f"({', '.join(sorted(countries))}); roll up its parts one by one",
                                  field="subject")
        place = places[0] if len(places) == 1 else None
        return place, [seq for seq, _ in found]

    def links(self, subj: Subject) -> list[_Link]:
        """The subject's precursors (allocated) and components, in ledger order."""
        if subj.key not in self._links:
            self._links[subj.key] = self._precursors(subj) + self._components(subj)
        return self._links[subj.key]

    def _precursors(self, subj: Subject) -> list[_Link]:
        if not subj.members:
            return []
        events: dict[int, dict[str, Any]] = defaultdict(lambda: {"outputs": set(), "inputs": {}})
        for row in store.transformation_edges(self.s, sorted(subj.members)):
            event = events[int(row["created_seq"])]
            event["outputs"].add(row["parent_key"])
            event["inputs"][row["child_key"]] = (row["child"], int(row["consumed_mass_g"]))
        links = []
        for seq in sorted(events):
            share = self._share(events[seq]["outputs"], subj)
            for child, consumed in events[seq]["inputs"].values():
                links.append(_Link("transformation", seq, child, Decimal(consumed) * share))
        return links

    def _share(self, outputs: set[str], subj: Subject) -> Decimal:
        """The part of an event's inputs that went into the subject's members."""
        inside = outputs & set(subj.members)
        if inside == outputs:
            return Decimal(1)
        masses = self.facts.masses(sorted(outputs))
        if None in masses.values() or not sum(masses.values()):  # type: ignore[arg-type]
            return Decimal(len(inside)) / Decimal(len(outputs))
        return Decimal(sum(masses[k] for k in inside)) / Decimal(sum(masses.values()))  # type: ignore

    def _components(self, subj: Subject) -> list[_Link]:
        if not subj.members:
            return []
        rows = store.assembly_children(self.s, sorted(subj.members))
        masses = self.facts.masses(sorted({r["child_key"] for r in rows}))
        links = []
        for row in rows:
            mass = masses[row["child_key"]]
            if mass is None:
                raise CarbonDataMissing(f"{row['child']} (in {subj.text}) has no net mass: commission "
                                        f"it with net_mass_g or register its part type", field="subject")
            links.append(_Link("assembly", int(row["created_seq"]), row["child"], Decimal(mass)))
        return links

    def _follow(self, link: _Link) -> Input:
        """Roll an input up, unless the policy leaves it out; gaps where the policy allows."""
        child = self.facts.subject(link.child)
        included = self.policy.every_input or child.cn_code is None or is_cbam_good(child.cn_code)
        if not included:
            return Input(link.child, link.kind, link.seq, link.mass_g, False)
        try:
            return Input(link.child, link.kind, link.seq, link.mass_g, True, self.evaluate(child))
        except CarbonDataMissing:
            if not self.policy.gaps_allowed:
                raise
            return Input(link.child, link.kind, link.seq, link.mass_g, True, None, gap=True)

    def _combine(self, subj: Subject, basis: str, own: Contribution | None,
                 totals: tuple[int, int, Decimal], seqs: list[int],
                 where: tuple[str | None, str | None]) -> SeeResult:
        inputs = [self._follow(link) for link in self.links(subj)]
        level = totals[2]
        parts = [own] if own is not None else []
        for item in inputs:
            if item.result is not None:
                parts += [c.scaled(item.mass_g / level) for c in item.result.installations]
        return self._result(subj, basis, merge(parts), totals, seqs, where, inputs)

    def _result(self, subj: Subject, basis: str, parts: tuple[Contribution, ...],
                totals: tuple[int, int, Decimal], seqs: list[int],
                where: tuple[str | None, str | None], inputs: list[Input]) -> SeeResult:
        """Assemble the result; ``parts`` are the merged per-installation contributions."""
        used = set(seqs) | {i.seq for i in inputs if i.included}
        gaps = {i.subject for i in inputs if i.gap}
        for item in inputs:
            if item.result is not None:
                used |= set(item.result.contributing_seqs)
                gaps |= set(item.result.gaps)
        return SeeResult(
            subject=subj.text, unit=subj.text, basis=basis, policy=self.policy.name, year=self.year,
            cn_code=subj.cn_code, cbam_good=is_cbam_good(subj.cn_code), installation_id=where[0],
            country=where[1], net_mass_g=subj.mass_g,
            direct=sum((c.direct for c in parts), ZERO), indirect=sum((c.indirect for c in parts), ZERO),
            markup=self.policy.markup, default_used=any(c.default for c in parts),
            attributed_direct_g=totals[0], attributed_indirect_g=totals[1], activity_level_g=totals[2],
            inputs=tuple(inputs), installations=tuple(parts), contributing_seqs=tuple(sorted(used)),
            gaps=tuple(sorted(gaps)))


def see_of(s: Session, subject: str, year: int) -> SeeResult:
    """The CBAM SEE of one handle or batch for goods imported in ``year`` (sets the mark-up)."""
    return Rollup(s, cbam_policy(year), year).see(subject)

"""How many of everything: the numeric layout of a cluster, from a seed and a size.

Production runs in *waves* (one shift each, at most ``vehicles_per_wave``
vehicles).  A wave's numbers (vehicles, reworked blocks, raw-material lots
opened and the lot masses each transformation draws) are computed here
without building any event, so the plan knows every handle to mint before
the first event is generated.  Waves are added while they fit in
``spec.parts``; the last may be smaller, and the few handles still missing
become a final *service* lot of wire rod with spare bolts made from it, so
the cluster has exactly ``spec.parts`` part handles.

Randomness comes from :class:`random.Random` seeded with strings derived
from the seed (deterministic across runs and platforms); amounts are ints.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, replace
from datetime import datetime

from idres.cluster.catalogue import (BLOCK_BOLTS, BLOCK_DEFECTS, ENGINE_BRACKETS, FIRM_BY_KEY,
                                     GEARBOX_BOLTS, KIND_BY_KEY, KINDS, PARTS_PER_VEHICLE,
                                     REMELT_PERMILLE, REWORK_RATE)

MIN_PARTS = 50
MAX_VEHICLES_PER_WAVE = 50
MAX_EXPORTS_PER_VEHICLE = 200
SERVICE_LEFTOVER_PERMILLE = (50, 200)   # a service lot's mass beyond what its bolts consume


@dataclass(frozen=True)
class ClusterSpec:
    """What to generate: ``parts`` part handles under prefixes ``<node>.<base>..<base+7>``."""

    parts: int
    seed: int = 1
    node_prefix: str = "88.118"
    prefix_base: int = 20
    vehicles_per_wave: int = 20
    start: str = "2026-01-05T06:00:00+08:00"
    exports_per_vehicle: int = 0   # per vehicle, this many M10 bolts and brackets are exported to the EU

    def __post_init__(self) -> None:
        if not isinstance(self.parts, int) or self.parts < MIN_PARTS:
            raise ValueError(f"parts must be an integer >= {MIN_PARTS}")
        if not 1 <= self.vehicles_per_wave <= MAX_VEHICLES_PER_WAVE:
            raise ValueError(f"vehicles_per_wave must be 1..{MAX_VEHICLES_PER_WAVE}")
        if not 0 <= self.exports_per_vehicle <= MAX_EXPORTS_PER_VEHICLE:
            raise ValueError(f"exports_per_vehicle must be 0..{MAX_EXPORTS_PER_VEHICLE}")
        if self.prefix_base < 0:
            raise ValueError("prefix_base must be >= 0")
        if datetime.fromisoformat(self.start).utcoffset() is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-01-05T06:00:00+08:00")

    def prefix(self, firm: str) -> str:
        """The enterprise prefix of a firm (``steel``, ``oem``, ...)."""
        return f"{self.node_prefix}.{self.prefix_base + FIRM_BY_KEY[firm].offset}"

    def tag(self, *parts: object) -> str:
        """A string naming one random stream of this cluster."""
        return "/".join(["idres-cluster", str(self.seed), *map(str, parts)])


def _al_share(kind: str) -> int:
    """Grams of aluminium-lot metal (not foundry returns) one casting consumes."""
    return KIND_BY_KEY[kind].consumed_g * (1000 - REMELT_PERMILLE) // 1000


def nominal_per_vehicle() -> dict[str, int]:
    """Raw material (grams) one vehicle's parts consume, per raw kind."""
    return {
        "wire_rod": BLOCK_BOLTS * KIND_BY_KEY["bolt_m10"].consumed_g
        + GEARBOX_BOLTS * KIND_BY_KEY["bolt_m8"].consumed_g,
        "sheet": ENGINE_BRACKETS * KIND_BY_KEY["bracket"].consumed_g,
        "al_lot": _al_share("block") + _al_share("housing"),
    }


@dataclass
class Stock:
    """The raw-material lots of one kind, used up one after another."""

    kind: str
    lot_mass: int          # nominal lot mass, grams
    seed_tag: str
    opened: int = 0        # lots opened so far (the last one's sequence number)
    remaining: int = 0     # grams left in the open lot

    def draw(self, grams: int, opened: list[tuple[str, int, int]]) -> tuple[tuple[int, int], ...]:
        """Take ``grams`` from the open lot, opening new lots as needed; returns (lot seq, grams)."""
        taken: list[tuple[int, int]] = []
        while grams > 0:
            if self.remaining == 0:
                self.opened += 1
                rng = random.Random(f"{self.seed_tag}/lot/{self.kind}/{self.opened}")
                self.remaining = max(1000, self.lot_mass * rng.randint(700, 1300) // 1000 // 1000 * 1000)
                opened.append((self.kind, self.opened, self.remaining))
            take = min(grams, self.remaining)
            taken.append((self.opened, take))
            self.remaining -= take
            grams -= take
        return tuple(taken)


@dataclass(frozen=True)
class Wave:
    """The numbers of one production wave.

    ``first`` maps each part kind to the sequence number of the wave's first
    handle of that kind; ``reworks`` are (block index, bolt position, defect
    code); ``draws`` map each output kind to the (lot seq, grams) it consumes;
    ``exports`` M10 bolts and as many brackets are made for the EU importer
    (numbered after the wave's other bolts and brackets).
    """

    index: int
    vehicles: int
    batch: int
    reworks: tuple[tuple[int, int, str], ...]
    opened: tuple[tuple[str, int, int], ...]
    draws: dict[str, tuple[tuple[int, int], ...]]
    first: dict[str, int]
    closes_batch: bool = False
    exports: int = 0

    def count(self, kind: str) -> int:
        """Handles of ``kind`` this wave creates (lots: those it opens)."""
        v = self.vehicles
        per = {"bolt_m10": BLOCK_BOLTS * v + len(self.reworks) + self.exports, "bolt_m8": GEARBOX_BOLTS * v,
               "bracket": ENGINE_BRACKETS * v + self.exports}
        if kind in per:
            return per[kind]
        if kind in ("wire_rod", "sheet", "al_lot"):
            return sum(1 for k, _, _ in self.opened if k == kind)
        return v

    @property
    def handles(self) -> int:
        return PARTS_PER_VEHICLE * self.vehicles + len(self.reworks) + len(self.opened) + 2 * self.exports


@dataclass(frozen=True)
class Service:
    """The final service lot (wire rod) and the spare M10 bolts made from it."""

    lot_seq: int
    lot_mass: int
    bolts: int
    first_bolt: int

    @property
    def handles(self) -> int:
        return 1 + self.bolts


@dataclass(frozen=True)
class Layout:
    """Every wave's numbers, the service lot, and the handle count per kind."""

    spec: ClusterSpec
    waves: list[Wave]
    service: Service | None
    totals: dict[str, int]
    batch_waves: int
    lot_waves: int

    @property
    def vehicles(self) -> int:
        return sum(w.vehicles for w in self.waves)

    @property
    def parts(self) -> int:
        return sum(self.totals.values())


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _wave(spec: ClusterSpec, index: int, vehicles: int, batch: int, stocks: dict[str, Stock],
          counters: dict[str, int]) -> Wave:
    """Plan one wave of ``vehicles`` vehicles (mutates ``stocks``, not ``counters``)."""
    rng = random.Random(spec.tag("wave", index))
    reworks = []
    for block in range(vehicles):
        if rng.random() < REWORK_RATE:
            reworks.append((block, rng.randrange(BLOCK_BOLTS), rng.choice(BLOCK_DEFECTS)))
    opened: list[tuple[str, int, int]] = []
    exports = spec.exports_per_vehicle * vehicles
    m10 = BLOCK_BOLTS * vehicles + len(reworks) + exports
    draws = {
        "bolt_m10": stocks["wire_rod"].draw(m10 * KIND_BY_KEY["bolt_m10"].consumed_g, opened),
        "bolt_m8": stocks["wire_rod"].draw(GEARBOX_BOLTS * vehicles * KIND_BY_KEY["bolt_m8"].consumed_g,
                                           opened),
        "bracket": stocks["sheet"].draw((ENGINE_BRACKETS * vehicles + exports)
                                        * KIND_BY_KEY["bracket"].consumed_g, opened),
        "block": stocks["al_lot"].draw(vehicles * _al_share("block"), opened),
        "housing": stocks["al_lot"].draw(vehicles * _al_share("housing"), opened),
    }
    return Wave(index, vehicles, batch, tuple(reworks), tuple(opened), draws, dict(counters),
                exports=exports)


def layout(spec: ClusterSpec) -> Layout:
    """Lay out the waves for exactly ``spec.parts`` handles (a quick pass, no events)."""
    per_wave = spec.vehicles_per_wave
    est_waves = max(1, spec.parts // (PARTS_PER_VEHICLE * per_wave))
    batch_waves = _clamp(est_waves // 10, 1, 10)     # >= ~10 component batches, <= 10 shifts each
    lot_waves = _clamp(est_waves // 5, 1, 100)       # >= ~5 lots per raw kind, <= 100 shifts each
    nominal = nominal_per_vehicle()
    stocks = {k: Stock(k, nominal[k] * per_wave * lot_waves, spec.tag()) for k in nominal}
    counters = {k.key: 1 for k in KINDS}
    waves: list[Wave] = []
    remaining = spec.parts
    while True:
        for vehicles in range(per_wave, 0, -1):
            trial = copy.deepcopy(stocks)
            wave = _wave(spec, len(waves), vehicles, len(waves) // batch_waves + 1, trial, counters)
            if wave.handles <= remaining:
                break
        else:
            break
        stocks = trial
        for kind in counters:
            counters[kind] += wave.count(kind)
        if waves and waves[-1].batch != wave.batch:
            waves[-1] = replace(waves[-1], closes_batch=True)
        waves.append(wave)
        remaining -= wave.handles
    if not waves:
        raise ValueError(f"{spec.parts} parts are too few for one vehicle")
    waves[-1] = replace(waves[-1], closes_batch=True)
    service = None
    if remaining:
        service = _service(spec, remaining - 1, counters)
        counters["wire_rod"] += 1
        counters["bolt_m10"] += service.bolts
    totals = {kind: counters[kind] - 1 for kind in counters}
    return Layout(spec, waves, service, totals, batch_waves, lot_waves)


def _service(spec: ClusterSpec, bolts: int, counters: dict[str, int]) -> Service:
    """A wire-rod lot sized for ``bolts`` spare M10 bolts plus some leftover."""
    rng = random.Random(spec.tag("service"))
    need = bolts * KIND_BY_KEY["bolt_m10"].consumed_g
    mass = max(1000, (need * (1000 + rng.randint(*SERVICE_LEFTOVER_PERMILLE)) // 1000 + 999) // 1000 * 1000)
    return Service(counters["wire_rod"], mass, bolts, counters["bolt_m10"])

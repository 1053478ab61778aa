"""The cluster as data: prefixes, handles to mint and every event, from a seed and a size.

A :class:`ClusterPlan` is pure: it touches no database.  Its events come
wave by wave (a generator), in time order, with deterministic ``event_id``
values (UUIDv5 of the seed, node prefix, prefix base, wave and position) and
deterministic times, so the same spec always yields the same events.  Small
plans can be listed whole (:meth:`ClusterPlan.event_list`) for tests that
compute answers independently.
"""
from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from idres.cluster.catalogue import (BATCH_FACTORS, BLOCK_BOLTS, BOLT_DEFECTS, BOLT_NC_RATE,
                                     BOLT_SAMPLE, DEALERS, DEFAULT_METHOD_RATE, ENGINE_BRACKETS, EU_IMPORTER,
                                     FIRM_BY_KEY, FIRMS, GEARBOX_BOLTS, KIND_BY_KEY, KINDS,
                                     LOT_FACTORS, Firm, mint_values)
from idres.cluster.layout import ClusterSpec, Layout, Wave, layout
from idres.minting import render

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:idres:synthetic-cluster")
WAVE_MINUTES = 480                 # one shift per wave, three a day
LOT_SHIP_TO = {"wire_rod": "fastener", "sheet": "bracket", "al_lot": "casting"}
BATCH_CODES = {"bolt_m10": "B10", "bolt_m8": "B08", "bracket": "BRK", "block": "CB",
               "housing": "GH", "engine": "ENG", "gearbox": "GBX"}
HEAT_CODES = {"wire_rod": "WRH", "sheet": "SHH", "al_lot": "ALC"}
LOTS_PER_HEAT = 3
REWORK_AT, REWORK_STEP = 190, 20   # minutes into the wave; seconds between reworks


@dataclass(frozen=True)
class MintChunk:
    """One mint call: ``count`` handles ``prefix/pattern`` from sequence number ``first``."""

    kind: str
    prefix: str
    pattern: str
    first: int
    count: int
    values: list[dict]

    def name(self, n: int) -> str:
        """The chunk's ``n``-th handle (from 0)."""
        return f"{self.prefix}/{render(self.pattern, self.first + n)}"

    def handles(self) -> list[str]:
        return [self.name(n) for n in range(self.count)]


@dataclass(frozen=True)
class Rework:
    """A bolt taken out of a block (``removed_at``) and replaced by another (``replaced_at``)."""

    block: str
    removed: str
    replacement: str
    defect: str
    removed_at: str
    replaced_at: str


class ClusterPlan:
    """Everything a cluster consists of, computed from a :class:`ClusterSpec`."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.layout: Layout = layout(spec)
        self.start = datetime.fromisoformat(spec.start)
        self.prefixes: dict[str, str] = {f.key: spec.prefix(f.key) for f in FIRMS}

    @property
    def firms(self) -> list[tuple[Firm, str]]:
        """Each firm with its prefix."""
        return [(f, self.prefixes[f.key]) for f in FIRMS]

    def handle(self, kind: str, seq: int) -> str:
        """The handle of the ``seq``-th part of a kind (as minting names it)."""
        k = KIND_BY_KEY[kind]
        return f"{self.prefixes[k.firm]}/{render(k.pattern, seq)}"

    def mint_chunks(self, size: int = 100_000) -> Iterator[MintChunk]:
        """The mint calls that register every handle, at most ``size`` each, in kind order."""
        for kind in KINDS:
            total = self.layout.totals[kind.key]
            for first in range(1, total + 1, size):
                yield MintChunk(kind.key, self.prefixes[kind.firm], kind.pattern, first,
                                min(size, total - first + 1), mint_values(kind))

    def handles(self) -> Iterator[str]:
        """Every part handle of the cluster."""
        for chunk in self.mint_chunks():
            yield from chunk.handles()

    def waves(self) -> Iterator[list[dict[str, Any]]]:
        """The events of each wave (then of the service lot), each list in time order."""
        for wave in self.layout.waves:
            yield _WaveEvents(self, wave.index).production(wave)
        if self.layout.service is not None:
            yield _WaveEvents(self, len(self.layout.waves)).service()

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event, in the order they are recorded (time order)."""
        for batch in self.waves():
            yield from batch

    def event_list(self) -> list[dict[str, Any]]:
        """All events as one list (meant for small clusters)."""
        return list(self.events())

    def reworks(self) -> Iterator[Rework]:
        """Every rework, in time order."""
        for wave in self.layout.waves:
            ev = _WaveEvents(self, wave.index)
            m10 = ev.ids(wave, "bolt_m10")
            blocks = ev.ids(wave, "block")
            for j, (block, position, defect) in enumerate(wave.reworks):
                yield Rework(blocks[block], m10[BLOCK_BOLTS * block + position],
                             m10[BLOCK_BOLTS * wave.vehicles + j], defect,
                             ev.at(REWORK_AT, REWORK_STEP * j), ev.at(REWORK_AT, REWORK_STEP * j + 5))

    def summary(self) -> dict[str, Any]:
        """Counts describing the plan (no events are generated)."""
        lay = self.layout
        return {"parts": lay.parts, "vehicles": lay.vehicles, "waves": len(lay.waves),
                "vehicles_per_wave": self.spec.vehicles_per_wave, "batch_waves": lay.batch_waves,
                "lot_waves": lay.lot_waves, "reworks": sum(len(w.reworks) for w in lay.waves),
                "service_bolts": lay.service.bolts if lay.service else 0,
                "handles": dict(lay.totals), "prefixes": dict(self.prefixes),
                "starts": self.start.isoformat(),
                "ends_before": self.wave_start(len(lay.waves) + (1 if lay.service else 0)).isoformat(),
                **({"exported": 2 * sum(w.exports for w in lay.waves), "eu_importer": EU_IMPORTER}
                   if self.spec.exports_per_vehicle else {})}

    def wave_start(self, index: int) -> datetime:
        """When wave ``index`` begins (the service lot's slot is the one after the last wave)."""
        return self.start + timedelta(minutes=WAVE_MINUTES * index)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _WaveEvents:
    """Builds one wave's events; each is placed at an offset from the wave's start."""

    def __init__(self, plan: ClusterPlan, index: int) -> None:
        self.plan, self.spec, self.index = plan, plan.spec, index
        self.t0 = plan.wave_start(index)
        self.rng = random.Random(plan.spec.tag("events", index))
        self.items: list[tuple[int, dict[str, Any]]] = []

    # -- helpers ---------------------------------------------------------------------
    def at(self, minutes: int, seconds: int = 0) -> str:
        return (self.t0 + timedelta(minutes=minutes, seconds=seconds)).isoformat()

    def ids(self, wave: Wave, kind: str) -> list[str]:
        first = wave.first[kind]
        return [self.plan.handle(kind, n) for n in range(first, first + wave.count(kind))]

    def add(self, minutes: int, seconds: int, event_type: str, firm: str, **fields: Any) -> None:
        event = {"event_type": event_type, "event_time": self.at(minutes, seconds),
                 "actor": self.plan.prefixes[firm], **fields}
        self.items.append((minutes * 60 + seconds, event))

    def finish(self) -> list[dict[str, Any]]:
        """Events in time order (ties keep their order of creation), with their ids."""
        self.items.sort(key=lambda item: item[0])
        out = []
        for k, (_, event) in enumerate(self.items):
            name = self.spec.tag(self.spec.node_prefix, self.spec.prefix_base, "event", self.index, k)
            out.append({"event_id": str(uuid.uuid5(NAMESPACE, name)), **event})
        return out

    def commission(self, minutes: int, kind: str, handles: list[str], batch: str | None,
                   mass: int | None = None) -> None:
        k = KIND_BY_KEY[kind]
        firm = FIRM_BY_KEY[k.firm]
        extra = {"batch": batch} if batch else {}
        for h in handles:
            self.add(minutes, 0, "commissioned", k.firm, handle=h, part_type=k.part_type, **extra,
                     installation=firm.installation, net_mass_g=k.net_mass_g if mass is None else mass)

    def ship(self, minutes: int, sender: str, receiver: str, handles: list[str], seconds: int = 0,
             transit: int = 30) -> None:
        """``sender`` ships; a firm of the cluster records receipt ``transit`` minutes later."""
        src = self.plan.prefixes[sender]
        dst = self.plan.prefixes.get(receiver, receiver)
        self.add(minutes, seconds, "shipped", sender, handles=handles, from_party=src, to_party=dst)
        if receiver in self.plan.prefixes:
            self.add(minutes + transit, seconds, "received", receiver, handles=handles,
                     from_party=src, to_party=dst)

    def carbon(self, minutes: int, firm: str, subject: dict[str, str], mass: int,
               factors: tuple[int, int], method: str) -> None:
        period = self.at(minutes)[:7]
        name = subject.get("handle") or subject["batch"]
        self.add(minutes, 0, "carbon.recorded", firm, **subject,
                 installation_id=FIRM_BY_KEY[firm].installation, period=period,
                 direct_g=mass * factors[0] // 1000, indirect_g=mass * factors[1] // 1000,
                 activity_level_g=mass, method=method,
                 evidence_sha256=_sha(self.spec.tag("evidence", firm, name, period)))

    def inspect(self, minutes: int, firm: str, results: list[tuple[str, str | None]]) -> None:
        """One event for the conformant handles, one per defect code for the others."""
        good = [h for h, defect in results if defect is None]
        if good:
            self.add(minutes, 0, "inspected", firm, handles=good, result="conformant")
        for n, code in enumerate(sorted({d for _, d in results if d is not None}), start=1):
            self.add(minutes, n, "inspected", firm, handles=[h for h, d in results if d == code],
                     result="non_conformant", defect_code=code)

    def batch_name(self, kind: str, batch: int | str) -> str:
        number = f"{batch:05d}" if isinstance(batch, int) else batch
        return f"{BATCH_CODES[kind]}-{number}"

    # -- stages ----------------------------------------------------------------------
    def raw_lots(self, opened: list[tuple[str, int, int]], ship: bool = True) -> None:
        """Minute 0: lots commissioned with their carbon data; 10: shipped; 40: received."""
        for kind, seq, mass in opened:
            handle = self.plan.handle(kind, seq)
            firm = KIND_BY_KEY[kind].firm
            heat = f"{HEAT_CODES[kind]}-{(seq - 1) // LOTS_PER_HEAT + 1:05d}"
            self.commission(0, kind, [handle], heat, mass)
            method = "default" if self.rng.random() < DEFAULT_METHOD_RATE else "actual"
            self.carbon(1, firm, {"handle": handle}, mass, LOT_FACTORS[kind], method)
        for kind, receiver in LOT_SHIP_TO.items():
            lots = [self.plan.handle(k, seq) for k, seq, _ in opened if k == kind]
            if lots and ship:
                self.ship(10, KIND_BY_KEY[kind].firm, receiver, lots)

    def transform(self, minutes: int, seconds: int, kind: str, outputs: list[str],
                  draws: tuple[tuple[int, int], ...], raw: str, remelt: int = 0) -> None:
        inputs: list[dict[str, Any]] = [{"handle": self.plan.handle(raw, seq), "consumed_mass_g": grams}
                                        for seq, grams in draws]
        if remelt:
            inputs.append({"batch": f"REMELT-{self.at(minutes)[:7]}", "consumed_mass_g": remelt})
        self.add(minutes, seconds, "transformed", KIND_BY_KEY[kind].firm, inputs=inputs, outputs=outputs)

    def production(self, wave: Wave) -> list[dict[str, Any]]:
        """The events of one production wave, see :mod:`idres.cluster` for the story."""
        h = {kind: self.ids(wave, kind) for kind in (*BATCH_CODES, "vehicle")}
        self.raw_lots(list(wave.opened))
        self.components(wave, h)
        self.subassemblies(wave, h)
        self.vehicles(wave, h)
        return self.finish()

    def components(self, wave: Wave, h: dict[str, list[str]]) -> None:
        """Minute 60-90: components made from the lots (batch to serial), inspected; 100: shipped."""
        v = wave.vehicles
        for n, (kind, raw) in enumerate((("bolt_m10", "wire_rod"), ("bolt_m8", "wire_rod"),
                                         ("bracket", "sheet"), ("block", "al_lot"),
                                         ("housing", "al_lot"))):
            self.commission(60, kind, h[kind], self.batch_name(kind, wave.batch))
            # Castings: foundry returns make up what the aluminium lots did not give.
            total = len(h[kind]) * KIND_BY_KEY[kind].consumed_g
            remelt = total - sum(g for _, g in wave.draws[kind]) if raw == "al_lot" else 0
            self.transform(70, 10 * n, kind, h[kind], wave.draws[kind], raw, remelt)
        sample = sorted(self.rng.sample(range(BLOCK_BOLTS * v), min(BOLT_SAMPLE, BLOCK_BOLTS * v)))
        self.inspect(80, "fastener", [(h["bolt_m10"][i], self.rng.choice(BOLT_DEFECTS)
                                       if self.rng.random() < BOLT_NC_RATE else None) for i in sample])
        self.inspect(80, "bracket", [(b, None) for b in h["bracket"][:2]])
        if wave.closes_batch:
            self.batch_carbon(wave)
        # Minute 100: components shipped to the assemblers (received at 130), exports to the EU.
        x = wave.exports
        self.ship(100, "fastener", "casting", h["bolt_m10"][:len(h["bolt_m10"]) - x])
        self.ship(100, "fastener", "gearbox", h["bolt_m8"], seconds=10)
        self.ship(100, "bracket", "engine", h["bracket"][:len(h["bracket"]) - x], seconds=20)
        self.ship(100, "casting", "gearbox", h["housing"], seconds=30)
        if x:
            self.ship(100, "fastener", EU_IMPORTER, h["bolt_m10"][-x:], seconds=40)
            self.ship(100, "bracket", EU_IMPORTER, h["bracket"][-x:], seconds=50)

    def subassemblies(self, wave: Wave, h: dict[str, list[str]]) -> None:
        """Minute 145-240: cylinder blocks and gearboxes, block inspection, rework, shipping."""
        v = wave.vehicles
        self.commission(145, "gearbox", h["gearbox"], self.batch_name("gearbox", wave.batch))
        for i in range(v):
            self.add(150, 5 * i, "assembled", "casting", parent=h["block"][i],
                     children=h["bolt_m10"][BLOCK_BOLTS * i:BLOCK_BOLTS * (i + 1)])
            self.add(150, 5 * i + 2, "assembled", "gearbox", parent=h["gearbox"][i],
                     children=[h["housing"][i], *h["bolt_m8"][GEARBOX_BOLTS * i:GEARBOX_BOLTS * (i + 1)]])
        defects = {block: code for block, _, code in wave.reworks}
        self.inspect(180, "casting", [(b, defects.get(i)) for i, b in enumerate(h["block"])])
        self.inspect(180, "gearbox", [(g, None) for g in h["gearbox"]])
        for j, (block, position, _) in enumerate(wave.reworks):
            parent = h["block"][block]
            self.add(REWORK_AT, REWORK_STEP * j, "disassembled", "casting", parent=parent,
                     children=[h["bolt_m10"][BLOCK_BOLTS * block + position]])
            self.add(REWORK_AT, REWORK_STEP * j + 5, "assembled", "casting", parent=parent,
                     children=[h["bolt_m10"][BLOCK_BOLTS * v + j]])
            self.add(REWORK_AT, REWORK_STEP * j + 10, "inspected", "casting", handles=[parent],
                     result="conformant")
        self.ship(210, "casting", "engine", h["block"])
        self.ship(210, "gearbox", "oem", h["gearbox"], seconds=10)

    def vehicles(self, wave: Wave, h: dict[str, list[str]]) -> None:
        """Minute 255-320: engines (block + brackets), hot-tested, shipped to the OEM;
        335-420: vehicles (engine + gearbox), end-of-line check, shipped to dealers."""
        v = wave.vehicles
        self.commission(255, "engine", h["engine"], self.batch_name("engine", wave.batch))
        for i in range(v):
            self.add(260, 5 * i, "assembled", "engine", parent=h["engine"][i],
                     children=[h["block"][i], *h["bracket"][ENGINE_BRACKETS * i:ENGINE_BRACKETS * (i + 1)]])
        self.inspect(280, "engine", [(e, None) for e in h["engine"]])
        self.ship(290, "engine", "oem", h["engine"])
        self.commission(335, "vehicle", h["vehicle"], None)
        for i in range(v):
            self.add(340, 5 * i, "assembled", "oem", parent=h["vehicle"][i],
                     children=[h["engine"][i], h["gearbox"][i]])
        self.inspect(400, "oem", [(x, None) for x in h["vehicle"]])
        by_dealer: dict[str, list[str]] = {}
        for vin in h["vehicle"]:
            by_dealer.setdefault(self.rng.choice(DEALERS), []).append(vin)
        for n, dealer in enumerate(sorted(by_dealer)):
            self.ship(420, "oem", dealer, by_dealer[dealer], seconds=10 * n)

    def batch_carbon(self, wave: Wave) -> None:
        """Minute 90 of a batch's last wave: the batch's process emissions (batch subject)."""
        lay = self.plan.layout
        recent = lay.waves[max(0, wave.index - lay.batch_waves):wave.index + 1]
        waves = [w for w in recent if w.batch == wave.batch]
        for kind, factors in BATCH_FACTORS.items():
            mass = sum(w.count(kind) for w in waves) * KIND_BY_KEY[kind].net_mass_g
            self.carbon(90, KIND_BY_KEY[kind].firm, {"batch": self.batch_name(kind, wave.batch)},
                        mass, factors, "actual")

    def service(self) -> list[dict[str, Any]]:
        """The last slot: a wire-rod lot and spare M10 bolts kept as service stock."""
        svc = self.plan.layout.service
        assert svc is not None
        self.raw_lots([("wire_rod", svc.lot_seq, svc.lot_mass)], ship=svc.bolts > 0)
        if svc.bolts:
            bolts = [self.plan.handle("bolt_m10", svc.first_bolt + n) for n in range(svc.bolts)]
            self.commission(60, "bolt_m10", bolts, self.batch_name("bolt_m10", "SVC"))
            consumed = svc.bolts * KIND_BY_KEY["bolt_m10"].consumed_g
            self.transform(70, 0, "bolt_m10", bolts, ((svc.lot_seq, consumed),), "wire_rod")
            self.inspect(80, "fastener", [(b, None) for b in bolts[:BOLT_SAMPLE]])
        return self.finish()

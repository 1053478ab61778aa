"""A hand-built genealogy shared by the trace and recall tests.

88.118.8 (ENT) makes bolts, cylinder blocks and engines; 88.118.9 (OTHER)
builds vehicles.  Steel lot STEEL-7 becomes BOLT-001..004, STEEL-8 becomes
BOLT-005; bolts 001-002 are commissioned in lot BOLT-LOT-1, 003-005 a day
later in BOLT-LOT-2.

    VIN-1 > ENG-1 > BLOCK-1 > BOLT-001, BOLT-002 (removed 10-10), BOLT-003 (from 10-12)
    VIN-2 > ENG-2 (10-05 .. 10-11), then VIN-3 > ENG-2 (from 10-13)
    ENG-2 > BLOCK-2 > BOLT-004;  BOLT-005 loose
    VIN-1 shipped to DEALER-1 (10-20); VIN-3 shipped to and received by ENT (10-21, 10-22)
    BOLT-003 inspected non_conformant
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.conftest import ENT, OTHER, OTHER_AUTH
from tests.idres.events import accepted, commissioned, event, mint_parts

STEEL7, STEEL8 = f"batch:{ENT}/STEEL-7", f"batch:{ENT}/STEEL-8"
LOT1, LOT2 = f"batch:{ENT}/BOLT-LOT-1", f"batch:{ENT}/BOLT-LOT-2"


def day(d: int, hour: int = 8) -> str:
    return f"2026-10-{d:02d}T{hour:02d}:00:00Z"


def utc(d: int, hour: int = 8) -> str:
    """The stored form of :func:`day`."""
    return f"2026-10-{d:02d}T{hour:02d}:00:00.000000Z"


@dataclass
class Plant:
    """The handles by short name (``BOLT-001``, ``VIN-1``) and event seqs by label."""

    h: dict[str, str] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)


def _post(client, plant: Plant, labelled: list[tuple[str, dict]], auth=None) -> None:
    body = {"events": [e for _, e in labelled]}
    entries = (accepted(client, body, auth) if auth else accepted(client, body))["entries"]
    plant.seq.update({label: entry["seq"] for (label, _), entry in zip(labelled, entries)})


def _mint(db, config, plant: Plant) -> None:
    for prefix, pattern, count in ((ENT, "BOLT-{seq:03}", 5), (ENT, "BLOCK-{seq}", 2), (ENT, "ENG-{seq}", 2),
                                   (OTHER, "VIN-{seq}", 3)):
        for handle in mint_parts(db, config, prefix, count, pattern):
            plant.h[handle.split("/", 1)[1]] = handle


def _factory(h: dict[str, str]) -> list[tuple[str, dict]]:
    bolts = [h[f"BOLT-00{i}"] for i in range(1, 6)]
    return [
        *[(f"c:{b}", commissioned(b, when=day(1 if i < 2 else 2), part_type="BOLT-M10",
                                  batch="BOLT-LOT-1" if i < 2 else "BOLT-LOT-2")) for i, b in enumerate(bolts)],
        *[(f"c:{x}", commissioned(h[x], when=day(1), part_type=t, batch="B-" + x))
          for x, t in (("BLOCK-1", "CYL-BLOCK"), ("BLOCK-2", "CYL-BLOCK"), ("ENG-1", "ENGINE"), ("ENG-2", "ENGINE"))],
        ("steel7", event("transformed", day(2, 12), inputs=[{"batch": "STEEL-7", "consumed_mass_g": 260}],
                         outputs=bolts[:4])),
        ("steel8", event("transformed", day(2, 12), inputs=[{"batch": "STEEL-8", "consumed_mass_g": 65}],
                         outputs=bolts[4:])),
        ("block1", event("assembled", day(3), parent=h["BLOCK-1"], children=bolts[:2])),
        ("block2", event("assembled", day(3), parent=h["BLOCK-2"], children=[bolts[3]])),
        ("eng1", event("assembled", day(4), parent=h["ENG-1"], children=[h["BLOCK-1"]])),
        ("eng2", event("assembled", day(4), parent=h["ENG-2"], children=[h["BLOCK-2"]])),
    ]


def _vehicles(h: dict[str, str]) -> list[tuple[str, dict]]:
    return [
        *[(f"c:VIN-{i}", commissioned(h[f"VIN-{i}"], OTHER, day(5, 6), part_type="VEHICLE", batch="LINE-A"))
          for i in (1, 2, 3)],
        ("vin1", event("assembled", day(5, 10), OTHER, parent=h["VIN-1"], children=[h["ENG-1"]])),
        ("vin2", event("assembled", day(5, 10), OTHER, parent=h["VIN-2"], children=[h["ENG-2"]])),
    ]


def build(client, db, config) -> Plant:
    """Mint, commission and assemble the plant through POST /api/events."""
    plant = Plant()
    _mint(db, config, plant)
    h = plant.h
    _post(client, plant, _factory(h))
    _post(client, plant, _vehicles(h), OTHER_AUTH)
    _post(client, plant, [
        ("rework-out", event("disassembled", day(10), parent=h["BLOCK-1"], children=[h["BOLT-002"]])),
        ("rework-in", event("assembled", day(12), parent=h["BLOCK-1"], children=[h["BOLT-003"]]))])
    _post(client, plant, [
        ("vin2-out", event("disassembled", day(11), OTHER, parent=h["VIN-2"], children=[h["ENG-2"]])),
        ("vin3", event("assembled", day(13), OTHER, parent=h["VIN-3"], children=[h["ENG-2"]])),
        ("ship1", event("shipped", day(20), OTHER, handles=[h["VIN-1"]], from_party=OTHER, to_party="DEALER-1")),
        ("ship3", event("shipped", day(21), OTHER, handles=[h["VIN-3"]], from_party=OTHER, to_party=ENT))],
        OTHER_AUTH)
    _post(client, plant, [
        ("recv3", event("received", day(22), handles=[h["VIN-3"]], from_party=OTHER, to_party=ENT)),
        ("inspect3", event("inspected", day(23), handles=[h["BOLT-003"]], result="non_conformant",
                           defect_code="THREAD-7"))])
    return plant

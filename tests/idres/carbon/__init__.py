"""A hand-computed carbon plant shared by the carbon tests.

88.118.9 (OTHER) runs two wire-rod mills, CN-MILL-A (China) and IN-MILL-B
(India), and ships coils; 88.118.8 (ENT) makes bolts at CN-BOLT-01 and
cylinder blocks at CN-ENG-01, with aluminium from CN-ALU-01.  Everything is
posted through the public API.  Masses are grams, so 1,000 t = 10^9 g.

    worked  ROD-LOT-1 (SEE 2.10 / 0.42) --1,080 t--> BOLT-LOT-1 (A1..A3), own 150 t / 30 t for 1,000 t
    apart   COIL-001 (A: 2.1/0.4) 1,100 kg + COIL-002 (B: 2.5/0.6) 1,060 kg --> BOLT-LOT-2 (B1, B2),
            own 300 kg / 60 kg for 2,000 kg
    default COIL-003 (no data, CN-MILL-A) 1,080 kg --> BOLT-LOT-3 (D1), own 150 kg for 1,000 kg;
            E1 in BOLT-LOT-4: no data at all; COIL-004 (no data, IN-MILL-B: '*' row)
    multi   ALU-LOT-1 (1.6/6.4) 55 kg --> BLOCK K1 (40 kg, own 20 kg / 10 kg),
            K1 assembles A1, A2 (52 g each) and spring S1 (30 g, CN 7320: no CBAM good, no data)
    share   ROD-LOT-2 (2.0) 3 kg --> G1 (52 g, BOLT-LOT-6) and G2 (104 g, BOLT-LOT-7)
    bad     ROD-LOT-X recorded at unregistered NOPE-9 (appended past intake, as before it checked
            installations) --> X1 (BOLT-LOT-5);
            MIX-LOT recorded at CN-MILL-A and at IN-MILL-B
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from idres.events.projector import apply_events
from idres.ledger_key import load_signer
from ledger.log import Log
from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, OTHER, OTHER_AUTH
from tests.idres.events import SHA, T0, accepted, event, mint_parts

INSTALLATIONS = {
    "CN-BOLT-01": (ENT_AUTH, {"name": "Ningbo bolt works", "country": "CN", "city": "Ningbo",
                              "unlocode": "CNNGB", "latitude": "29.8683", "longitude": "121.544",
                              "operator": "Ningbo Fasteners Co."}),
    "CN-ENG-01": (ENT_AUTH, {"name": "Shanghai engine plant", "country": "CN", "city": "Shanghai"}),
    "CN-ALU-01": (ENT_AUTH, {"name": "Baotou smelter", "country": "CN", "city": "Baotou"}),
    "CN-MILL-A": (OTHER_AUTH, {"name": "Tangshan rod mill", "country": "CN", "city": "Tangshan"}),
    "IN-MILL-B": (OTHER_AUTH, {"name": "Mumbai rod mill", "country": "IN", "city": "Mumbai",
                               "unlocode": "INBOM"}),
}
PART_TYPES = {
    (ENT, "BOLT-M10"): (ENT_AUTH, {"cn_code": "73181590", "net_mass_g": 52, "description": "hex bolt"}),
    (ENT, "BLOCK-1.5T"): (ENT_AUTH, {"cn_code": "84099100", "net_mass_g": 40_000}),
    (ENT, "SPRING-V"): (ENT_AUTH, {"cn_code": "73202081", "net_mass_g": 30}),
    (OTHER, "ROD-5.5"): (OTHER_AUTH, {"cn_code": "72139110", "net_mass_g": 2_000_000}),
}
DEFAULTS_CSV = ("# test table\ncountry,cn_code,direct,indirect,source\n"
                "CN,7213,2.00,0.50,test\n*,7213,3.00,0.90,test\nCN,7318,1.80,0.30,test\n")
TON = 1_000_000


@dataclass
class Plant:
    """Handles by short name (``A1``, ``COIL-001``) and event seqs by label."""

    h: dict[str, str] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)


def batch(name: str, actor: str = ENT) -> str:
    return f"batch:{actor}/{name}"


def part(handle: str, part_type: str, installation: str, mass: int, actor: str = ENT,
         lot: str | None = None) -> dict[str, Any]:
    extra = {"batch": lot} if lot else {}
    return event("commissioned", T0, actor, handle=handle, part_type=part_type,
                 installation=installation, net_mass_g=mass, **extra)


def carbon(installation: str, direct: int, indirect: int, level: int, actor: str = ENT,
           **subject: str) -> dict[str, Any]:
    return event("carbon.recorded", T0, actor, installation_id=installation, period="2026-Q1",
                 direct_g=direct, indirect_g=indirect, activity_level_g=level, method="actual",
                 evidence_sha256=SHA, **subject)


def transformed(inputs: list[tuple[str, str, int]], outputs: list[str]) -> dict[str, Any]:
    """``inputs``: (``handle`` or ``batch``, name, consumed grams incl. scrap)."""
    return event("transformed", T0, ENT, inputs=[{kind: name, "consumed_mass_g": g}
                                                 for kind, name, g in inputs], outputs=outputs)


def reference_data(client) -> None:
    for iid, (auth, body) in INSTALLATIONS.items():
        r = client.put(f"/api/carbon/installations/{iid}", json=body, headers=auth)
        assert r.status_code == 201, r.json
    for (owner, code), (auth, body) in PART_TYPES.items():
        r = client.put(f"/api/carbon/part-types/{owner}/{code}", json=body, headers=auth)
        assert r.status_code == 201, r.json
    r = client.put("/api/carbon/defaults", data=DEFAULTS_CSV, content_type="text/csv", headers=ADMIN_AUTH)
    assert r.status_code == 200, r.json


def _mill_events(h: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {"c-COIL-001": part(h["COIL-001"], "ROD-5.5", "CN-MILL-A", 2 * TON, OTHER),
            "c-COIL-002": part(h["COIL-002"], "ROD-5.5", "IN-MILL-B", 2 * TON, OTHER),
            "c-COIL-003": part(h["COIL-003"], "ROD-5.5", "CN-MILL-A", 2 * TON, OTHER),
            "c-COIL-004": part(h["COIL-004"], "ROD-5.5", "IN-MILL-B", 2 * TON, OTHER),
            "co2-COIL-001": carbon("CN-MILL-A", 4_200_000, 800_000, 2 * TON, OTHER, handle=h["COIL-001"]),
            "co2-COIL-002": carbon("IN-MILL-B", 5_000_000, 1_200_000, 2 * TON, OTHER, handle=h["COIL-002"])}


LOTS = {"A1": "BOLT-LOT-1", "A2": "BOLT-LOT-1", "A3": "BOLT-LOT-1", "B1": "BOLT-LOT-2", "B2": "BOLT-LOT-2",
        "D1": "BOLT-LOT-3", "E1": "BOLT-LOT-4", "X1": "BOLT-LOT-5", "G1": "BOLT-LOT-6", "G2": "BOLT-LOT-7"}


def _bolt_events(h: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = {f"c-{n}": part(h[n], "BOLT-M10", "CN-BOLT-01", 104 if n == "G2" else 52, lot=lot)
           for n, lot in LOTS.items()}
    return {**out,
            "co2-ROD-LOT-1": carbon("CN-MILL-A", 2_100 * TON, 420 * TON, 1_000 * TON, batch="ROD-LOT-1"),
            "t-A": transformed([("batch", "ROD-LOT-1", 1_080 * TON)], [h["A1"], h["A2"], h["A3"]]),
            "co2-BOLT-LOT-1": carbon("CN-BOLT-01", 150 * TON, 30 * TON, 1_000 * TON, batch="BOLT-LOT-1"),
            "t-B": transformed([("handle", h["COIL-001"], 1_100_000), ("handle", h["COIL-002"], 1_060_000)],
                               [h["B1"], h["B2"]]),
            "co2-BOLT-LOT-2": carbon("CN-BOLT-01", 300_000, 60_000, 2 * TON, batch="BOLT-LOT-2"),
            "t-D": transformed([("handle", h["COIL-003"], 1_080_000)], [h["D1"]]),
            "co2-BOLT-LOT-3": carbon("CN-BOLT-01", 150_000, 0, TON, batch="BOLT-LOT-3"),
            "co2-ROD-LOT-2": carbon("CN-MILL-A", 2 * TON, 0, TON, batch="ROD-LOT-2"),
            "t-G": transformed([("batch", "ROD-LOT-2", 3_000)], [h["G1"], h["G2"]]),
            "co2-BOLT-LOT-6": carbon("CN-BOLT-01", 100, 0, 1_000, batch="BOLT-LOT-6"),
            "co2-BOLT-LOT-7": carbon("CN-BOLT-01", 200, 0, 2_000, batch="BOLT-LOT-7"),
            "t-X": transformed([("batch", "ROD-LOT-X", 1_000)], [h["X1"]]),
            "co2-BOLT-LOT-5": carbon("CN-BOLT-01", 100, 0, 1_000, batch="BOLT-LOT-5"),
            "co2-MIX-1": carbon("CN-MILL-A", 2_000, 0, 1_000, batch="MIX-LOT"),
            "co2-MIX-2": carbon("IN-MILL-B", 2_500, 0, 1_000, batch="MIX-LOT")}


def _block_events(h: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {"c-K1": part(h["K1"], "BLOCK-1.5T", "CN-ENG-01", 40_000),
            "c-S1": part(h["S1"], "SPRING-V", "CN-ENG-01", 30),
            "co2-ALU-LOT-1": carbon("CN-ALU-01", 1_600_000, 6_400_000, TON, batch="ALU-LOT-1"),
            "t-K": transformed([("batch", "ALU-LOT-1", 55_000)], [h["K1"]]),
            "a-K": event("assembled", T0, ENT, parent=h["K1"], children=[h["A1"], h["A2"], h["S1"]]),
            "co2-K1": carbon("CN-ENG-01", 20_000, 10_000, 40_000, handle=h["K1"])}


def _legacy(db, config, plant: Plant, events: dict[str, dict[str, Any]]) -> None:
    """Append events straight to the log and projections, as a node did before intake checked
    installations (the roll-up must still refuse a record at an unregistered installation)."""
    log = Log(load_signer(config), load_signer(config).name)
    with db.write() as s:
        result = log.append(s, list(events.values()))
        apply_events(s, [(r.seq, e) for r, e in zip(result.receipts, events.values())])
    plant.seq.update(zip(events, (r.seq for r in result.receipts)))


def _post(client, plant: Plant, events: dict[str, dict[str, Any]], auth: dict) -> None:
    answer = accepted(client, {"events": list(events.values())}, auth)
    plant.seq.update(zip(events, (e["seq"] for e in answer["entries"])))


def build(client, db, config) -> Plant:
    """Register the reference data, mint the parts and post every event of the plant."""
    plant = Plant()
    reference_data(client)
    coils = mint_parts(db, config, OTHER, 4, "COIL-{seq:03}")
    plant.h.update({f"COIL-{i:03}": handle for i, handle in enumerate(coils, start=1)})
    names = ["A1", "A2", "A3", "B1", "B2", "D1", "E1", "X1", "G1", "G2", "K1", "S1"]
    plant.h.update(zip(names, mint_parts(db, config, ENT, len(names), "P-{seq:03}")))
    _post(client, plant, _mill_events(plant.h), OTHER_AUTH)
    _post(client, plant, {**_bolt_events(plant.h), **_block_events(plant.h)}, ENT_AUTH)
    _legacy(db, config, plant, {"co2-ROD-LOT-X": carbon("NOPE-9", 2_000, 0, 1_000, batch="ROD-LOT-X")})
    return plant


# --- shipments for the CBAM reports (a separate step after build(): the seqs above stay put) ----------

IMPORTER, HEAVY_IMPORTER = "EU-IMP-1", "EU-IMP-2"
Q4_2026 = "2026-11-20T10:00:00+01:00"
# 2026-10-01T01:00+02:00 is 2026-09-30T23:00Z: the third quarter, not the fourth
EDGE_OF_Q3 = "2026-10-01T01:00:00+02:00"
HEAVY_T = 60 * TON  # 60 t: over the 50 t de-minimis threshold


def ship(handles: list[str], when: str, to_party: str = IMPORTER, actor: str = ENT) -> dict[str, Any]:
    return event("shipped", when, actor, handles=handles, from_party=actor, to_party=to_party)


def ship_goods(client, db, config, plant: Plant) -> Plant:
    """ENT ships bolts (and the block K1) to EU-IMP-1 in 2026-Q4, D1 again in 2027 and 2028, the
    spring S1 at the very end of Q3; OTHER makes HEAVY, a 60 t rod lot at IN-MILL-B without carbon
    data (the default: '*',7213 = 3.00 / 0.90), and ships it to EU-IMP-2."""
    h = plant.h
    (plant.h["HEAVY"],) = mint_parts(db, config, OTHER, 1, "HEAVY-{seq:03}")
    _post(client, plant, {
        "s-2026": ship([h[n] for n in ("A3", "B1", "B2", "D1", "E1", "G1", "G2", "K1")], Q4_2026),
        "s-2027": ship([h["D1"]], "2027-02-01T09:00:00Z"),
        "s-2028": ship([h["D1"]], "2028-02-01T09:00:00Z"),
        "s-Q3": ship([h["S1"]], EDGE_OF_Q3)}, ENT_AUTH)
    _post(client, plant, {
        "c-HEAVY": part(h["HEAVY"], "ROD-5.5", "IN-MILL-B", HEAVY_T, OTHER),
        "s-HEAVY": ship([h["HEAVY"]], "2026-12-01T08:00:00Z", HEAVY_IMPORTER, OTHER)}, OTHER_AUTH)
    return plant


def build_with_shipments(client, db, config) -> Plant:
    return ship_goods(client, db, config, build(client, db, config))

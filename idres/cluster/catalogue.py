"""The firms and part kinds of the synthetic automotive cluster.

Everything here is a constant: who makes what, under which minting pattern,
with which part data, masses (integer grams) and emission factors.  The
layout (:mod:`idres.cluster.layout`) decides how many of each, the event
builder (:mod:`idres.cluster.plan`) what happens to them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Firm:
    """An enterprise of the cluster; its prefix is ``<node prefix>.<base + offset>``."""

    key: str
    offset: int
    name: str
    installation: str
    role: str


@dataclass(frozen=True)
class PartKind:
    """One kind of part: its maker, minting pattern and part data.

    ``net_mass_g`` is ``None`` for raw-material lots, whose mass varies per lot.
    ``consumed_g`` is the raw material one piece consumes, scrap included.
    """

    key: str
    firm: str
    pattern: str
    part_type: str
    description: str
    cn_code: str
    net_mass_g: int | None
    consumed_g: int = 0


FIRMS: tuple[Firm, ...] = (
    Firm("steel", 0, "Jiangnan Special Steel Co.", "CN-JNSS-EAF-01", "steel mill"),
    Firm("alu", 1, "Huaihe Aluminium Foundry", "CN-HHAL-SMELT-01", "aluminium foundry"),
    Firm("fastener", 2, "Changzhou Fastener Co.", "CN-CZF-HEADER-01", "fastener maker"),
    Firm("bracket", 3, "Suzhou Stamping Works", "CN-SZS-PRESS-01", "bracket maker"),
    Firm("casting", 4, "Wuhu Precision Castings", "CN-WPC-FOUNDRY-01", "casting and cylinder-block maker"),
    Firm("engine", 5, "Wuxi Engine Works", "CN-WXE-ASSY-01", "engine maker"),
    Firm("gearbox", 6, "Ningbo Transmission Co.", "CN-NBT-ASSY-01", "gearbox maker"),
    Firm("oem", 7, "Hefei Motor Corp.", "CN-HFM-PLANT-01", "vehicle maker (OEM)"),
)
FIRM_BY_KEY: dict[str, Firm] = {f.key: f for f in FIRMS}

# VIN-like suffix: WMI "LHF", VDS "JS5A3", check digit "9", model year "T" (2026),
# plant "W", then a six-digit serial: 17 characters.
VIN_PATTERN = "LHFJS5A39TW{seq:06}"

KINDS: tuple[PartKind, ...] = (
    PartKind("wire_rod", "steel", "WR-{seq:06}", "STEEL-WIRE-ROD",
             "Hot-rolled wire rod lot, 10B21 boron steel", "72139190", None),
    PartKind("sheet", "steel", "SH-{seq:06}", "STEEL-SHEET-CR",
             "Cold-rolled steel sheet lot, DC04", "72091790", None),
    PartKind("al_lot", "alu", "AL-{seq:06}", "AL-INGOT-A356",
             "Aluminium alloy ingot lot, A356.2", "76012080", None),
    PartKind("bolt_m10", "fastener", "B10-{seq:07}", "BOLT-M10X1.25",
             "Cylinder-head bolt M10x1.25, class 10.9", "73181568", 52, 60),
    PartKind("bolt_m8", "fastener", "B08-{seq:07}", "BOLT-M8X1.25",
             "Housing bolt M8x1.25, class 8.8", "73181568", 28, 33),
    PartKind("bracket", "bracket", "BRK-{seq:07}", "BRACKET-ENG-MOUNT",
             "Engine mounting bracket, stamped steel", "73269098", 850, 1150),
    PartKind("block", "casting", "CB-{seq:06}", "CYL-BLOCK-1.5T",
             "Cylinder block casting, machined, 1.5 L", "84099100", 32000, 36500),
    PartKind("housing", "casting", "GH-{seq:06}", "GBX-HOUSING-7DCT",
             "Gearbox housing casting, 7-speed DCT", "87084091", 14000, 15800),
    PartKind("engine", "engine", "ENG-{seq:06}", "ENGINE-1.5T",
             "1.5 L turbo petrol engine", "84073490", 118000),
    PartKind("gearbox", "gearbox", "GBX-{seq:06}", "GEARBOX-7DCT",
             "7-speed dual-clutch gearbox", "87084020", 76000),
    PartKind("vehicle", "oem", VIN_PATTERN, "VEHICLE-SUV-A",
             "Compact SUV, 1.5T, 7DCT", "87032310", 1580000),
)
KIND_BY_KEY: dict[str, PartKind] = {k.key: k for k in KINDS}
RAW_KINDS = ("wire_rod", "sheet", "al_lot")

# Bill of materials per vehicle.
BLOCK_BOLTS = 8        # M10 bolts in a cylinder block
GEARBOX_BOLTS = 4      # M8 bolts in a gearbox (with one housing)
ENGINE_BRACKETS = 2    # brackets in an engine (with one block)
PARTS_PER_VEHICLE = 1 + 1 + 1 + 1 + 1 + BLOCK_BOLTS + GEARBOX_BOLTS + ENGINE_BRACKETS

# Castings draw this share (per mille) of their consumed mass from foundry
# returns (an in-house batch, not a handle); the rest from an aluminium lot.
REMELT_PERMILLE = 200

# Emission factors, grams CO2e per kilogram (direct, indirect).
LOT_FACTORS = {"wire_rod": (1900, 350), "sheet": (2050, 380), "al_lot": (1700, 6500)}
BATCH_FACTORS = {"bolt_m10": (180, 420), "bolt_m8": (180, 420), "bracket": (140, 300)}

# Chance per block that its final inspection finds a bad bolt (reworked), and
# per sampled bolt that its inspection is non-conformant.
REWORK_RATE = 0.05
BOLT_NC_RATE = 0.05
DEFAULT_METHOD_RATE = 0.2   # chance that a raw lot's carbon data are default values
BOLT_SAMPLE = 5             # M10 bolts inspected per wave
BLOCK_DEFECTS = ("BOLT-TORQUE-LOW", "BOLT-THREAD-STRIPPED")
BOLT_DEFECTS = ("HARDNESS-LOW", "THREAD-DAMAGE", "COATING-DEFECT")
# With ClusterSpec.exports_per_vehicle > 0, the fastener and bracket makers also ship M10 bolts
# (CN 7318) and brackets (CN 7326), both CBAM goods, to an importer in the EU, named by its EORI number.
EU_IMPORTER = "DE0123456789012"
DEALERS = tuple(f"DLR-{city}-{n:02d}" for city in ("SHANGHAI", "HANGZHOU", "NANJING", "HEFEI")
                for n in (1, 2, 3))


def mint_values(kind: PartKind) -> list[dict]:
    """The handle values every minted part of a kind shares (PART.* data)."""
    data = {"PART.MANUFACTURER": FIRM_BY_KEY[kind.firm].name, "PART.TYPE": kind.part_type,
            "PART.DESCRIPTION": kind.description, "PART.CN_CODE": kind.cn_code}
    if kind.net_mass_g is not None:
        data["PART.NET_MASS_G"] = str(kind.net_mass_g)
    return [{"index": i, "type": t, "data": v} for i, (t, v) in enumerate(data.items(), start=1)]

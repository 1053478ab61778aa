"""A small demo cluster: an engine maker and a bolt maker with their parts.

Besides commissioning, a shipment and assembly, the demo carries the carbon
data of REFERENCE section 7's worked example, so CBAM reports work on it at
once: a wire-rod lot (2.10 / 0.42 tCO2e/t) of which 1,080 t went into the
bolt lot with 150 t / 30 t of its own for 1,000 t of bolts, giving SEE
2.418 / 0.4836 tCO2e/t; some bolts of that lot are exported to an EU importer
(``to_party`` :data:`EU_IMPORTER`) in 2026-Q4.
"""
from __future__ import annotations

import secrets
import uuid
from typing import Iterator

from idres.auth import OPERATOR
from idres.carbon.reference import put_installation, put_part_type
from idres.config import Config
from idres.events.service import record_events
from idres.ledger_key import load_signer
from ledger.log import Log
from idres.handles import prefix_record
from idres.minting import MintRequest, mint
from idres.node import create_prefix, init_node
from idres.storage import Database, records

# (suffix, name, pattern, part data) for each demo enterprise
FIRMS = (
    ("8", "Wuxi Engine Works", "ENG-2026-{seq:06}", {
        "PART.TYPE": "ENGINE-1.5T", "PART.DESCRIPTION": "1.5 L turbo petrol engine",
        "PART.BATCH": "ENG-LOT-2026-11", "PART.CN_CODE": "84072190",
        "PART.NET_MASS_G": "118000", "PART.PRODUCTION_DATE": "2026-11-02"}),
    ("9", "Changzhou Fastener Co.", "BOLT-2026-{seq:06}", {
        "PART.TYPE": "BOLT-M10X1.25", "PART.DESCRIPTION": "Cylinder-head bolt M10x1.25, class 10.9",
        "PART.BATCH": "BOLT-LOT-2026-118", "PART.CN_CODE": "73181568",
        "PART.NET_MASS_G": "52", "PART.PRODUCTION_DATE": "2026-10-20"}),
)

EXPORT_PATTERN, EXPORTS = "BOLT-EXP-2026-{seq:06}", 12
EU_IMPORTER = "DE0123456789012"
TON = 1_000_000  # grams
INSTALLATIONS = {  # id: (firm suffix, body)
    "CN-CZ-FAST": ("9", {"name": "Changzhou fastener works", "country": "CN", "city": "Changzhou",
                         "unlocode": "CNCZX", "operator": "Changzhou Fastener Co."}),
    "CN-JY-ROD": ("9", {"name": "Jiangyin wire-rod mill", "country": "CN", "city": "Jiangyin"}),
    "CN-WX-ENG": ("8", {"name": "Wuxi engine plant", "country": "CN", "city": "Wuxi"}),
}
PART_TYPES = {  # (firm suffix, code): body
    ("9", "BOLT-M10X1.25"): {"cn_code": "73181568", "net_mass_g": 52, "description": "bolt M10x1.25"},
    ("8", "ENGINE-1.5T"): {"cn_code": "84072190", "net_mass_g": 118000, "description": "1.5 L engine"},
}


def _values(name: str, data: dict[str, str]) -> list[dict]:
    values = [{"index": 1, "type": "PART.MANUFACTURER", "data": name}]
    values += [{"index": i, "type": t, "data": v} for i, (t, v) in enumerate(data.items(), start=2)]
    return values


def _exists(db: Database, prefix: str) -> bool:
    with db.read() as s:
        return records.handle_exists(s, prefix_record(prefix).key)


def _event(event_type: str, actor: str, when: str, **fields: object) -> dict:
    # uuid5: the demo's event ids are stable, so a re-run is idempotent.
    key = f"{event_type}|{actor}|{when}|{sorted(fields.items())}"
    return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)), "event_type": event_type,
            "event_time": when, "actor": actor, **fields}


def _register_reference(db: Database, config: Config) -> None:
    """Installations and part types (CN code, net mass) of the two firms."""
    for installation_id, (suffix, body) in INSTALLATIONS.items():
        put_installation(db, OPERATOR, installation_id, body, f"{config.node_prefix}.{suffix}")
    for (suffix, code), body in PART_TYPES.items():
        put_part_type(db, OPERATOR, code, body, f"{config.node_prefix}.{suffix}")


def _carbon(supplier: str, bolts: list[str], exports: list[str]) -> list[dict]:
    """The worked example's data on the bolt lot, and the exports to the EU importer."""
    def record(when: str, installation: str, direct: int, indirect: int, batch: str) -> dict:
        return _event("carbon.recorded", supplier, when, batch=batch, installation_id=installation,
                      period="2026-10", direct_g=direct, indirect_g=indirect, activity_level_g=1_000 * TON,
                      method="actual", evidence_sha256="0" * 64)
    rod = {"batch": "ROD-LOT-2026-41", "consumed_mass_g": 1_080 * TON}  # scrap included
    return [record("2026-10-19T18:00:00+08:00", "CN-JY-ROD", 2_100 * TON, 420 * TON, "ROD-LOT-2026-41"),
            _event("transformed", supplier, "2026-10-20T09:00:00+08:00", inputs=[rod],
                   outputs=bolts + exports),
            record("2026-10-31T18:00:00+08:00", "CN-CZ-FAST", 150 * TON, 30 * TON, "BOLT-LOT-2026-118"),
            _event("shipped", supplier, "2026-11-10T09:00:00+08:00", handles=exports,
                   from_party=supplier, to_party=EU_IMPORTER)]


def _record_history(db: Database, config: Config, minted: dict[str, list[str]]) -> int:
    """Commission every part, record the carbon data, ship the bolts to the engine maker (and
    the exports to the EU), bolt them in."""
    engines, bolts, exports = minted["8"], minted["9"], minted["exports"]
    maker, supplier = f"{config.node_prefix}.8", f"{config.node_prefix}.9"
    _register_reference(db, config)
    events = [_event("commissioned", supplier, "2026-10-20T08:00:00+08:00", handle=b,
                     part_type="BOLT-M10X1.25", batch="BOLT-LOT-2026-118", net_mass_g=52,
                     installation="CN-CZ-FAST") for b in bolts + exports]
    events += [_event("commissioned", maker, "2026-11-02T08:00:00+08:00", handle=e,
                      part_type="ENGINE-1.5T", batch="ENG-LOT-2026-11", net_mass_g=118000,
                      installation="CN-WX-ENG") for e in engines]
    events += _carbon(supplier, bolts, exports)
    events.append(_event("shipped", supplier, "2026-10-22T09:00:00+08:00", handles=bolts,
                         from_party=supplier, to_party=maker))
    events.append(_event("received", maker, "2026-10-23T14:00:00+08:00", handles=bolts,
                         from_party=supplier, to_party=maker))
    events += [_event("assembled", maker, "2026-11-03T10:00:00+08:00", parent=e, children=[b])
               for e, b in zip(engines, bolts)]
    result = record_events(db, config, Log(load_signer(config), load_signer(config).name),
                           OPERATOR, {"events": events})
    return int(result["checkpoint"]["size"])


def load(db: Database, config: Config, parts: int) -> Iterator[str]:
    """Initialize the node and load the demo once; yields lines to show the user.

    New prefix secrets are generated randomly and shown once, here, to the
    operator who ran the command; only their salted hashes are stored.
    """
    init_node(db, config, None)
    if not _exists(db, config.node_prefix):
        admin = secrets.token_urlsafe(12)
        init_node(db, config, admin)
        yield f"node admin 300:0.NA/{config.node_prefix} secret (shown once): {admin}"
    per_firm = [parts // 2 + parts % 2, parts // 2]
    minted: dict[str, list[str]] = {}
    for (suffix, name, pattern, data), count in zip(FIRMS, per_firm):
        prefix = f"{config.node_prefix}.{suffix}"
        if _exists(db, prefix):
            yield f"{prefix} already loaded"
            continue
        secret = secrets.token_urlsafe(12)
        create_prefix(db, config, prefix, secret)
        result = mint(db, config, OPERATOR, MintRequest(prefix, pattern, count, _values(name, data)))
        minted[suffix] = result["handles"]
        yield f"{prefix} ({name}): {count} parts {result['first']} .. {result['last']}"
        yield f"  log in as 300:0.NA/{prefix} with secret (shown once): {secret}"
        if suffix == "9":
            result = mint(db, config, OPERATOR, MintRequest(prefix, EXPORT_PATTERN, EXPORTS, _values(name, data)))
            minted["exports"] = result["handles"]
            yield f"  and {EXPORTS} export bolts {result['first']} .. {result['last']} (to {EU_IMPORTER})"
    if len(minted) == len(FIRMS) + 1:
        size = _record_history(db, config, minted)
        yield (f"ledger: {size} events (commissioning, carbon data, shipments of bolts to the engine "
               f"maker and to {EU_IMPORTER}, assembly into engines)")

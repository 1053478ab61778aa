"""A small demo cluster: an engine maker and a bolt maker with their parts."""
from __future__ import annotations

import secrets
import uuid
from typing import Iterator

from idres.auth import OPERATOR
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


def _record_history(db: Database, config: Config, minted: dict[str, list[str]]) -> int:
    """Commission every part, ship the bolts to the engine maker, bolt them in."""
    engines, bolts = minted["8"], minted["9"]
    maker, supplier = f"{config.node_prefix}.8", f"{config.node_prefix}.9"
    events = [_event("commissioned", supplier, "2026-10-20T08:00:00+08:00", handle=b,
                     part_type="BOLT-M10X1.25", batch="BOLT-LOT-2026-118", net_mass_g=52) for b in bolts]
    events += [_event("commissioned", maker, "2026-11-02T08:00:00+08:00", handle=e,
                      part_type="ENGINE-1.5T", batch="ENG-LOT-2026-11", net_mass_g=118000) for e in engines]
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
    if len(minted) == len(FIRMS):
        size = _record_history(db, config, minted)
        yield f"ledger: {size} events (commissioning, shipment of bolts, assembly into engines)"

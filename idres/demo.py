"""A small demo cluster: an engine maker and a bolt maker with their parts."""
from __future__ import annotations

import secrets
from typing import Iterator

from idres.auth import OPERATOR
from idres.config import Config
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
    for (suffix, name, pattern, data), count in zip(FIRMS, per_firm):
        prefix = f"{config.node_prefix}.{suffix}"
        if _exists(db, prefix):
            yield f"{prefix} already loaded"
            continue
        secret = secrets.token_urlsafe(12)
        create_prefix(db, config, prefix, secret)
        result = mint(db, config, OPERATOR, MintRequest(prefix, pattern, count, _values(name, data)))
        yield f"{prefix} ({name}): {count} parts {result['first']} .. {result['last']}"
        yield f"  log in as 300:0.NA/{prefix} with secret (shown once): {secret}"

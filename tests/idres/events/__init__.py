"""Helpers shared by the event and ledger tests: parts, events, table counts."""
from __future__ import annotations

import uuid
from typing import Any

from idres.auth import OPERATOR
from idres.minting import MintRequest, mint
from tests.conftest import ENT, ENT_AUTH, OTHER, row_count

T0 = "2026-11-02T08:00:00+08:00"
SHA = "ab" * 32
# Every table an accepted event writes to (audit_log: one row per accepted request).
TABLES = ("ledger_entries", "ledger_checkpoints", "ledger_nodes", "part_state", "genealogy_edges",
          "carbon_records", "handle_events", "audit_log")


def mint_parts(db, config, prefix: str, count: int, pattern: str = "P-{seq:05}") -> list[str]:
    """Register ``count`` handles under ``prefix`` directly (as the local operator)."""
    values = [{"index": 1, "type": "PART.TYPE", "data": "BOLT"}]
    return mint(db, config, OPERATOR, MintRequest(prefix, pattern, count, values))["handles"]


def event(event_type: str, when: str = T0, actor: str = ENT, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "event_time": when,
            "actor": actor, **fields}


def commissioned(handle: str, actor: str = ENT, when: str = T0, **extra: Any) -> dict[str, Any]:
    fields = {"part_type": "BOLT-M10", "batch": "LOT-1", "installation": "INST-1", "net_mass_g": 52}
    return event("commissioned", when, actor, handle=handle, **{**fields, **extra})


def carbon(when: str = T0, actor: str = ENT, **extra: Any) -> dict[str, Any]:
    fields = {"installation_id": "INST-1", "period": "2026-Q4", "direct_g": 1200, "indirect_g": 300,
              "activity_level_g": 52_000, "method": "actual", "evidence_sha256": SHA}
    return event("carbon.recorded", when, actor, **{**fields, **extra})


def post(client, body: Any, auth: dict | None = ENT_AUTH):
    return client.post("/api/events", json=body, headers=auth or {})


def accepted(client, body: Any, auth: dict = ENT_AUTH) -> dict[str, Any]:
    r = post(client, body, auth)
    assert r.status_code == 201, r.json
    return r.json


def counts(db) -> dict[str, int]:
    return {t: row_count(db, t) for t in TABLES}


def setup_parts(client, db, config, ent: int = 6, other: int = 2) -> tuple[list[str], list[str]]:
    """Mint and commission ``ent`` parts of 88.118.8 and ``other`` of 88.118.9."""
    from tests.conftest import OTHER_AUTH

    # carbon.recorded events must name a registered installation
    r = client.put("/api/carbon/installations/INST-1", json={"name": "Test plant", "country": "CN",
                                                             "city": "Ningbo"}, headers=ENT_AUTH)
    assert r.status_code in (200, 201), r.json
    mine = mint_parts(db, config, ENT, ent)
    theirs = mint_parts(db, config, OTHER, other) if other else []
    accepted(client, {"events": [commissioned(h) for h in mine]})
    if theirs:
        accepted(client, {"events": [commissioned(h, OTHER) for h in theirs]}, OTHER_AUTH)
    return mine, theirs

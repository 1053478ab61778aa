"""Helpers for the scan-page tests: a small hand-built genealogy, through the public API.

The same builder serves the Flask test client and a live ``idres serve``:
it only needs a ``send(method, path, body) -> (status, json)`` function.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

ENT = "88.118.8"
Send = Callable[[str, str, Any], tuple[int, Any]]

T = ["2026-11-02T08:%02d:00+08:00" % minute for minute in range(60)]
XSS = ENT + "/<script>alert(\"x\")</script>'&<b>"
CAMPAIGN = "RC-2026-014"


def path_of(handle: str) -> str:
    """The URL path of a handle's scan page (percent-encoded but for '/')."""
    return "/" + quote(handle, safe="/")


def values(type_code: str, **part: str) -> list[dict[str, Any]]:
    """Handle values: ``PART.TYPE`` plus ``PART.<NAME>`` for each keyword."""
    out = [{"index": 1, "type": "PART.TYPE", "data": type_code}]
    for i, (name, text) in enumerate(part.items(), start=2):
        out.append({"index": i, "type": f"PART.{name.upper()}", "data": text})
    return out


def register(send: Send, handle: str, vals: list[dict[str, Any]]) -> None:
    status, body = send("PUT", "/api/handles" + path_of(handle), {"values": vals})
    assert status == 201, body


def event(event_type: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "event_time": when,
            "actor": ENT, **fields}


def commissioned(handle: str, when: str, part_type: str, mass: int, batch: str | None = None) -> dict:
    extra = {"batch": batch} if batch else {}
    return event("commissioned", when, handle=handle, part_type=part_type, net_mass_g=mass, **extra)


def post_events(send: Send, events: list[dict[str, Any]]) -> dict[str, Any]:
    status, body = send("POST", "/api/events", {"events": events})
    assert status == 201, body
    return body


@dataclass
class Cluster:
    """Handles of the hand-built genealogy (spellings as registered)."""

    vehicle: str
    engine: str
    bolts: list[str]
    removed: str
    casting: str
    xss: str
    fresh: str
    checkpoint: int


def build_cluster(send: Send) -> Cluster:
    """Vehicle <- engine <- (bolt 1, bolt 2 (recalled), the XSS-named part); a third bolt
    assembled then removed; the engine made from a casting and a batch of aluminium;
    carbon data for the engine and its batch; a part with no events at all."""
    vehicle, engine = f"{ENT}/VIN-LSV2026000001", f"{ENT}/Eng-2026-000123"
    bolts = [f"{ENT}/BOLT-{i:04}" for i in (1, 2, 3)]
    casting, fresh = f"{ENT}/CASTING-77", f"{ENT}/NEW-1"
    status, body = send("PUT", "/api/carbon/installations/INST-1",  # carbon.recorded names it
                        {"name": "Test plant", "country": "CN", "city": "Ningbo"})
    assert status in (200, 201), body
    register(send, vehicle, values("VEHICLE", manufacturer="Example Motors"))
    register(send, engine, values("ENGINE-1.5T", description="1.5 l turbo petrol engine",
                                  manufacturer="Example Engines Co.", batch="EB-7",
                                  net_mass_g="98000", cn_code="84073490", production_date="2026-10-30"))
    for h in bolts:
        register(send, h, values("BOLT-M10"))
    register(send, casting, values("CASTING"))
    register(send, XSS, values("BOLT-M10", description="<img src=x onerror=alert(1)>"))
    register(send, fresh, values("BOLT-M10"))
    events = [commissioned(vehicle, T[0], "VEHICLE", 1_400_000),
              commissioned(engine, T[0], "ENGINE-1.5T", 98_000, batch="EB-7"),
              commissioned(casting, T[0], "CASTING", 30_000),
              commissioned(XSS, T[0], "BOLT-M10", 52)]
    events += [commissioned(h, T[0], "BOLT-M10", 52, batch="LOT-1") for h in bolts]
    events += [
        event("transformed", T[1], outputs=[engine], inputs=[
            {"handle": casting, "consumed_mass_g": 31_000},
            {"batch": "ALU-LOT-3", "consumed_mass_g": 12_500}]),
        event("assembled", T[2], parent=engine, children=[*bolts, XSS]),
        event("disassembled", T[3], parent=engine, children=[bolts[2]]),
        event("inspected", T[4], handles=[engine], result="conformant"),
        event("shipped", T[5], handles=[engine], from_party=ENT, to_party="Example Motors Plant 2"),
        event("assembled", T[7], parent=vehicle, children=[engine]),
        event("carbon.recorded", T[8], handle=engine, installation_id="INST-1", period="2026-Q4",
              direct_g=1200, indirect_g=300, activity_level_g=98_000, method="actual",
              evidence_sha256="ab" * 32),
        event("carbon.recorded", T[8], batch="EB-7", installation_id="INST-1", period="2026-10",
              direct_g=50_000, indirect_g=7_000, activity_level_g=980_000, method="actual",
              evidence_sha256="cd" * 32),
        event("recalled", T[9], handles=[bolts[1]], campaign_id=CAMPAIGN),
    ]
    body = post_events(send, events)
    return Cluster(vehicle, engine, bolts[:2], bolts[2], casting, XSS, fresh,
                   body["checkpoint"]["size"])

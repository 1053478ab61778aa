"""Baseline for scripts/bench_resolve: the smallest Flask app that answers like a resolution.

One JSON endpoint on the same route shape as idres (``GET /api/handles/<handle>``)
returning a fixed, handle-like document of the same shape and about the same
size as idres's answer for a benchmark part handle.  No database, no parsing,
no auth: it measures what gunicorn + Flask + JSON cost on their own, so that
``idres req/s / baseline req/s`` says how much of the budget idres itself uses.

Served by ``python -m gunicorn ... 'bench_baseline_app:create_app()'`` with
``--pythonpath scripts``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

_TS = "2026-01-01T00:00:00Z"


def _value(index: int, vtype: str, text: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": text},
            "ttl": 86400, "timestamp": _TS}


DOCUMENT: dict[str, Any] = {
    "responseCode": 1,
    "handle": "88.118.8/ENG-2026-000001",
    "values": [
        _value(1, "PART.MANUFACTURER", "Wuxi Engine Works"),
        _value(2, "PART.TYPE", "ENGINE-1.5T"),
        _value(3, "PART.DESCRIPTION", "1.5 L turbo petrol engine"),
        _value(4, "PART.BATCH", "ENG-LOT-2026-11"),
        _value(5, "PART.CN_CODE", "84072190"),
    ],
}


def create_app() -> Flask:
    app = Flask("bench_baseline")
    app.json.sort_keys = False

    @app.get("/api/handles/<path:handle>")
    def resolve(handle: str) -> Any:
        return DOCUMENT  # Flask serializes the dict to JSON on every request

    return app

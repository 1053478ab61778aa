"""Helpers of the CBAM report tests: request bodies, the EU XSD, posting reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ENT_AUTH

EU_XSD = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cbam" / "QReport_ver23.00.xsd"
DECLARANT = {"identification_number": "DE123456789012345", "name": "Hansa Import GmbH", "role": "01",
             "address": {"city": "Hamburg", "street": "Am Sandtorkai", "number": "1", "postcode": "20457"}}
IMPORTER_PARTY = {"identification_number": "DE987654321", "name": "Hansa Import GmbH",
                  "address": {"country": "DE", "city": "Hamburg"}}
SIGNATURE = {"place": "Hamburg", "signatory": "J. Example", "position": "Customs officer",
             "global_data_confirmation": True, "use_of_data_confirmation": True}


def quarterly_body(year: int = 2026, quarter: int = 4, **selection: Any) -> dict[str, Any]:
    return {"year": year, "quarter": quarter, "declarant": DECLARANT, "signature": SIGNATURE, **selection}


def post_report(client, kind: str, body: Any, auth: dict | None = ENT_AUTH, status: int = 200,
                query: str = ""):
    r = client.post(f"/api/reports/cbam/{kind}{query}", json=body, headers=auth or {})
    assert r.status_code == status, r.get_data(as_text=True)[:2000]
    return r


def eu_schema() -> Any:
    """The EU's own copy of the XSD (not the packaged one), or skip where it is absent."""
    if not EU_XSD.exists():
        pytest.skip(f"{EU_XSD} is absent")
    import xmlschema

    return xmlschema.XMLSchema(str(EU_XSD))


def assert_valid_qreport(xml: str) -> None:
    """Every generated QReport validates against ../shared/data/cbam/QReport_ver23.00.xsd."""
    if not EU_XSD.exists():
        return  # only this check is skipped where the file is absent
    errors = [f"{e.path}: {e.reason}" for e in _schema().iter_errors(xml)]
    assert errors == [], errors


_cached: list[Any] = []


def _schema() -> Any:
    if not _cached:
        _cached.append(eu_schema())
    return _cached[0]

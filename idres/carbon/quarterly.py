"""The CBAM quarterly report (QReport v23): its JSON twin, its XML, and the proof of origin.

``quarterly_report`` reads everything in one snapshot (shipments, roll-ups,
installations, the checkpoint and the contributing entries), builds the JSON
twin, renders it as QReport XML and validates that against the v23 XSD
before anything is returned (:mod:`idres.carbon.qreport`).

Each ImportedGood is one group of goods (CN code, origin country, producing
installation); its ``MeasureImported`` is their net mass in tonnes.  Each
GoodsEmissions is one contributor to those goods' embedded emissions: the
producing installation itself, or an installation whose precursor went into
them (two installations of one precursor stay two GoodsEmissions), default
values apart from actual data.  Its ``ProducedMeasure`` is the group's
mass and its SEE is tCO2e per tonne of the group's goods, so the
GoodsEmissions of an ImportedGood add up to the goods' SEE.  Rounding: SEE
to 7 decimal places (dec16-7, half up), each contributor apart; masses to
6 (dec16-6; exact for whole grams).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from idres.auth import Identity
from idres.carbon import qreport
from idres.carbon.origin import proof_of_origin
from idres.carbon.reports import (Goods, Group, NothingToReport, Period, exporter_of, roll_up,
                                  shipments_of_handles, shipments_to, tonnes_text)
from idres.carbon.requests import QUARTERLY, load
from idres.carbon.results import Contribution, see_text
from idres.config import Config
from idres.handles import fold
from idres.storage import Database

DEFAULT_PROCEDURE = "40"   # release for free circulation (customs procedure code)
DEFAULT_AREA = "EU"


def submission_time() -> str:
    """Now, as the XSD's DateTimeContentType wants it: ``YYYY-MM-DDThh:mm:ssZ``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def quarterly_report(db: Database, config: Config, who: Identity, body: Any) -> dict[str, Any]:
    """The quarterly report for a body of :class:`idres.carbon.requests.Quarterly`; see the module doc."""
    req = load(QUARTERLY, body)
    exporter = exporter_of(who, config.node_prefix, req.get("exporter"))
    period = Period(req["year"], req["quarter"])
    with db.snapshot() as s:
        if "handles" in req:
            shipped = shipments_of_handles(s, req["handles"], period, exporter)
            where = [f"handles[{i}]" for i in range(len(shipped))]
        else:
            shipped = shipments_to(s, req["to_party"], period, exporter, "quarter")
            where = None
        goods = roll_up(s, req["year"], shipped, req.get("cn_codes"), where)
        if not goods.groups:
            raise NothingToReport(f"None of the {len(shipped)} handles shipped in {period.label} is a CBAM "
                                  f"good", field="handles" if "handles" in req else "to_party")
        twin = report_twin(req, period, goods)
        origin = proof_of_origin(s, goods.seqs(), req.get("include_proofs", True))
    xml = qreport.render(twin)
    qreport.validate(xml)
    return {"responseCode": 1, "exporter": exporter, "period": period.label, "report": twin, "xml": xml,
            "left_out": goods.left_out, "proof_of_origin": origin}


def report_twin(req: dict[str, Any], period: Period, goods: Goods) -> dict[str, Any]:
    """The report as JSON, field for field what :func:`qreport.render` writes as XML."""
    twin: dict[str, Any] = {"submission_date": submission_time()}
    if "report_id" in req:
        twin["report_id"] = req["report_id"]
    twin.update(reporting_period=f"Q{period.quarter}", year=period.year, declarant=req["declarant"])
    if "importer" in req:
        twin["importer"] = req["importer"]
    twin["signature"] = req["signature"]
    if "remarks" in req:
        twin["remarks"] = req["remarks"]
    groups = sorted(goods.groups.values(), key=lambda g: (g.cn_code, g.country, g.installation_id or ""))
    twin["imported_goods"] = [_imported_good(n, g, req, goods) for n, g in enumerate(groups, start=1)]
    return twin


def _imported_good(number: int, group: Group, req: dict[str, Any], goods: Goods) -> dict[str, Any]:
    contributions = group.contributions()
    total_d = sum((d for _, d, _ in contributions), Decimal(0))
    total_i = sum((i for _, _, i in contributions), Decimal(0))
    mass = Decimal(group.mass_g)
    return {
        "item_number": number, "cn_code": group.cn_code, "hs_code": group.cn_code[:6],
        "description": group.description, "origin_country": group.country,
        "installation_id": group.installation_id, "procedure": req.get("customs_procedure", DEFAULT_PROCEDURE),
        "import_area": req.get("import_area", DEFAULT_AREA), "net_mass_t": tonnes_text(group.mass_g),
        "goods": group.count, "handles": group.handles,
        "see_direct": see_text(total_d / mass), "see_indirect": see_text(total_i / mass),
        "goods_emissions": [_emissions(n, c, d, i, group, req, goods)
                            for n, (c, d, i) in enumerate(contributions, start=1)]}


def _emissions(number: int, c: Contribution, direct_g: Decimal, indirect_g: Decimal, group: Group,
               req: dict[str, Any], goods: Goods) -> dict[str, Any]:
    mass = Decimal(group.mass_g)
    own = c.installation_id is not None and fold(c.installation_id) == fold(group.installation_id or "")
    out: dict[str, Any] = {
        "sequence_number": number, "production_country": c.country,
        "installation": _installation(goods, c.installation_id),
        "role": "producer" if own else "precursor", "default_values": c.default,
        "produced_net_mass_t": tonnes_text(group.mass_g),
        "see_direct": see_text(direct_g / mass), "see_indirect": see_text(indirect_g / mass),
        "carbon_prices_due": [p for p in req.get("carbon_prices_due", ()) if _applies(p, c)]}
    what = "made the goods" if own else f"made a precursor of the goods ({group.installation_id or 'unknown'})"
    basis = (f"CBAM default values with the {goods.roll.policy.markup * 100:.0f} % mark-up of {req['year']}"
             if c.default and goods.roll is not None else "actual data from the ledger")
    out["remarks"] = f"Installation {c.installation_id or '(unknown)'} {what}; {basis}; tCO2e per tonne of the goods."
    return out


def _applies(price: dict[str, Any], c: Contribution) -> bool:
    if "installation_id" in price:
        return c.installation_id is not None and fold(price["installation_id"]) == fold(c.installation_id)
    return price["country"] == c.country


def _installation(goods: Goods, installation_id: str | None) -> dict[str, Any] | None:
    if installation_id is None or goods.roll is None:
        return None
    row = goods.roll.facts.installation(installation_id, "report")
    out = {"installation_id": row["installation_id"], "name": row["name"], "country": row["country"],
           "city": row["city"]}
    out.update({k: row[k] for k in ("unlocode", "latitude", "longitude", "operator") if row[k] is not None})
    return out

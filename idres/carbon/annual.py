"""The definitive-period annual summary for an importer: per CN code and installation, with certificates.

For every CBAM good shipped to the importer (``to_party``) in the year, by
the caller's prefix (the node admin: any or every exporter), grouped by CN
code and producing installation (with its country):

- net mass (t); direct and indirect SEE (tCO2e/t, mass-weighted over the
  row); direct, indirect and total embedded emissions (tCO2e);
- emissions that count: from 2026 only direct emissions for iron, steel
  and aluminium goods (CN chapters 72, 73, 76 -- every good idres treats as
  CBAM), total emissions otherwise;
- the carbon price effectively paid in the country of origin (EUR per
  tCO2e, given per installation or per country; an installation's price
  wins over its country's), deducted as ``counted x price / certificate
  price`` certificates, at most the counted emissions;
- CBAM certificates (1 certificate = 1 tCO2e) = counted - deduction, and the
  share of the row's embedded emissions that rests on default values.

Rounding: masses 6 decimal places (exact for grams), SEE and tonnes CO2e 7
places (half up), each shown figure rounded from exact values (so shown
rows may not add up to the shown total in the last place).  The importer's
certificates are the exact sum rounded *up* to whole certificates (one
cannot surrender a fraction; rounding down would under-surrender).  The
free-allocation adjustment (CBAM benchmarks) is not applied.

De minimis: the importer is exempt when the year's CBAM goods weigh 50 t or
less in total (REFERENCE 7), all of them, also those of CN codes the request
leaves out (``cn_codes`` narrows the rows, not the importer's threshold).  A non-admin caller sees only its own
shipments, so its total is a lower bound of the importer's.
"""
from __future__ import annotations

import csv
import io
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from idres.auth import Identity
from idres.carbon.origin import proof_of_origin
from idres.carbon.reports import GRAMS_PER_TONNE, Group, Period, exporter_of, roll_up, shipments_to, tonnes_text
from idres.carbon.requests import ANNUAL, load
from idres.carbon.results import FIGURE_LABELS, see_text
from idres.config import Config
from idres.handles import fold
from idres.storage import Database

DE_MINIMIS_T = Decimal(50)
TONNES_PLACES = Decimal("0.0000001")
ZERO = Decimal(0)
DIRECT_ONLY_CHAPTERS = ("72", "73", "76")  # iron, steel, aluminium
COLUMNS = ("cn_code", "installation_id", "country", "goods", "net_mass_t", "see_direct", "see_indirect",
           "direct_emissions_t", "indirect_emissions_t", "total_embedded_emissions_t", "emissions_counted_t",
           "carbon_price_paid_eur_per_tco2e", "carbon_price_deduction_t", "certificates", "default_share",
           "de_minimis", "certificates_to_surrender")


def co2_text(value: Decimal) -> str:
    """Tonnes CO2e to 7 decimal places, half up."""
    return format(value.quantize(TONNES_PLACES, rounding=ROUND_HALF_UP), "f")


def annual_summary(db: Database, config: Config, who: Identity, body: Any) -> dict[str, Any]:
    """The annual summary for a body of :class:`idres.carbon.requests.Annual`; see the module doc."""
    req = load(ANNUAL, body)
    exporter = exporter_of(who, config.node_prefix, req.get("exporter"))
    period = Period(req["year"])
    with db.snapshot() as s:
        shipped = shipments_to(s, req["importer"], period, exporter, "importer")
        goods = roll_up(s, req["year"], shipped, req.get("cn_codes"), keep_handles=False)
        origin = proof_of_origin(s, goods.seqs(), req.get("include_proofs", False))
    prices = _prices(req.get("carbon_prices_paid", ()))
    certificate_price = Decimal(req["certificate_price"]) if "certificate_price" in req else None
    exact = [_row(g, prices, certificate_price) for g in
             sorted(goods.groups.values(), key=lambda g: (g.cn_code, g.installation_id or "", g.country))]
    totals = _totals(exact, certificate_price, goods.unasked_mass_g)
    left: dict[str, int] = {}
    for item in goods.left_out:
        left[item["reason"]] = left.get(item["reason"], 0) + 1
    return {"responseCode": 1, "importer": req["importer"], "year": req["year"], "exporter": exporter,
            "figure": FIGURE_LABELS["cbam"], "markup": str(goods.roll.policy.markup) if goods.roll else None,
            "shipped_handles": len(shipped), "left_out": left,
            "rows": [_shown(r) for r in exact], "totals": totals, "proof_of_origin": origin}


def _prices(items: Any) -> dict[tuple[str, str], Decimal]:
    return {("installation", fold(p["installation_id"])) if "installation_id" in p else ("country", p["country"]):
            Decimal(p["eur_per_tco2e"]) for p in items}


def _row(group: Group, prices: dict[tuple[str, str], Decimal], certificate_price: Decimal | None
         ) -> dict[str, Any]:
    """One row's exact figures (Decimals; tonnes and tCO2e)."""
    parts = group.contributions()
    direct = sum((d for _, d, _ in parts), ZERO) / GRAMS_PER_TONNE
    indirect = sum((i for _, _, i in parts), ZERO) / GRAMS_PER_TONNE
    defaults = sum((d + i for c, d, i in parts if c.default), ZERO) / GRAMS_PER_TONNE
    mass_t = Decimal(group.mass_g) / GRAMS_PER_TONNE
    counted = direct if group.cn_code[:2] in DIRECT_ONLY_CHAPTERS else direct + indirect
    price = prices.get(("installation", fold(group.installation_id or "")),
                       prices.get(("country", group.country)))
    deduction = ZERO
    if price is not None and certificate_price:
        deduction = min(counted, counted * price / certificate_price)
    total = direct + indirect
    return {"cn_code": group.cn_code, "installation_id": group.installation_id, "country": group.country,
            "goods": group.count, "mass_g": group.mass_g, "see_direct": direct / mass_t,
            "see_indirect": indirect / mass_t, "direct": direct, "indirect": indirect, "total": total,
            "counted": counted, "price": price, "deduction": deduction, "certificates": counted - deduction,
            "default_share": defaults / total if total else ZERO}


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    return {"cn_code": r["cn_code"], "installation_id": r["installation_id"], "country": r["country"],
            "goods": r["goods"], "net_mass_t": tonnes_text(r["mass_g"]),
            "see_direct": see_text(r["see_direct"]), "see_indirect": see_text(r["see_indirect"]),
            "direct_emissions_t": co2_text(r["direct"]), "indirect_emissions_t": co2_text(r["indirect"]),
            "total_embedded_emissions_t": co2_text(r["total"]), "emissions_counted_t": co2_text(r["counted"]),
            "carbon_price_paid_eur_per_tco2e": str(r["price"]) if r["price"] is not None else None,
            "carbon_price_deduction_t": co2_text(r["deduction"]), "certificates": co2_text(r["certificates"]),
            "default_share": see_text(r["default_share"])}


def _totals(rows: list[dict[str, Any]], certificate_price: Decimal | None,
            unasked_mass_g: int = 0) -> dict[str, Any]:
    mass_g = sum(r["mass_g"] for r in rows)
    exact = sum((r["certificates"] for r in rows), ZERO)
    whole = int(exact.to_integral_value(rounding=ROUND_CEILING))
    exempt = Decimal(mass_g + unasked_mass_g) / GRAMS_PER_TONNE <= DE_MINIMIS_T
    out = {"goods": sum(r["goods"] for r in rows), "net_mass_t": tonnes_text(mass_g),
           "direct_emissions_t": co2_text(sum((r["direct"] for r in rows), ZERO)),
           "indirect_emissions_t": co2_text(sum((r["indirect"] for r in rows), ZERO)),
           "total_embedded_emissions_t": co2_text(sum((r["total"] for r in rows), ZERO)),
           "emissions_counted_t": co2_text(sum((r["counted"] for r in rows), ZERO)),
           "carbon_price_deduction_t": co2_text(sum((r["deduction"] for r in rows), ZERO)),
           "certificates": co2_text(exact), "certificates_whole": whole,
           "de_minimis": exempt, "de_minimis_threshold_t": str(DE_MINIMIS_T),
           "de_minimis_net_mass_t": tonnes_text(mass_g + unasked_mass_g),
           "certificates_to_surrender": 0 if exempt else whole}
    if certificate_price is not None:
        out["certificate_price_eur"] = str(certificate_price)
        out["cost_eur"] = format((out["certificates_to_surrender"] * certificate_price)
                                 .quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "f")
    return out


def summary_csv(summary: dict[str, Any]) -> str:
    """The rows as CSV (header first), then a ``TOTAL`` row with the de-minimis flag and certificates."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in summary["rows"]:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    totals = summary["totals"]
    writer.writerow({**{k: v for k, v in totals.items() if k in COLUMNS}, "cn_code": "TOTAL",
                     "de_minimis": str(totals["de_minimis"]).lower()})
    return out.getvalue()

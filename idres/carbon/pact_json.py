"""A :class:`~idres.carbon.pact.Figure` as a PACT v2 ``ProductFootprint`` (Technical Specifications 2.x).

Field choices where the ledger has to be mapped onto PACT:

- ``productIds``: ``urn:hdl:<owner>:part-type:<code>`` and ``urn:hdl:<maker>:batch:<batch>``.
  A handle is ``prefix/suffix`` and ``urn:hdl:<handle>`` names one (the
  Handle System's own ``hdl:`` URI with the ``urn:`` scheme PACT requires);
  part types and batches are not handles but live in a prefix's namespace, so
  their URN starts with that prefix and has no ``/`` (the name is
  percent-encoded), and can never be mistaken for a part's handle.  ``hdl`` is
  not an IANA-registered URN namespace; PACT only asks for RFC 8141 syntax.
- ``companyIds``: ``urn:hdl:0.NA/<owner>``, the owner's prefix handle, which
  any Handle client can resolve.
- ``productCategoryCpc``: the UN CPC division of the CN chapter (41 basic
  metals, 42 fabricated metal products, 43 machinery, 49 transport
  equipment), section ``4`` otherwise: idres keeps CN codes, not CPC codes.
- ``created`` / ``updated``: the event times of the oldest and the newest
  ledger entry behind the figure (``updated`` only when it is later).
- ``referencePeriodStart`` / ``End``: the span of the ``period`` of the
  contributing ``carbon.recorded`` events (a year, quarter or month), else of
  the contributing events' days.
- All emissions are reported as fossil (the ledger records no biogenic
  carbon); carbon contents are not recorded and are given as ``0``.
- The proof of origin (the checkpoint the figure was read at and the ledger
  entries it rests on) is a data model extension.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from idres.carbon.footprint import BOUNDARY, LABEL
from idres.carbon.pact import Figure
from idres.carbon.results import see_text

SPEC_VERSION = "2.2.0"
EXTENSION_PATH = "/2/extensions/idres-proof-of-origin/1.0.0/schema.json"
CPC_BY_CHAPTER = {"72": "41", "73": "42", "76": "41", "84": "43", "87": "49"}
FABRICATED_ALUMINIUM = ("7604", "7605", "7606", "7607", "7608", "7609", "7610", "7611", "7612",
                        "7613", "7614", "7616")


@dataclass(frozen=True)
class Origin:
    """Where and when a figure was read: the node, its log and the checkpoint."""

    node_prefix: str
    base_url: str
    log_origin: str
    checkpoint: dict[str, Any] | None
    entries: dict[int, dict[str, Any]]     # contributing ledger entries by seq (parsed events)
    operators: dict[str, str]              # installation id (folded) -> operator name


def product_urn(figure: Figure) -> str:
    subj = figure.subject
    if subj.kind == "part":  # a handle names itself
        return f"urn:hdl:{subj.owner}/{quote(subj.name, safe='-._~')}"
    return f"urn:hdl:{subj.owner}:{subj.kind}:{quote(subj.name, safe='-._~')}"


def cpc_code(cn_code: str | None) -> str:
    if not cn_code:
        return "4"
    if cn_code[:4] in FABRICATED_ALUMINIUM:
        return "42"
    return CPC_BY_CHAPTER.get(cn_code[:2], "4")


def decimal_text(value: Decimal) -> str:
    """A PACT decimal: a JSON string, plain notation, no needless trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))


def period_span(period: str) -> tuple[datetime, datetime]:
    """``2026``, ``2026-Q2`` or ``2026-05`` as a half-open UTC interval."""
    year = int(period[:4])
    if len(period) == 4:
        return datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    first = (int(period[6]) - 1) * 3 + 1 if period[5] == "Q" else int(period[5:7])
    months = 3 if period[5] == "Q" else 1
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=timezone.utc)
    return datetime(year, first, 1, tzinfo=timezone.utc), end


def reference_period(origin: Origin) -> tuple[str, str]:
    events = list(origin.entries.values())
    spans = [period_span(e["period"]) for e in events if e.get("event_type") == "carbon.recorded"]
    if not spans:
        days = [_event_time(e).astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
                for e in events] or [datetime.now(timezone.utc).replace(hour=0, minute=0, second=0,
                                                                         microsecond=0)]
        spans = [(d, d + timedelta(days=1)) for d in days]
    return utc_text(min(a for a, _ in spans)), utc_text(max(b for _, b in spans))


def _times(figure: Figure, origin: Origin) -> dict[str, str]:
    times = [_event_time(origin.entries[q]) for q in figure.seqs if q in origin.entries]
    if not times:
        return {"created": utc_text(datetime.now(timezone.utc))}
    first, last = min(times), max(times)
    out = {"created": utc_text(first)}
    if utc_text(last) > out["created"]:
        out["updated"] = utc_text(last)
    return out


def _describe(figure: Figure) -> tuple[str, str]:
    subj = figure.subject
    if subj.kind == "part-type":
        text = f"Part type {subj.name} of {subj.owner}, CN {figure.cn_code}"
        return subj.name, text + (f": {figure.description}" if figure.description else "") + \
            f"; mass-weighted over {figure.parts} parts"
    return subj.name, (f"Batch {subj.name} of {subj.owner}" + (f", CN {figure.cn_code}" if figure.cn_code
                                                              else "") + f", {figure.parts} parts")


def _comment(figure: Figure) -> str:
    gaps = f" Counted as zero or left out for lack of data: {', '.join(figure.gaps)}." if figure.gaps else ""
    defaults = " Uses CBAM default values (without mark-up) where actual data are missing." \
        if figure.default_used else ""
    return f"{LABEL}.{defaults}{gaps} Verify the contributing ledger entries with the proof-of-origin " \
           f"extension."


def carbon_footprint(figure: Figure, origin: Origin) -> dict[str, Any]:
    """The ``pcf`` object: kgCO2e per kilogram of product."""
    start, end = reference_period(origin)
    per_kg = decimal_text(Decimal(see_text(figure.per_kg)))
    mass = Decimal(figure.declared_mass_g or 1000) / 1000
    pcf: dict[str, Any] = {
        "declaredUnit": "kilogram", "unitaryProductAmount": decimal_text(mass),
        "pCfExcludingBiogenic": per_kg, "pCfIncludingBiogenic": per_kg, "fossilGhgEmissions": per_kg,
        "fossilCarbonContent": "0", "biogenicCarbonContent": "0",
        "characterizationFactors": "AR6", "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": ["GHG Protocol Product standard", "ISO Standard 14067"],
        "boundaryProcessesDescription": BOUNDARY,
        "referencePeriodStart": start, "referencePeriodEnd": end,
        "exemptedEmissionsPercent": 0,
        "exemptedEmissionsDescription": ("Inputs without data counted as zero: " + ", ".join(figure.gaps))
        if figure.gaps else "",
        "packagingEmissionsIncluded": False,
        "primaryDataShare": float(figure.primary_share.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "allocationRulesDescription": "Mass allocation: a transformation's inputs are shared among its "
                                      "outputs by net mass; scrap carries no burden.",
    }
    if figure.country:
        pcf["geographyCountry"] = figure.country
    if figure.default_used:
        pcf["secondaryEmissionFactorSources"] = [{"name": "EU CBAM default values", "version": "as loaded"}]
    return pcf


def proof_extension(figure: Figure, origin: Origin) -> dict[str, Any]:
    """The checkpoint and the contributing entries, each checkable with an inclusion proof."""
    size = origin.checkpoint["size"] if origin.checkpoint else None
    return {"specVersion": "2.0.0", "dataSchema": origin.base_url.rstrip("/") + EXTENSION_PATH,
            "data": {"subject": figure.subject.text, "figure": LABEL, "ledgerOrigin": origin.log_origin,
                     "checkpoint": origin.checkpoint, "contributingSeqs": list(figure.seqs),
                     "inclusionProof": origin.base_url.rstrip("/")
                     + f"/api/ledger/proof/inclusion?entry={{seq}}&size={size}"}}


def product_footprint(figure: Figure, origin: Origin) -> dict[str, Any]:
    """The whole ``ProductFootprint`` object."""
    subj = figure.subject
    name, description = _describe(figure)
    operator = origin.operators.get((figure.installation_id or "").lower())
    return {
        "id": subj.footprint_id(origin.node_prefix), "specVersion": SPEC_VERSION,
        "version": figure.version, **_times(figure, origin), "status": "Active",
        "companyName": operator or f"Handle prefix {subj.owner}",
        "companyIds": [f"urn:hdl:0.NA/{subj.owner}"],
        "productDescription": description, "productIds": [product_urn(figure)],
        "productCategoryCpc": cpc_code(figure.cn_code), "productNameCompany": name,
        "comment": _comment(figure), "pcf": carbon_footprint(figure, origin),
        "extensions": [proof_extension(figure, origin)],
    }


EXTENSION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "idres proof of origin",
    "description": "The signed ledger checkpoint a PACT footprint was read at, and the ledger entries "
                   "(carbon.recorded, transformed, assembled, commissioned) it rests on; fetch "
                   "inclusionProof with {seq} replaced to check each against the checkpoint.",
    "type": "object",
    "required": ["subject", "figure", "ledgerOrigin", "checkpoint", "contributingSeqs", "inclusionProof"],
    "properties": {
        "subject": {"type": "string"}, "figure": {"type": "string"}, "ledgerOrigin": {"type": "string"},
        "checkpoint": {"type": ["object", "null"], "properties": {
            "size": {"type": "integer"}, "root": {"type": "string"}}},
        "contributingSeqs": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "inclusionProof": {"type": "string"},
    },
}

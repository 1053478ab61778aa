"""QReport v23 XML from a quarterly report's JSON twin, and its validation against the EU XSD.

The XSD files (``xsd/QReport_ver23.00.xsd`` including ``xsd/stypes.xsd``, the
European Commission's "CBAM XSD Version 23.00") ship with the package and are
loaded once per process.  :func:`validate` is part of the report's code
path: a report that does not validate is never returned as a success but
raised as :class:`ReportInvalid` (500, rc 2) naming the XSD's complaint, and
logged.

Code-list values are the EU registry's and are not checked by the XSD; the
ones written here are constants of this module: measurement unit ``01``
(tonnes), reporting methodology ``TOM02``, emissions unit ``EMU1`` (tCO2e/t),
determination type ``01`` (actual data) or ``02`` (default values),
electricity source ``01``, quantity indicator ``0``.
"""
from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from idres.errors import HandleError

NS = "http://xmlns.ec.eu/BusinessObjects/CBAM/Types/V1"
XSD = Path(__file__).with_name("xsd") / "QReport_ver23.00.xsd"
MASS_UNIT, EMISSIONS_UNIT, METHODOLOGY = "01", "EMU1", "TOM02"
ACTUAL, DEFAULT, ELECTRICITY_SOURCE, INDICATOR = "01", "02", "01", "0"
log = logging.getLogger("idres.cbam")
_lock = threading.Lock()
_schema: Any = None
ET.register_namespace("", NS)  # the default namespace: <QReport xmlns="...">, no ns0: prefixes


class ReportInvalid(HandleError):
    """A generated report the XSD rejects: a bug, never a success."""

    rc, status, default_message = 2, 500, "The generated QReport does not validate against the XSD"


def _el(parent: ET.Element, name: str, text: Any = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = str(text).lower() if isinstance(text, bool) else str(text)
    return child


def _fields(parent: ET.Element, data: dict[str, Any], names: tuple[tuple[str, str], ...]) -> None:
    """``(xml name, json key)`` pairs in XSD order; absent keys are left out."""
    for xml_name, key in names:
        if data.get(key) is not None:
            _el(parent, xml_name, data[key])


_ADDRESS = (("SubDivision", "subdivision"), ("City", "city"), ("Street", "street"),
            ("StreetAdditionalLine", "street_additional_line"), ("Number", "number"),
            ("Postcode", "postcode"), ("POBox", "po_box"))


def render(twin: dict[str, Any]) -> str:
    """The QReport XML document of a quarterly report's JSON twin."""
    root = ET.Element(f"{{{NS}}}QReport")
    _fields(root, twin, (("SubmissionDate", "submission_date"), ("ReportId", "report_id"),
                         ("ReportingPeriod", "reporting_period"), ("Year", "year")))
    _party(root, "Declarant", twin["declarant"])
    if "importer" in twin:
        _party(root, "Importer", twin["importer"])
    _signatures(root, twin["signature"])
    if twin.get("remarks"):
        _el(_el(root, "Remarks"), "AdditionalInformation", twin["remarks"])
    for good in twin["imported_goods"]:
        _imported_good(root, good)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _party(root: ET.Element, name: str, party: dict[str, Any]) -> None:
    el = _el(root, name)
    _el(el, "IdentificationNumber", party["identification_number"])
    _el(el, "Name", party["name"])
    if name == "Declarant":
        _el(el, "Role", party["role"])
        _fields(_el(el, "ActorAddress"), party["address"], _ADDRESS)
    else:
        address = _el(el, "ImporterAddress")
        _el(address, "Country", party["address"]["country"])
        _fields(address, party["address"], _ADDRESS)


def _signatures(root: ET.Element, sig: dict[str, Any]) -> None:
    confirmation = _el(_el(root, "Signatures"), "ReportConfirmation")
    _fields(confirmation, sig, (("GlobalDataConfirmation", "global_data_confirmation"),
                                ("UseOfDataConfirmation", "use_of_data_confirmation"),
                                ("SignaturePlace", "place"), ("Signature", "signatory"),
                                ("PositionOfPersonSending", "position")))


def _measure(parent: ET.Element, name: str, net_mass_t: str) -> None:
    measure = _el(parent, name)
    _el(measure, "NetMass", net_mass_t)
    _el(measure, "MeasurementUnit", MASS_UNIT)


def _imported_good(root: ET.Element, good: dict[str, Any]) -> None:
    el = _el(root, "ImportedGood")
    _el(el, "ItemNumber", good["item_number"])
    code = _el(el, "CommodityCode")
    _el(code, "HsCode", good["hs_code"])
    _el(code, "CnCode", good["cn_code"])
    _fields(_el(code, "CommodityDetails"), good, (("Description", "description"),))
    _el(_el(el, "OriginCountry"), "Country", good["origin_country"])
    quantity = _el(el, "ImportedQuantity")
    _el(quantity, "SequenceNumber", 1)
    _el(_el(quantity, "Procedure"), "RequestedProc", good["procedure"])
    _el(_el(quantity, "ImportArea"), "ImportArea", good["import_area"])
    procedure_measure = _el(quantity, "MeasureProcedureImported")
    _el(procedure_measure, "Indicator", INDICATOR)
    _el(procedure_measure, "NetMass", good["net_mass_t"])
    _el(procedure_measure, "MeasurementUnit", MASS_UNIT)
    _measure(el, "MeasureImported", good["net_mass_t"])
    for emissions in good["goods_emissions"]:
        _goods_emissions(el, emissions)


def _goods_emissions(parent: ET.Element, e: dict[str, Any]) -> None:
    el = _el(parent, "GoodsEmissions")
    _el(el, "SequenceNumber", e["sequence_number"])
    if e["production_country"]:
        _el(el, "ProductionCountry", e["production_country"])
    if e["installation"]:
        _installation(el, e["installation"])
    _measure(el, "ProducedMeasure", e["produced_net_mass_t"])
    determination = DEFAULT if e["default_values"] else ACTUAL
    direct = _el(el, "DirectEmissions")
    _el(direct, "DeterminationType", determination)
    _el(direct, "ApplicableReportingTypeMethodology", METHODOLOGY)
    _el(direct, "SpecificEmbeddedEmissions", e["see_direct"])
    _el(direct, "MeasurementUnit", EMISSIONS_UNIT)
    indirect = _el(el, "IndirectEmissions")
    _el(indirect, "DeterminationType", determination)
    _el(indirect, "SpecificEmbeddedEmissions", e["see_indirect"])
    _el(indirect, "MeasurementUnit", EMISSIONS_UNIT)
    _el(indirect, "ElectricitySource", ELECTRICITY_SOURCE)
    for n, price in enumerate(e["carbon_prices_due"], start=1):
        due = _el(el, "CarbonPriceDue")
        _el(due, "SequenceNumber", n)
        _fields(due, price, (("InstrumentType", "instrument_type"),
                             ("LegalActDescription", "legal_act_description"), ("Amount", "amount"),
                             ("Currency", "currency"), ("Country", "country")))
    remarks = _el(el, "RemarksEmissions")
    _el(remarks, "SequenceNumber", 1)
    _el(remarks, "AdditionalInformation", e["remarks"][:512])


def _installation(parent: ET.Element, inst: dict[str, Any]) -> None:
    el = _el(parent, "Installation")
    _el(el, "InstallationId", inst["installation_id"])
    _el(el, "InstallationName", inst["name"])
    address = _el(el, "Address")
    _fields(address, inst, (("EstablishmentCountry", "country"), ("City", "city"), ("UNLOCODE", "unlocode"),
                            ("Latitude", "latitude"), ("Longitude", "longitude")))


def schema() -> Any:
    """The v23 XSD, parsed once per process (xmlschema is imported only when a report is made)."""
    global _schema
    with _lock:
        if _schema is None:
            import xmlschema

            _schema = xmlschema.XMLSchema(str(XSD))
        return _schema


def problems(xml: str, xsd: Any = None) -> list[str]:
    """What the XSD finds wrong with ``xml``: one line per error (empty when valid)."""
    return [f"{err.path}: {err.reason}" for err in (xsd or schema()).iter_errors(xml)]


def validate(xml: str) -> None:
    """Raise :class:`ReportInvalid` (and log it) unless ``xml`` validates against the v23 XSD."""
    found = problems(xml)
    if found:
        log.error("generated QReport does not validate: %s", "; ".join(found))
        raise ReportInvalid(f"The generated QReport does not validate against QReport_ver23.00.xsd: "
                            f"{found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))

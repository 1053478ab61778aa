"""Request bodies of the CBAM reports, validated strictly (unknown fields rejected).

Lengths follow the QReport v23 XSD wherever a value ends up in the XML
(declarant id an..17, names an..70, cities an..35, ...), so a body that
passes here cannot make an invalid report through a field that is too long.
Money and prices are decimal strings, never binary floats.

Where a CN code is given in a request (``cn_codes``, to restrict a report)
it must be 8 digits and a CBAM good; part types carry 8-digit CN codes too
(checked when they are registered) but may name goods outside CBAM, which
reports then leave out.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from idres.carbon.scope import is_cbam_good
from idres.errors import BadRequest, from_validation
from schemas.carbon import country_code, xml_text

MAX_HANDLES = 100_000
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,5})?$")
LAST_YEAR = 2100


def _text(low: int, high: int, **kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(low, high), xml_text], **kw)


def _cbam_cn(value: str) -> None:
    if not (value.isascii() and value.isdigit() and len(value) == 8):
        raise ValidationError("a CN code is 8 digits")
    if not is_cbam_good(value):
        raise ValidationError(f"{value} is not a CBAM good")


def _amount(what: str) -> Any:
    return validate.Regexp(_AMOUNT, error=f"a non-negative decimal string of {what}, e.g. \"12.50\"")


class Bool(fields.Field):
    """JSON true or false only (marshmallow's Boolean also takes 1, "yes", ...)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("true or false")
        return value


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DeclarantAddress(_Strict):
    city = _text(1, 35, required=True)
    subdivision = _text(1, 35)
    street = _text(1, 70)
    street_additional_line = _text(1, 70)
    number = _text(1, 35)
    postcode = _text(1, 17)
    po_box = _text(1, 70)


class Address(DeclarantAddress):
    country = fields.String(required=True, validate=country_code)


class Declarant(_Strict):
    identification_number = _text(1, 17, required=True, metadata={"description": "EORI number"})
    name = _text(1, 70, required=True)
    role = _text(1, 5, required=True, metadata={"description": "EU code list value, e.g. 01"})
    address = fields.Nested(DeclarantAddress, required=True)


class Importer(_Strict):
    identification_number = _text(1, 17, required=True)
    name = _text(1, 70, required=True)
    address = fields.Nested(Address, required=True)


class Signature(_Strict):
    place = _text(1, 128, required=True)
    signatory = _text(1, 128, required=True)
    position = _text(1, 128, required=True)
    global_data_confirmation = Bool(required=True)
    use_of_data_confirmation = Bool(required=True)


class CarbonPriceDue(_Strict):
    """A carbon price due in the country of origin, attached to an installation's (or country's) emissions."""

    installation_id = _text(1, 20)
    country = fields.String(required=True, validate=country_code)
    instrument_type = _text(1, 5, required=True)
    legal_act_description = _text(1, 512, required=True)
    amount = fields.String(required=True, validate=_amount("the price due"))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="ISO 4217, e.g. CNY"))


class _Period(_Strict):
    year = fields.Integer(strict=True, required=True, validate=validate.Range(
        2026, LAST_YEAR, error="a year of the CBAM definitive period, 2026 to 2100"))
    exporter = fields.String(validate=validate.Regexp(r"^[0-9A-Za-z._-]{1,64}$"),
                             metadata={"description": "whose shipments count (the node admin may choose)"})
    cn_codes = fields.List(fields.String(validate=_cbam_cn), validate=validate.Length(1, 100))


class Quarterly(_Period):
    quarter = fields.Integer(strict=True, required=True, validate=validate.Range(1, 4, error="1 to 4"))
    declarant = fields.Nested(Declarant, required=True)
    importer = fields.Nested(Importer)
    signature = fields.Nested(Signature, required=True)
    handles = fields.List(fields.String(validate=validate.Length(3, 255)),
                          validate=validate.Length(1, MAX_HANDLES))
    to_party = _text(1, 255)
    report_id = _text(1, 22)
    remarks = _text(1, 512)
    carbon_prices_due = fields.List(fields.Nested(CarbonPriceDue), validate=validate.Length(1, 99))
    customs_procedure = fields.String(validate=validate.Regexp(r"^[0-9A-Z]{2}$", error="2 characters"))
    import_area = _text(1, 5)
    include_proofs = Bool()

    @validates_schema
    def _one_selection(self, data: dict, **_: Any) -> None:
        if ("handles" in data) == ("to_party" in data):
            raise ValidationError("give exactly one of handles or to_party", "handles")


class CarbonPricePaid(_Strict):
    """The carbon price effectively paid in the country of origin, per tCO2e, in EUR."""

    installation_id = _text(1, 20)
    country = fields.String(validate=country_code)
    eur_per_tco2e = fields.String(required=True, validate=_amount("EUR per tCO2e"))

    @validates_schema
    def _one_place(self, data: dict, **_: Any) -> None:
        if ("installation_id" in data) == ("country" in data):
            raise ValidationError("give exactly one of installation_id or country", "installation_id")


class Annual(_Period):
    importer = _text(1, 255, required=True, metadata={"description": "the to_party of the shipments"})
    carbon_prices_paid = fields.List(fields.Nested(CarbonPricePaid), validate=validate.Length(1, 1000))
    certificate_price = fields.String(validate=_amount("EUR per CBAM certificate"))
    include_proofs = Bool()

    @validates_schema
    def _price_needs_certificate_price(self, data: dict, **_: Any) -> None:
        if data.get("carbon_prices_paid") and "certificate_price" not in data:
            raise ValidationError("needed to turn carbon prices paid into certificates", "certificate_price")


QUARTERLY, ANNUAL = Quarterly(), Annual()


def load(schema: Schema, body: Any) -> dict[str, Any]:
    """A validated request body; 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object", field="body")
    try:
        return schema.load(body)
    except ValidationError as err:
        raise from_validation(err) from None

"""Carbon reference data: installations, part types and CBAM default values.

Strict like the event schemas: unknown fields are rejected, masses are
integer grams, coordinates and emission factors are decimal *strings*
(never binary floats).  Lengths follow the CBAM QReport v23 XSD where it
has a field for the value (installation id an..20, city an..35, latitude
and longitude an..17, operator name an..70).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from idres.carbon.scope import COUNTRIES, is_cbam_prefix

INSTALLATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")
_LAT = re.compile(r"^-?\d{1,2}(\.\d{1,8})?$")
_LON = re.compile(r"^-?\d{1,3}(\.\d{1,8})?$")
_FACTOR = re.compile(r"^\d{1,6}(\.\d{1,7})?$")
# Characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/U+FFFF): names and
# places end up in QReport XML, where they would fail as a 500 instead of a 400 here.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> None:
    """Refuse text that XML 1.0 cannot carry, naming the character and its position."""
    bad = _NOT_XML.search(value)
    if bad:
        raise ValidationError(f"character U+{ord(bad.group()):04X} at position {bad.start()} "
                              "is not allowed (XML 1.0 text)")


def country_code(value: str) -> None:
    """Refuse anything but an ISO 3166-1 alpha-2 code in capitals (or XK)."""
    if value not in COUNTRIES:
        raise ValidationError("an ISO 3166-1 alpha-2 country code in capitals, e.g. CN")


def _coordinate(pattern: re.Pattern, limit: int) -> Any:
    def check(value: str) -> None:
        if not pattern.match(value) or abs(Decimal(value)) > limit:
            raise ValidationError(f"a decimal string from -{limit} to {limit}, e.g. \"29.8683\"")
    return check


class InstallationSchema(Schema):
    """A production installation (CBAM: where goods are made and emissions attributed)."""

    class Meta:
        unknown = RAISE

    installation_id = fields.String(required=True, validate=validate.Regexp(
        INSTALLATION_ID, error="1-20 of A-Z, a-z, 0-9, '.', '-', '_', starting with a letter or digit"))
    name = fields.String(required=True, validate=[validate.Length(1, 256), xml_text])
    country = fields.String(required=True, validate=country_code)
    city = fields.String(required=True, validate=[validate.Length(1, 35), xml_text])
    unlocode = fields.String(validate=validate.Regexp(
        r"^[A-Z]{2}[A-Z2-9]{3}$", error="UN/LOCODE: country code and three letters or digits, e.g. CNNGB"))
    latitude = fields.String(validate=_coordinate(_LAT, 90))
    longitude = fields.String(validate=_coordinate(_LON, 180))
    operator = fields.String(validate=[validate.Length(1, 70), xml_text])

    @validates_schema
    def _consistent(self, data: dict, **_: Any) -> None:
        code = data.get("unlocode")
        if code and data.get("country") and code[:2] != data["country"]:
            raise ValidationError(f"starts with {code[:2]}, not the installation's country", "unlocode")
        if ("latitude" in data) != ("longitude" in data):
            raise ValidationError("give latitude and longitude together", "latitude")


class PartTypeSchema(Schema):
    """A part type of one enterprise: what its parts are, customs-wise and by mass."""

    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z0-9][A-Z0-9._-]{0,31}$", error="part type code: 1-32 of A-Z, 0-9, '.', '-', '_'"))
    description = fields.String(validate=[validate.Length(1, 500), xml_text])
    cn_code = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{8}$", error="CN code must be 8 digits"))
    net_mass_g = fields.Integer(strict=True, required=True, validate=validate.Range(
        1, 2**53 - 1, error="whole grams, at least 1"))


class DefaultValueSchema(Schema):
    """One row of the CBAM default-value table (tCO2e per tonne of good)."""

    class Meta:
        unknown = RAISE

    country = fields.String(required=True)
    cn_code = fields.String(required=True)
    direct = fields.String(required=True, validate=validate.Regexp(
        _FACTOR, error="a decimal string of tCO2e/t, e.g. 2.10"))
    indirect = fields.String(required=True, validate=validate.Regexp(
        _FACTOR, error="a decimal string of tCO2e/t, e.g. 0.35"))
    source = fields.String(validate=[validate.Length(0, 200), xml_text])

    @validates("country")
    def _any_country(self, value: str, **_: Any) -> None:
        if value != "*":
            country_code(value)

    @validates("cn_code")
    def _scope(self, value: str, **_: Any) -> None:
        if not (value.isascii() and value.isdigit() and len(value) in (4, 6, 8)):
            raise ValidationError("a CN code or heading of 4, 6 or 8 digits")
        if not is_cbam_prefix(value):
            raise ValidationError(f"{value} is not (wholly) a CBAM good")

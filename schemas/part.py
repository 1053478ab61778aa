"""The part-data template for automotive parts.

A part record carries its data as string values of types ``PART.*``; this
template says which types exist and what their text must look like.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

# handle value type -> schema field
PART_TYPES: dict[str, str] = {
    "PART.TYPE": "type_code",
    "PART.DESCRIPTION": "description",
    "PART.MANUFACTURER": "manufacturer",
    "PART.BATCH": "batch",
    "PART.CN_CODE": "cn_code",
    "PART.NET_MASS_G": "net_mass_g",
    "PART.PRODUCTION_DATE": "production_date",
}
FIELD_TYPES = {field: vtype for vtype, field in PART_TYPES.items()}


class PartDataSchema(Schema):
    """Automotive part data; every field is text as stored in a handle value."""

    class Meta:
        unknown = RAISE

    type_code = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z0-9][A-Z0-9._-]{0,31}$", error="part type code: 1-32 of A-Z, 0-9, '.', '-', '_'"))
    description = fields.String(validate=validate.Length(1, 500))
    manufacturer = fields.String(validate=validate.Length(1, 200))
    batch = fields.String(validate=validate.Length(1, 100))
    cn_code = fields.String(validate=validate.Regexp(r"^[0-9]{8}$", error="CN code must be 8 digits"))
    net_mass_g = fields.String(validate=validate.Regexp(
        r"^(0|[1-9][0-9]{0,14})$", error="net mass is a whole number of grams"))
    production_date = fields.Date()


def validate_part_values(values: dict[str, object]) -> str | None:
    """Check a record's ``PART.*`` values (type -> text).

    Returns ``None`` when they fit the template, else ``"TYPE: message"``
    naming the first offending value type.
    """
    if not values:
        return None
    data: dict[str, object] = {}
    for vtype, text in values.items():
        field = PART_TYPES.get(vtype)
        if field is None:
            return f"{vtype}: not a part-data type (known: {', '.join(PART_TYPES)})"
        data[field] = text
    try:
        PartDataSchema().load(data)
    except ValidationError as err:
        field, messages = sorted(err.messages.items())[0]
        message = messages[0] if isinstance(messages, list) else str(messages)
        return f"{FIELD_TYPES.get(field, field)}: {message}"
    return None

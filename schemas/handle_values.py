"""The JSON shape of handle values and REST responses (REFERENCE section 3)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

MAX_INDEX = 2**31 - 1


class ValueDataSchema(Schema):
    format = fields.String(required=True, metadata={"description": "string, base64, hex, admin, vlist, site or key"})
    value = fields.Raw(required=True)


class ValueInSchema(Schema):
    """One value as a client sends it; ``data`` may be a bare string."""

    class Meta:
        # Clients echo back what they read (timestamp, permissions, ...).
        unknown = EXCLUDE

    index = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_INDEX))
    type = fields.String(required=True, validate=validate.Length(1, 255))
    data = fields.Raw(required=True, metadata={"description": "a bare string or {format, value}"})
    ttl = fields.Integer(strict=True, load_default=86400, validate=validate.Range(0, MAX_INDEX))
    permissions = fields.String(validate=validate.Regexp(r"^[01]{4}$"),
                                metadata={"description": "admin read, admin write, public read, public write"})
    references = fields.List(fields.Raw(), load_default=list)
    timestamp = fields.String(metadata={"description": "ignored on input"})


class ValueOutSchema(Schema):
    index = fields.Integer()
    type = fields.String()
    data = fields.Nested(ValueDataSchema)
    ttl = fields.Integer()
    timestamp = fields.String(metadata={"description": "ISO 8601, UTC, no fractional seconds"})
    permissions = fields.String(metadata={"description": "present when not the default 1110"})


class HandleRecordSchema(Schema):
    responseCode = fields.Integer()
    handle = fields.String()
    values = fields.List(fields.Nested(ValueOutSchema))


class ErrorSchema(Schema):
    responseCode = fields.Integer()
    handle = fields.String()
    message = fields.String()
    field = fields.String(metadata={"description": "the request field at fault, when there is one"})


class HandleListSchema(Schema):
    responseCode = fields.Integer()
    prefix = fields.String()
    totalCount = fields.String()
    page = fields.Integer()
    pageSize = fields.Integer()
    handles = fields.List(fields.String())


class ValuesBodySchema(Schema):
    values = fields.List(fields.Nested(ValueInSchema), required=True)

"""Lifecycle and carbon events (GS1 EPCIS 2.0 / CBV vocabulary, simplified).

Strict: unknown fields are rejected, quantities are integers (grams) or
decimal strings, never binary floats, so that RFC 8785 canonical JSON is
stable.  Each schema names its *subject* fields (which must be handles of
the acting enterprise) and its *reference* fields (which may be foreign).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

EVENT_TYPES = ("commissioned", "assembled", "disassembled", "transformed", "shipped", "received",
               "inspected", "recalled", "scrapped", "carbon.recorded")
_OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
MAX_HANDLES = 10_000

Grams = lambda **kw: fields.Integer(strict=True, validate=validate.Range(0, 2**53 - 1), **kw)  # noqa: E731
HandleList = lambda **kw: fields.List(fields.String(validate=validate.Length(3, 255)),  # noqa: E731
                                      validate=validate.Length(1, MAX_HANDLES), **kw)


class EventSchema(Schema):
    """Fields every event has."""

    class Meta:
        unknown = RAISE

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    event_time = fields.String(required=True)
    actor = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z._-]{1,64}$"),
                          metadata={"description": "the acting enterprise prefix, e.g. 88.118.8"})
    bizLocation = fields.String(validate=validate.Length(1, 255))

    @validates("event_time")
    def _event_time(self, value: str, **_: Any) -> None:
        if not _OFFSET_TIME.match(value):
            raise ValidationError("ISO 8601 date-time with a UTC offset, e.g. 2026-11-30T08:15:00+08:00")
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            raise ValidationError(str(err)) from None


class Commissioned(EventSchema):
    handle = fields.String(required=True)
    part_type = fields.String(required=True, validate=validate.Length(1, 32))
    batch = fields.String(validate=validate.Length(1, 100))
    installation = fields.String(validate=validate.Length(1, 100))
    net_mass_g = Grams(required=True)


class Assembled(EventSchema):
    parent = fields.String(required=True)
    children = HandleList(required=True)


class Disassembled(Assembled):
    pass


class TransformInput(Schema):
    class Meta:
        unknown = RAISE

    handle = fields.String()
    batch = fields.String(validate=validate.Length(1, 100))
    consumed_mass_g = Grams(required=True, metadata={"description": "including scrap"})

    @validates_schema
    def _one_source(self, data: dict, **_: Any) -> None:
        if ("handle" in data) == ("batch" in data):
            raise ValidationError("give exactly one of handle or batch", "handle")


class Transformed(EventSchema):
    inputs = fields.List(fields.Nested(TransformInput), required=True,
                         validate=validate.Length(1, MAX_HANDLES))
    outputs = HandleList(required=True)


class Shipped(EventSchema):
    handles = HandleList(required=True)
    from_party = fields.String(required=True, validate=validate.Length(1, 255))
    to_party = fields.String(required=True, validate=validate.Length(1, 255))


class Received(Shipped):
    pass


class Inspected(EventSchema):
    handles = HandleList(required=True)
    result = fields.String(required=True, validate=validate.OneOf(["conformant", "non_conformant"]))
    defect_code = fields.String(validate=validate.Length(1, 64))

    @validates_schema
    def _defect(self, data: dict, **_: Any) -> None:
        if data.get("result") == "non_conformant" and not data.get("defect_code"):
            raise ValidationError("required when result is non_conformant", "defect_code")


class Recalled(EventSchema):
    handles = HandleList(required=True)
    campaign_id = fields.String(required=True, validate=validate.Length(1, 100))


class Scrapped(EventSchema):
    handles = HandleList(required=True)


class CarbonRecorded(EventSchema):
    handle = fields.String()
    batch = fields.String(validate=validate.Length(1, 100))
    installation_id = fields.String(required=True, validate=validate.Length(1, 100))
    period = fields.String(required=True, validate=validate.Regexp(
        r"^\d{4}(-Q[1-4]|-\d{2})?$", error="a year, YYYY-Qn or YYYY-MM"))
    direct_g = Grams(required=True, metadata={"description": "direct emissions, grams CO2e"})
    indirect_g = Grams(required=True, metadata={"description": "indirect emissions, grams CO2e"})
    activity_level_g = fields.Integer(strict=True, required=True, validate=validate.Range(1, 2**53 - 1))
    method = fields.String(required=True, validate=validate.OneOf(["actual", "default"]))
    evidence_sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))

    @validates_schema
    def _one_subject(self, data: dict, **_: Any) -> None:
        if ("handle" in data) == ("batch" in data):
            raise ValidationError("give exactly one of handle or batch", "handle")


SCHEMAS: dict[str, type[EventSchema]] = {
    "commissioned": Commissioned, "assembled": Assembled, "disassembled": Disassembled,
    "transformed": Transformed, "shipped": Shipped, "received": Received, "inspected": Inspected,
    "recalled": Recalled, "scrapped": Scrapped, "carbon.recorded": CarbonRecorded,
}

# Fields naming handles the actor must own, and handles that may be foreign.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "commissioned": ("handle",), "assembled": ("parent",), "disassembled": ("parent",),
    "transformed": ("outputs",), "shipped": ("handles",), "received": (),
    "inspected": ("handles",), "recalled": ("handles",), "scrapped": ("handles",),
    "carbon.recorded": ("handle",),
}
REFERENCES: dict[str, tuple[str, ...]] = {
    "assembled": ("children",), "disassembled": ("children",), "transformed": ("inputs",),
    "received": ("handles",),
}


# One instance per type: building a schema deep-copies its fields, which cost
# more than the load itself on large batches (loading is stateless).
_LOADERS: dict[str, EventSchema] = {name: schema() for name, schema in SCHEMAS.items()}


def load_event(data: Any) -> dict[str, Any]:
    """Validate one event; raises ``ValidationError`` whose messages name the field."""
    if not isinstance(data, dict):
        raise ValidationError("an event is a JSON object")
    event_type = data.get("event_type")
    schema = _LOADERS.get(event_type) if isinstance(event_type, str) else None
    if schema is None:
        raise ValidationError(f"must be one of {', '.join(EVENT_TYPES)}", "event_type")
    loaded = schema.load(data)
    loaded["event_id"] = str(loaded["event_id"])
    return loaded

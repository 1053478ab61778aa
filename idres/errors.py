"""One exception hierarchy for every failure a client can see.

Each error carries the Handle response code (``rc``) and the HTTP status the
REST API answers with (REFERENCE section 3).  Views never build error bodies
themselves: a single Flask error handler turns these into JSON.
"""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError


class HandleError(Exception):
    """A failure with a Handle response code and an HTTP status."""

    rc: int = 2
    status: int = 500
    default_message: str = "Internal error"

    def __init__(self, message: str | None = None, *, field: str | None = None,
                 handle: str | None = None, status: int | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.field = field
        self.handle = handle
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        out: dict[str, Any] = {"responseCode": self.rc}
        if self.handle is not None:
            out["handle"] = self.handle
        out["message"] = self.message
        if self.field is not None:
            out["field"] = self.field
        return out


class BadRequest(HandleError):
    rc, status, default_message = 4, 400, "Bad request"


class MethodNotAllowed(HandleError):
    rc, status, default_message = 4, 405, "Method not allowed"


class BodyTooLarge(HandleError):
    rc, status, default_message = 4, 413, "Request body too large"


class HandleNotFound(HandleError):
    rc, status, default_message = 100, 404, "Handle not found"


class HandleAlreadyExists(HandleError):
    rc, status, default_message = 101, 409, "Handle already exists"


class InvalidHandle(HandleError):
    rc, status, default_message = 102, 400, "Invalid handle"


class ValuesNotFound(HandleError):
    rc, status, default_message = 200, 400, "Values not found"


class ValueAlreadyExists(HandleError):
    rc, status, default_message = 201, 409, "Value already exists"


class InvalidValue(HandleError):
    rc, status, default_message = 202, 400, "Invalid value"


class NotResponsible(HandleError):
    rc, status, default_message = 301, 400, "That prefix doesn't live here"


class AuthenticationNeeded(HandleError):
    rc, status, default_message = 402, 401, "Authentication needed"


class InvalidCredentials(HandleError):
    """Wrong password or unknown identity: 401 so clients retry with others."""

    rc, status, default_message = 402, 401, "Invalid credentials"


class NotAuthorized(HandleError):
    rc, status, default_message = 400, 403, "Not authorized"


def from_validation(err: ValidationError, where: str | None = None,
                    cls: type[HandleError] = BadRequest) -> HandleError:
    """The first marshmallow error as a HandleError naming its field.

    Nested errors become paths (``inputs[0].consumed_mass_g``), prefixed by
    ``where`` (``events[2]``); schema-level errors name ``where`` itself.
    """
    messages = err.normalized_messages()
    name, detail = sorted(messages.items(), key=lambda kv: str(kv[0]))[0]
    while isinstance(detail, dict):  # nested: inputs -> 0 -> consumed_mass_g
        key, detail = sorted(detail.items(), key=lambda kv: str(kv[0]))[0]
        name = f"{name}[{key}]" if isinstance(key, int) else f"{name}.{key}"
    text = detail[0] if isinstance(detail, list) else str(detail)
    if name == "_schema":  # about the object as a whole
        return cls(text, field=where)
    return cls(f"{name}: {text}", field=f"{where}.{name}" if where else str(name))

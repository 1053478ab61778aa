"""The one error handler: every failure becomes a Handle-style JSON body."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from idres.api.context import respond
from idres.errors import BadRequest, BodyTooLarge, HandleError, MethodNotAllowed

log = logging.getLogger("idres")


def _handle_error(err: HandleError) -> Any:
    if err.handle is None and request.view_args and "handle" in request.view_args:
        err.handle = request.view_args["handle"]
    response = respond(err.body(), err.status)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="handle"'
    return response


def _http_error(err: HTTPException) -> Any:
    mapped: HandleError
    if err.code == 405:
        mapped = MethodNotAllowed(f"Method {request.method} is not supported here")
    elif err.code == 413:
        mapped = BodyTooLarge("Request body is larger than the node accepts", field="body")
    elif err.code == 404:
        mapped = BadRequest(f"Unknown path {request.path}", status=404)
    else:
        mapped = BadRequest(err.description or "Bad request", status=err.code or 400)
    return _handle_error(mapped)


def _unexpected(err: Exception) -> Any:
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return _handle_error(HandleError("Internal error"))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HandleError, _handle_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

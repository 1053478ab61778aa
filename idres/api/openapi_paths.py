"""OpenAPI descriptions of the ledger, genealogy, recall and carbon endpoints.

Request bodies refer to the marshmallow schemas registered in
:data:`SCHEMAS`, so the document cannot drift from what the views accept;
``tests/idres/test_openapi.py`` checks that every route the app serves is
described here or in :mod:`idres.api.openapi`.
"""
from __future__ import annotations

from typing import Any

from schemas.carbon import InstallationSchema, PartTypeSchema
from schemas.events import SCHEMAS as EVENT_SCHEMAS
from schemas.recall import RecallRequestSchema, ScopeRequestSchema

SCHEMAS: dict[str, Any] = {
    **{f"Event_{name.replace('.', '_')}": schema for name, schema in EVENT_SCHEMAS.items()},
    "ScopeRequest": ScopeRequestSchema, "RecallRequest": RecallRequestSchema,
    "Installation": InstallationSchema, "PartType": PartTypeSchema,
}
_EVENT_REFS = [{"$ref": f"#/components/schemas/Event_{n.replace('.', '_')}"} for n in EVENT_SCHEMAS]
_OBJECT = {"type": "object"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def body(schema: dict[str, Any], mimetype: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {mimetype: {"schema": schema}}}


def answer(description: str, schema: dict[str, Any] | None = None,
           mimetype: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {mimetype: {"schema": schema or _OBJECT}}}


def param(name: str, where: str, description: str, kind: str = "string",
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": {"type": kind}}


def errors(*codes: int) -> dict[str, Any]:
    """Error answers (JSON naming the field) for the given HTTP statuses."""
    texts = {400: "bad request naming the field", 401: "authentication needed (rc 402)",
             403: "not authorized", 404: "not found", 409: "conflicts with the ledger's state",
             413: "body too large", 422: "the data cannot give an answer (names the field)",
             503: "the ledger is not configured on this node"}
    return {str(code): answer(texts[code], ref("Error")) for code in codes}


_SECURED = [{"basic": []}]
_HANDLE = param("handle", "path", "prefix/suffix, e.g. 88.118.8/ENG-2026-000123")
_SUBJECT = param("subject", "path", "a handle or batch:<prefix>/<batch>")
_YEAR = param("year", "query", "import year (sets the default-value mark-up)", "integer")


def _ledger() -> dict[str, dict[str, Any]]:
    events = {"oneOf": _EVENT_REFS + [{"type": "object", "required": ["events"], "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": 10_000, "items": {"oneOf": _EVENT_REFS}}}}]}
    return {
        "/api/events": {"post": {
            "summary": "Append one event or {events: [...]} atomically (all or none)",
            "security": _SECURED, "requestBody": body(events),
            "responses": {"201": answer("the entries appended (seq, leaf hash) and the checkpoint"),
                          **errors(400, 401, 403, 404, 409, 413, 503)}}},
        "/api/ledger/key": {"get": {"summary": "The checkpoint origin and Ed25519 verifier key",
                                    "responses": {"200": answer("origin and verifierKey"), **errors(503)}}},
        "/api/ledger/checkpoint": {"get": {
            "summary": "The latest signed checkpoint (C2SP signed note; text/plain gives the bare note)",
            "responses": {"200": answer("size, base64 root and note"), **errors(503)}}},
        "/api/ledger/entries/{seq}": {"get": {
            "summary": "One log entry (RFC 8785 JSON), its leaf hash and chain hash",
            "parameters": [param("seq", "path", "0-based entry number", "integer")],
            "responses": {"200": answer("the entry"), **errors(404)}}},
        "/api/ledger/proof/inclusion": {"get": {
            "summary": "RFC 9162 inclusion proof of an entry in the tree of a given size",
            "parameters": [param("entry", "query", "entry number", "integer", True),
                           param("size", "query", "tree size, at most the log size", "integer", True)],
            "responses": {"200": answer("leafHash, root and the proof path (base64)"), **errors(400)}}},
        "/api/ledger/proof/consistency": {"get": {
            "summary": "RFC 9162 consistency proof between two tree sizes",
            "parameters": [param("from", "query", "older size", "integer", True),
                           param("to", "query", "newer size", "integer", True)],
            "responses": {"200": answer("both roots and the proof path (base64)"), **errors(400)}}},
        "/api/handles/{handle}/events": {"get": {
            "summary": "A part's history, each event with an inclusion proof",
            "parameters": [_HANDLE], "responses": {"200": answer("the events"), **errors(400, 404)}}},
    }


def _trace() -> dict[str, dict[str, Any]]:
    return {
        "/api/genealogy/{handle}": {"get": {
            "summary": "Bill of materials (down) or where-used (up), as of a time",
            "parameters": [_HANDLE,
                           param("direction", "query", "down (default) or up"),
                           param("asOf", "query", "ISO 8601 time with offset (default: now)"),
                           param("depth", "query", "levels, 1-1000", "integer")],
            "responses": {"200": answer("the nodes with paths and link seqs"), **errors(400, 404)}}},
        "/api/recalls/scope": {"post": {
            "summary": "The top-level products the suspects reach (CSV with Accept: text/csv)",
            "requestBody": body(ref("ScopeRequest")),
            "responses": {"200": answer("the scope"), **errors(400, 404)}}},
        "/api/recalls": {"post": {
            "summary": "Record a recall campaign: recalled events under the caller's prefix",
            "security": _SECURED, "requestBody": body(ref("RecallRequest")),
            "responses": {"201": answer("the campaign and its ledger entries"),
                          **errors(400, 401, 403, 404)}}},
    }


def _carbon() -> dict[str, dict[str, Any]]:
    install = param("installation_id", "path", "1-20 characters")
    owner, code = param("owner", "path", "enterprise prefix"), param("code", "path", "part type code")
    return {
        "/api/carbon/installations": {"get": {"summary": "Registered installations",
                                              "responses": {"200": answer("the installations")}}},
        "/api/carbon/installations/{installation_id}": {
            "get": {"summary": "One installation", "parameters": [install],
                    "responses": {"200": answer("the installation", ref("Installation")), **errors(404)}},
            "put": {"summary": "Create (201) or replace (200) an installation of the caller's prefix",
                    "security": _SECURED, "parameters": [install],
                    "requestBody": body(ref("Installation")),
                    "responses": {"200": answer("replaced"), "201": answer("created"),
                                  **errors(400, 401, 403)}}},
        "/api/carbon/part-types": {"get": {
            "summary": "Part types", "parameters": [param("owner", "query", "only this prefix's")],
            "responses": {"200": answer("the part types")}}},
        "/api/carbon/part-types/{owner}/{code}": {
            "get": {"summary": "One part type", "parameters": [owner, code],
                    "responses": {"200": answer("the part type", ref("PartType")), **errors(404)}},
            "put": {"summary": "Create (201) or replace (200) a part type of the caller's prefix",
                    "security": _SECURED, "parameters": [owner, code], "requestBody": body(ref("PartType")),
                    "responses": {"200": answer("replaced"), "201": answer("created"),
                                  **errors(400, 401, 403)}}},
        "/api/carbon/defaults": {
            "get": {"summary": "The CBAM default-value table",
                    "responses": {"200": answer("the rows")}},
            "put": {"summary": "Replace the default-value table (node admin; CSV country,cn_code,direct,"
                               "indirect[,source])", "security": _SECURED,
                    "requestBody": body({"type": "string"}, "text/csv"),
                    "responses": {"200": answer("rows loaded"), **errors(400, 401, 403, 413)}}},
        "/api/carbon/defaults/match": {"get": {
            "summary": "The default value a good would get, with the year's mark-up",
            "parameters": [param("cn_code", "query", "8-digit CN code of a CBAM good", required=True),
                           param("country", "query", "origin country (ISO 3166-1 alpha-2)"),
                           {**_YEAR, "required": True}],
            "responses": {"200": answer("the matching row"), **errors(400, 404)}}},
        "/api/carbon/see/{subject}": {"get": {
            "summary": "CBAM specific embedded emissions (tCO2e/t), with the checkpoint read",
            "parameters": [_SUBJECT, _YEAR], "responses": {"200": answer("the roll-up"),
                                                           **errors(400, 404, 422)}}},
        "/api/carbon/footprint/{subject}": {"get": {
            "summary": "Cradle-to-gate product carbon footprint (not a CBAM figure)",
            "parameters": [_SUBJECT], "responses": {"200": answer("the footprint"),
                                                    **errors(400, 404, 422)}}},
    }


def paths() -> dict[str, dict[str, Any]]:
    """Every path this module describes."""
    return {**_ledger(), **_trace(), **_carbon()}

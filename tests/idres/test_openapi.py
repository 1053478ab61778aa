"""The OpenAPI document generated from the marshmallow schemas."""
from __future__ import annotations


def test_openapi_document(client) -> None:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.json
    assert doc["openapi"].startswith("3.")
    assert {"/api/handles/{handle}", "/api/handles", "/api/prefixes/{prefix}/mint"} <= set(doc["paths"])
    assert set(doc["paths"]["/api/handles/{handle}"]) == {"get", "put", "delete"}
    schemas = doc["components"]["schemas"]
    assert {"Value", "MintRequest", "PartData", "Error"} <= set(schemas)
    assert "cn_code" in schemas["PartData"]["properties"]
    assert schemas["Value"]["required"] == sorted(["data", "index", "type"])


# Routes that are pages or images for people rather than API operations.
UNDESCRIBED = {"/static/{filename}", "/{handle}"}


def _routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route the app serves."""
    import re
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def test_every_route_is_described(app, client) -> None:
    """A new endpoint without an OpenAPI description fails here."""
    doc = client.get("/api/openapi.json").json
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = {r for r in _routes(app) - described if r[0] not in UNDESCRIBED
               and r[0] != "/api/openapi.json"}
    assert not missing, sorted(missing)


def test_event_bodies_refer_to_the_event_schemas(client) -> None:
    doc = client.get("/api/openapi.json").json
    post = doc["paths"]["/api/events"]["post"]
    choices = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"$ref": "#/components/schemas/Event_carbon_recorded"} in choices
    recorded = doc["components"]["schemas"]["Event_carbon_recorded"]
    assert {"installation_id", "direct_g", "activity_level_g"} <= set(recorded["required"])
    assert post["security"] == [{"basic": []}]

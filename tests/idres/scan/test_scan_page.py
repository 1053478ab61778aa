"""GET /{handle}: the scan page as HTML and JSON, on SQLite and PostgreSQL."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Blueprint, Flask
from markupsafe import escape
from werkzeug.exceptions import MethodNotAllowed, NotFound

from idres.api import scan
from tests.conftest import ENT_AUTH
from tests.idres.scan import CAMPAIGN, XSS, Cluster, build_cluster, path_of

JSON = {"Accept": "application/json"}


@pytest.fixture
def cluster(client) -> Cluster:
    def send(method: str, path: str, body: Any) -> tuple[int, Any]:
        r = client.open(path, method=method, json=body, headers=ENT_AUTH)
        return r.status_code, r.json

    return build_cluster(send)


def page(client, handle: str, **kw: Any):
    """The HTML page; checks what every HTML answer must be."""
    r = client.get(path_of(handle), **kw)
    assert r.mimetype == "text/html", r.data[:300]
    text = r.get_data(as_text=True)
    assert '<meta name="viewport"' in text
    assert "<script" not in text.lower() and "Traceback" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    assert "script-src" not in r.headers["Content-Security-Policy"]  # default-src 'none': no script
    return r, text


def as_json(client, handle: str, via: str = "accept"):
    if via == "accept":
        return client.get(path_of(handle), headers=JSON)
    return client.get(path_of(handle) + "?format=json")


def hrefs(text: str, cls: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'<a class="{cls}" href="([^"]*)"', text)]


def test_normal_part_with_parent_and_children(client, cluster: Cluster):
    lower = cluster.engine.lower()  # scanned in another case: shown as registered
    r, text = page(client, lower)
    assert r.status_code == 200
    assert f'<h1 id="handle">{cluster.engine}</h1>' in text
    assert "RECALLED" not in text
    for shown in ("Example Engines Co.", "1.5 l turbo petrol engine", "84073490", "2026-10-30",
                  "Example Motors Plant 2", "conformant", "In transit"):
        assert shown in text
    # one level up and down, current links only (BOLT-0003 was removed), with their scan URLs
    assert hrefs(text, "parent") == [path_of(cluster.vehicle)]
    assert sorted(hrefs(text, "child")) == sorted(path_of(h) for h in (*cluster.bolts, XSS))
    assert path_of(cluster.removed) not in text
    assert hrefs(text, "input") == [path_of(cluster.casting)]
    assert "batch ALU-LOT-3" in text
    assert '<svg class="tree"' in text and text.count("<rect") == 6  # parent, self, 3 children + more
    # carbon: part and whole batch, labelled as recorded data
    assert "Carbon footprint (recorded data)" in text
    assert "1,500 g CO2e" in text and "57.0 kg CO2e" in text
    assert f"Verified in ledger at checkpoint {cluster.checkpoint}" in text
    # the links work
    assert client.get(hrefs(text, "parent")[0]).status_code == 200

    j = as_json(client, lower).json
    assert j == as_json(client, lower, via="format").json
    assert j["handle"] == cluster.engine and j["maker"] == "Example Engines Co."
    assert j["makerSource"] == "PART.MANUFACTURER"
    assert j["part"]["PART.NET_MASS_G"] == "98000"
    st = j["state"]
    assert (st["status"], st["holder"], st["inspection"], st["recalled"]) == (
        "in_transit", "Example Motors Plant 2", "conformant", False)
    g = j["genealogy"]
    assert g["parent"]["handle"] == cluster.vehicle and g["parent"]["kind"] == "assembly"
    assert g["parent"]["url"] == "http://node.test" + path_of(cluster.vehicle)
    children = {c["handle"]: c["status"] for c in g["children"]}
    assert children == {cluster.bolts[0]: "active", cluster.bolts[1]: "recalled", XSS: "active"}
    assert [(i.get("handle"), i.get("batch"), i["consumedMassG"]) for i in g["inputs"]] == [
        (cluster.casting, None, 31_000), (None, "ALU-LOT-3", 12_500)]
    assert g["totals"] == {"parent": 1, "madeInto": 0, "children": 3, "inputs": 2}
    c = j["carbon"]
    assert c["basis"] == "recorded data"
    assert (c["part"]["directG"], c["part"]["indirectG"], c["part"]["totalG"]) == (1200, 300, 1500)
    assert (c["batch"]["batch"], c["batch"]["directG"], c["batch"]["indirectG"]) == ("EB-7", 50_000, 7_000)
    assert j["ledger"] == {"verified": True, "checkpoint": cluster.checkpoint, "events": 8,
                           "root": j["ledger"]["root"], "reason": None}


def test_transformation_input_links_up_to_its_output(client, cluster: Cluster):
    _, text = page(client, cluster.casting)
    assert hrefs(text, "made-into") == [path_of(cluster.engine)]
    assert "Consumed (transformed)" in text
    assert as_json(client, cluster.casting).json["genealogy"]["madeInto"][0]["handle"] == cluster.engine


def test_recalled_part(client, cluster: Cluster):
    recalled = cluster.bolts[1]
    r, text = page(client, recalled)
    assert r.status_code == 200
    banner = re.search(r'<div class="banner" id="recall-banner".*?</div>', text, re.S).group(0)
    assert "RECALLED" in banner and CAMPAIGN in banner
    assert hrefs(text, "parent") == [path_of(cluster.engine)]
    assert "Verified in ledger at checkpoint" in text
    j = as_json(client, recalled).json
    assert j["state"]["status"] == "recalled" and j["state"]["recalled"] is True
    assert j["state"]["recallCampaign"] == CAMPAIGN
    assert j["maker"] == "88.118.8" and j["makerSource"] == "prefix"
    # the parent's page marks the recalled child
    _, parent = page(client, cluster.engine)
    assert re.search(r"BOLT-0002</a> <span class=\"pill recalled\">recalled", parent)


def test_xss_looking_handle_is_escaped(client, cluster: Cluster):
    r, text = page(client, XSS)
    assert r.status_code == 200
    assert "<script>alert" not in text and "<img src=x" not in text and "'&<b>" not in text
    assert f'<h1 id="handle">{escape(XSS)}</h1>' in text  # shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    j = as_json(client, XSS).json
    assert j["handle"] == XSS and j["genealogy"]["parent"]["handle"] == cluster.engine
    # its link on the parent's page and in the picture is percent-encoded
    _, parent = page(client, cluster.engine)
    assert path_of(XSS) in hrefs(parent, "child")
    assert '"/88.118.8/%3Cscript%3Ealert%28%22x%22%29%3C/script%3E%27%26%3Cb%3E"' in parent
    # unknown handles that look like markup are escaped on the 404 page too
    r, text = page(client, "88.118.8/<script>x</script>\"'<svg onload=alert(1)>")
    assert r.status_code == 404 and "&lt;svg onload" in text


def test_unknown_handle(client, cluster: Cluster):
    r, text = page(client, "88.118.8/NO-SUCH-PART")
    assert r.status_code == 404
    assert "Unknown identifier" in text and "88.118.8/NO-SUCH-PART" in text
    for via in ("accept", "format"):
        j = as_json(client, "88.118.8/NO-SUCH-PART", via)
        assert j.status_code == 404 and j.mimetype == "application/json"
        assert j.json["responseCode"] == 100 and j.json["handle"] == "88.118.8/NO-SUCH-PART"


@pytest.mark.parametrize("bad", ["88.118.8", "88.118..8/X", "bad prefix!/X"])
def test_malformed_handle(client, db, bad: str):
    r, text = page(client, bad)
    assert r.status_code == 400 and "Malformed identifier" in text
    j = as_json(client, bad)
    assert j.status_code == 400 and j.json["responseCode"] == 102


def test_prefix_not_held(client, db):
    r, text = page(client, "99.1/X-1")
    assert r.status_code == 400 and "Not held by this node" in text
    j = as_json(client, "99.1/X-1", "format")
    assert j.status_code == 400 and j.json["responseCode"] == 301


def test_part_without_events_is_not_verified(client, cluster: Cluster):
    _, text = page(client, cluster.fresh)
    assert "No ledger events yet" in text and "Could not be verified" in text
    j = as_json(client, cluster.fresh).json
    assert j["ledger"]["verified"] is False and j["state"]["inLedger"] is False
    assert j["genealogy"]["parent"] is None and j["carbon"] is None


def test_tampered_entry_is_not_verified(client, db, cluster: Cluster):
    with db.write() as s:
        row = s.one("SELECT e.seq, e.entry FROM ledger_entries e JOIN handle_events h ON h.seq = e.seq "
                    "WHERE h.handle_key = ? AND e.entry LIKE ?", (cluster.engine.lower(), "%inspected%"))
        forged = row["entry"].replace("conformant", "xonformant")
        from ledger.merkle import leaf_hash

        # the entry and its leaf hash changed together: only the proof can tell
        s.run("UPDATE ledger_entries SET entry = ?, leaf_hash = ? WHERE seq = ?",
              (forged, leaf_hash(forged.encode()).hex(), row["seq"]))
    _, text = page(client, cluster.engine)
    assert "Could not be verified" in text and "Verified in ledger" not in text
    j = as_json(client, cluster.engine).json["ledger"]
    assert j["verified"] is False and f"entry {row['seq']}" in j["reason"]
    # a part whose events were not touched still verifies
    assert as_json(client, cluster.vehicle).json["ledger"]["verified"] is True


def test_negotiation(client, cluster: Cluster):
    p = path_of(cluster.engine)
    assert client.get(p, headers={"Accept": "text/html,application/json;q=0.9"}).mimetype == "text/html"
    assert client.get(p, headers={"Accept": "application/json,text/html;q=0.5"}).mimetype == "application/json"
    assert client.get(p, headers={"Accept": "*/*"}).mimetype == "text/html"
    r = client.get(p + "?format=html", headers=JSON)
    assert r.mimetype == "text/html" and r.headers["Vary"] == "Accept"
    r = client.get(p + "?format=xml")
    assert r.status_code == 400 and r.mimetype == "text/html" and "format must be json or html" in r.text


def test_internal_error_is_a_plain_page(client, cluster: Cluster, monkeypatch):
    def broken(*args: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(scan, "scan_part", broken)
    r, text = page(client, cluster.engine)
    assert r.status_code == 500 and "secret detail" not in text and "RuntimeError" not in text
    j = as_json(client, cluster.engine)
    assert j.status_code == 500 and j.json["message"] == "Internal error"


def test_other_routes_keep_winning(client, cluster: Cluster, app):
    r = client.get("/api/handles/" + cluster.engine)
    assert r.status_code == 200 and r.json["responseCode"] == 1 and "values" in r.json
    r = client.get(f"/api/handles/{cluster.engine}/events")
    assert r.status_code == 200 and len(r.json["events"]) == 8
    for path in ("/api/no-such-endpoint", "/API/x", "/api"):  # the API's JSON 404, not a scan page
        r = client.get(path)
        assert r.status_code == 404 and r.json["responseCode"] == 4, path
    r = client.get("/api/prefixes/88.118.8/mint")  # POST only: still 405
    assert r.status_code == 405 and r.json["responseCode"] == 4
    assert client.get("/api/openapi.json").mimetype == "application/json"
    built = [name for name in ("label.png", "label.svg")
             if any(rule.rule.endswith("/" + name) for rule in app.url_map.iter_rules())]
    for name in built:  # the label routes are not swallowed by the scan page
        r = client.get(path_of(cluster.engine) + "/" + name)
        assert r.mimetype != "text/html" and b'id="handle"' not in r.data, name
    if "label.png" not in built:
        pytest.skip("the label.png route is not built yet")


def test_scan_rule_is_the_fallback_of_the_url_map():
    """Whatever other blueprints add, a longer rule (e.g. label.png) beats /<path:handle>."""
    app = Flask("idres")
    labels = Blueprint("fake_labels", __name__)
    labels.add_url_rule("/<path:handle>/label.png", "png", lambda handle: f"label {handle}")
    labels.add_url_rule("/api/things", "post", lambda: "", methods=["POST"])
    app.register_blueprint(labels)
    app.register_blueprint(scan.bp)
    adapter = app.url_map.bind("node.test")
    assert adapter.match("/88.118.8/X/label.png") == ("fake_labels.png", {"handle": "88.118.8/X"})
    assert adapter.match("/88.118.8/X/label.pngx") == ("scan.page", {"handle": "88.118.8/X/label.pngx"})
    assert adapter.match("/88.118.8/a//b") == ("scan.page", {"handle": "88.118.8/a//b"})
    assert adapter.match("/88.118.8/api/x") == ("scan.page", {"handle": "88.118.8/api/x"})
    with pytest.raises(MethodNotAllowed):
        adapter.match("/api/things")
    with pytest.raises(NotFound):
        adapter.match("/api/other")

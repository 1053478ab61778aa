"""The label endpoints on each backend: PNG, SVG, PDF sheets and their errors."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree as ET

from idres.labels import label_url
from tests.conftest import ENT, ENT_AUTH
from tests.idres.labels.conftest import PATTERN, decode_one, sheet_urls

SVG = "{http://www.w3.org/2000/svg}"


def error(response, status: int, rc: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["responseCode"] == rc, body
    return body


def test_png_and_svg_labels(client, config, minted) -> None:
    handle = minted[0]
    r = client.get(f"/{handle.lower()}/label.png")  # looked up case-insensitively
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    code = decode_one(r.data)
    assert code.text == f"{config.base_url}/{handle}" == f"http://node.test/{ENT}/ENG-2026-000001"
    assert code.ec_level == "Q"

    r = client.get(f"/{minted[1]}/label.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    root = ET.fromstring(r.data)
    assert root.find(f"{SVG}title").text == minted[1]
    assert root.find(f"{SVG}desc").text == f"{config.base_url}/{minted[1]}"
    assert "".join(t.text for t in root.iter(f"{SVG}text")) == minted[1]

    r = client.get(f"/0.NA/{ENT}/label.png")  # prefix records have labels too
    assert decode_one(r.data).text == f"{config.base_url}/0.NA/{ENT}"


def test_labels_of_handles_needing_percent_encoding(client, config, db) -> None:
    for suffix in ["Motor Ä/7", "a/../b?#"]:
        handle = f"{ENT}/{suffix}"
        r = client.put(f"/api/handles/{quote(handle)}", headers=ENT_AUTH,
                       json={"values": [{"index": 1, "type": "URL", "data": "https://example.org"}]})
        assert r.status_code == 201, r.get_data(as_text=True)
        url = label_url(config.base_url, handle)
        assert decode_one(client.get(urlsplit(url).path + "/label.png").data).text == url
        assert decode_one(client.get(f"/{quote(handle)}/label.png").data).text == url


def test_label_errors(client, minted) -> None:
    for fmt in ("png", "svg"):
        body = error(client.get(f"/{ENT}/NOPE/label.{fmt}"), 404, 100)
        assert body["handle"] == f"{ENT}/NOPE"
        error(client.get(f"/88..118/X/label.{fmt}"), 400, 102)
        error(client.get(f"/{ENT}/%01/label.{fmt}"), 400, 102)
        assert error(client.get(f"/99.1/X/label.{fmt}"), 400, 301)["handle"] == "99.1/X"
        error(client.get(f"/88.118.77/X/label.{fmt}"), 400, 301)  # under the node, not created
        error(client.get(f"/{ENT}/label.{fmt}"), 400, 102)        # no suffix: "88.118.8"
    # The Handle API keeps its paths: this is a lookup of ".../label.png".
    body = error(client.get(f"/api/handles/{minted[0]}/label.png"), 404, 100)
    assert body["handle"] == f"{minted[0]}/label.png"
    for path in ("/api/label.png", "/API/nope/label.svg", "/api/nope/label.png"):
        assert "Unknown path" in error(client.get(path), 404, 4)["message"]


def post_sheet(client, body):
    return client.post("/api/labels/sheet", json=body)


def test_sheet_of_handles(client, config, minted, tmp_path: Path) -> None:
    handles = [h.lower() for h in minted[:4]] + [minted[0]]  # a repeat prints twice
    r = post_sheet(client, {"handles": handles})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["X-Label-Count"] == "5"
    assert "attachment" in r.headers["Content-Disposition"]
    assert sheet_urls(r.data, tmp_path) == [f"{config.base_url}/{h}" for h in minted[:4] + minted[:1]]


def test_sheet_of_a_minted_range(client, config, minted, tmp_path: Path) -> None:
    """Pages fill row by row; the 25th label starts a second page."""
    r = post_sheet(client, {"prefix": ENT, "pattern": PATTERN.lower(), "from": 3, "to": 28})
    assert r.status_code == 200 and r.headers["X-Label-Count"] == "26"
    assert sheet_urls(r.data, tmp_path) == [f"{config.base_url}/{h}" for h in minted[2:28]]


def test_sheet_errors(client, minted) -> None:
    """Each bad request is a 400 (404 for unknown handles) naming the field."""
    rng = {"prefix": ENT, "pattern": PATTERN, "from": 1, "to": 3}
    cases = [
        ([minted[0]], 400, 4, "body"),
        ({}, 400, 4, "body"),
        ({"handles": []}, 400, 4, "handles"),
        ({"handles": minted[0]}, 400, 4, "handles"),
        ({"handles": [minted[0], 7]}, 400, 4, "handles[1]"),
        ({"handles": [minted[0]] * 2001}, 400, 4, "handles"),
        ({"handles": [minted[0]], "prefix": ENT}, 400, 4, "prefix"),
        ({"handles": [minted[0], "88..118/X"]}, 400, 102, "handles[1]"),
        ({"handles": [minted[0], "no-slash"]}, 400, 102, "handles[1]"),
        ({"handles": [minted[0], f"{ENT}/NOPE"]}, 404, 100, "handles[1]"),
        ({"handles": [minted[0], "99.1/X"]}, 400, 301, "handles[1]"),
        ({"handles": [minted[0], f"{ENT}/label.png"]}, 404, 100, "handles[1]"),
        ({**rng, "prefix": 8}, 400, 4, "prefix"),
        ({**rng, "prefix": "88..118"}, 400, 102, "prefix"),
        ({k: v for k, v in rng.items() if k != "pattern"}, 400, 4, "pattern"),
        ({**rng, "pattern": "ENG-2026"}, 400, 4, "pattern"),
        ({k: v for k, v in rng.items() if k != "from"}, 400, 4, "from"),
        ({**rng, "from": "1"}, 400, 4, "from"),
        ({**rng, "from": True}, 400, 4, "from"),
        ({**rng, "to": -1}, 400, 4, "to"),
        ({**rng, "from": 4, "to": 3}, 400, 4, "to"),
        ({**rng, "from": 1, "to": 2001}, 400, 4, "to"),
        ({**rng, "count": 3}, 400, 4, "count"),
    ]
    for body, status, rc, field in cases:
        got = error(post_sheet(client, body), status, rc)
        assert got.get("field") == field, (body if len(str(body)) < 200 else field, got)
    got = error(post_sheet(client, {**rng, "to": 31}), 404, 100)
    assert got["handle"] == f"{ENT}/ENG-2026-000031"
    got = error(post_sheet(client, {**rng, "prefix": "99.1"}), 400, 301)
    assert got["handle"] == "99.1/ENG-2026-000001"
    r = client.post("/api/labels/sheet", data='{"handles": []}', content_type="text/plain")
    assert error(r, 400, 4)["field"] == "Content-Type"
    assert client.get("/api/labels/sheet").status_code == 405

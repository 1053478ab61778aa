"""Labels from a real ``idres serve`` (gunicorn): the URL in a code reaches its handle.

The test client decodes paths the way werkzeug does; gunicorn does its own
decoding of the request line.  Each label is fetched through the very path
its code encodes (plus ``/label.png``), sent unnormalized, so a label that
comes back encoding that same URL proves the server mapped the path to the
exact handle.  Path decoding does not depend on the database, so this runs
on SQLite only (starting a node costs seconds); every database path of the
labels runs on both backends in-process.
"""
from __future__ import annotations

import http.client
import io
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from PIL import Image

from idres.labels import label_url
from tests.idres.labels.conftest import decode, sheet_urls
from tests.idres.live_node import ENT, ENT_SECRET, ENT_USER, live_node

SUFFIXES = ["ENG-2026-000001", "Motor Ä/7", "a/../b", "./x", "x//y", "q?x=1#f", "50%/100%"]


def _raw_get(base: str, path: str) -> http.client.HTTPResponse:
    """GET a path exactly as given (requests/urllib3 would resolve dot segments)."""
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
    conn.request("GET", path)
    return conn.getresponse()


def test_codes_lead_back_to_their_handles(tmp_path: Path) -> None:
    with live_node(str(tmp_path / "idres.db"), tmp_path) as node:
        auth = (ENT_USER.replace(":", "%3A", 1), ENT_SECRET)
        handles = [f"{ENT}/{s}" for s in SUFFIXES]
        for handle in handles:
            r = requests.put(f"{node.url}/api/handles/{quote(handle, safe='')}", auth=auth, timeout=30,
                             json={"values": [{"index": 1, "type": "URL", "data": "https://e.org"}]})
            assert r.status_code == 201, (handle, r.text)
        for handle in handles:
            url = label_url(node.url, handle)  # the node's base URL is its own address
            response = _raw_get(node.url, urlsplit(url).path + "/label.png")
            body = response.read()
            assert response.status == 200, (handle, body[:300])
            assert [c.text for c in decode(Image.open(io.BytesIO(body)))] == [url]
        r = requests.post(f"{node.url}/api/labels/sheet", json={"handles": handles}, timeout=60)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
        assert sheet_urls(r.content, tmp_path) == [label_url(node.url, h) for h in handles]

"""The scan page in a real browser: headless Chromium (selenium, /usr/bin/chromedriver)
against a real ``idres serve`` (gunicorn), on each backend.

Skips when Chromium, chromedriver or selenium are missing, except under ``CI=true``,
where that is a failure.
"""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.idres.live_node import ENT_SECRET, ENT_USER, LiveNode, live_node
from tests.idres.scan import (CAMPAIGN, ENT, T, commissioned, event, path_of, post_events, register,
                              values)

CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 412, "height": 915, "pixelRatio": 1.0}
WAIT = 15


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _require_browser() -> str:
    """The Chromium binary, or skip (fail under CI) naming what is missing."""
    missing = []
    chromium = _chromium()
    if chromium is None:
        missing.append("chromium")
    if not os.access(CHROMEDRIVER, os.X_OK):
        missing.append(CHROMEDRIVER)
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        message = f"browser test needs {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    assert chromium is not None
    return chromium


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium emulating a 412x915 phone; its profile lives in tmp_path."""
    chromium = _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 f"--window-size={PHONE['width']},{PHONE['height']}"):
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def node(database_url: str, tmp_path: Path) -> Iterator[LiveNode]:
    with live_node(database_url, tmp_path) as running:
        yield running


def _sender(node: LiveNode) -> Any:
    token = base64.b64encode(f"{ENT_USER.replace(':', '%3A', 1)}:{ENT_SECRET}".encode()).decode()
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {token}"

    def send(method: str, path: str, body: Any) -> tuple[int, Any]:
        r = session.request(method, node.url + path, json=body, timeout=30)
        return r.status_code, r.json()

    return send


def test_recalled_part_in_a_browser(node: LiveNode, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    vehicle, engine, bolt = f"{ENT}/VIN-LSV2026000042", f"{ENT}/ENG-2026-000042", f"{ENT}/BOLT-M10-0042"
    send = _sender(node)
    register(send, vehicle, values("VEHICLE", manufacturer="Example Motors"))
    register(send, engine, values("ENGINE-1.5T", manufacturer="Example Engines Co.",
                                  description="1.5 l turbo petrol engine", batch="EB-7"))
    register(send, bolt, values("BOLT-M10"))
    body = post_events(send, [
        commissioned(vehicle, T[0], "VEHICLE", 1_400_000),
        commissioned(engine, T[0], "ENGINE-1.5T", 98_000, batch="EB-7"),
        commissioned(bolt, T[0], "BOLT-M10", 52, batch="LOT-1"),
        event("assembled", T[1], parent=engine, children=[bolt]),
        event("assembled", T[2], parent=vehicle, children=[engine]),
        event("recalled", T[3], handles=[engine], campaign_id=CAMPAIGN),
    ])

    browser.get(node.url + path_of(engine))
    banner = browser.find_element(By.ID, "recall-banner")
    assert banner.is_displayed()
    assert "RECALLED" in banner.text and CAMPAIGN in banner.text
    assert browser.find_element(By.ID, "handle").text == engine
    assert f"Verified in ledger at checkpoint {body['checkpoint']['size']}" in browser.page_source
    parent = browser.find_element(By.CSS_SELECTOR, "#genealogy a.parent")
    child = browser.find_element(By.CSS_SELECTOR, "#genealogy a.child")
    assert parent.get_attribute("href") == node.url + path_of(vehicle)
    assert child.get_attribute("href") == node.url + path_of(bolt)

    shot = tmp_path / "scan-recalled.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert int.from_bytes(data[16:20], "big") == PHONE["width"]  # IHDR width: the phone's

    # the links work: follow the child, then the parent
    child.click()
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "handle"), bolt))
    assert browser.current_url == node.url + path_of(bolt)
    assert browser.find_element(By.CSS_SELECTOR, "#genealogy a.parent").get_attribute("href") == \
        node.url + path_of(engine)
    browser.back()
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "handle"), engine))
    browser.find_element(By.CSS_SELECTOR, "#genealogy a.parent").click()
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "handle"), vehicle))
    assert browser.find_element(By.ID, "handle").text == vehicle
    assert not browser.find_elements(By.ID, "recall-banner")  # the vehicle itself is not recalled
    assert "Traceback" not in node.log_text()

"""The review page in a real headless Chromium (selenium + Debian's chromedriver): log in,
accept with the keyboard, correct (an invalid then a valid answer), reject; the build applies it.

MKD_REVIEW_SCREENSHOTS=DIR also saves the screenshots docs/review.md shows (review-index.png,
review-page.png, review-error.png; DIR is docs/images for the docs).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mkd.data.build import stage_finish
from mkd.data.review import load_overrides
from rich.console import Console

from .conftest import ReviewStore

CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "browser-test-token"

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(review_store: ReviewStore) -> Iterator[str]:
    """The review app on 127.0.0.1 (uvicorn in a thread), token required."""
    import uvicorn
    from mkd.review_web.app import create_app
    from mkd.review_web.server import review_context

    ctx = review_context(review_store.cfg, review_store.store, disagreements=5)
    port = _free_port()
    config = uvicorn.Config(
        create_app(ctx, TOKEN), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the review server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def driver() -> Iterator[object]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    if not os.access(CHROMEDRIVER, os.X_OK):
        pytest.skip(f"{CHROMEDRIVER} is absent (apt-get install -y chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield drv
    drv.quit()


def _keys(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def _ctrl_enter(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()


def _wait_url(driver, url: str) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(ec.url_to_be(url))


def _screenshot(driver, name: str) -> None:
    if folder := os.environ.get("MKD_REVIEW_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def test_review_in_headless_chromium(server: str, driver, review_store: ReviewStore):
    from selenium.webdriver.common.by import By

    recs = {r["id"]: r for r in review_store.records}
    driver.get(server + "/")
    _wait_url(driver, server + "/login")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    name = driver.find_element(By.ID, "reviewer")
    name.clear()
    name.send_keys("carol")
    driver.find_element(By.ID, "login").click()
    _wait_url(driver, server + "/")
    assert "item(s) to review" in driver.page_source
    driver.find_element(By.ID, "start").click()
    _wait_url(driver, server + "/items/1")

    # 1: the disagreement on a category, accepted with `a`
    first = driver.find_element(By.ID, "item-id").text
    assert driver.find_elements(By.CSS_SELECTOR, "#student mark.diff")  # the difference marked
    _keys(driver, "a")
    _wait_url(driver, server + "/items/2")

    # 2: `c` focuses the editor; invalid JSON shows an inline error and stores nothing
    second = driver.find_element(By.ID, "item-id").text
    _keys(driver, "c")
    editor = driver.switch_to.active_element
    assert editor.get_attribute("id") == "editor"
    editor.clear()
    editor.send_keys('{"category": ')
    _ctrl_enter(driver)
    error = driver.find_element(By.ID, "errors")
    assert "not valid JSON" in error.text
    _screenshot(driver, "review-error.png")
    assert driver.current_url == server + "/items/2/decide"
    assert len(load_overrides(review_store.store, "finance", "r1")) == 1
    editor = driver.find_element(By.ID, "editor")
    editor.clear()
    editor.send_keys('{"category": "TREND"}')
    driver.find_element(By.ID, "save-correction").click()
    _wait_url(driver, server + "/items/3")

    # 3: rejected with `r`; `k` goes back and shows the decision
    third = driver.find_element(By.ID, "item-id").text
    _screenshot(driver, "review-page.png")
    _keys(driver, "r")
    _wait_url(driver, server + "/items/4")
    _keys(driver, "k")
    _wait_url(driver, server + "/items/3")
    assert "reject" in driver.find_element(By.ID, "decided").text
    driver.get(server + "/")
    _wait_url(driver, server + "/")
    _screenshot(driver, "review-index.png")

    rows = load_overrides(review_store.store, "finance", "r1")
    assert [(r["id"], r["verdict"], r["reviewer"]) for r in rows] == [
        (first, "accept", "carol"),
        (second, "correct", "carol"),
        (third, "reject", "carol"),
    ]
    assert rows[1]["output"] == '{"category":"TREND"}'
    assert rows[1]["previous_output"] == recs[second]["output"]

    manifest = stage_finish(review_store.cfg, review_store.store, Console(quiet=True))
    prefix = "datasets/finance/r1/"
    kept = {
        (r := json.loads(x))["id"]: r
        for s in ("train", "val", "test")
        for x in review_store.store.get_bytes(f"{prefix}{s}.jsonl").splitlines()
    }
    assert kept[first]["reviewed"] == "accepted"
    assert (kept[second]["reviewed"], kept[second]["output"]) == (
        "corrected",
        '{"category":"TREND"}',
    )
    assert third not in kept
    quarantine = [
        json.loads(x)
        for x in review_store.store.get_bytes(prefix + "quarantine.jsonl").splitlines()
    ]
    assert any(q["id"] == third and q["reason"] == "review: rejected" for q in quarantine)
    assert manifest["review"]["rejected"] == 1

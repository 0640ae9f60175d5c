"""The live page in headless Chromium: the numbers it renders and its live event feed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.api.conftest import LiveApi

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
TENANT, PROFILE = "t_001", "p_0002"
# Flags that keep Chromium from reaching for Google's services on a closed network.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Records when each feed item appears, by event id, on the page's own clock.
WATCH_FEED = """
() => {
  window.__seen = {};
  const feed = document.getElementById("feed");
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.dataset && node.dataset.eventId) {
          window.__seen[node.dataset.eventId] = performance.timeOrigin + performance.now();
        }
      }
    }
  }).observe(feed, { childList: true });
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM), "Chromium is installed by `make test` (Debian package)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def test_page_shows_the_apis_net_worth_and_new_events_within_two_seconds(
    live_api: LiveApi, browser: Browser
) -> None:
    headers = live_api.headers(TENANT, PROFILE)
    with live_api.client() as client:
        profile = client.get("/v1/profile/me", headers=headers).json()
        history = client.get("/v1/profile/me/net-worth/history", headers=headers).json()
        target = client.get(
            "/v1/transactions/search", params={"limit": "1"}, headers=headers
        ).json()["items"][0]
    page = browser.new_page()
    page.goto(f"{live_api.url}/#token={live_api.token(TENANT, PROFILE)}")
    page.wait_for_function("document.getElementById('status').textContent === 'live'")
    net_worth = profile["net_worth"]
    expected = f"{net_worth['value']} {net_worth['currency']}"
    page.wait_for_function(
        "(text) => document.getElementById('net-worth').textContent === text", arg=expected
    )
    assert page.text_content("#net-worth") == expected
    points = page.get_attribute("#net-worth-chart", "data-points")
    assert points == str(len(history["points"]))
    assert "#token" not in page.url
    page.evaluate(WATCH_FEED)

    with live_api.client() as client:
        sent = client.post(
            "/v1/core/command",
            json={
                "command": "UpdateTransactionCategory",
                "payload": {"transaction_id": target["transaction_id"], "new_category": "Gifts"},
            },
            headers=headers,
        ).json()
    worker = live_api.run_in_background()
    assert worker.wait(timeout=120) == 0
    with live_api.client() as client:
        outcome = client.get(f"/v1/core/commands/{sent['command_id']}", headers=headers).json()
    assert outcome["status"] == "applied"
    event_id = outcome["event_id"]
    published_ms = _published_ms(live_api, event_id)
    page.wait_for_selector(f'#feed li.event[data-event-id="{event_id}"]', timeout=10_000)
    shown_ms = page.evaluate("(id) => window.__seen[id]", event_id)
    assert shown_ms - published_ms <= 2000, f"shown {shown_ms - published_ms:.0f} ms after"
    item = page.get_attribute(f'#feed li.event[data-event-id="{event_id}"]', "data-type")
    assert item == "TransactionCategoryOverridden"
    page.close()


def _published_ms(live_api: LiveApi, event_id: str) -> float:
    """When the event reached the events topic (its Kafka timestamp), in epoch ms."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in live_api.events_on_topic():
            body: dict[str, Any] = orjson.loads(message.value())
            if body["event_id"] == event_id:
                _, stamp = message.timestamp()
                return float(stamp)
        time.sleep(0.2)
    raise AssertionError(event_id)

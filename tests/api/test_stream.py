"""The event stream: resumable with Last-Event-ID, gapless and duplicate-free, per tenant."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from fintra.samples import SampleSpec, generate
from tests.api.conftest import LiveApi

pytestmark = pytest.mark.integration


@dataclass
class Frame:
    """One server-sent message: its fields as received."""

    id: str | None
    event: str | None
    data: str | None


def frames(response: httpx.Response) -> Iterator[Frame]:
    """Parse SSE frames as a browser does (comments ignored, blank line dispatches)."""
    fields: dict[str, list[str]] = {}
    for line in response.iter_lines():
        if line == "":
            if fields:
                data = "\n".join(fields["data"]) if "data" in fields else None
                yield Frame(fields.get("id", [None])[-1], fields.get("event", [None])[-1], data)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))


def renamed(envelopes: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**envelope, "tenant_id": names[envelope["tenant_id"]]} for envelope in envelopes]


def read_some(
    client: httpx.Client,
    headers: dict[str, str],
    cursor: str | None,
    want: int,
    quiet_s: float,
) -> tuple[list[dict[str, Any]], str | None]:
    """Connect (resuming at ``cursor``), take up to ``want`` events, then hang up."""
    got: list[dict[str, Any]] = []
    request_headers = {**headers, **({"Last-Event-ID": cursor} if cursor else {})}
    params = {} if cursor else {"from": "latest"}
    deadline = time.monotonic() + quiet_s
    with client.stream("GET", "/v1/core/stream", headers=request_headers, params=params) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for frame in frames(r):
            if frame.id is not None:
                cursor = frame.id
            if frame.data is not None:
                got.append(orjson.loads(frame.data))
                deadline = time.monotonic() + quiet_s
            if len(got) >= want or time.monotonic() > deadline:
                break
    return got, cursor


def test_a_hundred_reconnects_while_events_flow_miss_and_repeat_nothing(
    live_api: LiveApi,
) -> None:
    sample = generate(SampleSpec(seed=23, tenants=2, profiles_per_tenant=4, months=8))
    envelopes = renamed(sample.envelopes, {"t_001": "t_sse", "t_002": "t_noise"})
    headers = live_api.headers("t_sse", None, ["stream:read"])
    rng = random.Random(7)
    received: list[dict[str, Any]] = []
    with live_api.client() as client:
        # The first connection pins the starting point before anything flows.
        _, cursor = read_some(client, headers, None, want=1, quiet_s=0.5)
        assert cursor is not None
        live_api.ingest(envelopes)
        worker = live_api.run_in_background()
        during_flow = 0
        for _ in range(100):
            during_flow += worker.poll() is None
            got, cursor = read_some(client, headers, cursor, want=rng.randint(1, 40), quiet_s=0.3)
            received += got
        assert worker.wait(timeout=180) == 0, worker.stderr.read() if worker.stderr else ""
        while True:
            got, cursor = read_some(client, headers, cursor, want=10_000, quiet_s=3)
            if not got:
                break
            received += got
    on_topic = [
        orjson.loads(message.value())
        for message in live_api.events_on_topic()
        if orjson.loads(message.value())["tenant_id"] == "t_sse"
    ]
    assert during_flow >= 10, "the reconnects should overlap the flow"
    assert len(on_topic) > 1000
    assert {event["tenant_id"] for event in received} == {"t_sse"}
    ids = [event["event_id"] for event in received]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert sorted(ids) == sorted(event["event_id"] for event in on_topic), "an event was missed"
    # Within each profile the stream keeps the profile's order.
    for profile in {event["profile_id"] for event in received}:
        versions = [e["stream_version"] for e in received if e["profile_id"] == profile]
        assert versions == sorted(versions)


def test_a_forged_cursor_is_refused(live_api: LiveApi) -> None:
    headers = {**live_api.headers("t_sse", None, ["stream:read"]), "Last-Event-ID": "0:x"}
    with live_api.client() as client:
        response = client.get("/v1/core/stream", headers=headers)
    assert response.status_code == 400
    assert response.json()["reason"] == "bad_cursor"

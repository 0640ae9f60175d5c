"""Platform data through the real broker: registry definitions, then validated data points."""

from __future__ import annotations

import orjson
import pytest

from fintra.ingest import publish, publish_keyed
from fintra.profiles import load_profile
from fintra.settings import PLATFORM_DATA_TOPIC, REGISTRY_TOPIC
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration


def _point(data_id: str, key: str, value: object) -> bytes:
    return orjson.dumps(
        {
            "data_id": data_id,
            "tenant_id": "org_uber_clone",
            "profile_id": "usr_123",
            "timestamp": "2026-10-27T14:00:00Z",
            "key": key,
            "value": value,
            "context": {"service_type": "delivery", "region": "london_zone_1"},
        }
    )


def test_registered_metrics_are_recorded_and_the_rest_dead_lettered(core: Core) -> None:
    definition = {
        "tenant_id": "org_uber_clone",
        "metric_id": "completed_rides",
        "display_name": "Completed rides",
        "return_type": "NUMBER",
    }
    brokers = core.info.kafka_brokers
    publish_keyed(
        brokers,
        core.settings.topic(REGISTRY_TOPIC),
        [(b"org_uber_clone:completed_rides", orjson.dumps(definition))],
    )
    core.run_until_idle()

    points = [
        _point("pdat_888", "completed_rides", 45),
        _point("pdat_889", "surge_hours", 3),
        _point("pdat_890", "completed_rides", True),
    ]
    assert publish(brokers, core.settings.topic(PLATFORM_DATA_TOPIC), points) == 3
    core.run_until_idle()

    letters = core.dead_letters()
    assert sorted(x["reason"] for x in letters) == ["unknown_metric", "wrong_type"]
    doc = load_profile(core.info.database_url, core.settings.db_schema, "org_uber_clone", "usr_123")
    assert doc is not None
    rides = doc["platform_data"]["completed_rides"]
    assert (rides["value"], rides["data_id"]) == ("45", "pdat_888")
    rows = core.query("SELECT type, payload->'data'->>'key' FROM core_events")
    assert rows == [("PlatformDataRecorded", "completed_rides")]

"""Run the core dataflow in this process, with Bytewax recovery on."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from fintra.embedded import StackInfo
from fintra.settings import (
    COMMANDS_TOPIC,
    CONNECT_SYNC_TOPIC,
    DLQ_TOPIC,
    ENRICH_TOPIC,
    EVENTS_TOPIC,
    INTERESTS_TOPIC,
    LINKS_TOPIC,
    MARKET_TOPIC,
    PASSPORT_REQUESTS_TOPIC,
    PASSPORT_TOPIC,
    PLATFORM_DATA_TOPIC,
    REGISTRY_TOPIC,
    TENANTS_TOPIC,
    Settings,
)
from flows.core import CoreFlowConfig, InputTopics, build_core_flow
from operators.decode import DecodeLimits

#: Recovery partitions are fixed when created; a few let a cluster spread its snapshots.
RECOVERY_PARTITIONS = 4


def flow_config(settings: Settings, info: StackInfo, *, until_idle: bool) -> CoreFlowConfig:
    """Return the core flow's configuration for this stack."""
    return CoreFlowConfig(
        brokers=info.kafka_brokers,
        database_url=info.database_url,
        db_schema=settings.db_schema,
        inputs=InputTopics(
            syncs=settings.topic(CONNECT_SYNC_TOPIC),
            platform_data=settings.topic(PLATFORM_DATA_TOPIC),
            registry=settings.topic(REGISTRY_TOPIC),
            tenants=settings.topic(TENANTS_TOPIC),
            market=settings.topic(MARKET_TOPIC),
            interests=settings.topic(INTERESTS_TOPIC),
            commands=settings.topic(COMMANDS_TOPIC),
            links=settings.topic(LINKS_TOPIC),
            passport=settings.topic(PASSPORT_TOPIC),
            enrichment=settings.topic(ENRICH_TOPIC),
        ),
        passport_requests_topic=settings.topic(PASSPORT_REQUESTS_TOPIC),
        events_topic=settings.topic(EVENTS_TOPIC),
        dlq_topic=settings.topic(DLQ_TOPIC),
        limits=DecodeLimits(
            max_payload_bytes=settings.max_payload_bytes,
            future_tolerance_days=settings.future_tolerance_days,
        ),
        until_idle=until_idle,
    )


def recovery_dir(settings: Settings, info: StackInfo) -> Path:
    """Return (creating it once) the recovery folder for this broker.

    Recovery state holds input offsets, which only mean something for the broker they were
    read from; keying the folder by broker address keeps a new broker from inheriting them.
    """
    tag = hashlib.sha256(info.kafka_brokers.encode()).hexdigest()[:12]
    path = settings.recovery_dir / tag
    if not path.exists():
        path.mkdir(parents=True)
        init_db_dir(path, RECOVERY_PARTITIONS)
    return path


def run(
    settings: Settings,
    info: StackInfo,
    *,
    until_idle: bool,
    addresses: list[str] | None = None,
    process_id: int | None = None,
) -> None:
    """Run the flow until the inputs are drained (``until_idle``) or until interrupted.

    With ``addresses`` this process is ``process_id`` of a Bytewax cluster: one worker per
    process (the GIL makes more threads slower), partitions spread across the cluster.
    """
    flow = build_core_flow(flow_config(settings, info, until_idle=until_idle))
    cli_main(
        flow,
        workers_per_process=1,
        addresses=addresses,
        process_id=process_id,
        epoch_interval=dt.timedelta(seconds=settings.epoch_interval_seconds),
        recovery_config=RecoveryConfig(str(recovery_dir(settings, info))),
    )

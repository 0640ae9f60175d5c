"""The registry step: one ``StatefulLogic`` per tenant, holding its metric registry.

Registry definitions update the state; platform data is validated against it and leaves
either as an accepted record for the profile's twin or as a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bytewax.operators import StatefulLogic

from flows.twin_step import INPUTS, count_dead_letter
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.registry import (
    AcceptedPlatformData,
    DayClosed,
    TenantDefaults,
    TenantRegistry,
    accept_data,
    apply_definition,
    apply_rules,
    apply_settings,
    close_day,
    note_profile,
    reject,
)
from schemas.records import DeadLetter, RawRecord


class TenantInputKind(StrEnum):
    """What a record brings to the tenant step."""

    DEFINITION = "definition"
    DATA = "data"
    SETTINGS = "settings"
    PROFILE_SEEN = "profile_seen"


@dataclass(frozen=True, slots=True)
class RegistryInput:
    """A record for the tenant step: a definition, a data point, settings, or a profile."""

    record: RawRecord
    kind: TenantInputKind


RegistryOutput = AcceptedPlatformData | TenantDefaults | DayClosed | DeadLetter


class RegistryLogic(StatefulLogic[RegistryInput, RegistryOutput, TenantRegistry]):
    """Holds one tenant's registry; the state is frozen, so a snapshot needs no copy."""

    def __init__(self, state: TenantRegistry | None, limits: DecodeLimits) -> None:
        self._state = state
        self._limits = limits

    def on_item(self, value: RegistryInput) -> tuple[Iterable[RegistryOutput], bool]:
        """Apply a definition, or validate a data point against the registry."""
        record = value.record
        tenant = (record.key or b"").decode("utf-8", errors="replace").partition(":")[0]
        registry = self._state if self._state is not None else TenantRegistry(tenant)
        try:
            outputs = self._apply(registry, value)
        except RejectedInput as exc:
            self._state = registry
            return (count_dead_letter(reject(record, exc, tenant)),), StatefulLogic.RETAIN
        return outputs, StatefulLogic.RETAIN

    def _apply(self, registry: TenantRegistry, value: RegistryInput) -> list[RegistryOutput]:
        record = value.record
        self._state = registry
        if value.kind is TenantInputKind.PROFILE_SEEN:
            self._state, defaults = note_profile(registry, record)
            return list(defaults)
        if value.kind is TenantInputKind.DATA:
            return [accept_data(registry, record, self._limits)]
        key = record.key or b""
        addressed: Sequence[RegistryOutput]
        if value.kind is TenantInputKind.DEFINITION:
            self._state, addressed = apply_definition(registry, record, self._limits)
        elif key.endswith(b":clock"):
            addressed = close_day(registry, record, self._limits)
        elif key.endswith(b":rules"):
            self._state, addressed = apply_rules(registry, record, self._limits)
        else:
            self._state, addressed = apply_settings(registry, record, self._limits)
        INPUTS.labels(record.topic, "accepted").inc()
        return list(addressed)

    def snapshot(self) -> TenantRegistry:
        """Return the registry as is: it is never mutated after a step."""
        assert self._state is not None  # noqa: S101 - on_item always runs before a snapshot
        return self._state


def registry_builder(limits: DecodeLimits) -> Callable[[TenantRegistry | None], RegistryLogic]:
    """Return the builder Bytewax calls for each new or resumed tenant key."""

    def build(resume_state: TenantRegistry | None) -> RegistryLogic:
        return RegistryLogic(resume_state, limits)

    return build

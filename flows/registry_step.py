"""The registry step: one ``StatefulLogic`` per tenant, holding its metric registry.

Registry definitions update the state; platform data is validated against it and leaves
either as an accepted record for the profile's twin or as a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bytewax.operators import StatefulLogic

from flows.twin_step import INPUTS, count_dead_letter
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.registry import (
    AcceptedPlatformData,
    TenantRegistry,
    accept_data,
    apply_definition,
    reject,
)
from schemas.records import DeadLetter, RawRecord


@dataclass(frozen=True, slots=True)
class RegistryInput:
    """A record for the registry step: a definition, or a data point to validate."""

    record: RawRecord
    is_definition: bool


RegistryOutput = AcceptedPlatformData | DeadLetter


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
            if value.is_definition:
                self._state = apply_definition(registry, record, self._limits)
                INPUTS.labels(record.topic, "accepted").inc()
                return (), StatefulLogic.RETAIN
            self._state = registry
            return (accept_data(registry, record, self._limits),), StatefulLogic.RETAIN
        except RejectedInput as exc:
            self._state = registry
            return (count_dead_letter(reject(record, exc, tenant)),), StatefulLogic.RETAIN

    def snapshot(self) -> TenantRegistry:
        """Return the registry as is: it is never mutated after a step."""
        assert self._state is not None  # noqa: S101 - on_item always runs before a snapshot
        return self._state


def registry_builder(limits: DecodeLimits) -> Callable[[TenantRegistry | None], RegistryLogic]:
    """Return the builder Bytewax calls for each new or resumed tenant key."""

    def build(resume_state: TenantRegistry | None) -> RegistryLogic:
        return RegistryLogic(resume_state, limits)

    return build

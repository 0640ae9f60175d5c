"""Platform data (FOS §4): tenant-defined metrics and the data points recorded against them.

A tenant registers a metric before sending data for it; Core validates every data point
against the tenant's registry and appends it to the profile stream.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from schemas.envelopes import ID_PATTERN
from schemas.types import IsoDate, IsoDateTime

METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class ReturnType(StrEnum):
    """What kind of value a metric holds (FOS ``MetricDefinition.return_type``)."""

    NUMBER = "NUMBER"
    CURRENCY = "CURRENCY"
    PERCENTAGE = "PERCENTAGE"
    BOOLEAN = "BOOLEAN"


def _no_bool_or_string(value: Any) -> Any:
    # A metric value keeps its JSON type: "45" or true is not the number 45.
    if isinstance(value, bool | str):
        msg = f"expected a JSON number, got {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - reported by pydantic as a field error
    return value


ExactNumber = Annotated[Decimal | int, BeforeValidator(_no_bool_or_string)]


class MetricDefinition(BaseModel):
    """A metric a tenant registered in the registry (``brain.registry.v1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    metric_id: str = Field(pattern=METRIC_PATTERN)
    display_name: str = Field(min_length=1, max_length=200)
    return_type: ReturnType
    description: str | None = None
    context_keys: tuple[str, ...] | None = None
    logic: dict[str, Any] | None = None


class PlatformData(BaseModel):
    """A data point from a tenant's platform (``connect.custom_data.v1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_id: str = Field(pattern=ID_PATTERN)
    tenant_id: str = Field(pattern=ID_PATTERN)
    profile_id: str = Field(pattern=ID_PATTERN)
    timestamp: IsoDateTime
    key: str = Field(pattern=METRIC_PATTERN)
    value: ExactNumber | StrictBool | dict[str, str]
    context: dict[str, str | int | bool | None] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            msg = "timestamp must carry a timezone (ISO 8601 with Z or an offset)"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)


class TenantSettings(BaseModel):
    """A tenant's defaults (``core.tenants.v1``, compacted, keyed by tenant)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    base_currency: str = Field(pattern=r"^[A-Z]{3}$")


class DayClose(BaseModel):
    """The end of a UTC day for a tenant's profiles (``core.tenants.v1``, keyed tenant:clock)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    day_closed: IsoDate

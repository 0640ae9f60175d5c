"""Passport (seed 000 §2.3): linking a profile's history into another tenant's profile.

``connect.profile_linked.v1`` carries the user's consent to link a source profile into a
target. The source's history travels to the target through ``core.passport.v1`` as
``PassportMessage`` records addressed to the twin that must act on them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.envelopes import ID_PATTERN
from schemas.types import IsoDateTime


class ProfileRef(BaseModel):
    """One profile of one tenant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    profile_id: str = Field(pattern=ID_PATTERN)

    @property
    def stream_key(self) -> str:
        """The key of the profile's stream."""
        return f"{self.tenant_id}:{self.profile_id}"


class ProfileLinked(BaseModel):
    """The user consented to bring ``source``'s history into ``target`` (keyed by source)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    link_id: str = Field(pattern=ID_PATTERN)
    consent_id: str = Field(pattern=ID_PATTERN)
    source: ProfileRef
    target: ProfileRef
    linked_at: IsoDateTime

    @field_validator("linked_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            msg = "linked_at must carry a timezone"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)

    @model_validator(mode="after")
    def _two_profiles(self) -> ProfileLinked:
        if self.source == self.target:
            msg = "a profile cannot be linked into itself"
            raise ValueError(msg)
        return self


class PassportKind(StrEnum):
    """What a passport message asks of the twin it is addressed to."""

    BEGIN = "begin"
    EVENT = "event"
    END = "end"
    UNLOCK = "unlock"


class PassportMessage(BaseModel):
    """One step of a merge, keyed by the stream it is addressed to.

    The target receives ``begin``, the source's events in order (``seq`` 1..``count``), then
    ``end``; the source receives ``unlock`` once its history has been sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PassportKind
    link_id: str = Field(pattern=ID_PATTERN)
    consent_id: str = Field(pattern=ID_PATTERN)
    seq: int = Field(default=0, ge=0)
    count: int = Field(default=0, ge=0)
    event_type: str | None = None
    occurred_at: str | None = None
    payload: dict[str, Any] | None = None

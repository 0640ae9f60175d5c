"""FOS ``RecurringStream``: a habit detected in a profile's transactions (FOS §3 D).

Amounts are integer minor units in the FOS sign (negative when money leaves the user), like
every other entity inside events; ``view`` renders the FOS shape with decimal strings. The
evidence is the list of transaction ids the stream was detected from, so every derived number
can be traced back to the transactions that produced it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

from schemas.money import format_minor


class RecurringFrequency(StrEnum):
    """How often a stream repeats (FOS ``schedule.frequency``)."""

    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    SEMI_MONTHLY = "SEMI_MONTHLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUALLY = "ANNUALLY"


class RecurringDirection(StrEnum):
    """Whether the stream brings money in or takes it out."""

    INFLOW = "INFLOW"
    OUTFLOW = "OUTFLOW"


class RecurringStreamType(StrEnum):
    """What kind of habit a stream is (FOS ``type``).

    SUBSCRIPTION is a fixed outflow, BILL a variable one, SALARY a fixed regular income and
    DIVIDEND a quarterly or annual income; anything else is OTHER_INFLOW or OTHER_OUTFLOW.
    """

    SUBSCRIPTION = "SUBSCRIPTION"
    BILL = "BILL"
    SALARY = "SALARY"
    DIVIDEND = "DIVIDEND"
    OTHER_INFLOW = "OTHER_INFLOW"
    OTHER_OUTFLOW = "OTHER_OUTFLOW"


class RecurringStatus(StrEnum):
    """Lifecycle of a stream.

    EARLY_DETECTION has just enough occurrences to be called a stream, MATURE has a settled
    history, and TOMBSTONED has stopped: its expected next date is well behind the data.
    """

    EARLY_DETECTION = "EARLY_DETECTION"
    MATURE = "MATURE"
    TOMBSTONED = "TOMBSTONED"


class RecurringStream(BaseModel):
    """A recurring inflow or outflow of one account, with the transactions that show it.

    ``interval`` counts frequency units between occurrences and is 1 for every frequency the
    detector names (a fortnightly stream is BIWEEKLY, not WEEKLY with interval 2); it is kept
    because the FOS schedule carries it. ``next_date`` is the predicted date of the next
    occurrence, moved off a weekend the way the stream's own history was moved.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    stream_id: str
    name: str
    type: RecurringStreamType
    direction: RecurringDirection
    account_id: str
    currency: str
    frequency: RecurringFrequency
    interval: int = 1
    average_amount_minor: int
    last_amount_minor: int
    is_variable: bool
    status: RecurringStatus
    first_date: dt.date
    last_date: dt.date
    next_date: dt.date
    transaction_ids: tuple[str, ...]
    occurrences: int

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.occurrences != len(self.transaction_ids) or self.occurrences < 1:
            message = "occurrences must equal the number of transaction ids and be positive"
            raise ValueError(message)
        if not self.first_date <= self.last_date < self.next_date:
            message = "dates must satisfy first_date <= last_date < next_date"
            raise ValueError(message)
        if self.interval < 1:
            message = "interval must be positive"
            raise ValueError(message)
        return self

    def view(self) -> dict[str, Any]:
        """Return the FOS ``RecurringStream`` shape with money as decimal strings.

        ``history`` holds the evidence as transaction ids, oldest first.
        """
        return {
            "stream_id": self.stream_id,
            "name": self.name,
            "type": self.type.value,
            "direction": self.direction.value,
            "account_id": self.account_id,
            "status": self.status.value,
            "amount": {
                "average": format_minor(self.average_amount_minor, self.currency),
                "last": format_minor(self.last_amount_minor, self.currency),
                "currency": self.currency,
                "is_variable": self.is_variable,
            },
            "schedule": {
                "frequency": self.frequency.value,
                "interval": self.interval,
                "first_date": self.first_date.isoformat(),
                "last_date": self.last_date.isoformat(),
                "next_date": self.next_date.isoformat(),
            },
            "history": list(self.transaction_ids),
            "occurrences": self.occurrences,
        }

"""Errors raised by operators."""

from __future__ import annotations

from typing import Any

from schemas.envelopes import ConnectEnvelope
from schemas.records import Reason


class OperatorError(Exception):
    """Base of every operator error."""


class RejectedInput(OperatorError):
    """An input that cannot be accepted; it becomes a dead letter, never a crash.

    ``problems`` lists every fault found, each a JSON object with at least ``code`` and
    ``message``, when the input was checked as a whole (a metric definition, a rule set).
    """

    def __init__(
        self,
        reason: Reason,
        field: str | None,
        message: str,
        problems: tuple[dict[str, Any], ...] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message
        self.problems = problems

    def __reduce__(self) -> tuple[type[RejectedInput], tuple[Any, ...]]:
        return (type(self), (self.reason, self.field, self.message, self.problems))


def unsupported_kind(envelope: ConnectEnvelope) -> RejectedInput:
    """Return the rejection for an envelope kind its provider does not send."""
    msg = f"provider {envelope.provider.value} does not send kind {envelope.kind.value!r}"
    return RejectedInput(Reason.UNSUPPORTED_KIND, "kind", msg)

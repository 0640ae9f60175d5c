"""Errors raised by operators."""

from __future__ import annotations

from schemas.records import Reason


class OperatorError(Exception):
    """Base of every operator error."""


class RejectedInput(OperatorError):
    """An input that cannot be accepted; it becomes a dead letter, never a crash."""

    def __init__(self, reason: Reason, field: str | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message

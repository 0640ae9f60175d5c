"""Errors raised by connectors; driver errors are mapped to these at the boundary."""

from __future__ import annotations


class FlowError(Exception):
    """Base of every connector error."""


class StoreError(FlowError):
    """PostgreSQL could not be written after retrying."""

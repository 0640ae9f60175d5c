"""Field types that accept only what the wire format allows.

Pydantic's lax mode turns ``1700000000`` into a datetime and ``"no"`` into ``False``. For
data that must be exact, a producer sending the wrong JSON type is a bug to surface, so
these types take dates and times only as ISO 8601 strings and booleans only as booleans.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool


def _iso_text(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        msg = f"expected an ISO 8601 string, got {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError as a field error
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_text)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_text)]
Bool = StrictBool

__all__ = ["Bool", "IsoDate", "IsoDateTime"]

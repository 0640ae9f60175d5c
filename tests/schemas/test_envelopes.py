"""Envelope helpers: the UTC text every event time is written in."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from schemas.envelopes import utc_iso

OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
# Hypothesis bounds aware datetimes by naive ones and draws the zone from ``timezones``.
MOMENTS = st.datetimes(
    min_value=dt.datetime(2, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(9998, 12, 31),  # noqa: DTZ001
    timezones=OFFSETS,
)


@given(MOMENTS)
def test_utc_iso_is_the_utc_moment_to_the_microsecond_with_a_z(moment: dt.datetime) -> None:
    utc = moment.astimezone(dt.UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        expected += f".{utc.microsecond:06d}"
    assert utc_iso(moment) == expected + "Z"


def test_utc_iso_examples() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert utc_iso(dt.datetime(2026, 3, 1, 7, 1, tzinfo=paris)) == "2026-03-01T06:01:00Z"
    moment = dt.datetime(2026, 3, 1, 6, 1, 0, 5, tzinfo=dt.UTC)
    assert utc_iso(moment) == "2026-03-01T06:01:00.000005Z"

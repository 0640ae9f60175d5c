"""Decoding refuses text no store can keep, before a twin turns it into an event."""

from __future__ import annotations

import pytest

from operators.decode import DecodeLimits, parse_json
from operators.exceptions import RejectedInput
from schemas.records import Reason

LIMITS = DecodeLimits()


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "CORNER\\u0000COFFEE"}',
        b'{"a\\u0000": 1}',
        b'{"list": ["ok", ["\\u0000"]]}',
        b'{"name": "\\ud800"}',
        b'{"name": "x\\uDC00y"}',
    ],
)
def test_nul_characters_and_lone_surrogates_are_dead_lettered(body: bytes) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse_json(body, LIMITS)
    assert caught.value.reason == Reason.INVALID_ENCODING


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "caf\\u00e9 \\ud83d\\ude00"}',
        b'{"path": "C:\\\\udata\\\\u0000x"}',
        b'{"name": "plain"}',
    ],
)
def test_surrogate_pairs_and_escaped_backslashes_are_text(body: bytes) -> None:
    assert parse_json(body, LIMITS)

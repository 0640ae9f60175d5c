"""Canonical ids and hashes: the fast UUIDv5 is the standard one."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.canonical import ID_NAMESPACE, event_uuid


@given(st.text())
def test_event_uuid_is_rfc_4122_uuid5(name: str) -> None:
    assert event_uuid(name) == str(uuid.uuid5(ID_NAMESPACE, name))


def test_event_uuid_of_a_known_name() -> None:
    value = uuid.UUID(event_uuid("t_001:p_0001:1:AccountCreated:abc"))
    assert (value.version, value.variant) == (5, uuid.RFC_4122)

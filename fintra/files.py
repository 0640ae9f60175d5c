"""Wrap raw export files (bank CSV, OFX/QFX) in Connect envelopes.

Files take the same path through the flow as every other sync: the bytes travel base64
encoded inside an envelope, so encodings and line ends reach the parser untouched, and a
CSV file carries its mapping plan inline, so a replay applies exactly the plan it was sent
with even after the shipped plan changes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from schemas.envelopes import Provider, SyncKind, utc_iso

_KINDS = {Provider.CSV: SyncKind.CSV_FILE, Provider.OFX: SyncKind.OFX_FILE}


def file_envelope(  # noqa: PLR0913 - an envelope has this many parts
    provider: Provider,
    tenant_id: str,
    profile_id: str,
    path: Path,
    received_at: dt.datetime,
    *,
    plan: dict[str, Any] | None = None,
    account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the Connect envelope of one file.

    The sync id is derived from the file's bytes, so the same file sent twice is the same
    sync; the twin then treats every row it already has as a no-op.
    """
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    payload: dict[str, Any] = {
        "filename": path.name,
        "content_b64": base64.b64encode(content).decode("ascii"),
    }
    if plan is not None:
        payload["plan"] = plan
    if account:
        payload["account"] = account
    return {
        "tenant_id": tenant_id,
        "profile_id": profile_id,
        "provider": provider.value,
        "connection_id": f"{provider.value}-upload",
        "sync_id": f"{provider.value}-{digest[:32]}",
        "received_at": utc_iso(received_at),
        "kind": _KINDS[provider].value,
        "page": 0,
        "payload": payload,
    }

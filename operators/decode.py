"""Turn raw broker bytes into a validated Connect envelope, or say precisely why not.

The JSON parser is strict where vendors are sloppy: duplicate keys, NaN and Infinity are
refused rather than silently resolved, and every number keeps its exact decimal text
(``Decimal``), so no float ever stands between the wire and minor units.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from operators.exceptions import RejectedInput
from schemas.envelopes import ConnectEnvelope
from schemas.records import RawRecord, Reason

M = TypeVar("M", bound=BaseModel)

DEFAULT_MAX_PAYLOAD_BYTES: Final = 1024 * 1024
_ID: Final = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
KEY_PATTERN: Final = re.compile(rf"^({_ID}):({_ID})$")


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on what an input may be; configurable per deployment."""

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    future_tolerance_days: int = 7


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NonFiniteError(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def parse_key(key: bytes | None) -> tuple[str, str]:
    """Split a message key ``tenant:profile`` into its parts.

    Raises:
        RejectedInput: when the key is absent or not of that form.
    """
    if key is None:
        raise RejectedInput(Reason.MISSING_KEY, None, "message has no key; expected tenant:profile")
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"message key is not UTF-8: {exc}"
        raise RejectedInput(Reason.INVALID_KEY, None, msg) from exc
    match = KEY_PATTERN.match(text)
    if match is None:
        msg = f"message key {text[:80]!r} is not of the form tenant:profile"
        raise RejectedInput(Reason.INVALID_KEY, None, msg)
    return match.group(1), match.group(2)


def parse_json(value: bytes | None, limits: DecodeLimits) -> Any:
    """Parse message bytes as strict JSON with exact numbers.

    Raises:
        RejectedInput: on oversize, non-UTF-8, malformed JSON, duplicate keys or NaN/Infinity.
    """
    if value is None:
        raise RejectedInput(Reason.MALFORMED_JSON, None, "message has no value")
    if len(value) > limits.max_payload_bytes:
        msg = f"message is {len(value)} bytes; the limit is {limits.max_payload_bytes}"
        raise RejectedInput(Reason.PAYLOAD_TOO_LARGE, None, msg)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"message is not valid UTF-8 at byte {exc.start}"
        raise RejectedInput(Reason.INVALID_ENCODING, None, msg) from exc
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique_object,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
        )
    except _DuplicateKeyError as exc:
        msg = f"JSON object repeats the key {exc.key!r}"
        raise RejectedInput(Reason.DUPLICATE_KEY, exc.key, msg) from exc
    except _NonFiniteError as exc:
        msg = f"JSON holds {exc.token}, which is not a number"
        raise RejectedInput(Reason.NON_FINITE_NUMBER, None, msg) from exc
    except json.JSONDecodeError as exc:
        msg = f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise RejectedInput(Reason.MALFORMED_JSON, None, msg) from exc
    except RecursionError as exc:
        msg = "malformed JSON: nested too deeply"
        raise RejectedInput(Reason.MALFORMED_JSON, None, msg) from exc
    # Only an escape can put a NUL or a lone surrogate in parsed text; most messages have
    # neither escape, so the walk below is rare.
    if "\\u0000" in text or "\\ud" in text.lower():
        try:
            _refuse_unstorable(document)
        except RecursionError as exc:
            msg = "malformed JSON: nested too deeply"
            raise RejectedInput(Reason.MALFORMED_JSON, None, msg) from exc
    return document


def _refuse_unstorable(value: Any) -> None:
    """Refuse text PostgreSQL cannot store: NUL characters and lone UTF-16 surrogates.

    Raises:
        RejectedInput: ``invalid_encoding``, before a twin turns it into an event that no
            sink could ever write.
    """
    if isinstance(value, str):
        if "\x00" in value:
            msg = "message holds a NUL character (\\u0000), which cannot be stored"
            raise RejectedInput(Reason.INVALID_ENCODING, None, msg)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            msg = "message holds a lone UTF-16 surrogate escape, which is not text"
            raise RejectedInput(Reason.INVALID_ENCODING, None, msg) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable(item)


def decode_envelope(record: RawRecord, limits: DecodeLimits) -> ConnectEnvelope:
    """Validate a raw record into a Connect envelope that agrees with its key.

    Raises:
        RejectedInput: with the reason and the offending field.
    """
    tenant_id, profile_id = parse_key(record.key)
    document = parse_json(record.value, limits)
    if not isinstance(document, dict):
        msg = f"envelope must be a JSON object, got {type(document).__name__}"
        raise RejectedInput(Reason.WRONG_TYPE, None, msg)
    envelope = validate_model(ConnectEnvelope, document, prefix="")
    if envelope.tenant_id != tenant_id:
        msg = f"tenant_id {envelope.tenant_id!r} in the body differs from {tenant_id!r} in the key"
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    if envelope.profile_id != profile_id:
        msg = (
            f"profile_id {envelope.profile_id!r} in the body differs from {profile_id!r} in the key"
        )
        raise RejectedInput(Reason.PROFILE_MISMATCH, "profile_id", msg)
    return envelope


def validate_model(model: type[M], document: Any, *, prefix: str) -> M:
    """Validate ``document`` as ``model``, turning the first error into a rejection.

    ``prefix`` is prepended to field paths so that errors inside a vendor body read
    ``payload.added[3].amount``.
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise rejection_from(exc, prefix) from exc


def rejection_from(exc: ValidationError, prefix: str) -> RejectedInput:
    """Map a pydantic error to a reason code and a field path."""
    error = exc.errors(include_url=False)[0]
    path = field_path(error["loc"], prefix)
    leaf = str(error["loc"][-1]) if error["loc"] else ""
    if error["type"] == "missing":
        reason = Reason.MISSING_ID if leaf.endswith("_id") else Reason.MISSING_FIELD
        return RejectedInput(reason, path, f"{path} is required")
    if leaf == "kind" and error["type"] == "enum":
        return RejectedInput(Reason.UNSUPPORTED_KIND, path, f"{path}: {error['msg']}")
    if leaf.endswith("_id") and error["type"] in {"string_too_short", "string_pattern_mismatch"}:
        return RejectedInput(Reason.MISSING_ID, path, f"{path}: {error['msg']}")
    return RejectedInput(Reason.WRONG_TYPE, path, f"{path}: {error['msg']}")


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """Render a pydantic location as ``a.b[3].c``."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _refuse_constant(token: str) -> Any:
    raise _NonFiniteError(token)

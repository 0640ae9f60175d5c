"""The tenant metric registry and the validation of platform data against it (seed 000 §2.4).

Registry entries arrive keyed ``tenant:metric`` on a compacted topic; a message with no
value removes the metric. Platform data is checked in the worker that holds its tenant's
registry, then travels on to the profile's twin as an accepted, normalised record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

from operators.decode import DecodeLimits, parse_json, validate_model
from operators.exceptions import RejectedInput
from operators.metric_expr import MetricDefinitionError, compiled_metric
from operators.tenant_rules import RuleSetError, parse_rules
from schemas.canonical import content_hash
from schemas.envelopes import utc_iso
from schemas.money import MoneyError, currency_exponent, parse_minor
from schemas.platform import (
    DayClose,
    MetricDefinition,
    PlatformData,
    ReturnType,
    TenantSettings,
)
from schemas.records import DeadLetter, RawRecord, Reason


@dataclass(frozen=True, slots=True)
class RegisteredMetric:
    """A metric definition as registered, with the hash that names its version.

    ``offset`` is the position of the record that registered it in the registry topic; a
    metric's records share a partition (they share a key), so it orders them.
    """

    definition: dict[str, Any]
    definition_hash: str
    offset: int = -1


@dataclass(frozen=True, slots=True)
class TenantRegistry:
    """What Core knows of one tenant: its metrics, its defaults and its profiles.

    The profiles are learnt from the keys of the tenant's inputs, so that a change of the
    tenant's defaults reaches every profile, and a new profile receives them on arrival.
    """

    tenant_id: str
    metrics: dict[str, RegisteredMetric] = field(default_factory=dict)
    base_currency: str | None = None
    profiles: frozenset[str] = frozenset()
    rules: dict[str, Any] | None = None
    #: Where each part was last set: ``base_currency``, ``rules``, and removed metrics'
    #: ids (their tombstones' positions).
    offsets: dict[str, int] = field(default_factory=dict)

    def metric_entries(self) -> tuple[dict[str, Any], ...]:
        """Every metric as its profiles see it, with the position that set it.

        A metric with ``logic`` is evaluated by each profile; one without, or removed,
        comes with ``logic: None``, so a profile drops it if it held it.
        """
        entries = [
            {
                "metric_id": metric_id,
                "display_name": metric.definition["display_name"],
                "return_type": metric.definition["return_type"],
                "logic": metric.definition.get("logic"),
                "definition_hash": metric.definition_hash,
                "offset": metric.offset,
            }
            for metric_id, metric in self.metrics.items()
        ]
        entries += [
            {"metric_id": metric_id[len(_REMOVED) :], "logic": None, "offset": offset}
            for metric_id, offset in self.offsets.items()
            if metric_id.startswith(_REMOVED)
        ]
        return tuple(sorted(entries, key=lambda entry: entry["metric_id"]))

    def configured(self) -> bool:
        """Whether the tenant has anything its profiles must be told of."""
        return bool(self.offsets) or bool(self.metrics)


_REMOVED: Final = "removed:"


@dataclass(frozen=True, slots=True)
class TenantDefaults:
    """The tenant's configuration, addressed to one of its profiles.

    Attributes:
        rules: The tenant's enrichment rules (their normalised document and digest).
        metrics: The metric definitions the profile evaluates, by metric id.
    """

    record: RawRecord
    stream_key: str
    base_currency: str | None
    rules: dict[str, Any] | None
    metrics: tuple[dict[str, Any], ...]
    #: Where the base currency and the rules were set (``-1``: never).
    base_currency_offset: int
    rules_offset: int


def _addressed(
    registry: TenantRegistry, record: RawRecord, profiles: Iterable[str]
) -> list[TenantDefaults]:
    """The tenant's configuration as it stands, for each of ``profiles``."""
    metrics = registry.metric_entries()
    return [
        TenantDefaults(
            record,
            f"{registry.tenant_id}:{profile}",
            registry.base_currency,
            registry.rules,
            metrics,
            registry.offsets.get("base_currency", -1),
            registry.offsets.get("rules", -1),
        )
        for profile in sorted(profiles)
    ]


@dataclass(frozen=True, slots=True)
class AcceptedPlatformData:
    """A platform data point that passed the registry, bound for its profile's twin."""

    record: RawRecord
    stream_key: str
    data: dict[str, Any]
    metric: dict[str, Any]


def registry_key(record: RawRecord) -> tuple[str, str]:
    """Split a registry message key ``tenant:metric``.

    Raises:
        RejectedInput: when the key is absent or malformed.
    """
    text = (record.key or b"").decode("utf-8", errors="replace")
    tenant, sep, metric = text.partition(":")
    if not sep or not tenant or not metric:
        msg = f"registry key {text[:80]!r} is not of the form tenant:metric"
        raise RejectedInput(Reason.INVALID_KEY, None, msg)
    return tenant, metric


def apply_definition(
    registry: TenantRegistry, record: RawRecord, limits: DecodeLimits
) -> tuple[TenantRegistry, list[TenantDefaults]]:
    """Register, replace or (for an empty value) remove one metric.

    A definition with ``logic`` is compiled here, once: one that does not parse or
    type-check is refused with every problem listed. When the set of metrics the profiles
    evaluate changes, each profile is sent the new set.

    Raises:
        RejectedInput: for a malformed definition or one whose ids disagree with its key.
    """
    tenant, metric_id = registry_key(record)
    if record.value is None:
        metrics = dict(registry.metrics)
        metrics.pop(metric_id, None)
        offsets = {**registry.offsets, _REMOVED + metric_id: record.offset}
        return _with_metrics(replace(registry, offsets=offsets), metrics, record)
    document = parse_json(record.value, limits)
    try:
        definition = validate_model(MetricDefinition, document, prefix="")
    except RejectedInput as exc:
        raise RejectedInput(Reason.INVALID_DEFINITION, exc.field, exc.message) from exc
    if (definition.tenant_id, definition.metric_id) != (tenant, metric_id):
        msg = (
            f"definition names {definition.tenant_id}:{definition.metric_id} "
            f"but its key is {tenant}:{metric_id}"
        )
        raise RejectedInput(Reason.INVALID_DEFINITION, "metric_id", msg)
    doc = definition.model_dump(mode="json")
    if doc["logic"] is not None:
        _compile(doc)
    metrics = {
        **registry.metrics,
        metric_id: RegisteredMetric(doc, content_hash(doc), record.offset),
    }
    offsets = {k: v for k, v in registry.offsets.items() if k != _REMOVED + metric_id}
    return _with_metrics(replace(registry, offsets=offsets), metrics, record)


def _compile(definition: dict[str, Any]) -> None:
    try:
        compiled_metric(definition["metric_id"], definition["logic"], definition["return_type"])
    except MetricDefinitionError as exc:
        problems = tuple(
            {"code": p.code, "field": p.field, "message": p.message, "position": p.position}
            for p in exc.problems
        )
        field_name = f"logic.{exc.problems[0].field}" if exc.problems else "logic"
        raise RejectedInput(Reason.INVALID_DEFINITION, field_name, str(exc), problems) from exc


def _with_metrics(
    registry: TenantRegistry, metrics: dict[str, RegisteredMetric], record: RawRecord
) -> tuple[TenantRegistry, list[TenantDefaults]]:
    updated = replace(registry, metrics=metrics)
    return updated, _addressed(updated, record, updated.profiles)


def apply_rules(
    registry: TenantRegistry, record: RawRecord, limits: DecodeLimits
) -> tuple[TenantRegistry, list[TenantDefaults]]:
    """Take the tenant's enrichment rules (an empty value removes them) to every profile.

    Raises:
        RejectedInput: for rules that do not validate (every problem listed) or that name
            another tenant.
    """
    tenant = (record.key or b"").decode("utf-8", errors="replace").partition(":")[0]
    if record.value is None:
        rules = None
    else:
        try:
            rule_set = parse_rules(parse_json(record.value, limits))
        except RuleSetError as exc:
            problems = tuple(
                {"code": p.code, "path": p.path, "message": p.message} for p in exc.problems
            )
            first = exc.problems[0].path if exc.problems else None
            raise RejectedInput(Reason.INVALID_RULES, first, str(exc), problems) from exc
        if rule_set.tenant_id != tenant:
            msg = f"rules name tenant {rule_set.tenant_id!r} but the key is {tenant!r}"
            raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
        rules = {**rule_set.source, "digest": rule_set.digest}
    offsets = {**registry.offsets, "rules": record.offset}
    updated = replace(registry, rules=rules, offsets=offsets)
    return updated, _addressed(updated, record, updated.profiles)


def accept_data(
    registry: TenantRegistry, record: RawRecord, limits: DecodeLimits
) -> AcceptedPlatformData:
    """Validate a platform data point against the tenant's registry.

    Raises:
        RejectedInput: for malformed data, a key mismatch, an unregistered metric, a value
            of the wrong type, or a timestamp too far past the message's own time.
    """
    text = (record.key or b"").decode("utf-8", errors="replace")
    document = parse_json(record.value, limits)
    data = validate_model(PlatformData, document, prefix="")
    if f"{data.tenant_id}:{data.profile_id}" != text:
        msg = f"tenant_id:profile_id {data.tenant_id}:{data.profile_id} differs from key {text!r}"
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    _check_time(data.timestamp, record, limits)
    registered = registry.metrics.get(data.key)
    if registered is None:
        msg = f"metric {data.key!r} is not registered for tenant {data.tenant_id}"
        raise RejectedInput(Reason.UNKNOWN_METRIC, "key", msg)
    value = _typed_value(registered.definition["return_type"], data.value)
    normalised = {
        "data_id": data.data_id,
        "key": data.key,
        "timestamp": utc_iso(data.timestamp),
        "value": value,
        "context": dict(sorted(data.context.items())),
    }
    metric = {
        "metric_id": data.key,
        "display_name": registered.definition["display_name"],
        "return_type": registered.definition["return_type"],
        "definition_hash": registered.definition_hash,
    }
    return AcceptedPlatformData(record, text, normalised, metric)


def apply_settings(
    registry: TenantRegistry, record: RawRecord, limits: DecodeLimits
) -> tuple[TenantRegistry, list[TenantDefaults]]:
    """Take a tenant's new defaults and address them to every profile it has.

    Raises:
        RejectedInput: for malformed settings, an unknown currency, or a key mismatch.
    """
    settings = validate_model(TenantSettings, parse_json(record.value, limits), prefix="")
    tenant = (record.key or b"").decode("utf-8", errors="replace").partition(":")[0]
    if settings.tenant_id != tenant:
        msg = f"settings name tenant {settings.tenant_id!r} but the key is {tenant!r}"
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    try:
        currency_exponent(settings.base_currency)
    except MoneyError as exc:
        raise RejectedInput(Reason.UNKNOWN_CURRENCY, "base_currency", exc.message) from exc
    offsets = {**registry.offsets, "base_currency": record.offset}
    updated = replace(registry, base_currency=settings.base_currency, offsets=offsets)
    return updated, _addressed(updated, record, updated.profiles)


@dataclass(frozen=True, slots=True)
class DayClosed:
    """A UTC day has ended: the profile's history is carried to it (its end-of-day row)."""

    record: RawRecord
    stream_key: str
    day: str


def close_day(registry: TenantRegistry, record: RawRecord, limits: DecodeLimits) -> list[DayClosed]:
    """Address the end of a day to every profile the tenant has.

    Raises:
        RejectedInput: for a malformed message or one naming another tenant.
    """
    close = validate_model(DayClose, parse_json(record.value, limits), prefix="")
    tenant = (record.key or b"").decode("utf-8", errors="replace").partition(":")[0]
    if close.tenant_id != tenant:
        msg = f"day close names tenant {close.tenant_id!r} but the key is {tenant!r}"
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    day = close.day_closed.isoformat()
    return [DayClosed(record, f"{tenant}:{profile}", day) for profile in sorted(registry.profiles)]


def note_profile(
    registry: TenantRegistry, record: RawRecord
) -> tuple[TenantRegistry, list[TenantDefaults]]:
    """Learn a profile from an input's key; a new one receives the tenant's defaults."""
    stream_key = (record.key or b"").decode("utf-8", errors="replace")
    profile = stream_key.partition(":")[2]
    if profile in registry.profiles:
        return registry, []
    updated = replace(registry, profiles=registry.profiles | {profile})
    if not registry.configured():
        return updated, []
    return updated, _addressed(updated, record, [profile])


def reject(record: RawRecord, exc: RejectedInput, tenant_id: str | None) -> DeadLetter:
    """Return the dead letter for a refused registry or platform record."""
    return DeadLetter(exc.reason, exc.field, exc.message, record, tenant_id, exc.problems)


def _check_time(timestamp: dt.datetime, record: RawRecord, limits: DecodeLimits) -> None:
    # The message's own broker timestamp is the reference: it is part of the input, so a
    # replay reaches the same verdict, unlike the wall clock.
    if record.timestamp_ms is None:
        return
    received = dt.datetime.fromtimestamp(record.timestamp_ms / 1000, tz=dt.UTC)
    if timestamp > received + dt.timedelta(days=limits.future_tolerance_days):
        msg = f"timestamp {timestamp.isoformat()} is after {received.isoformat()} + tolerance"
        raise RejectedInput(Reason.FUTURE_DATE, "timestamp", msg)


def _typed_value(return_type: str, value: Any) -> Any:
    """Check a value against its metric's type and give it its canonical form."""
    kind = ReturnType(return_type)
    if kind is ReturnType.BOOLEAN:
        if not isinstance(value, bool):
            raise _wrong_type(kind, value)
        return value
    if kind is ReturnType.CURRENCY:
        return _currency_value(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _wrong_type(kind, value)
    # Numbers keep their exact decimal text; floats never enter the stream.
    return str(value) if isinstance(value, int) else format(value, "f")


def _currency_value(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"value", "currency"}:
        raise _wrong_type(ReturnType.CURRENCY, value)
    try:
        minor = parse_minor(value["value"], value["currency"])
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), "value", exc.message) from exc
    return {"amount_minor": minor, "currency": value["currency"]}


def _wrong_type(kind: ReturnType, value: Any) -> RejectedInput:
    msg = f"value {value!r} does not fit the metric's return type {kind.value}"
    return RejectedInput(Reason.WRONG_TYPE, "value", msg)

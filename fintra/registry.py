"""``fintra registry put``: publish a tenant's metric definitions to the registry topic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from operators.metric_expr import MetricDefinitionError, compile_metric
from schemas.platform import MetricDefinition


class RegistryFileError(ValueError):
    """A definitions file that cannot be published as it is."""


def read_definitions(tenant_id: str, path: Path) -> list[MetricDefinition]:
    """Read one definition, a JSON list of them, or JSON lines; fill in or check the tenant.

    Raises:
        RegistryFileError: naming the definition and the problem.
    """
    text = path.read_bytes()
    try:
        parsed: Any = orjson.loads(text)
        documents = parsed if isinstance(parsed, list) else [parsed]
    except orjson.JSONDecodeError:
        documents = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    definitions = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            msg = f"{path}: definition {index} is not a JSON object"
            raise RegistryFileError(msg)
        named = document.setdefault("tenant_id", tenant_id)
        if named != tenant_id:
            msg = f"{path}: definition {index} names tenant {named!r}, not {tenant_id!r}"
            raise RegistryFileError(msg)
        try:
            definition = MetricDefinition.model_validate(document)
        except ValueError as exc:
            msg = f"{path}: definition {index} is invalid: {exc}"
            raise RegistryFileError(msg) from exc
        logic = definition.model_dump(mode="json")["logic"]
        if logic is not None:
            _check_logic(path, index, definition, logic)
        definitions.append(definition)
    return definitions


def _check_logic(
    path: Path, index: int, definition: MetricDefinition, logic: dict[str, Any]
) -> None:
    """Compile a definition's ``logic`` as the workers will; list every problem found."""
    try:
        compile_metric(definition.metric_id, logic, definition.return_type.value)
    except MetricDefinitionError as exc:
        lines = [f"{path}: definition {index} ({definition.metric_id}) is invalid:"]
        for problem in exc.problems:
            where = "" if problem.position is None else f" at {problem.position}"
            lines.append(f"  {problem.field}{where}: {problem.message} ({problem.code})")
        raise RegistryFileError("\n".join(lines)) from exc


def registry_messages(definitions: list[MetricDefinition]) -> list[tuple[bytes, bytes]]:
    """Return the ``(key, value)`` messages of the definitions, keyed ``tenant:metric``."""
    return [
        (f"{d.tenant_id}:{d.metric_id}".encode(), orjson.dumps(d.model_dump(mode="json")))
        for d in definitions
    ]

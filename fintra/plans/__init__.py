"""Shipped mapping plans: one JSON document per bank or app export format.

Each ``<name>.json`` here is a plan in the format of ``operators.mapping.PLAN_FORMAT``, named
after the export it reads (``schwab-checking``, ``gls``, ``ubs-ch-fr`` …). ``load_plan`` also
takes a path, so a user's own plan is loaded the same way as a shipped one.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Final

_SUFFIX: Final = ".json"


class PlanNotFoundError(LookupError):
    """Neither a shipped plan nor a readable plan file goes by the name given."""


def list_plans() -> list[str]:
    """Return the names of the shipped plans, sorted."""
    folder = resources.files(__package__)
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def load_plan(name_or_path: str) -> dict[str, Any]:
    """Return a plan document: a shipped plan by name, or the JSON file at a path.

    The document is returned as written; ``operators.mapping.validate_plan`` checks it.

    Raises:
        PlanNotFoundError: when the name is not shipped and no such file exists; the message
            lists the shipped plans.
        ValueError: when the file is not a JSON object.
    """
    if name_or_path in list_plans():
        entry = resources.files(__package__).joinpath(name_or_path + _SUFFIX)
        return _parse(entry.read_text(encoding="utf-8"), name_or_path)
    path = Path(name_or_path)
    if path.is_file():
        return _parse(path.read_text(encoding="utf-8"), str(path))
    msg = (
        f"no mapping plan {name_or_path!r}: give a path to a plan's JSON file or one of "
        f"the shipped plans: {', '.join(list_plans())}"
    )
    raise PlanNotFoundError(msg)


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"plan {origin} is not valid JSON: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(document, dict):
        msg = f"plan {origin} must be a JSON object, not {type(document).__name__}"
        raise ValueError(msg)
    return document

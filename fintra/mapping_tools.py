"""``fintra mapping``: list, validate and preview mapping plans on real files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fintra.plans import load_plan
from operators.mapping import AccountOverrides, PlanContext, apply_plan, validate_plan

_PREVIEW_TENANT = "preview"


def check(plan_name: str, path: Path, *, account_id: str | None = None) -> dict[str, Any]:
    """Validate a plan and apply it to a file; return the structured outcome.

    The result holds ``errors`` (plan errors first, then file and row errors, each
    ``{path, code, message, row, column}``), the number of ``rows`` read, and the
    ``closing_balance`` when the file gives one.
    """
    plan = load_plan(plan_name)
    errors = [error.to_dict() for error in validate_plan(plan)]
    if errors:
        return {"plan": plan.get("name", plan_name), "errors": errors, "rows": 0}
    context = PlanContext(
        tenant_id=_PREVIEW_TENANT,
        profile_id=_PREVIEW_TENANT,
        received_at=dt.datetime.now(dt.UTC),
        connection_id="csv-upload",
        account=AccountOverrides(provider_account_id=account_id),
    )
    result = apply_plan(plan, path.read_bytes(), context)
    closing = None
    if result.account is not None:
        closing = {
            **result.account.view()["balances"]["current"],
            "date": result.balance_date.isoformat() if result.balance_date else None,
        }
    return {
        "plan": plan.get("name", plan_name),
        "errors": [error.to_dict() for error in result.errors],
        "rows": len(result.transactions),
        "closing_balance": closing,
        "transactions": [txn.view() for txn in result.transactions],
    }

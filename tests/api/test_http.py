"""The HTTP API against the real stack: reads, search, commands, isolation and tokens."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import time
from typing import Any

import jwt
import orjson
import psycopg
import pytest
from psycopg import sql

from api.auth import LOCAL_AUDIENCE, LOCAL_ISSUER
from fintra.api_server import api_database_url
from schemas.money import format_minor
from tests.api.conftest import LiveApi

pytestmark = pytest.mark.integration

TENANT, OTHER = "t_001", "t_002"
PROFILE = "p_0001"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    head = b64(orjson.dumps(header)) + "." + b64(orjson.dumps(claims))
    signature = b"" if key is None else hmac.new(key, head.encode(), hashlib.sha256).digest()
    return head + "." + b64(signature)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tenant_id": TENANT,
        "profile_id": PROFILE,
        "scope": "profile:read commands:write stream:read tenant:admin",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def attack_tokens(api: LiveApi) -> dict[str, str]:
    """Every way a token must be refused."""
    good = api.token(TENANT, PROFILE)
    head, body, signature = good.split(".")
    tampered = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    tampered["tenant_id"] = OTHER
    now = int(time.time())
    return {
        "alg_none": hand_made({"alg": "none", "typ": "JWT"}, claims(), None),
        "hs256_with_public_key": hand_made(
            {"alg": "HS256", "typ": "JWT"}, claims(), api.keys.public_pem
        ),
        "expired": api.token(TENANT, PROFILE, now=now - 7200, ttl_seconds=60),
        "future_nbf": api.token(TENANT, PROFILE, now=now + 3600),
        "wrong_aud": api.token(TENANT, PROFILE, audience="someone-else"),
        "wrong_iss": api.token(TENANT, PROFILE, issuer="https://evil.example"),
        "tampered_payload": f"{head}.{b64(orjson.dumps(tampered))}.{signature}",
        # Properly signed with the real key, but naming no tenant.
        "missing_tenant": jwt.encode(
            claims(tenant_id=None), api.keys.private_pem, algorithm="RS256"
        ),
        "garbage": "not-a-token",
    }


ENDPOINTS: list[tuple[str, str]] = [
    ("GET", "/v1/profile/me"),
    ("GET", f"/v1/profiles/{PROFILE}"),
    ("GET", "/v1/profile/me/net-worth/history"),
    ("GET", "/v1/transactions/search?q=coffee"),
    ("GET", "/v1/core/commands/cmd_x"),
    ("GET", "/v1/core/stream"),
    ("POST", "/v1/core/command"),
]

COMMAND = {"command": "SetBaseCurrency", "payload": {"base_currency": "EUR"}}


def test_profile_me_is_the_callers_projection_with_money_as_strings(live_api: LiveApi) -> None:
    with live_api.client() as client:
        response = client.get("/v1/profile/me", headers=live_api.headers(TENANT, PROFILE))
    assert response.status_code == 200
    doc = response.json()
    assert (doc["tenant_id"], doc["profile_id"]) == (TENANT, PROFILE)
    truth = live_api.sample.truth[(TENANT, PROFILE)]
    assert doc["net_worth"]["value"] == format_minor(truth.net_worth_minor, truth.currency)
    assert doc["transaction_count"] == truth.transaction_count
    (stored,) = live_api.query(
        "SELECT doc FROM view_unified_profile WHERE tenant_id = %s AND profile_id = %s",
        TENANT,
        PROFILE,
    )
    assert doc == stored[0]


def test_net_worth_history_matches_the_daily_table_and_filters_by_date(
    live_api: LiveApi,
) -> None:
    rows = live_api.query(
        "SELECT day, net_worth_minor, currency FROM historical_net_worth"
        " WHERE tenant_id = %s AND profile_id = %s ORDER BY day",
        TENANT,
        PROFILE,
    )
    assert len(rows) > 60
    headers = live_api.headers(TENANT, PROFILE)
    with live_api.client() as client:
        whole = client.get("/v1/profile/me/net-worth/history", headers=headers).json()
        since, until = rows[10][0].isoformat(), rows[19][0].isoformat()
        part = client.get(
            f"/v1/profile/me/net-worth/history?from={since}&to={until}", headers=headers
        ).json()
        backwards = client.get(
            f"/v1/profile/me/net-worth/history?from={until}&to={since}", headers=headers
        )
    expected = [
        {"day": day.isoformat(), "net_worth": {"value": format_minor(v, c), "currency": c}}
        for day, v, c in rows
    ]
    assert whole["points"] == expected
    assert part["points"] == expected[10:20]
    assert backwards.status_code == 200
    assert backwards.json()["points"] == []


def test_search_finds_coffee_by_text_dates_and_amounts_and_pages_without_overlap(
    live_api: LiveApi,
) -> None:
    headers = live_api.headers(TENANT, PROFILE)
    expected = live_api.query(
        "SELECT transaction_id FROM transaction_search WHERE tenant_id = %s AND profile_id = %s"
        " AND NOT removed AND (merchant ILIKE '%%coffee%%' OR clean_merchant ILIKE '%%coffee%%'"
        " OR category_text ILIKE '%%coffee%%')",
        TENANT,
        PROFILE,
    )
    assert len(expected) >= 5
    seen: list[str] = []
    cursor: str | None = None
    with live_api.client() as client:
        while True:
            params = {"q": "coffee", "limit": "3", **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/transactions/search", params=params, headers=headers).json()
            seen += [item["transaction_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(row[0] for row in expected)
        assert len(seen) == len(set(seen))
        one_day = client.get(
            "/v1/transactions/search",
            params={"min": "-5.00", "max": "-3.00"},
            headers=headers,
        ).json()["items"]
        bad = client.get("/v1/transactions/search?cursor=zzz", headers=headers)
    assert one_day
    assert all(-500 <= round(float(i["amount"]["value"]) * 100) <= -300 for i in one_day)
    assert bad.status_code == 400
    assert bad.json()["reason"] == "bad_cursor"


def test_other_tenants_rows_never_show_through_any_endpoint(live_api: LiveApi) -> None:
    # Both tenants have a profile called p_0001: the token's tenant decides which one is read.
    with live_api.client() as client:
        mine = client.get("/v1/profile/me", headers=live_api.headers(OTHER, PROFILE)).json()
        assert (mine["tenant_id"], mine["profile_id"]) == (OTHER, PROFILE)
        stranger = live_api.headers("t_stranger", PROFILE)
        assert client.get("/v1/profile/me", headers=stranger).status_code == 404
        assert client.get(f"/v1/profiles/{PROFILE}", headers=stranger).status_code == 404
        history = client.get("/v1/profile/me/net-worth/history", headers=stranger)
        assert history.status_code == 404
        found = client.get("/v1/transactions/search", headers=stranger).json()
        assert found == {"items": [], "next_cursor": None}
        sent = client.post(
            "/v1/core/command",
            json=COMMAND,
            headers={**live_api.headers(TENANT, PROFILE), "Idempotency-Key": "iso-1"},
        ).json()
        status = client.get(f"/v1/core/commands/{sent['command_id']}", headers=stranger)
        assert status.status_code == 404
        # Another profile of the same tenant cannot read it either without tenant:admin.
        sibling = live_api.headers(TENANT, "p_0002", ["commands:write"])
        assert (
            client.get(f"/v1/core/commands/{sent['command_id']}", headers=sibling).status_code
            == 404
        )
        # Admin scope reaches any profile of its own tenant, never another tenant's.
        admin = live_api.headers(TENANT, None, ["tenant:admin"])
        assert client.get("/v1/profiles/p_0002", headers=admin).json()["tenant_id"] == TENANT
        assert client.get("/v1/profile/me", headers=admin).status_code == 403


def test_the_api_role_sees_nothing_without_a_tenant_and_cannot_write(live_api: LiveApi) -> None:
    tables = [
        "view_unified_profile",
        "historical_balances",
        "historical_net_worth",
        "transaction_search",
        "command_outcomes",
        "api_idempotency",
    ]
    with psycopg.connect(api_database_url(live_api.info), autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(live_api.settings.db_schema))
        )
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False)
        for table in tables:
            count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            assert conn.execute(count).fetchone() == (0,), table
            owner = conn.execute(
                "SELECT tableowner = current_user FROM pg_tables"
                " WHERE schemaname = %s AND tablename = %s",
                (live_api.settings.db_schema, table),
            ).fetchone()
            assert owner == (False,), table
        with conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT,))
            tenants = conn.execute("SELECT DISTINCT tenant_id FROM view_unified_profile")
            assert tenants.fetchall() == [(TENANT,)]
        for statement in (
            "UPDATE view_unified_profile SET version = version + 1",
            "DELETE FROM historical_net_worth",
            "INSERT INTO transaction_search (tenant_id, profile_id, transaction_id, version)"
            " VALUES ('t', 'p', 'x', 1)",
            "SELECT count(*) FROM core_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_every_attack_token_is_refused_on_every_endpoint_and_writes_nothing(
    live_api: LiveApi,
) -> None:
    tokens = attack_tokens(live_api)
    assert len(tokens) == 9
    keys_before = live_api.query("SELECT count(*) FROM api_idempotency")[0][0]
    commands_before = len(live_api.commands_on_topic())
    outcomes: dict[tuple[str, str], int] = {}
    with live_api.client() as client:
        for name, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"atk-{name}"}
            for method, path in ENDPOINTS:
                if method == "POST":
                    response = client.post(path, json=COMMAND, headers=headers)
                else:
                    response = client.get(path, headers=headers)
                outcomes[(name, path)] = response.status_code
                assert response.headers.get("www-authenticate") == "Bearer"
        missing = client.get("/v1/profile/me")
    assert set(outcomes.values()) == {401}, outcomes
    assert missing.status_code == 401
    assert live_api.query("SELECT count(*) FROM api_idempotency")[0][0] == keys_before
    assert len(live_api.commands_on_topic()) == commands_before


def test_scopes_are_enforced(live_api: LiveApi) -> None:
    read_only = live_api.headers(TENANT, PROFILE, ["profile:read"])
    with live_api.client() as client:
        assert client.post("/v1/core/command", json=COMMAND, headers=read_only).status_code == 403
        assert client.get("/v1/core/stream", headers=read_only).status_code == 403
        assert client.get(f"/v1/profiles/{PROFILE}", headers=read_only).status_code == 403
        writer = live_api.headers(TENANT, PROFILE, ["commands:write"])
        assert client.get("/v1/profile/me", headers=writer).status_code == 403


def test_same_idempotency_key_three_times_at_once_is_one_command_and_one_event(
    live_api: LiveApi,
) -> None:
    headers = {**live_api.headers(TENANT, "p_0002"), "Idempotency-Key": "concurrent-1"}
    body = {"command": "SetBaseCurrency", "payload": {"base_currency": "GBP"}}

    def send() -> tuple[int, bytes]:
        with live_api.client() as client:
            response = client.post("/v1/core/command", json=body, headers=headers)
            return response.status_code, response.content

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: send(), range(3)))
    assert {status for status, _ in answers} == {202}
    assert len({content for _, content in answers}) == 1
    command_id = orjson.loads(answers[0][1])["command_id"]
    on_bus = [
        m
        for m in live_api.commands_on_topic()
        if orjson.loads(m.value())["command_id"] == command_id
    ]
    assert len(on_bus) == 1
    with live_api.client() as client:
        conflict = client.post(
            "/v1/core/command",
            json={"command": "SetBaseCurrency", "payload": {"base_currency": "JPY"}},
            headers=headers,
        )
        assert conflict.status_code == 409
        assert conflict.json()["reason"] == "idempotency_conflict"
        pending = client.get(f"/v1/core/commands/{command_id}", headers=headers).json()
        assert pending["status"] == "pending"
        live_api.run_until_idle()
        applied = client.get(f"/v1/core/commands/{command_id}", headers=headers).json()
        doc = client.get("/v1/profile/me", headers=headers).json()
    assert applied["status"] == "applied"
    assert applied["event_type"] == "BaseCurrencySet"
    events = live_api.query(
        "SELECT event_id FROM core_events WHERE payload->>'command_id' = %s", command_id
    )
    assert [str(row[0]) for row in events] == [applied["event_id"]]
    assert doc["base_currency"] == "GBP"


def test_rejected_and_category_commands_report_their_outcome(live_api: LiveApi) -> None:
    headers = live_api.headers(OTHER, PROFILE)
    with live_api.client() as client:
        coffee = client.get(
            "/v1/transactions/search", params={"q": "coffee", "limit": "1"}, headers=headers
        ).json()["items"][0]
        override = client.post(
            "/v1/core/command",
            json={
                "command": "UpdateTransactionCategory",
                "payload": {
                    "transaction_id": coffee["transaction_id"],
                    "new_category": ["Business Expense", "Client Coffee"],
                },
                "metadata": {"user_id": "usr_ABC", "source": "USER_OVERRIDE"},
            },
            headers=headers,
        ).json()
        unknown = client.post(
            "/v1/core/command",
            json={
                "command": "UpdateTransactionCategory",
                "payload": {"transaction_id": "txn_missing", "new_category": "X"},
            },
            headers=headers,
        ).json()
        floats = client.post(
            "/v1/core/command",
            json={"command": "SetBaseCurrency", "payload": {"base_currency": 1.5}},
            headers=headers,
        )
        huge = client.post(
            "/v1/core/command",
            content=b'{"command": "SetBaseCurrency", "payload": {"x": "' + b"a" * 70000 + b'"}}',
            headers={**headers, "content-type": "application/json"},
        )
        live_api.run_until_idle()
        applied = client.get(f"/v1/core/commands/{override['command_id']}", headers=headers)
        rejected = client.get(f"/v1/core/commands/{unknown['command_id']}", headers=headers)
        found = client.get(
            "/v1/transactions/search", params={"category": "client coffee"}, headers=headers
        ).json()["items"]
    assert floats.status_code == 422
    assert huge.status_code == 413
    assert applied.json()["status"] == "applied"
    assert applied.json()["event_type"] == "TransactionCategoryOverridden"
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reason"] == "unknown_transaction"
    assert [item["transaction_id"] for item in found] == [coffee["transaction_id"]]
    assert found[0]["category"] == ["Business Expense", "Client Coffee"]
    assert found[0]["category_source"] == "USER_OVERRIDE"


def test_health_readiness_and_metrics(live_api: LiveApi) -> None:
    with live_api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {
            "status": "ready",
            "database": "ok",
            "broker": "ok",
        }
        metrics = client.get("/metrics").text
        page = client.get("/")
    assert "fintra_api_requests_total" in metrics
    assert page.status_code == 200
    assert 'id="net-worth"' in page.text

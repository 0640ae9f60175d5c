"""The FastAPI application: profile reads, search, the command bus and the event stream.

Tenant and profile always come from the verified token, never from the body or the path;
every database read runs in a transaction scoped to that tenant by row-level security.
"""

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import anyio
import orjson
from confluent_kafka.admin import AdminClient
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AuthError, Principal, TokenVerifier
from api.bus import BadStreamCursor, BusError, CommandPublisher, EventReader, parse_cursor
from api.config import ApiConfig
from api.models import (
    CommandAccepted,
    CommandRequest,
    CommandStatus,
    Health,
    NetWorthHistory,
    Problem,
    Readiness,
    SearchPage,
)
from api.store import BadCursor, SearchQuery, Store, StoredCommand, StoreError
from schemas.canonical import content_hash
from schemas.envelopes import ID_PATTERN, utc_iso
from schemas.money import format_minor

STATIC_DIR: Final = Path(__file__).parent / "static"
_COMMAND_NAMESPACE: Final = uuid.UUID("6f1d8a52-3c0e-4f5b-9a57-1c2d3e4f5a6b")
_KEY_PATTERN: Final = r"^[A-Za-z0-9_.:\-]{1,128}$"
_DECIMAL_PATTERN: Final = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"

REQUESTS = Counter(
    "fintra_api_requests_total", "HTTP requests, by route and status", ["route", "status"]
)
LATENCY = Histogram(
    "fintra_api_request_duration_seconds", "Time to answer a request (to its first byte)", ["route"]
)
STREAMS = Gauge("fintra_api_streams_active", "Event streams currently open")
STREAMED = Counter("fintra_api_streamed_events_total", "Events sent over the event stream")

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No valid token"},
    403: {"model": Problem, "description": "The token lacks the scope"},
    503: {"model": Problem, "description": "The database or broker is unreachable"},
}

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {404: {"model": Problem}}

_bearer = HTTPBearer(auto_error=False, description="A JWT naming the tenant and profile")


def problem(
    status: int, reason: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error body with a stable reason code."""
    return JSONResponse({"detail": detail, "reason": reason}, status_code=status, headers=headers)


class ApiProblem(Exception):
    """An expected failure answered with ``status`` and a reason code."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class BodyLimit:
    """Refuse request bodies above a size, whether declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 for a declared oversize body; stop reading an undeclared one."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._limit):
            response = problem(413, "body_too_large", f"bodies are limited to {self._limit} bytes")
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._limit:
                raise ApiProblem(
                    413, "body_too_large", f"bodies are limited to {self._limit} bytes"
                )
            return message

        await self._app(scope, limited, send)


class StreamSlots:
    """A bound on open event streams per process."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0

    def take(self) -> None:
        """Reserve a slot or refuse with 503."""
        if self._open >= self._limit:
            msg = f"{self._limit} event streams are open; retry later"
            raise ApiProblem(503, "too_many_streams", msg)
        self._open += 1
        STREAMS.set(self._open)

    def give_back(self) -> None:
        """Release a slot."""
        self._open -= 1
        STREAMS.set(self._open)


def create_app(config: ApiConfig) -> FastAPI:
    """Build the application; connections open at startup and close at shutdown."""
    store = Store(config.database_url, config.db_schema, size=config.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.open()
        publisher = CommandPublisher(config.kafka_brokers, config.commands_topic)
        app.state.publisher = publisher
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(publisher.close)
            await anyio.to_thread.run_sync(store.close)

    app = FastAPI(
        title="FintraOS Core API",
        version="1.0.0",
        description="The live Financial Twin of each profile: reads, commands, events.",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.store = store
    app.state.verifier = TokenVerifier(config.jwt)
    app.state.slots = StreamSlots(config.max_streams)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    _add_handlers(app)
    _add_metrics(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (operations, profiles, commands, events):
        app.include_router(router)
    return app


def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; a missing or invalid token is a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        reason = "missing_token"
        raise AuthError(reason, "send Authorization: Bearer <token>")
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(credentials.credentials)


def scoped(scope: str) -> Callable[[Principal], Principal]:
    """A dependency admitting callers whose token grants ``scope`` (403 otherwise)."""

    def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        principal.require(scope)
        return principal

    return check


def current_store(request: Request) -> Store:
    """The application's store."""
    store: Store = request.app.state.store
    return store


Reader = Annotated[Principal, Depends(scoped("profile:read"))]
Admin = Annotated[Principal, Depends(scoped("tenant:admin"))]
Writer = Annotated[Principal, Depends(scoped("commands:write"))]
Streamer = Annotated[Principal, Depends(scoped("stream:read"))]
Db = Annotated[Store, Depends(current_store)]

operations = APIRouter(tags=["operations"])
profiles = APIRouter(tags=["profile"], responses=_ERRORS)
commands = APIRouter(tags=["commands"], responses=_ERRORS)
events = APIRouter(tags=["events"], responses=_ERRORS)


@operations.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The live page (no build step: plain HTML, CSS and JavaScript)."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


@operations.get("/healthz", response_model=Health)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@operations.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request, store: Db) -> Any:
    """The database and the broker both answer."""
    config: ApiConfig = request.app.state.config
    database = broker = "ok"
    try:
        store.ping()
    except StoreError as exc:
        database = str(exc)
    try:
        _broker_ready(config.kafka_brokers, config.events_topic)
    except BusError as exc:
        broker = str(exc)
    ready = database == broker == "ok"
    status = "ready" if ready else "unavailable"
    body = {"status": status, "database": database, "broker": broker}
    return JSONResponse(body, status_code=200 if ready else 503)


@operations.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@profiles.get("/v1/profile/me", response_model=dict[str, Any], responses=_NOT_FOUND)
def profile_me(principal: Reader, store: Db) -> dict[str, Any]:
    """The caller's profile: the dashboard document, money as decimal strings."""
    return _profile_or_404(store, principal.tenant_id, principal.require_profile())


@profiles.get("/v1/profiles/{profile_id}", response_model=dict[str, Any], responses=_NOT_FOUND)
def profile_by_id(
    principal: Admin, store: Db, profile_id: Annotated[str, PathParam(pattern=ID_PATTERN)]
) -> dict[str, Any]:
    """Any profile of the caller's tenant (scope ``tenant:admin``)."""
    return _profile_or_404(store, principal.tenant_id, profile_id)


@profiles.get(
    "/v1/profile/me/net-worth/history",
    response_model=NetWorthHistory,
    responses={**_NOT_FOUND, 400: {"model": Problem}},
)
def net_worth_history(
    principal: Reader,
    store: Db,
    since: Annotated[dt.date | None, Query(alias="from")] = None,
    until: Annotated[dt.date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Net worth at the end of each day, in the base currency, oldest first.

    ``from`` and ``to`` are inclusive; a range that ends before it starts holds no days.
    """
    rows = store.net_worth_history(principal.tenant_id, principal.require_profile(), since, until)
    if rows is None:
        raise ApiProblem(404, "not_found", "no such profile")
    points = [
        {"day": day.isoformat(), "net_worth": _money(value, currency)}
        for day, value, currency in rows
    ]
    return {"currency": rows[-1][2] if rows else None, "points": points}


@profiles.get(
    "/v1/transactions/search",
    response_model=SearchPage,
    responses={400: {"model": Problem}},
    tags=["transactions"],
)
def search(  # noqa: PLR0913, PLR0917 - one argument per documented filter
    principal: Reader,
    store: Db,
    q: Annotated[str | None, Query(max_length=200, description="Full-text query")] = None,
    since: Annotated[dt.date | None, Query(alias="from")] = None,
    until: Annotated[dt.date | None, Query(alias="to")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    minimum: Annotated[
        str | None, Query(alias="min", pattern=_DECIMAL_PATTERN, description="Lowest amount")
    ] = None,
    maximum: Annotated[
        str | None, Query(alias="max", pattern=_DECIMAL_PATTERN, description="Highest amount")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_-]{1,512}$", description="next_cursor of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The caller's transactions matching text and filters, newest first.

    Amounts are FOS-signed (money out is negative) and compared exactly in each
    transaction's own currency.
    """
    query = SearchQuery(
        text=(q.strip() or None) if q else None,
        since=since,
        until=until,
        category=category,
        min_amount=Decimal(minimum) if minimum is not None else None,
        max_amount=Decimal(maximum) if maximum is not None else None,
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = store.search(principal.tenant_id, principal.require_profile(), query)
    return {"items": items, "next_cursor": next_cursor}


@commands.post(
    "/v1/core/command",
    status_code=202,
    response_model=CommandAccepted,
    responses={409: {"model": Problem}, 413: {"model": Problem}},
)
def command(
    request: Request,
    principal: Writer,
    store: Db,
    body: CommandRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=_KEY_PATTERN)
    ] = None,
) -> dict[str, Any]:
    """Put a command on the bus for the caller's profile (seed 000 §5.1).

    The same ``Idempotency-Key`` with the same body returns the same response and sends
    nothing more; with another body it is refused with 409.
    """
    profile_id = principal.require_profile()
    key = idempotency_key or uuid.uuid4().hex
    command_id = "cmd_" + uuid.uuid5(_COMMAND_NAMESPACE, f"{principal.tenant_id}:{key}").hex
    request_hash = content_hash([profile_id, body.model_dump(mode="json")])
    response = {
        "command_id": command_id,
        "command": body.command.value,
        "profile_id": profile_id,
        "idempotency_key": key,
        "status": "accepted",
    }
    stored = StoredCommand(request_hash, command_id, profile_id, response)
    with store.tenant(principal.tenant_id) as cur:
        held = store.claim_key(cur, principal.tenant_id, key, stored)
        if held is None:
            # Published inside the transaction that claims the key: if the broker refuses,
            # the claim rolls back and a retry with the same key starts afresh.
            publisher: CommandPublisher = request.app.state.publisher
            publisher.publish(*_command_message(principal.tenant_id, profile_id, command_id, body))
            return response
    if held.request_hash != request_hash:
        msg = f"Idempotency-Key {key!r} was already used with another request"
        raise ApiProblem(409, "idempotency_conflict", msg)
    return held.response


@commands.get("/v1/core/commands/{command_id}", response_model=CommandStatus, responses=_NOT_FOUND)
def command_status(
    principal: Writer, store: Db, command_id: Annotated[str, PathParam(pattern=ID_PATTERN)]
) -> dict[str, Any]:
    """The outcome of a command: pending, applied (with its event) or rejected (why)."""
    accepted_for, outcome = store.command_status(principal.tenant_id, command_id)
    profile_id = outcome["profile_id"] if outcome is not None else accepted_for
    if profile_id is None or (
        profile_id != principal.profile_id and "tenant:admin" not in principal.scopes
    ):
        raise ApiProblem(404, "not_found", "no such command")
    if outcome is None:
        return {"command_id": command_id, "profile_id": profile_id, "status": "pending"}
    rejected = outcome["event_type"] == "CommandRejected"
    return {
        "command_id": command_id,
        "profile_id": profile_id,
        "status": "rejected" if rejected else "applied",
        "event_id": outcome["event_id"],
        "event_type": outcome["event_type"],
        "stream_version": outcome["stream_version"],
        "reason": outcome["reason"],
        "message": outcome["message"],
    }


@events.get(
    "/v1/core/stream",
    response_class=StreamingResponse,
    responses={
        400: {"model": Problem},
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    },
)
async def stream(
    request: Request,
    principal: Streamer,
    start: Annotated[Literal["latest", "earliest"], Query(alias="from")] = "latest",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20000)] = None,
) -> StreamingResponse:
    """The tenant's events as server-sent events (seed 000 §5.2).

    Each event's ``id`` is a cursor: send it back as ``Last-Event-ID`` to resume right after
    it, with nothing missed and nothing repeated. Keep-alives carry the cursor past other
    tenants' traffic.
    """
    config: ApiConfig = request.app.state.config
    slots: StreamSlots = request.app.state.slots
    cursor = parse_cursor(last_event_id) if last_event_id else None
    slots.take()
    reader = EventReader(config.kafka_brokers, config.events_topic, principal.tenant_id)
    try:
        await anyio.to_thread.run_sync(reader.start, cursor, start == "earliest")
    except BaseException:
        await anyio.to_thread.run_sync(reader.close)
        slots.give_back()
        raise
    return StreamingResponse(
        _event_frames(reader, request, config.keepalive_seconds, slots),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _command_message(
    tenant_id: str, profile_id: str, command_id: str, body: CommandRequest
) -> tuple[bytes, bytes]:
    message = {
        "command_id": command_id,
        "tenant_id": tenant_id,
        "profile_id": profile_id,
        "command": body.command.value,
        "payload": body.payload,
        "metadata": body.metadata,
        "issued_at": utc_iso(dt.datetime.now(dt.UTC)),
    }
    return f"{tenant_id}:{profile_id}".encode(), orjson.dumps(message)


async def _event_frames(
    events: EventReader, request: Request, keepalive_s: float, slots: StreamSlots
) -> AsyncIterator[bytes]:
    """SSE frames, read from the broker only as fast as the client takes them."""
    try:
        yield f"retry: 1000\nid: {events.cursor()}\n: connected\n\n".encode()
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            messages = await anyio.to_thread.run_sync(events.read, 200, 0.25)
            for message in messages:
                STREAMED.inc()
                head = f"id: {message.cursor}\nevent: {message.event_type}\ndata: "
                yield head.encode() + message.data + b"\n\n"
            now = time.monotonic()
            if messages:
                quiet_since = now
            elif now - quiet_since >= keepalive_s:
                quiet_since = now
                yield f"id: {events.cursor()}\n: keep-alive\n\n".encode()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(events.close)
        slots.give_back()


def _profile_or_404(store: Store, tenant_id: str, profile_id: str) -> dict[str, Any]:
    doc = store.profile(tenant_id, profile_id)
    if doc is None:
        raise ApiProblem(404, "not_found", "no such profile")
    return doc


def _money(value_minor: int, currency: str) -> dict[str, str]:
    return {"value": format_minor(value_minor, currency), "currency": currency}


def _broker_ready(brokers: str, topic: str) -> None:
    try:
        metadata = AdminClient({"bootstrap.servers": brokers}).list_topics(topic, timeout=5.0)
    except Exception as exc:
        msg = f"broker unreachable: {exc.__class__.__name__}"
        raise BusError(msg) from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        msg = f"topic {topic} is not available"
        raise BusError(msg)


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def auth_failed(_: Request, exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.reason, str(exc), headers)

    @app.exception_handler(ApiProblem)
    async def expected(_: Request, exc: ApiProblem) -> Response:
        return problem(exc.status, exc.reason, exc.detail)

    @app.exception_handler(StoreError)
    async def store_down(_: Request, exc: StoreError) -> Response:
        return problem(503, "database_unavailable", str(exc), {"Retry-After": "1"})

    @app.exception_handler(BusError)
    async def bus_down(_: Request, exc: BusError) -> Response:
        return problem(503, "broker_unavailable", str(exc), {"Retry-After": "1"})

    @app.exception_handler(BadCursor)
    async def bad_cursor(_: Request, exc: BadCursor) -> Response:
        return problem(400, "bad_cursor", str(exc))

    @app.exception_handler(BadStreamCursor)
    async def bad_stream_cursor(_: Request, exc: BadStreamCursor) -> Response:
        return problem(400, "bad_cursor", str(exc))


def _add_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        LATENCY.labels(name).observe(time.perf_counter() - started)
        REQUESTS.labels(name, str(response.status_code)).inc()
        return response

"""The API's configuration from the environment, and the API process itself.

Token rules: ``FINTRA_JWT_PUBLIC_KEY_FILE`` (a PEM public key) or ``FINTRA_JWT_SECRET_FILE``
(an HMAC secret), with ``FINTRA_JWT_ALGORITHMS`` (comma-separated, default ``RS256``),
``FINTRA_JWT_ISSUER`` and ``FINTRA_JWT_AUDIENCE``. With none of them set, a local key pair
under ``FINTRA_HOME/keys`` signs and verifies (``fintra token`` mints with it).

The API logs in as the ``fintra_api`` role: ``FINTRA_API_DATABASE_URL`` names the login;
for the embedded database it is derived from the stack's URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.auth import JwtSettings, LocalKeys, ensure_local_keys, local_settings
from api.config import ApiConfig
from fintra.embedded import StackInfo
from fintra.settings import COMMANDS_TOPIC, EVENTS_TOPIC, Settings, SettingsError

API_ROLE: Final = "fintra_api"
DEFAULT_PORT: Final = 8000


def keys_dir(settings: Settings) -> Path:
    """Where the embedded stack's signing keys live."""
    return settings.home / "keys"


def local_keys(settings: Settings) -> LocalKeys:
    """The local signing key pair, created on first use."""
    return ensure_local_keys(keys_dir(settings))


def jwt_settings(settings: Settings) -> JwtSettings:
    """Token rules from the environment, or the local key pair when none are set."""
    public_file = os.environ.get("FINTRA_JWT_PUBLIC_KEY_FILE")
    secret_file = os.environ.get("FINTRA_JWT_SECRET_FILE")
    if public_file and secret_file:
        msg = "set FINTRA_JWT_PUBLIC_KEY_FILE or FINTRA_JWT_SECRET_FILE, not both"
        raise SettingsError(msg)
    if not public_file and not secret_file:
        return local_settings(local_keys(settings))
    issuer = os.environ.get("FINTRA_JWT_ISSUER", "")
    audience = os.environ.get("FINTRA_JWT_AUDIENCE", "")
    default = "RS256" if public_file else "HS256"
    algorithms = tuple(
        name.strip() for name in os.environ.get("FINTRA_JWT_ALGORITHMS", default).split(",")
    )
    key = Path(public_file or secret_file or "").read_text(encoding="utf-8").strip()
    return JwtSettings(algorithms=algorithms, key=key, issuer=issuer, audience=audience)


def api_database_url(info: StackInfo) -> str:
    """The API's login: ``FINTRA_API_DATABASE_URL``, or the embedded server as ``fintra_api``."""
    explicit = os.environ.get("FINTRA_API_DATABASE_URL", "").strip()
    if explicit:
        return explicit
    if not info.embedded:
        msg = (
            "set FINTRA_API_DATABASE_URL to a login of the fintra_api role: the API never "
            "reads with the workers' credentials"
        )
        raise SettingsError(msg)
    params = conninfo_to_dict(info.database_url)
    params["user"] = API_ROLE
    params.pop("password", None)
    return make_conninfo("", **params)


def api_config(settings: Settings, info: StackInfo) -> ApiConfig:
    """Everything the API process needs."""
    return ApiConfig(
        database_url=api_database_url(info),
        db_schema=settings.db_schema,
        kafka_brokers=info.kafka_brokers,
        events_topic=settings.topic(EVENTS_TOPIC),
        commands_topic=settings.topic(COMMANDS_TOPIC),
        jwt=jwt_settings(settings),
        keepalive_seconds=float(os.environ.get("FINTRA_API_KEEPALIVE_SECONDS", "15")),
    )


def serve(settings: Settings, info: StackInfo, host: str, port: int) -> None:
    """Run the API in this process until interrupted."""
    import uvicorn  # noqa: PLC0415 - only the API process needs the server

    from api.app import create_app  # noqa: PLC0415

    app = create_app(api_config(settings, info))
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)


@dataclass(frozen=True, slots=True)
class BackgroundApi:
    """An API process started in the background for the embedded stack."""

    pid: int
    url: str


def _state_file(settings: Settings) -> Path:
    return settings.home / "api.json"


def background_status(settings: Settings) -> BackgroundApi | None:
    """The background API, if one is running and answering."""
    try:
        state: dict[str, Any] = json.loads(_state_file(settings).read_text(encoding="utf-8"))
        pid, url = int(state["pid"]), str(state["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not _healthy(url):
        return None
    return BackgroundApi(pid, url)


def start_background(
    settings: Settings, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> BackgroundApi:
    """Start ``fintra api`` detached (or return the one running); wait until it answers."""
    running = background_status(settings)
    if running is not None:
        return running
    settings.home.mkdir(parents=True, exist_ok=True)
    log = (settings.home / "api.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "fintra.cli", "api", "--host", host, "--port", str(port)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 30
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            msg = f"the API did not start on {url}; see {settings.home / 'api.log'}"
            raise SettingsError(msg)
        time.sleep(0.2)
    _state_file(settings).write_text(json.dumps({"pid": process.pid, "url": url}))
    return BackgroundApi(process.pid, url)


def stop_background(settings: Settings) -> bool:
    """Stop the background API; return whether one was running."""
    running = background_status(settings)
    _state_file(settings).unlink(missing_ok=True)
    if running is None:
        return False
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(running.pid):
        os.kill(running.pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        # A finished child of this process stays a zombie until reaped.
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False

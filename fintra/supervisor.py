"""``fintra run``: a Bytewax cluster of worker processes on loopback, supervised.

Each worker is a process (``python -m fintra.worker``) so that a crash of one is seen and the
cluster restarted from its recovery snapshots, with backoff. Output is idempotent at every
sink, so a restart replays without doubling anything. After ``max_failures`` consecutive
failed runs the supervisor gives up and exits non-zero.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Final

from fintra.embedded import ENV_DATABASE_URL, ENV_KAFKA_BROKERS, StackInfo
from fintra.passport import export_pending
from fintra.settings import Settings

_log = logging.getLogger(__name__)

#: A run that lasted this long made progress: its failure starts a new count.
HEALTHY_RUN_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """How to run the cluster."""

    processes: int = 1
    until_idle: bool = False
    max_failures: int = 5
    metrics_port: int | None = None
    max_backoff_seconds: float = 30.0
    #: The interpreter arguments that start one worker (a deployment may wrap its own).
    worker_args: tuple[str, ...] = ("-m", "fintra.worker")
    #: Export Passport histories beside the workers (a deployment may run it elsewhere).
    passport: bool = True


class Supervisor:
    """Starts the cluster, restarts it after a crash, stops it on SIGINT or SIGTERM."""

    def __init__(self, settings: Settings, info: StackInfo, plan: ClusterPlan) -> None:
        self._settings = settings
        self._info = info
        self._plan = plan
        self._children: list[subprocess.Popen[bytes]] = []
        self._stopping = False

    def run(self) -> int:
        """Run until done (``until_idle``), stopped, or failing too often; return the exit code."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self) -> int:
        failures = 0
        while True:
            started = time.monotonic()
            codes = self._run_cluster()
            if self._stopping:
                return 0
            if all(code == 0 for code in codes):
                # Exported histories come back to the twins as input: run again until a
                # round sends nothing more.
                if self._plan.until_idle and self._exported():
                    continue
                return 0
            failures = 1 if time.monotonic() - started > HEALTHY_RUN_SECONDS else failures + 1
            if failures >= self._plan.max_failures:
                print(
                    f"fintra run: {failures} consecutive failures (exit codes {codes}); giving up",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            delay = min(0.5 * 2 ** (failures - 1), self._plan.max_backoff_seconds)
            print(
                f"fintra run: a worker failed (exit codes {codes}); restarting from the last "
                f"snapshot in {delay:.1f}s (failure {failures} of {self._plan.max_failures})",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(delay)

    def _run_cluster(self) -> list[int]:
        count = self._plan.processes
        addresses = [f"127.0.0.1:{_free_port()}" for _ in range(count)] if count > 1 else []
        self._children = [self._spawn(index, addresses) for index in range(count)]
        if self._plan.passport and not self._plan.until_idle:
            self._children.append(self._spawn_exporter())
        try:
            return self._wait()
        finally:
            self._terminate()

    def _spawn(self, index: int, addresses: list[str]) -> subprocess.Popen[bytes]:
        args = [sys.executable, *self._plan.worker_args]
        if addresses:
            args += ["--addresses", ",".join(addresses), "--process-id", str(index)]
        if self._plan.until_idle:
            args.append("--until-idle")
        if self._plan.metrics_port is not None:
            args += ["--metrics-port", str(self._plan.metrics_port + index)]
        return subprocess.Popen(args, env=self._environment())  # noqa: S603 - our own module

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "FINTRA_HOME": str(self._settings.home),
            "FINTRA_DB_SCHEMA": self._settings.db_schema,
            "FINTRA_TOPIC_PREFIX": self._settings.topic_prefix,
            "FINTRA_EPOCH_INTERVAL_SECONDS": str(self._settings.epoch_interval_seconds),
            ENV_KAFKA_BROKERS: self._info.kafka_brokers,
            ENV_DATABASE_URL: self._info.database_url,
        }

    def _exported(self) -> bool:
        return self._plan.passport and export_pending(self._settings, self._info) > 0

    def _spawn_exporter(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "fintra.passport", "--follow"]
        return subprocess.Popen(args, env=self._environment())  # noqa: S603 - our own module

    def _wait(self) -> list[int]:
        """Wait for every worker; as soon as one fails, the others cannot finish alone."""
        while True:
            codes = [child.poll() for child in self._children]
            if all(code is not None for code in codes):
                return [code for code in codes if code is not None]
            if any(code not in (None, 0) for code in codes) or self._stopping:
                self._terminate()
                return [child.wait() for child in self._children]
            time.sleep(0.1)

    def _terminate(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for child in self._children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        _log.info("signal %d: stopping the workers", signum)
        self._stopping = True


def _free_port() -> int:
    """A port free now, below the range the system draws outgoing connections' ports from.

    A port picked by binding to 0 comes from that range, so one worker's connection to a
    peer could take it before the worker meant to listen on it had bound it.
    """
    while True:
        port = random.randrange(*_LISTEN_PORTS)  # noqa: S311 - not a secret
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


#: Below Linux's default ephemeral range (32768-60999), above the well-known ports.
_LISTEN_PORTS: Final = (20_000, 32_000)

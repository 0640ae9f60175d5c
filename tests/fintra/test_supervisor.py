"""The supervisor restarts a failed cluster with backoff and gives up after N failures."""

from __future__ import annotations

import time
from pathlib import Path

from fintra.embedded import StackInfo
from fintra.settings import Settings
from fintra.supervisor import ClusterPlan, Supervisor

INFO = StackInfo(
    kafka_brokers="127.0.0.1:1", database_url="postgresql://x@127.0.0.1:1/x", embedded=False
)


def supervise(tmp_path: Path, code: str, **plan: object) -> tuple[int, float]:
    settings = Settings(home=tmp_path)
    started = time.monotonic()
    result = Supervisor(
        settings,
        INFO,
        ClusterPlan(  # type: ignore[arg-type]
            worker_args=("-c", code), max_backoff_seconds=0.2, passport=False, **plan
        ),
    ).run()
    return result, time.monotonic() - started


def test_a_worker_that_always_fails_makes_run_exit_nonzero_after_max_failures(
    tmp_path: Path,
) -> None:
    code, _ = supervise(tmp_path, "import sys; sys.exit(3)", max_failures=3)
    assert code == 1


def test_a_crashed_worker_is_restarted_and_the_run_then_succeeds(tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    crash_once = (
        "import os, pathlib, signal, sys\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n"
        "    p.touch()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "sys.exit(0)\n"
    )
    code, _ = supervise(tmp_path, crash_once, max_failures=3)
    assert code == 0
    assert marker.exists()


def test_when_one_process_of_a_cluster_dies_the_others_are_stopped_and_all_restart(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    # Process 0 dies on the first run; process 1 would wait forever unless stopped.
    script = (
        "import os, pathlib, signal, sys, time\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "me = sys.argv[sys.argv.index('--process-id') + 1]\n"
        "n = len(list(runs.glob(me + '-*')))\n"
        "(runs / f'{me}-{n}').touch()\n"
        "if n == 0 and me == '0':\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "if n == 0:\n"
        "    time.sleep(60)\n"
        "sys.exit(0)\n"
    )
    code, elapsed = supervise(tmp_path, script, processes=2, max_failures=3)
    assert code == 0
    assert sorted(p.name for p in runs.iterdir()) == ["0-0", "0-1", "1-0", "1-1"]
    assert elapsed < 30

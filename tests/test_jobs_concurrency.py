"""One runner per job, with real processes: a second run exits 3 at once; a killed run
leaves no stale lock."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, customers, run_cli
from tests.jobs_helpers import HEADER, batches, log_lines, names, write_job


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sync", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_runs_of_one_job_at_once_exactly_one_runs(tmp_path: Path) -> None:
    # The settle look keeps the winner busy for 1.5 s while it holds the lock.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 1.5')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n2;Beta Oy;Kemi\n")
    runs = [start("run", job, "--json") for _ in range(2)]
    began = time.monotonic()
    while all(run.poll() is None for run in runs) and time.monotonic() - began < 60:
        time.sleep(0.01)
    loser = next(run for run in runs if run.poll() is not None)
    winner = next(run for run in runs if run is not loser)
    assert winner.poll() is None, "the second run did not exit at once"
    assert loser.returncode == 3
    err = loser.stderr.read()
    assert f"already running, pid {winner.pid}" in err
    assert json.loads(loser.stdout.read()) == {"error": err.strip().removeprefix(
        "regsync: error: "), "exit_code": 3}
    assert winner.wait(timeout=60) == 0, winner.stderr.read()
    assert len(batches(tmp_path / "r.db")) == 1
    assert sorted(customers(tmp_path / "r.db")) == ["1", "2"]
    assert [r["outcome"] for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        "committed"]
    assert names(tmp_path / "out" / "done") == ["a.csv"]


def test_a_killed_run_leaves_no_stale_lock(tmp_path: Path) -> None:
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 30')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    lock = tmp_path / "out" / "regsync.jsonl.lock"
    run = start("run", job)
    deadline = time.monotonic() + 30
    while (not lock.exists() or lock.read_text().strip() != str(run.pid)) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.read_text().strip() == str(run.pid)  # holding the lock, in its long look
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    job.write_text(job.read_text().replace("settle_seconds = 30", "settle_seconds = 0"))
    after = run_cli("run", job)
    assert after.exit_code == 0, after.stderr
    assert names(tmp_path / "out" / "done") == ["a.csv"]


def test_a_run_refused_before_the_holder_wrote_its_pid_still_names_it(tmp_path: Path) -> None:
    import fcntl
    import os
    import threading

    import pytest

    from sync.jobs.lock import JobRunningError, job_lock

    lock = tmp_path / "job.lock"
    holder = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(holder, fcntl.LOCK_EX)  # taken, pid not written yet
    writer = threading.Timer(0.1, lambda: os.pwrite(holder, b"4242\n", 0))
    writer.start()
    try:
        with pytest.raises(JobRunningError, match="pid 4242"), job_lock(lock, "nightly"):
            pass
    finally:
        writer.join()
        os.close(holder)


def test_a_run_refused_names_the_holders_pid_not_an_earlier_runs_longer_one(
        tmp_path: Path) -> None:
    # The lock file is reused: a holder with a shorter pid than the run before it
    # must not leave that run's digits after its own ("pid 42\n567": two lines).
    import os

    import pytest

    from sync.jobs.lock import JobRunningError, job_lock

    lock = tmp_path / "job.lock"
    lock.write_text("1234567890123\n")  # an earlier run's pid (longer than any here)
    with job_lock(lock, "nightly"):
        with pytest.raises(JobRunningError) as refused, job_lock(lock, "nightly"):
            pass
    assert refused.value.message == f"job nightly is already running, pid {os.getpid()} " \
                                    f"(lock {lock})"

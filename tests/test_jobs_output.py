"""What `regsync run` leaves on a full disk or when stopped: whole files or none, a log
whose records all parse, one line naming what could not be written, a SIGTERM handled
as an interrupt is."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import sync.jobs.lock as lock
import sync.jobs.runner as runner
import sync.jobs.sources as sources
from sync.writers.register.sqlite import SQLiteRegister
from tests.conftest import ROOT, customers, run_cli
from tests.jobs_helpers import HEADER, batches, log_lines, names, write_job

SOURCE = 'folder = "drops"\nsettle_seconds = 0'
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def drop(tmp_path: Path, **files: str) -> Path:
    drops = tmp_path / "drops"
    drops.mkdir(exist_ok=True)
    for name, text in files.items():
        (drops / f"{name}.csv").write_text(text)
    return drops


class HalfWritten:
    """A file whose disk fills halfway through a write: half the data lands, then
    ENOSPC (as a real write(2) that fills a disk does, seen through Python)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise ENOSPC

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> HalfWritten:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.mark.parametrize(("text", "folder", "written"), [
    (HEADER + "1;Alpha Oy;Oulu\n", "reports", "a.report.csv"),
    ("just;some;words\n", "held", "a.error.txt"),  # no key column: its note goes to held/
])
def test_an_output_cut_short_by_a_full_disk_leaves_nothing_under_its_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, folder: str,
        written: str) -> None:
    # The report was left cut off mid-record under its final name, and the stop's line
    # said only "No space left on device".
    job = write_job(tmp_path, source=SOURCE)
    drop(tmp_path, a=text)

    def filling_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 - wrapped, closed by it
        return HalfWritten(handle) if written in str(path) and "b" in mode else handle

    monkeypatch.setattr(sources, "open", filling_open, raising=False)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    out = tmp_path / "out" / folder
    assert [n for n in names(out) if n.endswith((".report.csv", ".txt", ".tmp"))] == []
    target = str(out / written)
    assert result.json()["error"] == f"{target}: No space left on device"


def test_a_log_ending_in_a_broken_record_gets_the_next_one_on_a_new_line(
        tmp_path: Path) -> None:
    # The next run's record was appended right after the fragment: one unparseable line.
    job = write_job(tmp_path, source=SOURCE)
    drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n", b=HEADER + "2;Beta Oy;Oulu\n")
    log = tmp_path / "out" / "regsync.jsonl"
    log.parent.mkdir()
    whole = '{"time": "2024-01-01T02:15:00+00:00", "outcome": "committed"}'
    log.write_text(whole + '\n{"time": "2024-01-02T02:1')
    assert run_cli("run", job).exit_code == 0
    lines = log.read_text().split("\n")
    assert lines[:2] == [whole, '{"time": "2024-01-02T02:1'] and lines[-1] == ""
    assert [(Path(json.loads(line)["file"]).name, json.loads(line)["outcome"])
            for line in lines[2:-1]] == [("a.csv", "committed"), ("b.csv", "committed")]


def test_a_disk_filling_during_a_log_append_names_the_log_and_spoils_no_later_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = write_job(tmp_path, source=SOURCE)
    drops = drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n", b=HEADER + "2;Beta Oy;Oulu\n")
    log = tmp_path / "out" / "regsync.jsonl"
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        if b'"job": "nightly"' in data:  # a log record: the disk fills halfway
            return real_write(fd, data[: len(data) // 2])
        return real_write(fd, data)

    monkeypatch.setattr(runner.os, "write", short_write)
    first = run_cli("run", job, "--json")
    monkeypatch.setattr(runner.os, "write", real_write)
    assert first.exit_code == 2, first.stderr
    assert first.json()["error"] == f"{log}: No space left on device"
    assert names(drops) == ["b.csv"]  # a was committed and moved; the run stopped there
    fragment = log.read_text()
    assert "\n" not in fragment  # only half of a's record made it

    (drops / "c.csv").write_text(HEADER + "3;Gamma Oy;Oulu\n")
    assert run_cli("run", job).exit_code == 0
    lines = log.read_text().split("\n")
    assert lines[0] == fragment
    assert [Path(json.loads(line)["file"]).name for line in lines[1:-1]] == ["b.csv", "c.csv"]


def test_a_lock_file_that_cannot_be_written_is_exit_2_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It was exit 70, "internal error (OSError ...)".
    job = write_job(tmp_path, source=SOURCE)
    drops = drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n")

    def full(fd: int, data: bytes, offset: int) -> int:
        raise ENOSPC

    monkeypatch.setattr(lock.os, "pwrite", full)
    result = run_cli("run", job, "--json")
    lock_file = tmp_path / "out" / "regsync.jsonl.lock"
    message = f"{lock_file}: cannot write the job's lock file: No space left on device"
    assert result.exit_code == 2
    assert result.stderr == f"regsync: error: {message}\n"
    assert result.json() == {"error": message, "exit_code": 2}
    assert names(drops) == ["a.csv"] and not (tmp_path / "r.db").exists()


def test_a_duplicates_counts_say_how_many_rows_were_skipped(tmp_path: Path) -> None:
    job = write_job(tmp_path, source=SOURCE)
    text = HEADER + "1;Alpha Oy;Oulu\n\n2;Beta Oy;Kemi\n"  # one blank line: skipped
    drops = drop(tmp_path, a=text)
    first = run_cli("run", job, "--json")
    counts = first.json()["files"][0]["counts"]
    assert counts["skipped"] == 1 and counts["new"] == 2
    (drops / "b.csv").write_text(text)
    again = run_cli("run", job, "--json")
    record = again.json()["files"][0]
    assert record["outcome"] == "skipped_duplicate" and record["counts"] == counts
    assert log_lines(tmp_path / "out" / "regsync.jsonl")[-1]["counts"] == counts

    # A batch committed before the count was recorded: the key is there all the same.
    conn = sqlite3.connect(tmp_path / "r.db")
    with conn:
        conn.execute("UPDATE batches SET counts = ?",
                     (json.dumps({k: v for k, v in counts.items() if k != "skipped"}),))
    conn.close()
    (drops / "c.csv").write_text(text)
    assert run_cli("run", job, "--json").json()["files"][0]["counts"]["skipped"] == 0


def test_sigterm_during_a_commit_stops_like_an_interrupt_and_rolls_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGTERM ended the process (status 143) with no summary and no log line. Without
    # the run's own handler, this test's handler turns it into an error it can see.
    def not_handled(signum: int, frame: object) -> None:
        raise RuntimeError("SIGTERM reached the default handler")

    job = write_job(tmp_path, source=SOURCE)
    drops = drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n", b=HEADER + "2;Beta Oy;Kemi\n",
                 c=HEADER + "3;Gamma Oy;Tornio\n")
    real_insert = SQLiteRegister._insert

    def insert_then_sigterm(self: SQLiteRegister, inserts: Any, *args: Any) -> None:
        real_insert(self, inserts, *args)
        if "2" in inserts["customer_number"].to_list():  # b's rows are in, not committed
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here

    monkeypatch.setattr(SQLiteRegister, "_insert", insert_then_sigterm)
    previous = signal.signal(signal.SIGTERM, not_handled)
    try:
        result = run_cli("run", job, "--json")
        assert signal.getsignal(signal.SIGTERM) is not_handled  # put back after the run
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 143, result.stderr
    payload = result.json()
    assert payload["error"] == "terminated (SIGTERM)" and payload["exit_code"] == 143
    assert [(Path(f["file"]).name, f["outcome"]) for f in payload["files"]] == [
        ("a.csv", "committed"), ("b.csv", "failed")]
    assert "stopped: terminated (SIGTERM); 1 committed, 1 failed; exit 143" in result.stderr
    assert sorted(customers(tmp_path / "r.db")) == ["1"]  # b's transaction rolled back
    assert [b[0] for b in batches(tmp_path / "r.db")] == [1]
    assert names(drops) == ["b.csv", "c.csv"]
    assert [(Path(r["file"]).name, r["outcome"], r.get("reason"))
            for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        ("a.csv", "committed", None), ("b.csv", "failed", "terminated (SIGTERM)")]


def test_sigterm_just_after_the_commit_names_the_batch_that_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: SIGTERM during SQLite's COMMIT: the batch was applied, but the log line said
    # "failed" with no batch, so that night's alert was wrong.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source=SOURCE)
    drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n", b=HEADER + "2;Beta Oy;Kemi\n")
    real_commit = runner.commit

    def commit_then_sigterm(plan: Any, register: Any, *args: Any, **kwargs: Any) -> Any:
        batch = real_commit(plan, register, *args, **kwargs)
        if "2" in plan.rows["customer_number"].to_list():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here, before commit() returns
        return batch

    monkeypatch.setattr(runner, "commit", commit_then_sigterm)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 143, result.stderr
    assert sorted(customers(tmp_path / "r.db")) == ["1", "2"]  # b's batch stands
    assert [b[0] for b in batches(tmp_path / "r.db")] == [1, 2]
    [line] = [r for r in log_lines(tmp_path / "out" / "regsync.jsonl")
              if Path(r["file"]).name == "b.csv"]
    assert line["batch"] == 2 and "after its commit as batch 2" in line["reason"]
    assert [f["batch"] for f in result.json()["files"]] == [1, 2]


def catches_sigterm(pid: int) -> bool:
    """Whether the process has its own SIGTERM handler set (Linux: SigCgt in /proc);
    without /proc, True after a moment."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        time.sleep(1)
        return True
    caught = next(line.split()[1] for line in status.splitlines()
                  if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & 1 << (signal.SIGTERM - 1))


def test_sigterm_to_a_run_process_gives_its_summary_and_log_line(tmp_path: Path) -> None:
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 30')
    drops = drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n")
    lock_file = tmp_path / "out" / "regsync.jsonl.lock"
    run = subprocess.Popen([sys.executable, "-m", "sync", "run", str(job), "--json"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 30
    while not (lock_file.exists() and lock_file.read_text().strip() == str(run.pid)
               and catches_sigterm(run.pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)  # in its settle wait, as systemd's stop would
    out, err = run.communicate(timeout=30)
    assert run.returncode == 143, err
    assert json.loads(out)["error"] == "terminated (SIGTERM)"
    assert err.strip().endswith("job nightly: stopped: terminated (SIGTERM); 1 failed; "
                                "exit 143")
    assert [(r["file"], r["outcome"], r["reason"])
            for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        (str(drops.resolve()), "failed", "terminated (SIGTERM)")]
    assert names(drops) == ["a.csv"]


def test_sigterm_just_after_the_lock_is_taken_is_logged_as_the_runs_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CI, session 18: a SIGTERM that came after the run wrote its pid into the lock but
    # before its stop record was set up ended it with no log line.
    from contextlib import contextmanager

    job = write_job(tmp_path, source=SOURCE)
    drops = drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n")
    real_lock = runner.job_lock

    @contextmanager
    def sigterm_once_locked(path: Path, name: str) -> Any:
        with real_lock(path, name):
            os.kill(os.getpid(), signal.SIGTERM)  # the run holds its lock from here
            yield

    monkeypatch.setattr(runner, "job_lock", sigterm_once_locked)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 143
    assert json.loads(result.stdout)["error"] == "terminated (SIGTERM)"
    assert [(r["file"], r["outcome"], r["reason"])
            for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        (str(drops.resolve()), "failed", "terminated (SIGTERM)")]
    assert names(drops) == ["a.csv"]


def test_sigterm_while_the_summary_is_printed_says_the_files_were_handled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Left alone in session 16: the files were committed and moved, then a SIGTERM
    # during the summary said "nothing was written".
    import sync.cli_jobs as cli_jobs

    job = write_job(tmp_path, source=SOURCE)
    drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n")

    def sigterm(*_args: Any, **_kwargs: Any) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs here
        return 0

    monkeypatch.setattr(cli_jobs, "_summarise", sigterm)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 143, result.stderr
    assert result.json()["error"] == ("terminated (SIGTERM) after the run's files were "
                                      "handled: the job's log says what became of each")
    assert sorted(customers(tmp_path / "r.db")) == ["1"]


@pytest.mark.parametrize("command", ["import", "run"])
def test_a_sigterm_once_the_command_has_said_its_last_line_keeps_its_exit_code(
        tmp_path: Path, command: str) -> None:
    # QA: a SIGTERM while Python shut down after the work ended the process with 143 and
    # no line (`import`), or after a last line that said "exit 0" (`run`).
    job = write_job(tmp_path, source=SOURCE)
    drop(tmp_path, a=HEADER + "1;Alpha Oy;Oulu\n")
    args = (["import", str(tmp_path / "drops" / "a.csv"), "--db", str(tmp_path / "r.db"),
             "--yes"] if command == "import" else ["run", str(job)])
    probe = ("import atexit, os, signal, sys\n"
             f"sys.argv = ['regsync', *{args!r}]\n"
             "atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))\n"
             "from sync.entry import main\n"
             "main()\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert customers(tmp_path / "r.db")["1"]["name"] == "Alpha Oy"

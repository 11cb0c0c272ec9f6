"""`regsync run JOB.toml` over a drop folder: three nightly runs, refusals, moves."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import threading
import time
import types
from pathlib import Path

import pytest

import sync.errors as sync_errors
from sync.jobs.sources import move_into, temporary_name
from tests.conftest import customers, report_rows, run_cli, set_schema_version
from tests.jobs_helpers import (
    HEADER,
    batches,
    deny_writes,
    drops_of,
    log_lines,
    names,
    write_job,
)
from tests.workbooks import write_xlsx

FOLDER_SOURCE = 'folder = "drops"\npattern = "*.csv"\nsettle_seconds = 0.3'
POLICY = 'max_rejected = "25%"\nallow_conflicts = false'


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Appender(threading.Thread):
    """Keeps appending whole CSV lines to a file, as a slow exporter would."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop, self.rows = path, threading.Event(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{100 + self.rows};Grow {self.rows};Oulu\n")
            self.rows += 1
            time.sleep(0.02)


def test_three_nightly_runs(tmp_path: Path) -> None:
    job = write_job(tmp_path, source=FOLDER_SOURCE, policy=POLICY)
    drops, out, db = tmp_path / "drops", tmp_path / "out", tmp_path / "r.db"
    drops.mkdir()
    new = drops / "01-new.csv"
    new.write_text(HEADER + "1;Alpha Oy;Oulu\n2;Beta Oy;Kemi\n3;Gamma Oy;Tornio\n")
    grow = drops / "02-grow.csv"
    grow.write_text(HEADER)
    # Two of four rows rejected (wrong check digit): 50% is over max_rejected 25%.
    bad_text = ("customer_number;name;business_id\n4;Delta Oy;1234567-8\n"
                "5;Epsilon Oy;7654321-0\n6;Zeta Oy;\n7;Eta Oy;\n")
    (drops / "03-bad.csv").write_text(bad_text)
    (drops / "04.csv.part").write_text(HEADER + "20;Late Oy;Oulu\n")
    new_sum, bad_sum = sha(new), sha(drops / "03-bad.csv")

    # Run 1: one file committed, one held, two still being written.
    appender = Appender(grow)
    appender.start()
    try:
        first = run_cli("run", job)
    finally:
        appender.stop.set()
        appender.join()
    assert first.exit_code == 1, first.stderr
    assert sorted(customers(db)) == ["1", "2", "3"]
    assert batches(db) == [(1, "import", new_sum, None)]
    assert names(drops) == ["02-grow.csv", "04.csv.part"]
    assert names(out / "done") == ["01-new.csv"]
    assert names(out / "reports") == ["01-new.report.csv"]
    assert names(out / "held") == ["03-bad.csv", "03-bad.report.csv"]
    assert (out / "held" / "03-bad.csv").read_text() == bad_text
    held_report = report_rows(out / "held" / "03-bad.report.csv")
    assert [r["status"] for r in held_report] == ["Rejected", "Rejected", "New", "New"]
    log = log_lines(out / "regsync.jsonl")
    assert [(Path(r["file"]).name, r["outcome"]) for r in log] == [
        ("01-new.csv", "committed"), ("02-grow.csv", "left_incomplete"),
        ("03-bad.csv", "held"), ("04.csv.part", "left_incomplete")]
    assert log[0]["batch"] == 1 and log[0]["checksum"] == new_sum
    assert log[0]["counts"]["new"] == 3 and log[0]["seconds"] >= 0
    assert log[2]["counts"]["rejected"] == 2 and "max_rejected 25%" in log[2]["reason"]
    assert "committed: " in first.stderr and first.stdout == ""

    # Between runs: the writers finish; the same file is dropped again, under its own
    # name and under another.
    (drops / "04.csv.part").rename(drops / "04-late.csv")
    shutil.copy(out / "done" / "01-new.csv", drops / "01-new.csv")
    shutil.copy(out / "done" / "01-new.csv", drops / "05-again.csv")
    grown = appender.rows

    second = run_cli("run", job, "--json")
    assert second.exit_code == 0, second.stderr
    summary = second.json()
    assert (summary["committed"], summary["skipped_duplicate"], summary["held"],
            summary["left_incomplete"], summary["exit_code"]) == (2, 2, 0, 0, 0)
    assert [(Path(f["file"]).name, f["outcome"]) for f in summary["files"]] == [
        ("01-new.csv", "skipped_duplicate"), ("02-grow.csv", "committed"),
        ("04-late.csv", "committed"), ("05-again.csv", "skipped_duplicate")]
    assert summary["files"][0]["reason"] == "already committed as batch 1"
    assert len(customers(db)) == 3 + grown + 1
    assert [b[0] for b in batches(db)] == [1, 2, 3]
    assert names(drops) == []
    # Never overwritten: the re-dropped 01-new.csv got a suffix.
    assert names(out / "done") == ["01-new-1.csv", "01-new.csv", "02-grow.csv",
                                   "04-late.csv", "05-again.csv"]
    assert names(out / "reports") == ["01-new.report.csv", "02-grow.report.csv",
                                      "04-late.report.csv"]
    assert log_lines(out / "regsync.jsonl")[4:] == summary["files"]

    # Run 3 (after a dry run): the bad file again, a conflicting file, a modification.
    (drops / "03-bad.csv").write_text(bad_text)
    (drops / "06-conflict.csv").write_text(HEADER + "1;Alpha Oy;Vaasa\n1;Alpha Oy;Oulu\n")
    (drops / "07-fix.csv").write_text(HEADER + "2;Beta Oy;Lahti\n")
    dry = run_cli("run", job, "--dry-run", "--json")
    assert dry.exit_code == 1, dry.stderr
    assert dry.json()["would_be"] == {"committed": 1, "skipped_duplicate": 0, "held": 2,
                                      "left_incomplete": 0, "failed": 0}
    assert dry.json()["committed"] == 0
    assert names(drops) == ["03-bad.csv", "06-conflict.csv", "07-fix.csv"]
    assert len(batches(db)) == 3 and customers(db)["2"]["city"] == "Kemi"
    assert {r["outcome"] for r in log_lines(out / "regsync.jsonl")[8:]} == {"dry_run"}

    third = run_cli("run", job, "--json")
    assert third.exit_code == 1, third.stderr
    assert [(Path(f["file"]).name, f["outcome"]) for f in third.json()["files"]] == [
        ("03-bad.csv", "held"), ("06-conflict.csv", "held"), ("07-fix.csv", "committed")]
    assert customers(db)["2"]["city"] == "Lahti" and customers(db)["1"]["city"] == "Oulu"
    assert [b[2] for b in batches(db)][-1] == sha(out / "done" / "07-fix.csv")
    assert third.json()["files"][2]["counts"]["modified"] == 1
    assert names(out / "held") == ["03-bad-1.csv", "03-bad-1.report.csv", "03-bad.csv",
                                   "03-bad.report.csv", "06-conflict.csv",
                                   "06-conflict.report.csv"]
    assert sha(out / "held" / "03-bad-1.csv") == bad_sum
    assert third.json()["files"][1]["reason"] == "1 conflict and allow_conflicts is false"


def test_a_dry_run_counts_a_second_drop_of_the_same_content_as_a_duplicate(
        tmp_path: Path) -> None:
    # The dry run commits nothing, but the real run commits the content once and skips
    # its copy: the dry run's counts (and exit code) must say what the real run does.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = drops_of(tmp_path, "a")
    shutil.copy(drops / "a.csv", drops / "b.csv")
    dry = run_cli("run", job, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert [f["would_be"] for f in dry.json()["files"]] == ["committed", "skipped_duplicate"]
    assert dry.json()["files"][1]["reason"] == \
        "same content as a file before it in this dry run"
    real = run_cli("run", job, "--json")
    assert [f["outcome"] for f in real.json()["files"]] == ["committed", "skipped_duplicate"]


@pytest.mark.parametrize(("limit", "bad_rows", "outcome"), [
    ("1", 1, "committed"), ("1", 2, "held"),
    ('"25%"', 1, "committed"), ('"25%"', 2, "held")])
def test_max_rejected_holds_a_file_only_over_its_limit(
        tmp_path: Path, limit: str, bad_rows: int, outcome: str) -> None:
    # docs/jobs.md: held with *more* Rejected rows than max_rejected; at the limit
    # (1 row, or 1 of 4 rows for 25%) the file is committed.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0',
                    policy=f"max_rejected = {limit}")
    drops = tmp_path / "drops"
    drops.mkdir()
    rows = [f"x{n};;Oulu\n" for n in range(bad_rows)]  # a New row without a name
    rows += [f"{n};Firma {n} Oy;Oulu\n" for n in range(1, 5 - bad_rows)]
    (drops / "a.csv").write_text(HEADER + "".join(rows))
    result = run_cli("run", job, "--json")
    [record] = result.json()["files"]
    assert (record["outcome"], record["counts"]["rejected"]) == (outcome, bad_rows)
    assert result.exit_code == 1  # Rejected rows not applied, or a held file


def test_reverted_batch_makes_its_file_importable_again(tmp_path: Path) -> None:
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    assert run_cli("run", job).exit_code == 0
    assert run_cli("revert", "1", "--db", tmp_path / "r.db").exit_code == 0
    shutil.copy(tmp_path / "out" / "done" / "a.csv", drops / "a.csv")
    again = run_cli("run", job, "--json")
    assert again.json()["committed"] == 1, again.stderr
    assert sorted(customers(tmp_path / "r.db")) == ["1"]


def test_unreadable_file_is_held_with_its_error_and_the_run_goes_on(tmp_path: Path) -> None:
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_bytes(b"\x00\x01\x02 binary, not a CSV\n")
    (drops / "b.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1
    assert [f["outcome"] for f in result.json()["files"]] == ["failed", "committed"]
    assert names(tmp_path / "out" / "held") == ["a.csv", "a.error.txt"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('actor = "erp-sync"', 'actor = "x"\nactr = "y"'),
     "unknown key 'actr' in [job]"),
    (lambda t: t + "\n[sources]\nfolder = 'x'\n", "unknown table [sources]"),
    (lambda t: t.replace('folder = "drops"', 'folder = "nowhere"'), "does not exist"),
    (lambda t: t.replace('folder = "drops"', 'folder = "drops/a.csv"'),
     "a.csv is a file, not a folder"),
    (lambda t: t.replace('pattern = "*.csv"', 'pattern = "sub/*.csv"'),
     "[source] pattern 'sub/*.csv' holds a path"),
    (lambda t: t.replace('pattern = "*.csv"', 'pattern = "**/*.csv"'),
     "[source] pattern '**/*.csv' holds a path"),
    (lambda t: t.replace('register = "r.db"', 'register = "no/such/dir/r.db"'),
     "its folder does not exist"),
    (lambda t: t.replace('register = "r.db"', 'register = "postgresql://nobody@127.0.0.1:1/x"'),
     "register unreachable"),
    # Review: a file literally named "file:x.db", or one named after the folder.
    (lambda t: t.replace('register = "r.db"', 'register = "file:x.db"'),
     "expected an SQLite path"),
    (lambda t: t.replace('register = "r.db"', 'register = "regs/"'), "names a folder"),
    (lambda t: t.replace("[policy]", '[policy]\nmax_rejected = "five"'), "max_rejected"),
    (lambda t: t.replace("[job]", "[job"), "not valid TOML"),
    # A job that would take its own files for drops, or write over them.
    (lambda t: t.replace('register = "r.db"', 'register = "drops/r.db"'),
     "r.db lies in the source folder"),
    (lambda t: t.replace('processed = "out/done"', 'processed = "drops"'),
     "[output] processed is the source folder"),
    (lambda t: t.replace('reports = "out/reports"', 'reports = "drops/"'),
     "[output] reports is the source folder"),
    (lambda t: t.replace("[output]", '[output]\nlock = "r.db"'),
     "r.db is the register's own file"),
    (lambda t: t.replace('log = "out/regsync.jsonl"', 'log = "r.db-journal"'),
     "r.db-journal is the register's own file"),
    (lambda t: t.replace('log = "out/regsync.jsonl"', 'log = "job.toml"'),
     "job.toml is the job file"),
    (lambda t: t.replace("[output]", '[output]\nlock = "out/regsync.jsonl"'),
     "log and lock are the same file"),
    (lambda t: t.replace("settle_seconds = 0.3", "settle_seconds = nan"),
     "settle_seconds must be a number of seconds from 0"),
    (lambda t: t.replace("settle_seconds = 0.3", "settle_seconds = 1e300"),
     "settle_seconds must be a number of seconds from 0"),
    (lambda t: t.replace("settle_seconds = 0.3", "settle_seconds = true"),
     "settle_seconds must be a number of seconds from 0"),
    # Over 100% no file could ever be held: a typo, not a policy.
    (lambda t: t.replace("[policy]", '[policy]\nmax_rejected = "150%"'), "max_rejected"),
    (lambda t: t.replace("[policy]", "[policy]\nmax_rejected = -1"), "max_rejected"),
    # A string is truthy: "false" would have let every Conflict through.
    (lambda t: t.replace("[policy]", '[policy]\nallow_conflicts = "false"'),
     "[policy] allow_conflicts must be true or false"),
    # The audit trail's who, as --actor: no line break to forge `regsync batches` lines.
    (lambda t: t.replace('actor = "erp-sync"', 'actor = "erp\\n  9 forged"'),
     "[job] actor 'erp\\n  9 forged' holds a control character"),
])
def test_a_doubtful_job_file_is_refused_before_anything_is_touched(
        tmp_path: Path, change, message: str) -> None:
    job = write_job(tmp_path, source=FOLDER_SOURCE)
    job.write_text(change(job.read_text()))
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    assert message in result.json()["error"] and result.json()["exit_code"] == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert names(tmp_path) == ["drops", "job.toml"]
    assert names(tmp_path / "drops") == ["a.csv"]


def test_settle_seconds_of_0_and_of_an_hour_are_taken(tmp_path: Path) -> None:
    # docs/jobs.md: "at most 3600"; both ends are a valid setting.
    from sync.jobs import load_job

    for seconds in (0, 3600):
        job = write_job(tmp_path, source=f'folder = "drops"\nsettle_seconds = {seconds}')
        (tmp_path / "drops").mkdir(exist_ok=True)
        assert load_job(job).source.settle_seconds == seconds


@pytest.mark.parametrize("kept", ["job.toml", "rules.toml"])
def test_a_job_whose_own_files_would_be_taken_for_drops_is_refused(
        tmp_path: Path, kept: str) -> None:
    # The job file (or its rules) in the drop folder, matched by the pattern: the first
    # run would fail to read it and move it to held/, and the next run would find no job.
    (tmp_path / "reg").mkdir()
    job = write_job(tmp_path, source='folder = "."\npattern = "*.toml"\nsettle_seconds = 0',
                    extra_job='rules = "rules.toml"')
    job.write_text(job.read_text().replace('register = "r.db"', 'register = "reg/r.db"'))
    (tmp_path / "rules.toml").write_text("")
    if kept == "rules.toml":
        job.write_text(job.read_text().replace('pattern = "*.toml"', 'pattern = "r*.toml"'))
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    what = "the job file" if kept == "job.toml" else "[job] rules"
    assert f"{what} {tmp_path.resolve() / kept} lies in the source folder" in \
        result.json()["error"]
    assert names(tmp_path) == ["job.toml", "reg", "rules.toml"]


@pytest.mark.parametrize("key", ["log", "lock"])
def test_a_log_or_lock_that_is_the_rules_file_is_refused(tmp_path: Path, key: str) -> None:
    # Appended to (or truncated for a pid) every night, the rule file would be lost.
    job = write_job(tmp_path, source=FOLDER_SOURCE, extra_job='rules = "rules.toml"')
    text = job.read_text().replace('log = "out/regsync.jsonl"', "")
    job.write_text(text.replace("[output]", f'[output]\n{key} = "rules.toml"'))
    (tmp_path / "rules.toml").write_text("")
    drops_of(tmp_path, "a")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    assert f"[output] {key} {tmp_path.resolve() / 'rules.toml'} is [job] rules" in \
        result.json()["error"]
    assert (tmp_path / "rules.toml").read_text() == ""
    assert names(tmp_path / "drops") == ["a.csv"]


def test_relative_paths_are_relative_to_the_job_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_cli("run", Path("..") / "job.toml").exit_code == 0
    assert names(tmp_path / "out" / "done") == ["a.csv"] and names(elsewhere) == []


@pytest.mark.parametrize(("name", "final"), [
    ("x.csv.part", "x.csv"), ("x.csv.tmp", "x.csv"), ("~$x.xlsx", "x.xlsx"),
    (".~lock.x.csv#", "x.csv"), ("x.csv.filepart", "x.csv"), (".x.csv.Gx7a2B", "x.csv"),
    ("x.csv", None), (".x.csv", None)])
def test_temporary_names(name: str, final: str | None) -> None:
    assert temporary_name(name) == final


def test_move_never_overwrites_and_survives_another_filesystem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "done"
    target.mkdir()
    (target / "a.csv").write_text("older")
    source = tmp_path / "a.csv"
    source.write_text("newer")

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", cross_device)
    moved = move_into(source, target)
    assert moved == target / "a-1.csv" and moved.read_text() == "newer"
    assert (target / "a.csv").read_text() == "older" and not source.exists()


def test_a_move_a_stopped_run_left_half_done_is_finished_not_copied(tmp_path: Path) -> None:
    # QA: a run stopped between the link into processed/ and the unlink from the drop
    # left the file under both names; the next run skipped it as committed and moved it
    # again, to processed/a-1.csv, one more copy per stopped run.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    assert run_cli("run", job).exit_code == 0
    processed = next(p for p in tmp_path.rglob("a.csv") if p.parent != drops)
    os.link(processed, drops / "a.csv")  # as the stopped run's move left it
    again = run_cli("run", job, "--json")
    assert again.exit_code == 0, again.stdout
    [result] = again.json()["files"]
    assert (result["outcome"], result["moved_to"]) == ("skipped_duplicate", str(processed))
    assert names(drops) == [] and names(processed.parent) == ["a.csv"]
    # A file of the same name but another content still gets a name of its own.
    other = tmp_path / "b.csv"
    other.write_text("other")
    moved = move_into(other, processed.parent, name="a.csv")
    assert moved == processed.parent / "a-1.csv" and processed.read_text().startswith(HEADER)


def test_control_characters_in_a_file_name_are_escaped_in_the_human_lines(
        tmp_path: Path) -> None:
    # QA: a CR in a drop's name rewrote its line on a terminal ("fake\rcommitted: ok"),
    # and an escape sequence was sent raw (or stripped, naming a file that isn't there).
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "fake\rcommitted: ok.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (drops / "red\x1b[31mX.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    result = run_cli("run", job)
    assert result.exit_code == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert "fake\\rcommitted: ok.csv" in result.stderr
    assert "red\\x1b[31mX.csv" in result.stderr


def test_the_jobs_own_log_and_lock_in_its_folder_are_not_sources(tmp_path: Path) -> None:
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    job.write_text(job.read_text().replace('log = "out/regsync.jsonl"',
                                           'log = "drops/regsync.jsonl"'))
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    assert run_cli("run", job).exit_code == 0
    second = run_cli("run", job, "--json")
    assert second.exit_code == 0 and second.json()["files"] == []
    assert names(tmp_path / "drops") == ["regsync.jsonl", "regsync.jsonl.lock"]


def test_a_busy_register_leaves_the_file_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sync.writers.register.sqlite._BUSY_TIMEOUT_MS", 50)
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops, db = tmp_path / "drops", tmp_path / "r.db"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    assert run_cli("run", job).exit_code == 0
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program is writing to the register
    busy = run_cli("run", job, "--json")
    other.execute("ROLLBACK")
    other.close()
    assert busy.exit_code == 3
    assert busy.json()["files"][0]["outcome"] == "failed"
    assert "left for the next run" in busy.json()["files"][0]["reason"]
    assert names(drops) == ["b.csv"]
    # No report for the batch that was not made, nor its hidden staged file (written
    # before the commit): a stray one would be left by every busy night.
    assert names(tmp_path / "out" / "reports") == ["a.report.csv"]
    assert run_cli("run", job).exit_code == 0
    assert sorted(customers(db)) == ["1", "2"]


def test_a_closed_stderr_does_not_turn_a_committed_run_into_an_error(tmp_path: Path) -> None:
    # `regsync run job.toml --json 2>&1 | true`: the run has committed and moved the file
    # before it prints; the exit code must say so, not "internal error, nothing written".
    import subprocess
    import sys

    from tests.conftest import ROOT

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "sync", "run", str(job), "--json"],
                              stdout=write_end, stderr=write_end, cwd=ROOT, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert sorted(customers(tmp_path / "r.db")) == ["1"]
    assert (tmp_path / "out" / "done" / "a.csv").exists()


@pytest.mark.parametrize(("make", "message"), [
    (lambda out: (out / "done").write_text("a file"), "[output] processed"),
    (lambda out: (out / "reports").write_text("a file"), "[output] reports"),
    (lambda out: (out / "regsync.jsonl").mkdir(), "[output] log"),
])
def test_outputs_that_cannot_be_written_stop_the_run_before_any_commit(
        tmp_path: Path, make, message: str) -> None:
    # A commit whose file then can't be moved or logged would be applied but look
    # unapplied (and the next run would find it again): checked before anything.
    job = write_job(tmp_path, source=FOLDER_SOURCE)
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (tmp_path / "out").mkdir()
    make(tmp_path / "out")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2 and message in result.json()["error"]
    assert not (tmp_path / "r.db").exists()
    assert names(tmp_path / "drops") == ["a.csv"]


def test_a_drop_that_cannot_be_read_or_named_fails_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source=FOLDER_SOURCE)
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    latin1 = drops / os.fsdecode(b"caf\xe9.csv")  # a name in Latin-1 on a UTF-8 system
    latin1.write_text(HEADER + "2;Beta Oy;Turku\n")
    (drops / "c.csv").write_text(HEADER + "3;Gamma Oy;Espoo\n")
    real = runner.file_checksum

    def no_permission(path: Path) -> str:
        if path.name == "c.csv":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(runner, "file_checksum", no_permission)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1
    outcomes = {Path(f["file"]).name: f["outcome"] for f in result.json()["files"]}
    assert outcomes == {"a.csv": "committed", latin1.name: "failed", "c.csv": "failed"}
    assert len(log_lines(tmp_path / "out" / "regsync.jsonl")) == 3
    assert names(drops) == []


@pytest.mark.parametrize("how", ["replaced", "appended", "removed"])
def test_a_drop_changed_during_its_commit_stays_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    # The sender replaces (write x.tmp, rename) or appends to a file while the run
    # commits it. Moved by name, the new content went to processed/ unimported.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    drop = drops / "a.csv"
    drop.write_text(HEADER + "1;Alpha Oy;Oulu\n")
    newer = HEADER + "1;Alpha Oy;Oulu\n2;Beta Oy;Kemi\n"
    real_commit = runner.commit

    def commit_then_change(*args, **kwargs):
        batch = real_commit(*args, **kwargs)
        if how == "replaced":
            (drops / "a.csv.tmp").write_text(newer)
            os.replace(drops / "a.csv.tmp", drop)
        elif how == "appended":
            with open(drop, "a", encoding="utf-8") as handle:
                handle.write("2;Beta Oy;Kemi\n")
        else:
            drop.unlink()
        return batch

    monkeypatch.setattr(runner, "commit", commit_then_change)
    first = run_cli("run", job, "--json")
    assert first.exit_code == 0, first.stderr
    record = first.json()["files"][0]
    assert record["outcome"] == "committed" and record["batch"] == 1
    assert "moved_to" not in record
    assert ("gone from the folder" if how == "removed"
            else "left in the folder for the next run") in record["reason"]
    assert names(tmp_path / "out" / "done") == []
    assert names(tmp_path / "out" / "reports") == ["a.report.csv"]
    monkeypatch.setattr(runner, "commit", real_commit)
    if how == "removed":
        assert names(drops) == []
        return
    assert drop.read_text() == newer
    second = run_cli("run", job, "--json")
    assert second.exit_code == 0
    assert second.json()["files"][0]["counts"]["new"] == 1
    assert names(tmp_path / "out" / "done") == ["a.csv"]
    assert sorted(customers(tmp_path / "r.db")) == ["1", "2"]


def test_a_held_drop_changed_before_its_move_is_left_not_held(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Held for the content read; a corrected file saved over it meanwhile is not that.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0', policy=POLICY)
    drops = tmp_path / "drops"
    drops.mkdir()
    drop = drops / "a.csv"
    drop.write_text(HEADER + "x;;Oulu\n")  # a New row without a name: Rejected, held
    real_policy = runner._Run.over_policy

    def policy_then_fix(self, plan):
        drop.write_text(HEADER + "1;Alpha Oy;Oulu\n")
        return real_policy(self, plan)

    monkeypatch.setattr(runner._Run, "over_policy", policy_then_fix)
    first = run_cli("run", job, "--json")
    record = first.json()["files"][0]
    assert first.exit_code == 0 and record["outcome"] == "left_incomplete"
    assert "changed after it was read" in record["reason"]
    assert names(tmp_path / "out" / "held") == [] and names(drops) == ["a.csv"]


def test_a_drop_taken_away_before_it_is_read_is_said_to_be_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    monkeypatch.setattr(runner, "look", lambda path: None)  # removed after the scan
    result = run_cli("run", job, "--json")
    record = result.json()["files"][0]
    assert result.exit_code == 0 and record["outcome"] == "left_incomplete"
    assert record["reason"] == "gone from the folder before it was read"


def test_a_drop_that_grows_after_its_settle_look_is_left_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A writer that appends between the run's second look and its read: the file is
    # still being written, and the rows so far must not be committed as the whole file.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = drops_of(tmp_path, "a")
    real_scan = runner.scan_folder

    def scan_then_append(*args: object, **kwargs: object) -> object:
        scan = real_scan(*args, **kwargs)  # type: ignore[arg-type]
        with open(drops / "a.csv", "a", encoding="utf-8") as handle:
            handle.write("2;Beta Oy;Kemi\n")
        return scan

    monkeypatch.setattr(runner, "scan_folder", scan_then_append)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    [record] = result.json()["files"]
    assert record["outcome"] == "left_incomplete"
    assert record["reason"] == "changed after the look: still being written"
    assert names(drops) == ["a.csv"] and not (tmp_path / "r.db").exists()


def test_a_drop_that_grows_during_the_settle_wait_is_left_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A writer that appends between the two looks, then pauses: only the looks tell
    # the rows so far from the whole file.
    import sync.jobs.sources as sources

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0.3')
    drops = drops_of(tmp_path, "a")

    def wait_while_written(seconds: float) -> None:
        with open(drops / "a.csv", "a", encoding="utf-8") as handle:
            handle.write("2;Beta Oy;Kemi\n")

    # sources' own name for the module: time.sleep stays as it is everywhere else.
    monkeypatch.setattr(sources, "time", types.SimpleNamespace(sleep=wait_while_written))
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    [record] = result.json()["files"]
    assert record["outcome"] == "left_incomplete"
    assert record["reason"] == "size or time changed within 0.3 s: still being written"
    assert names(drops) == ["a.csv"] and not (tmp_path / "r.db").exists()


def test_a_drop_that_grows_while_it_is_read_is_left_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The content checked against the register's batches (its checksum) must be the
    # content previewed: a drop appended to in between is still being written.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = drops_of(tmp_path, "a")
    real_checksum = runner.file_checksum

    def checksum_then_append(path: Path) -> str:
        checksum = real_checksum(path)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("2;Beta Oy;Kemi\n")
        return checksum

    monkeypatch.setattr(runner, "file_checksum", checksum_then_append)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    [record] = result.json()["files"]
    assert record["outcome"] == "left_incomplete"
    assert record["reason"] == "changed while being read: still being written"
    assert names(drops) == ["a.csv"] and not (tmp_path / "r.db").exists()


def test_a_duplicate_of_a_batch_with_unapplied_rows_says_so_again(tmp_path: Path) -> None:
    # A run killed after its commit and before its log line: the next run skips the
    # file as committed, and must still say that some of its rows were never applied.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    body = HEADER + "1;Alpha Oy;Oulu\n1;Alpha Oy;Kemi\n"  # row 3: same customer as row 2
    (drops / "a.csv").write_text(body)
    assert run_cli("run", job).exit_code == 1
    (drops / "a.csv").write_text(body)  # dropped again (or never moved)
    again = run_cli("run", job, "--json")
    record = again.json()["files"][0]
    assert again.exit_code == 1 and record["outcome"] == "skipped_duplicate"
    assert record["batch"] == 1 and record["counts"]["conflict"] == 1
    assert record["reason"] == "already committed as batch 1 (rows not applied: 1 conflict)"
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    assert run_cli("run", job).exit_code == 0
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    clean = run_cli("run", job, "--json")
    assert clean.exit_code == 0 and clean.json()["files"][0]["counts"]["new"] == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_file_another_runner_committed_meanwhile_is_not_committed_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, request) -> None:
    # Two job files on one folder (a cron job and a copy run by hand): this runner
    # looked the checksum up and previewed, then the other one committed the same file
    # before this one's commit. The commit checks the checksum again, first: the plan
    # is stale too (its customers changed), but the file is a duplicate, not a failure.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    db: Path | str = tmp_path / "r.db"
    if engine == "postgresql":
        db = request.getfixturevalue("pg_url")
        job.write_text(job.read_text().replace('register = "r.db"', f'register = "{db}"'))
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (tmp_path / "other.csv").write_bytes((drops / "a.csv").read_bytes())
    real_commit = runner.commit

    def other_runner_first(*args, **kwargs):
        other = run_cli("import", tmp_path / "other.csv", "--db", db, "--yes")
        assert other.exit_code == 0, other.stderr
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(runner, "commit", other_runner_first)
    result = run_cli("run", job, "--json")
    record = result.json()["files"][0]
    assert result.exit_code == 0, result.stderr
    assert record["outcome"] == "skipped_duplicate" and record["batch"] == 1
    assert record["reason"] == "already committed as batch 1"
    assert names(tmp_path / "out" / "done") == ["a.csv"]
    listed = run_cli("batches", "--db", db, "--json")
    assert [b["id"] for b in listed.json()["batches"]] == [1]


@pytest.mark.parametrize(("failure", "code", "says"), [
    (lambda: sync_errors.RegisterError("r.db: cannot write to the register (disk full)"), 2,
     "r.db: cannot write to the register (disk full)"),
    (lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "out/reports/b.report.csv"),
     2, "out/reports/b.report.csv: No space left on device"),
    (lambda: KeyboardInterrupt(), 130, "interrupted"),
    (lambda: MemoryError(), 70, sync_errors.OUT_OF_MEMORY),  # review: said as a bug
])
def test_a_run_stopped_midway_says_what_it_had_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure, code: int,
        says: str) -> None:
    # File a is committed, then the run dies at b: the summary must still list a as
    # committed (its batch stands), b as failed with the reason, and c untouched. It
    # said "nothing was written", exit 70, and lost the summary.
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    for n, name in enumerate("abc", start=1):
        (drops / f"{name}.csv").write_text(HEADER + f"{n};Firma {name} Oy;Oulu\n")
    real_commit = runner.commit

    def failing_commit(plan, *args, **kwargs):
        if plan.header.source.endswith("b.csv"):
            raise failure()
        return real_commit(plan, *args, **kwargs)

    monkeypatch.setattr(runner, "commit", failing_commit)
    result = run_cli("run", job, "--json")
    assert result.exit_code == code, result.stderr
    payload = result.json()
    assert payload["error"] == says and payload["exit_code"] == code
    assert [(Path(f["file"]).name, f["outcome"]) for f in payload["files"]] == [
        ("a.csv", "committed"), ("b.csv", "failed")]
    assert payload["files"][1]["reason"] == says
    assert "nothing was written" not in result.stderr
    assert f"stopped: {says}; 1 committed, 1 failed; exit {code}" in result.stderr
    assert names(drops) == ["b.csv", "c.csv"] and names(tmp_path / "out" / "done") == ["a.csv"]
    assert [r["outcome"] for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        "committed", "failed"]


def test_a_log_that_cannot_be_written_stops_the_run_naming_the_committed_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Oulu\n")

    def full(log: Path, record: dict) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(log))

    monkeypatch.setattr(runner, "_append_log", full)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    files = result.json()["files"]
    assert [(Path(f["file"]).name, f["outcome"], f["batch"]) for f in files] == [
        ("a.csv", "committed", 1)]
    assert "No space left on device" in files[0]["reason"]
    assert names(drops) == ["b.csv"]


@pytest.mark.parametrize("beside", ["~$a.xlsx", ".~lock.a.xlsx#", "a.xlsx.part"])
def test_a_drop_open_in_a_program_waits_for_the_next_run(tmp_path: Path, beside: str) -> None:
    # Excel's ~$a.xlsx (or LibreOffice's lock, or a newer copy on its way) beside a.xlsx:
    # the file may be saved over any moment; it is left, not committed half-edited.
    from tests.workbooks import write_xlsx

    job = write_job(tmp_path, source='folder = "drops"\npattern = "*.xlsx"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    write_xlsx(drops / "a.xlsx", [["customer_number", "name"], ["1", "Alpha Oy"]])
    (drops / beside).write_bytes(b"lock")
    result = run_cli("run", job, "--json")
    files = {Path(f["file"]).name: f for f in result.json()["files"]}
    assert result.exit_code == 0 and files["a.xlsx"]["outcome"] == "left_incomplete"
    assert files["a.xlsx"]["reason"] == f"{beside} beside it: open in a program or being replaced"
    assert names(drops) == sorted(["a.xlsx", beside])
    (drops / beside).unlink()
    assert run_cli("run", job).exit_code == 0 and names(drops) == []


def test_an_abandoned_transfer_older_than_its_file_holds_nothing_back(tmp_path: Path) -> None:
    # QA: a three-day-old x.csv.part (a transfer that died) held x.csv back every
    # night, with exit 0: the file was never imported and nothing alerted.
    import os
    import time

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    stale = drops / "a.csv.part"
    stale.write_text(HEADER + "2")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    files = {Path(f["file"]).name: f for f in run_cli("run", job, "--json").json()["files"]}
    assert files["a.csv"]["outcome"] == "committed"
    assert files["a.csv.part"]["outcome"] == "left_incomplete"
    assert names(drops) == ["a.csv.part"]


def test_a_run_stopped_after_a_commit_names_the_batch_that_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.jobs.runner as runner

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")

    def full(folder: Path, name: str, staged: Path) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / name))

    # The report, written before the commit, can't be given its name after it.
    monkeypatch.setattr(runner, "claim_staged", full)
    result = run_cli("run", job, "--json")
    record = result.json()["files"][0]
    assert result.exit_code == 2 and record["outcome"] == "failed" and record["batch"] == 1
    assert record["reason"].endswith("a.report.csv: No space left on device "
                                     "(after its commit as batch 1, which stands)")
    assert sorted(customers(tmp_path / "r.db")) == ["1"]


def test_a_report_that_cannot_be_written_stops_the_run_before_the_commit(
        tmp_path: Path) -> None:
    # QA: the report was written after the commit; on a full disk the batch stood, the
    # file went to processed/ with counts {}, and its Rejected rows were in no report.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = drops_of(tmp_path, "a")
    reports = tmp_path / "out" / "reports"
    reports.mkdir(parents=True)
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_open(file, mode, *args, **kwargs)
        if "w" in mode and Path(file).parent == reports:
            handle.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("builtins.open", full_disk)
        result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    record = result.json()["files"][0]
    assert record["outcome"] == "failed" and record["batch"] is None
    assert record["reason"].endswith("a.report.csv: No space left on device")
    assert names(drops) == ["a.csv"] and list(reports.iterdir()) == []
    assert customers(tmp_path / "r.db") == {}
    again = run_cli("run", job, "--json")  # room again: the file goes through whole
    assert again.exit_code == 0 and again.json()["files"][0]["counts"]["new"] == 1
    assert [p.name for p in reports.iterdir()] == ["a.report.csv"]


@pytest.mark.parametrize("where", ["source", "register"])
def test_a_job_with_an_unknown_database_scheme_never_shows_its_password(
        tmp_path: Path, where: str) -> None:
    url = "mysql://erp:Sekr3t@db.example/crm"
    if where == "source":
        job = write_job(tmp_path, source=f'db = "{url}"\ntable = "c"')
    else:
        job = write_job(tmp_path, source=FOLDER_SOURCE)
        job.write_text(job.read_text().replace('register = "r.db"', f'register = "{url}"'))
        (tmp_path / "drops").mkdir()
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    assert "mysql://erp@db.example/crm" in result.json()["error"]
    assert "Sekr3t" not in result.stdout + result.stderr


def test_a_run_stopped_before_its_first_file_exits_with_the_stops_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C during the settle wait: no file is in hand, and the run said "exit 0".
    import sync.jobs.sources as sources

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 5')
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sources.time, "sleep", interrupted)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 130
    assert result.json()["exit_code"] == 130 and result.json()["error"] == "interrupted"
    assert "exit 130" in result.stderr and names(tmp_path / "drops") == ["a.csv"]
    logged = log_lines(tmp_path / "out" / "regsync.jsonl")
    assert [(line["file"], line["outcome"], line["reason"]) for line in logged] == [
        (str((tmp_path / "drops").resolve()), "failed", "interrupted")]


def test_a_drop_that_is_not_a_plain_file_is_said_never_read(tmp_path: Path) -> None:
    # QA: a named pipe, a link to nothing or a folder matching the pattern got no log
    # line at all; the run itself never opens them (a pipe would wait forever).
    import os

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    os.mkfifo(drops / "pipe.csv")
    (drops / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    (drops / "folder.csv").mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    files = {Path(f["file"]).name: f for f in result.json()["files"]}
    assert files["a.csv"]["outcome"] == "committed"
    for name in ("pipe.csv", "gone.csv", "folder.csv"):
        assert files[name]["outcome"] == "left_incomplete"
        assert files[name]["reason"].startswith("not a plain file")


def test_a_link_loop_in_the_drop_folder_and_output_folders_inside_it(tmp_path: Path) -> None:
    # Review: a link to itself stopped the run with an internal error (exit 70), and
    # the job's own output folders inside the drop folder were reported every night.
    job = write_job(tmp_path, source='folder = "drops"\npattern = "*"\nsettle_seconds = 0')
    text = job.read_text().replace('"out/reports"', '"drops/reports"').replace(
        '"out/done"', '"drops/done"').replace('"out/held"', '"drops/held"')
    job.write_text(text)
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "loop.csv").symlink_to(drops / "loop.csv")
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    for _ in range(2):
        result = run_cli("run", job, "--json")
        assert result.exit_code == 0, result.stderr
        outcomes = {Path(f["file"]).name: f["outcome"] for f in result.json()["files"]}
        assert outcomes.pop("loop.csv") == "left_incomplete"
        assert set(outcomes.values()) <= {"committed"}  # nothing of the job's own


def test_a_job_reads_its_drops_with_its_own_read_options(tmp_path: Path) -> None:
    # An ERP writes Windows-1250 CSVs whose Czech letters a Finnish-looking file hides
    # from detection ('Pečenka' read as Windows-1252 is 'Peèenka'), and workbooks whose
    # header is on row 3 of a second sheet. Each option concerns its own format: the
    # CSV has no sheet, the workbook no encoding.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0\n'
                    'encoding = "Windows-1250"\nsheet = "Asiakkaat"\nheader_row = 3')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_bytes(("Vienti 2026-11-24\n\n" + HEADER + "1;Pečenka s.r.o.;Brno\n"
                                   "2;Kahvila Äijä Oy;Oulu\n").encode("cp1250"))
    write_xlsx(drops / "b.xlsx", [["not", "this", "sheet"]], more_sheets={"Asiakkaat": [
        ["Vienti"], [], ["customer_number", "name", "city"], [3, "Alfa Oy", "Oulu"]]})
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.output
    assert [f["outcome"] for f in result.json()["files"]] == ["committed", "committed"]
    assert {n: c["name"] for n, c in customers(tmp_path / "r.db").items()} == {
        "1": "Pečenka s.r.o.", "2": "Kahvila Äijä Oy", "3": "Alfa Oy"}


@pytest.mark.parametrize(("setting", "message"), [
    ('encoding = "klingon"', "[source] encoding 'klingon' is not a known encoding"),
    ('encoding = "rot13"', "[source] encoding 'rot13' is not an encoding of text"),
    ('delimiter = ";;"', "[source] delimiter ';;' is not a single character"),
    ("header_row = 0", "[source] header_row must be a whole number, 1 or more"),
    ('header_row = "3"', "[source] header_row must be a whole number, 1 or more"),
    ('sheet = ""', "[source] sheet must be a non-empty string"),
])
def test_a_jobs_read_options_are_checked_before_anything_is_touched(
        tmp_path: Path, setting: str, message: str) -> None:
    job = write_job(tmp_path, source=f'folder = "drops"\nsettle_seconds = 0\n{setting}')
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    assert message in result.json()["error"]
    assert names(tmp_path) == ["drops", "job.toml"]


def test_read_options_of_a_table_source_are_refused(tmp_path: Path) -> None:
    # A table is read column by column as text: an encoding or a header row set there
    # would be silently meaningless.
    job = write_job(tmp_path, source='db = "src.db"\ntable = "t"\nheader_row = 2')
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2
    assert "[source] header_row applies to folder sources only" in result.json()["error"]


@pytest.mark.parametrize(("source", "message"), [
    # Which one would the run read? Neither is silently dropped.
    ('folder = "drops"\ndb = "src.db"\ntable = "t"', "needs either folder"),
    ('db = "src.db"\ntable = "t"\nquery = "SELECT 1"', "exactly one of table or query"),
])
def test_a_source_naming_two_things_to_read_is_refused(
        tmp_path: Path, source: str, message: str) -> None:
    job = write_job(tmp_path, source=source)
    drops_of(tmp_path, "a")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    assert message in result.json()["error"]
    assert names(tmp_path) == ["drops", "job.toml"]


def test_an_output_folder_this_user_cannot_enter_is_refused_before_any_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Write permission on a folder without search (x) permission makes no file in it:
    # found after the commit, the report could not be put there. (Tests run as root,
    # whom permissions don't stop: os.access says what a user would be told.)
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops_of(tmp_path, "a")
    reports = tmp_path / "out" / "reports"
    reports.mkdir(parents=True)
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if mode & os.X_OK and Path(os.fsdecode(path)).resolve() == reports.resolve():
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    assert "[output] reports" in result.json()["error"]
    assert "permission" in result.json()["error"]
    assert not (tmp_path / "r.db").exists() and names(tmp_path / "drops") == ["a.csv"]


def test_a_drop_whose_encoding_is_in_doubt_is_held_until_the_job_names_it(
        tmp_path: Path) -> None:
    # Detection reads this Windows-1250 file as Windows-1252 ('Peèenka'), with a doubt
    # a preview shows before any commit. A nightly run has nobody to read it.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_bytes((HEADER + "1;Pečenka s.r.o.;Brno\n2;Kahvila Äijä Oy;Oulu\n")
                                  .encode("cp1250"))
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1
    [record] = result.json()["files"]
    assert record["outcome"] == "held"
    assert record["reason"] == (
        "encoding doubt: cp1250 would read 'Peèenka' as 'Pečenka'; set encoding in [source] "
        "to the code page the files are written in: \"cp1252\" as read now, or \"cp1250\"")
    assert not (tmp_path / "r.db").exists() or customers(tmp_path / "r.db") == {}
    shutil.move(tmp_path / "out" / "held" / "a.csv", drops / "a.csv")
    job.write_text(job.read_text().replace("settle_seconds = 0",
                                           'settle_seconds = 0\nencoding = "cp1250"'))
    assert run_cli("run", job).exit_code == 0
    assert customers(tmp_path / "r.db")["1"]["name"] == "Pečenka s.r.o."


def test_a_job_whose_register_needs_migrating_is_not_said_to_be_unreachable(
        tmp_path: Path, register_url: str) -> None:
    # QA: "[job] register unreachable: ... schema version 3 is not 4; run 'regsync
    # migrate'": it was reached, it is old.
    assert run_cli("init", "--db", register_url).exit_code == 0
    set_schema_version(register_url, "3")
    job = write_job(tmp_path, source=FOLDER_SOURCE)
    job.write_text(job.read_text().replace('register = "r.db"',
                                           f'register = "{register_url}"'))
    (tmp_path / "drops").mkdir()
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    error = result.json()["error"]
    assert "unreachable" not in error, error
    assert error.endswith(": register schema version 3 is not 4; run 'regsync migrate'")
    assert "[job] register: " in error


def test_a_register_busy_at_the_start_of_a_run_exits_3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: "[job] register unreachable: ...: register busy" exited 2 ("fix the job now")
    # where spec section 7 says 3 (busy: the next run will likely find it free).
    monkeypatch.setattr("sync.writers.register.sqlite._BUSY_TIMEOUT_MS", 50)
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops, db = tmp_path / "drops", tmp_path / "r.db"
    drops.mkdir()
    assert run_cli("init", "--db", db).exit_code == 0
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the whole register
    try:
        result = run_cli("run", job, "--json")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 3, result.stderr
    assert result.json()["exit_code"] == 3
    assert "register busy" in result.json()["error"]
    assert "unreachable" not in result.json()["error"]
    assert names(drops) == ["a.csv"]


@pytest.mark.parametrize(("denied", "message"), [
    ("out/regsync.jsonl", "[output] log"),
    ("drops", "[source] folder"),
    ("out/done", "[output] processed"),
    ("out/held", "[output] held"),
    ("out/reports", "[output] reports"),
    ("out", "[output] log"),  # the log can't be made in it
])
def test_outputs_and_a_drop_folder_this_user_cannot_write_are_refused_before_any_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, denied: str, message: str) -> None:
    # QA (as an unprivileged user): a log that can't be written, or a drop folder whose
    # files can't be moved out, was found after the first commit (exit 2, no log line;
    # every rerun left one more copy a-1.csv, a-2.csv in processed/).
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops, out = tmp_path / "drops", tmp_path / "out"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    for folder in ("done", "held", "reports"):
        (out / folder).mkdir(parents=True)
    if denied != "out":
        (out / "regsync.jsonl").write_text("")
    deny_writes(monkeypatch, tmp_path / denied)
    for _ in range(2):
        result = run_cli("run", job, "--json")
        assert result.exit_code == 2, result.stderr
        assert message in result.json()["error"]
        assert "permission" in result.json()["error"]
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.db").exists()
    assert names(drops) == ["a.csv"]
    assert [names(out / f) for f in ("done", "held", "reports")] == [[], [], []]
    # A dry run moves nothing: only its reports and log need to be writable (review).
    dry = run_cli("run", job, "--dry-run", "--json")
    moved_only = denied in ("drops", "out/done", "out/held")
    assert dry.exit_code == (0 if moved_only else 2), dry.stderr
    assert names(drops) == ["a.csv"]


def test_a_move_that_cannot_remove_the_drop_leaves_no_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drops, done = tmp_path / "drops", tmp_path / "done"
    drops.mkdir()
    (drops / "a.csv").write_text("x")
    real = os.unlink

    def denied(path: object, *args: object, **kwargs: object) -> None:
        if Path(os.fsdecode(path)).parent == drops:  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", denied)
    with pytest.raises(PermissionError):
        move_into(drops / "a.csv", done)
    assert names(drops) == ["a.csv"] and names(done) == []


def test_another_users_drop_in_a_sticky_folder_is_not_committed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A shared drop folder (mode 1777, as /tmp): this user may write it but not remove
    # another user's file. Committed, the file would stay and be found every night.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    drops.chmod(0o1777)
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    owner = (drops / "a.csv").stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 4242)  # neither its owner nor root
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1
    [record] = result.json()["files"]
    assert record["outcome"] == "failed" and record["batch"] is None
    assert "sticky bit" in record["reason"]
    assert names(drops) == ["a.csv"]
    assert not (tmp_path / "r.db").exists() or customers(tmp_path / "r.db") == {}


def test_an_empty_drop_is_left_in_the_folder(tmp_path: Path) -> None:
    # QA: a zero-byte drop was `failed` and moved to held/: a writer that had just
    # opened it went on writing to a file no longer in the folder, and its rows were lost.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_bytes(b"")
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    outcomes = {Path(f["file"]).name: (f["outcome"], f.get("reason"))
                for f in result.json()["files"]}
    assert outcomes["a.csv"][0] == "left_incomplete" and "empty" in outcomes["a.csv"][1]
    assert outcomes["b.csv"][0] == "committed"
    assert names(drops) == ["a.csv"] and names(tmp_path / "out" / "held") == []
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")  # the writer goes on
    assert run_cli("run", job).exit_code == 0
    assert sorted(customers(tmp_path / "r.db")) == ["1", "2"]


@pytest.mark.parametrize("stem", ["k" * 251, "ä" * 125, "x" * 60 + "." + "y" * 190])
def test_a_drop_with_a_name_of_full_length_gets_a_report_note_and_copy_that_fit(
        tmp_path: Path, stem: str) -> None:
    # QA: the report's temporary name `.NAME.report.csv.PID.tmp` of a 255-byte drop name
    # was too long ("File name too long"): exit 2 after its commit, the rest not done.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops, out = tmp_path / "drops", tmp_path / "out"
    drops.mkdir()
    name = stem[:255 - len(".csv")]  # a name of 255 bytes (the "ä" one 254)
    good, bad = drops / f"{name}.csv", drops / f"{name[:-1]}Z.csv"
    assert len(good.name.encode()) <= 255
    good.write_text(HEADER + "1;Alpha Oy;Oulu\n")
    bad.write_text("just;some;words\n")  # no key column: held with an error note
    (drops / "z.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    (out / "done").mkdir(parents=True)
    (out / "done" / good.name).write_text("an older file of that name")
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1, result.stderr
    files = {Path(f["file"]).name: f for f in result.json()["files"]}
    assert [files[n]["outcome"] for n in (good.name, bad.name, "z.csv")] == [
        "committed", "failed", "committed"]
    assert names(drops) == []
    written = [Path(files[good.name]["moved_to"]), Path(files[good.name]["report"]),
               Path(files[bad.name]["moved_to"]), Path(files[bad.name]["note"])]
    for path in written:
        assert path.exists() and len(path.name.encode()) <= 255
        assert path.name.startswith(name[:50])  # x-1.y...csv: a suffix goes after x
    assert "-1" in written[0].name and written[0].name.endswith(".csv")
    assert written[0].read_text().endswith("Oulu\n")
    assert written[1].name.endswith(".report.csv") and written[3].name.endswith(".error.txt")
    assert len({p.name for p in written}) == 4
    assert not [n for f in ("done", "held", "reports") for n in names(out / f)
                if n.endswith(".tmp")]


def test_cut_names_keep_their_start_and_end_and_stay_apart() -> None:
    from sync.jobs.names import fit_name

    assert fit_name("a", ".report.csv") == "a.report.csv"
    one, two = fit_name("é" * 200 + "1", ".report.csv"), fit_name("é" * 200 + "2", ".report.csv")
    assert one != two
    for cut in (one, two):
        assert len(cut.encode()) == 255 or len(cut.encode()) == 254  # cut between characters
        assert cut.startswith("é" * 100) and cut.endswith(".report.csv")
    assert fit_name("a", "." + "b" * 300 + ".csv").endswith(".csv")


def test_hidden_files_in_the_drop_folder_are_no_drops(tmp_path: Path) -> None:
    # QA: macOS's ._a.csv failed and went to held/ every night; .hidden.csv and an
    # emacs lock .#a.csv were committed; with pattern "*", .DS_Store and a vim swap file
    # would have been moved. A shell's * skips them, and so does a job.
    job = write_job(tmp_path, source='folder = "drops"\npattern = "*"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    hidden = ["._a.csv", ".DS_Store", ".a.csv.swp", ".#a.csv", ".hidden.csv"]
    for name in hidden:
        (drops / name).write_text(HEADER + "9;Hidden Oy;Oulu\n")
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Kemi\n")
    (drops / ".b.csv.Gx7a2B").write_text(HEADER)  # rsync still writing b.csv
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    outcomes = {Path(f["file"]).name: f["outcome"] for f in result.json()["files"]}
    assert outcomes == {"a.csv": "committed", "b.csv": "left_incomplete",
                        ".b.csv.Gx7a2B": "left_incomplete"}
    assert names(drops) == sorted([*hidden, ".b.csv.Gx7a2B", "b.csv"])
    assert sorted(customers(tmp_path / "r.db")) == ["1"]
    assert names(tmp_path / "out" / "held") == []


@pytest.mark.parametrize(("content", "setting", "advice"), [
    # The header on row 3: preview says "pass --header-row 3".
    ((";;\n;;\n" + HEADER + "1;Alpha Oy;Oulu\n").encode(), "",
     "set header_row = 3 in [source]"),
    # Code page 850 or Windows-1252 can't be told: "pass --encoding cp850, or ...".
    ("customer_number;name;city\n1;Matti;Hämeenkatu 5\n".encode("cp850"), "",
     'set encoding = "cp850" in [source], or encoding = "cp1252" if'),
    # The job's own encoding does not fit the file: "pass another --encoding".
    (("customer_number;name;city\n1;Kahvila Äijä Oy;Oulu\n").encode("cp1252"),
     'encoding = "utf-8"', "set another encoding in [source] (e.g."),
    # No key column at all: "check the header row (--header-row) and the delimiter".
    (b"just;some;words\n", "", "check the header row ([source] header_row) and the "
     "delimiter ([source] delimiter)"),
])
def test_a_drops_error_names_the_jobs_settings_not_previews_options(
        tmp_path: Path, content: bytes, setting: str, advice: str) -> None:
    # QA: a job's log and error note told the operator to "pass --encoding cp850" or
    # "pass --header-row 4", options `regsync run` does not have.
    job = write_job(tmp_path, source=f'folder = "drops"\nsettle_seconds = 0\n{setting}')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_bytes(content)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 1, result.stderr
    [record] = result.json()["files"]
    assert record["outcome"] == "failed"
    assert advice in record["reason"] and "--" not in record["reason"], record["reason"]
    note = (tmp_path / "out" / "held" / "a.error.txt").read_text()
    assert advice in note and "--" not in note


@pytest.mark.parametrize(("cli", "job"), [
    ("sheet 'Asiakkaat 2' has one (row 3: Nimi): pass --sheet 'Asiakkaat 2' --header-row 3",
     "sheet 'Asiakkaat 2' has one (row 3: Nimi): set sheet = \"Asiakkaat 2\" and "
     "header_row = 3 in [source]"),
    ("mixes encodings, so no single --encoding reads it right",
     "mixes encodings, so no single [source] encoding reads it right"),
    ("not cp1252; pass --encoding utf-16-le or leave --encoding out",
     'not cp1252; set encoding = "utf-16-le" in [source] or leave encoding out of [source]'),
    ("the sheets are 'A', 'B' (pass --sheet)", "the sheets are 'A', 'B' (set sheet in [source])"),
    # shlex.quote's spelling of a name with an apostrophe (was garbled).
    ("pass --sheet 'Kim'\"'\"'s list' --header-row 2",
     'set sheet = "Kim\'s list" and header_row = 2 in [source]'),
])
def test_previews_advice_is_said_as_job_settings(cli: str, job: str) -> None:
    from sync.jobs.advice import job_advice

    assert job_advice(cli) == job


def test_a_job_and_rules_file_saved_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    # QA: a job file from a Windows editor that writes a UTF-8 BOM was "not valid TOML
    # (Invalid statement (at line 1, column 1))".
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0',
                    extra_job='rules = "rules.toml"')
    job.write_bytes(b"\xef\xbb\xbf" + job.read_bytes())
    (tmp_path / "rules.toml").write_bytes(b"\xef\xbb\xbf[rules]\ndefault_country = \"FI\"\n")
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    result = run_cli("run", job)
    assert result.exit_code == 0, result.stderr
    assert sorted(customers(tmp_path / "r.db")) == ["1"]


def test_regsync_schema_never_reaches_a_job(tmp_path: Path, pg_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: $REGSYNC_SCHEMA exported in the shell where a job was tried by hand sent its
    # commits into another schema than the nightly run's (cron has no such variable).
    # A job's register is its job file's: the variable is ignored, as $REGSYNC_DB is,
    # and --schema given with `run` is refused.
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    job.write_text(job.read_text().replace('register = "r.db"', f'register = "{pg_url}"'))
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    schema = pg_url.partition("?schema=")[2]
    for other in ("elsewhere", ""):
        refused = run_cli("--schema", other, "run", job, "--json")
        assert refused.exit_code == 2, refused.stderr
        assert refused.json()["error"] == (
            f"{job}: --schema names schema {other!r}, but a job's register is its job "
            f"file's, whose URL has schema '{schema}'; put ?schema={other} in the "
            "register's URL, or leave --schema out")
        assert names(drops) == ["a.csv"]
    # Jobs once took their schema from the variable: one that still names another is
    # refused, never sent silently to the URL's schema (or the default) instead (review).
    monkeypatch.setenv("REGSYNC_SCHEMA", "elsewhere")
    refused = run_cli("run", job, "--json")
    assert refused.exit_code == 2, refused.stderr
    assert refused.json()["error"] == (
        f"{job}: $REGSYNC_SCHEMA names schema 'elsewhere', but a job's register is its "
        f"job file's, whose URL has schema '{schema}'; put ?schema=elsewhere in the "
        "register's URL, or unset $REGSYNC_SCHEMA")
    assert names(drops) == ["a.csv"]
    monkeypatch.setenv("REGSYNC_SCHEMA", schema)  # the same schema: no doubt
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["files"][0]["counts"]["new"] == 1
    monkeypatch.delenv("REGSYNC_SCHEMA", raising=False)
    # --schema naming the job's own schema is no doubt either (false-refusals QA).
    (drops / "b.csv").write_text(HEADER + "2;Beta Oy;Oulu\n")
    result = run_cli("--schema", schema, "run", job, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["files"][0]["counts"]["new"] == 1
    listed = run_cli("batches", "--db", pg_url, "--json")
    assert [b["id"] for b in listed.json()["batches"]] == [1, 2]


def test_schema_option_with_a_job_of_an_sqlite_register_is_refused(tmp_path: Path) -> None:
    # --schema reaches no SQLite register: given with such a job, it is a mistake to
    # say, not to ignore (the job may have been meant for a PostgreSQL register).
    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a.csv").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    refused = run_cli("--schema", "crm", "run", job, "--json")
    assert refused.exit_code == 2, refused.stderr
    assert refused.json()["error"] == (
        f"{job}: --schema does not reach this job: its register is an SQLite file, named "
        "in its job file; leave --schema out")
    assert names(drops) == ["a.csv"]


@pytest.mark.parametrize("name", [
    "../escaped", "a/b", "x\\ny", "a\\\\b", "..",
    # A line separator splits the line too, and a right-to-left override disguises it.
    "x\\u2028y", "\\u202egol.cvs"])
def test_a_job_name_that_is_a_path_or_more_than_one_line_is_refused(
        tmp_path: Path, name: str) -> None:
    # QA: name = "../escaped" wrote the job's log lock beside the job's folder, "a/b"
    # made a folder, and "x\ny" split the summary line that monitors read.
    (tmp_path / "job" / "drops").mkdir(parents=True)
    job = write_job(tmp_path / "job", source='folder = "drops"\nsettle_seconds = 0')
    text = job.read_text(encoding="utf-8").replace('name = "nightly"', f'name = "{name}"')
    job.write_text(text.replace('log = "out/regsync.jsonl"\n', ""), encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    assert "[job] name '" in result.json()["error"]
    assert "must be one line of text without / or \\" in result.json()["error"]
    assert len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_the_pattern_ignores_case_and_how_accents_are_encoded(tmp_path: Path) -> None:
    # QA: EXPORT.CSV (as Windows names it) and Päivä2.csv written by a Mac (NFD: "a" and
    # a combining mark) were skipped every night by *.csv and Päivä*.csv: "nothing to do".
    import unicodedata

    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "EXPORT.CSV").write_text(HEADER + "1;Alpha Oy;Oulu\n")
    (drops / unicodedata.normalize("NFD", "Päivä2.csv")).write_text(HEADER + "2;Beta Oy;Oulu\n")
    for pattern, expected in (("*.csv", 2), ("Päivä*.csv", 1)):
        job = write_job(tmp_path, source=f'folder = "drops"\nsettle_seconds = 0\n'
                                         f'pattern = "{pattern}"')
        result = run_cli("run", job, "--dry-run", "--json")
        assert result.exit_code == 0, result.stderr
        assert len(result.json()["files"]) == expected, result.stdout


def test_regsync_schema_against_a_job_url_without_a_schema_is_refused() -> None:
    from sync.cli_jobs import _check_schema_variable
    from sync.errors import UsageError

    url = "postgresql://postgres@127.0.0.1/test"
    with pytest.raises(UsageError, match="whose URL has no \\?schema=, so schema 'regsync'"):
        _check_schema_variable("crm", Path("job.toml"), url)
    _check_schema_variable("crm", Path("job.toml"), url + "?schema=crm")  # agrees
    _check_schema_variable("regsync", Path("job.toml"), url)  # the default, named (QA)
    _check_schema_variable("crm", Path("job.toml"), "r.db")  # SQLite: no schema
    _check_schema_variable(None, Path("job.toml"), url)

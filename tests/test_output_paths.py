"""Outputs never replace a command's inputs or what is not a plain file, and a command
that fails leaves no output behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli, write_csv


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "asiakkaat.csv", "customer_number;name\n1;Aho Oy\n")


@pytest.mark.parametrize("option", ["--plan", "--report"])
def test_a_preview_never_writes_over_its_source_file(source: Path, tmp_path: Path,
                                                     option: str) -> None:
    before = source.read_bytes()
    result = run_cli("preview", source, "--db", tmp_path / "r.db", option, source)
    assert result.exit_code == 2
    assert f"{source}: is the source file" in result.stderr
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asiakkaat.csv"]


def test_an_import_report_never_writes_over_the_register(source: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    before = db.read_bytes()
    result = run_cli("import", source, "--db", db, "--yes", "--report", db)
    assert result.exit_code == 2 and "is the register" in result.stderr
    assert db.read_bytes() == before


def test_an_export_never_writes_over_the_register(source: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    result = run_cli("export", db, "--db", db, "--format", "csv")
    assert result.exit_code == 2 and "is the register" in result.stderr
    assert run_cli("export", tmp_path / "out.csv", "--db", db).exit_code == 0


def test_an_output_naming_the_register_through_a_linked_folder_is_refused(
        source: Path, tmp_path: Path) -> None:
    # alias/r.db is r.db by another spelling: the export, renamed over it, would have
    # replaced the register with a CSV file.
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    before = db.read_bytes()
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    result = run_cli("export", tmp_path / "alias" / "r.db", "--db", db, "--format", "csv")
    assert result.exit_code == 2 and "is the register" in result.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("suffix", ["-journal", "-wal", "-shm"])
def test_no_output_takes_the_name_of_a_file_sqlite_keeps_beside_the_register(
        source: Path, tmp_path: Path, suffix: str) -> None:
    # SQLite would take an export named r.db-journal for the register's rollback
    # journal and delete it at the next open: the export would be lost.
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    companion = tmp_path / f"r.db{suffix}"
    for args in (("export", companion, "--db", db, "--format", "csv"),
                 ("preview", source, "--db", db, "--plan", companion),
                 ("import", source, "--db", db, "--yes", "--report", companion)):
        result = run_cli(*args)
        assert result.exit_code == 2, args
        assert f"{companion}: is the register's" in result.stderr
        assert not companion.exists()


def test_a_symbolic_link_is_never_replaced_by_an_output(source: Path, tmp_path: Path) -> None:
    # QA: the output was renamed over the link itself; as root, `export /dev/stdout`
    # (a link to /proc/self/fd/1) replaced the system's /dev/stdout with a file.
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    target = tmp_path / "target.csv"
    target.write_text("ORIGINAL\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    for args in (("export", link, "--db", db), ("preview", source, "--db", db, "--plan", link),
                 ("import", source, "--db", db, "--yes", "--report", link)):
        result = run_cli(*args)
        assert result.exit_code == 2, args
        assert f"{link}: is a symbolic link" in result.stderr
        assert link.is_symlink() and target.read_text() == "ORIGINAL\n"


def test_a_pipe_or_a_folder_is_never_replaced_by_an_output(source: Path,
                                                          tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, words in ((fifo, "is not a plain file"), (folder, "is a folder")):
        result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", target)
        assert result.exit_code == 2 and words in result.stderr
    assert fifo.is_fifo() and folder.is_dir()


def test_a_report_that_cannot_be_written_leaves_no_plan(source: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a full disk: the report fails after the plan was written; the command
    # fails (exit 2) and takes its plan back, and no half report is left.
    import sync.cli

    def full_disk(plan: object, path: Path) -> None:
        path.write_text("row,status\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sync.cli, "write_report", full_disk)
    plan, report = tmp_path / "p.plan", tmp_path / "rep.csv"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", plan,
                     "--report", report)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asiakkaat.csv"]


def test_an_output_in_a_missing_folder_is_refused_before_any_work(source: Path,
                                                                 tmp_path: Path) -> None:
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--report",
                     tmp_path / "nowhere" / "rep.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asiakkaat.csv"]


def test_a_plan_polars_cannot_write_for_a_full_disk_is_exit_2(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # polars reports the system's write errors as its own exceptions.
    import polars as pl

    from sync.plan import Plan

    def full_disk(self: Plan, path: Path) -> None:
        raise pl.exceptions.ComputeError("parquet: File out of specification: underlying "
                                         "IO error: No space left on device (os error 28)")

    monkeypatch.setattr(Plan, "save", full_disk)
    plan = tmp_path / "p.plan"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", plan)
    assert result.exit_code == 2
    assert result.stderr == f"regsync: error: {plan}: cannot write the plan: No space left " \
        "on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asiakkaat.csv"]


def test_an_xlsx_export_that_fails_for_a_full_disk_leaves_nothing(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xlsxwriter

    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))

    def full_disk(self: xlsxwriter.Workbook) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", full_disk)
    result = run_cli("export", out / "asiakkaat.xlsx", "--db", db)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert list(out.iterdir()) == [] and list(tmp.iterdir()) == []


def test_the_plan_and_the_report_can_not_share_a_file(source: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.out"  # not there yet: the names are compared too
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", same,
                     "--report", same)
    assert result.exit_code == 2 and "is the plan" in result.stderr
    assert not same.exists()


def test_a_plan_that_cannot_be_written_takes_its_new_report_back(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.plan import Plan

    def full_disk(self: Plan, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Plan, "save", full_disk)
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--report", tmp_path / "rep.csv")
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asiakkaat.csv"]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process's umask for the test (it is put back afterwards)."""
    before = os.umask(0o022)

    def set_umask(mask: int) -> None:
        os.umask(mask)

    yield set_umask
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx", "out.parquet", "out.vcf", "out.pdf"])
def test_an_export_gets_the_umask_s_mode_and_a_replaced_one_keeps_its_own(
        name: str, source: Path, tmp_path: Path, umask: Callable[[int], None]) -> None:
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    dest = tmp_path / name
    for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
        dest.unlink(missing_ok=True)
        umask(mask)
        assert run_cli("export", dest, "--db", db).exit_code == 0
        assert _mode(dest) == mode, oct(_mode(dest))
    dest.chmod(0o644)  # a downstream system reads it as another user
    umask(0o077)
    assert run_cli("export", dest, "--db", db).exit_code == 0
    assert _mode(dest) == 0o644, oct(_mode(dest))


def test_plans_and_reports_get_the_umask_s_mode_and_keep_a_replaced_file_s(
        source: Path, tmp_path: Path, umask: Callable[[int], None]) -> None:
    plan, report = tmp_path / "p.plan", tmp_path / "rep.csv"

    def preview() -> None:
        result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", plan,
                         "--report", report)
        assert result.exit_code == 0, result.stderr

    umask(0o027)
    preview()
    assert (_mode(plan), _mode(report)) == (0o640, 0o640)
    plan.chmod(0o604)
    report.chmod(0o644)
    umask(0o077)
    preview()
    assert (_mode(plan), _mode(report)) == (0o604, 0o644)


@pytest.mark.parametrize("args", [
    ("init", "--db", "newdir/"),
    ("import", "REGISTER", "--yes", "--db", "newdir/"),
    ("preview", "REGISTER", "--plan", "plans/"),
    ("preview", "REGISTER", "--report", "reports/"),
    ("export", "outdir/"),
])
def test_a_path_ending_in_a_slash_names_a_folder_and_is_refused(args: tuple[str, ...]) -> None:
    # QA: pathlib drops the /, so `--plan plans/` wrote a file named plans, and
    # `init --db newdir/` a register file named newdir.
    register = str(FIXTURES / "demo" / "register.csv")
    result = run_cli(*[register if a == "REGISTER" else a for a in args], "--json")
    assert result.exit_code == 2, result.stdout
    # (In process, click's own refusals print click's usage text: `regsync` prints them
    # as its one error line.)
    assert "names a folder" in result.stderr
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.parametrize("args", [("export", "-"), ("preview", "REGISTER", "--plan", "-"),
                                  ("preview", "REGISTER", "--report", "-")])
def test_a_dash_is_not_taken_for_a_file_named_dash(args: tuple[str, ...]) -> None:
    # QA: `export - --format csv` wrote a file named '-' in the current folder.
    register = str(FIXTURES / "demo" / "register.csv")
    result = run_cli(*[register if a == "REGISTER" else a for a in args])
    assert result.exit_code == 2
    assert "'-' (standard output) is not written to; name a file" in result.stderr
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.parametrize(("db", "says"), [
    ("", "the register location (--db or $REGSYNC_DB) is empty"),
    ("  ", "the register location (--db or $REGSYNC_DB) is empty"),  # not a file "  "
    ("file:new.db", "file:new.db: unknown register URL"),
    (".", ".: the register path names a folder; name the register's file in it (e.g. "
          "./register.db)"),
    ("..", "..: the register path names a folder"),
])
@pytest.mark.parametrize("command", [["init"], ["preview", "SOURCE"], ["export", "o.csv"],
                                     ["import", "SOURCE", "--yes", "--report", "r.csv"]])
def test_an_empty_folder_or_file_uri_register_location_is_refused(
        db: str, says: str, command: list[str]) -> None:
    # Review: preview, export and import --report took the empty path apart first
    # (exit 70: "PosixPath('.') has an empty name").
    source = str(FIXTURES / "demo" / "register.csv")
    result = run_cli(*[source if a == "SOURCE" else a for a in command], "--db", db,
                     "--json")
    assert result.exit_code == 2 and result.json()["error"].startswith(says), result.stdout
    assert list(Path.cwd().iterdir()) == []


def test_a_tilde_in_a_register_path_is_the_home_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # `--db '~/reg.db'` (quoted, or from $REGSYNC_DB) said "no register here yet" for a
    # register that was there; a job file's ~ was already the home folder.
    monkeypatch.setenv("HOME", str(tmp_path))
    assert run_cli("init", "--db", tmp_path / "reg.db").exit_code == 0
    result = run_cli("batches", "--db", "~/reg.db", "--json")
    assert result.exit_code == 0, result.stdout

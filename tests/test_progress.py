"""Progress of long work (preview, commit, export, revert, rebuilding blocks, job runs):
steps reported through a callback; shown only on a terminal, never under --json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sync.cli_output import StepLine
from sync.pipeline import PREVIEW_STEPS, preview
from sync.rules import load_rules
from sync.writers.register import open_register
from tests.conftest import run_cli, seed_register, write_csv


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_preview_reports_each_step_in_order(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "name;phone\nMatti Virtanen;040 123 4567\n")
    register = open_register(str(tmp_path / "none.db"), create=False)  # empty, in memory
    seen: list[tuple[str, int, int]] = []
    preview(source, register, load_rules(None), progress=lambda *a: seen.append(a))
    total = len(PREVIEW_STEPS)
    assert seen == [(step, i, total) for i, step in enumerate(PREVIEW_STEPS, start=1)]


def test_step_line_shows_on_a_terminal_and_is_erased() -> None:
    terminal = _Terminal()
    line = StepLine(as_json=False, stream=terminal)
    line("matching", 3, 5)
    line.done()
    assert "[3/5] matching..." in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[2K")


def test_step_line_is_silent_under_json_or_without_a_terminal() -> None:
    for as_json, stream in ((True, _Terminal()), (False, io.StringIO())):
        line = StepLine(as_json, stream)
        line("matching", 3, 5)
        line.done()
        assert not line.enabled and stream.getvalue() == ""


def test_cli_preview_prints_no_progress_when_not_a_terminal(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "name\nMatti Virtanen\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--json")
    assert "[1/" not in result.stderr and "[1/" not in result.stdout


def test_commit_reports_each_step_in_order(tmp_path: Path) -> None:
    from sync.pipeline import commit
    from sync.writers.register.base import COMMIT_STEPS

    source = write_csv(tmp_path / "in.csv", "customer_number;name\n1001;Matti Virtanen\n")
    db = str(tmp_path / "r.db")
    register = open_register(db, create=False)
    plan = preview(source, register, load_rules(None))
    register.close()
    register = open_register(db, create=True)
    seen: list[tuple[str, int, int]] = []
    batch = commit(plan, register, "tester", progress=lambda *a: seen.append(a))
    register.close()
    assert batch.inserted == 1
    total = len(COMMIT_STEPS)
    assert seen == [(step, i, total) for i, step in enumerate(COMMIT_STEPS, start=1)]


def test_cli_import_prints_no_progress_when_not_a_terminal(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "name\nMatti Virtanen\n")
    result = run_cli("import", source, "--db", tmp_path / "r.db", "--yes")
    assert result.exit_code == 0
    assert "[1/" not in result.stderr and "[1/" not in result.stdout


# -- long admin and export work: steps and counts, on a terminal only ---------------

_FIVE = "customer_number;name\n" + "".join(f"{n};Asiakas {n} Oy\n" for n in range(1001, 1006))


def _on_a_terminal(cwd: Path, *args: str | Path) -> tuple[int, str, str]:
    """Run `regsync ARGS` as a user at a terminal does: stderr is a pseudo-terminal.
    Returns the exit code, what the terminal showed, and stdout."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "sync", *map(str, args)], cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal's other end closed: the process has ended
            break
        if not data:
            break
        shown += data
    os.close(master)
    stdout = process.stdout.read() if process.stdout else b""
    return process.wait(), shown.decode("utf-8", "replace"), stdout.decode("utf-8")


def test_export_counts_the_customers_written_then_finishes_the_file(tmp_path: Path,
                                                                    monkeypatch) -> None:
    import sync.export
    from sync.export import EXPORT_STEPS, ExportOptions, build_selection, export

    db = tmp_path / "r.db"
    seed_register(db, _FIVE, tmp_path)
    monkeypatch.setattr(sync.export, "CHUNK_ROWS", 2)
    register = open_register(str(db), create=False)
    rules = load_rules(None)
    seen: list[tuple[str, int, int]] = []
    try:
        info = export(register, rules, tmp_path / "out.csv", ExportOptions(format="csv"),
                      build_selection(rules, register), progress=lambda *a: seen.append(a))
    finally:
        register.close()
    assert info.count == 5
    writing, finishing = EXPORT_STEPS
    assert seen == [(f"{writing}: {n}", 1, 2) for n in (0, 2, 4, 5)] + [(finishing, 2, 2)]


def test_revert_reports_each_step_in_order(tmp_path: Path) -> None:
    from sync.writers.register.sql import REVERT_STEPS

    db = tmp_path / "r.db"
    seed_register(db, _FIVE, tmp_path)
    register = open_register(str(db), create=True)
    seen: list[tuple[str, int, int]] = []
    try:
        register.revert(1, "tester", progress=lambda *a: seen.append(a))
    finally:
        register.close()
    total = len(REVERT_STEPS)
    assert seen == [(step, i, total) for i, step in enumerate(REVERT_STEPS, start=1)]
    assert run_cli("export", tmp_path / "left.csv", "--db", db, "--json").json()["count"] == 0


def test_rebuilding_the_blocks_counts_the_customers_done(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    seed_register(db, _FIVE, tmp_path)
    register = open_register(str(db), create=True)
    seen: list[tuple[str, int, int]] = []
    try:
        register.rebuild_blocks(progress=lambda *a: seen.append(a))
    finally:
        register.close()
    assert seen == [("computing name blocks: 0 customers", 1, 1),
                    ("computing name blocks: 5 customers", 1, 1)]


def test_a_job_run_names_the_file_in_each_step(tmp_path: Path) -> None:
    from sync.jobs import load_job, run_job
    from tests.jobs_helpers import write_job

    (tmp_path / "drops").mkdir()
    write_csv(tmp_path / "drops" / "a.csv", _FIVE)
    job = load_job(write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0'))
    seen: list[tuple[str, int, int]] = []
    summary = run_job(job, progress=lambda *a: seen.append(a))
    assert summary.exit_code == 0
    steps = [step for step, _, _ in seen]
    assert steps and all(step.endswith(" (a.csv)") for step in steps)
    assert f"{PREVIEW_STEPS[0]} (a.csv)" in steps
    assert any(step.startswith("inserting customers") for step in steps)  # the commit's


@pytest.mark.parametrize(("command", "shown"), [
    (("export", "out.csv"), ["[1/2] writing customers: 5", "[2/2] finishing the file"]),
    (("revert", "1"), ["[1/3] checking the batch can be reverted",
                       "[3/3] updating the name blocks"]),
    (("rebuild-blocks",), ["[1/1] computing name blocks: 5 customers"]),
])
def test_long_commands_show_their_steps_on_a_terminal_and_none_under_json(
        tmp_path: Path, command: tuple[str, ...], shown: list[str]) -> None:
    seed_register(tmp_path / "r.db", _FIVE, tmp_path)
    code, terminal, _ = _on_a_terminal(tmp_path, *command, "--db", "r.db")
    assert code == 0, terminal
    assert all(step in terminal for step in shown), terminal
    assert terminal.endswith("\r\x1b[2K")  # the last step's line erased

    seed_register(tmp_path / "j.db", _FIVE, tmp_path)
    code, terminal, stdout = _on_a_terminal(tmp_path, *command, "--db", "j.db", "--json")
    assert code == 0 and json.loads(stdout)
    assert "[1/" not in terminal and "\x1b[2K" not in terminal


def test_a_job_run_on_a_terminal_shows_each_files_steps(tmp_path: Path) -> None:
    from tests.jobs_helpers import write_job

    (tmp_path / "drops").mkdir()
    write_csv(tmp_path / "drops" / "a.csv", _FIVE)
    write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    code, terminal, _ = _on_a_terminal(tmp_path, "run", "job.toml")
    assert code == 0, terminal
    assert "(a.csv)..." in terminal
    # The file's own line starts on an erased line, not after its last step.
    assert "(a.csv)...\r\x1b[2Kcommitted: " in terminal, terminal


def test_migrate_reports_each_versions_upgrade_and_the_blocks_it_computes(
        tmp_path: Path) -> None:
    from sync.writers.register.schema import SCHEMA_VERSION
    from tests.test_name_blocks import _make_version_1

    db = str(tmp_path / "r.db")
    seed_register(db, _FIVE, tmp_path)
    _make_version_1(db)
    register = open_register(db, create=True, migrating=True)
    seen: list[tuple[str, int, int]] = []
    try:
        assert register.migrate(progress=lambda *a: seen.append(a)) == 1
    finally:
        register.close()
    steps = SCHEMA_VERSION - 1
    upgrades = [(f"upgrading to schema version {v}", v - 1, steps)
                for v in range(2, SCHEMA_VERSION + 1)]
    assert [a for a in seen if "name blocks" not in a[0]] == upgrades
    assert ("upgrading to schema version 2: name blocks of 5 customers", 1, steps) in seen


def test_a_job_runs_steps_show_a_file_names_control_characters_escaped(tmp_path: Path) -> None:
    # Review: a drop named with an ESC coloured the terminal through its step lines.
    from sync.jobs import load_job, run_job
    from tests.jobs_helpers import write_job

    (tmp_path / "drops").mkdir()
    write_csv(tmp_path / "drops" / "b\x1b[31mred.csv", _FIVE)
    job = load_job(write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0'))
    seen: list[tuple[str, int, int]] = []
    run_job(job, progress=lambda *a: seen.append(a))
    assert seen and all(step.endswith(" (b\\x1b[31mred.csv)") for step, _, _ in seen)

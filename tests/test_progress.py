"""Progress of a preview: steps reported through a callback; shown only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from sync.cli_output import StepLine
from sync.pipeline import PREVIEW_STEPS, preview
from sync.rules import load_rules
from sync.writers.register import open_register
from tests.conftest import run_cli, write_csv


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

"""Temporary files that a run killed outright left beside its outputs (a report, a plan,
an export) are removed by a later run writing the same output, once a day old.

QA (scaling): a preview killed with SIGKILL while it wrote its report left
`.report.csv.<hex>.tmp` beside it for good, one per killed run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sync.jobs.sources import write_new
from tests.conftest import run_cli, write_csv

ABANDONED_AFTER_S = 24 * 3600  # a day: sync.output_paths.ABANDONED_AFTER_S


def _aged(path: Path, seconds: float) -> Path:
    path.write_text("half-written")
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_preview_removes_the_temporaries_a_killed_run_left_a_day_ago(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1001;Kahvila Aurinko Oy\n")
    report, plan = tmp_path / "report.csv", tmp_path / "p.plan"
    old = [_aged(tmp_path / ".report.csv.0123456789ab.tmp", ABANDONED_AFTER_S + 60),
           _aged(tmp_path / "p.plan.0123456789ab.tmp", ABANDONED_AFTER_S + 60)]
    # Another run may be writing these now, and these are no temporaries of ours.
    kept = [_aged(tmp_path / ".report.csv.abcdefabcdef.tmp", 60),
            _aged(tmp_path / "p.plan.abcdefabcdef.tmp", 60),
            _aged(tmp_path / ".report.csv.notes.tmp", ABANDONED_AFTER_S + 60),
            _aged(tmp_path / ".other.csv.0123456789ab.tmp", ABANDONED_AFTER_S + 60)]
    run = run_cli("preview", source, "--db", tmp_path / "r.db", "--report", report,
                  "--plan", plan)
    assert run.exit_code == 0, run.stderr
    assert report.exists() and plan.exists()
    assert [p.exists() for p in old] == [False, False]
    assert all(p.read_text() == "half-written" for p in kept)


def test_an_export_removes_its_own_abandoned_temporary(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1001;Kahvila Aurinko Oy\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    left = _aged(tmp_path / ".out.csv.0123456789ab.tmp", ABANDONED_AFTER_S + 60)
    assert run_cli("export", tmp_path / "out.csv", "--db", db).exit_code == 0
    assert not left.exists()
    assert "Kahvila Aurinko Oy" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")


def test_a_jobs_file_written_again_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    old = _aged(tmp_path / ".drop.report.csv.4242.tmp", ABANDONED_AFTER_S + 60)
    fresh = _aged(tmp_path / ".drop.report.csv.4343.tmp", 60)
    written = write_new(tmp_path, "drop.report.csv", b"row,status\n")
    assert written == tmp_path / "drop.report.csv" and written.read_bytes() == b"row,status\n"
    assert not old.exists()
    assert fresh.read_text() == "half-written"

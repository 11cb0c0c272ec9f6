"""Every file in fixtures/hostile/ gives the outcome fixtures/hostile/expected.toml names."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sync.plan import Plan, new_col
from tests.conftest import FIXTURES, report_rows, run_cli

HOSTILE = FIXTURES / "hostile"
NOT_FIXTURES = {"expected.toml", "make.py"}
EXPECTED = tomllib.loads((HOSTILE / "expected.toml").read_text(encoding="utf-8"))
FILES = sorted(p for p in HOSTILE.iterdir() if p.name not in NOT_FIXTURES)


def test_the_corpus_is_complete_and_small() -> None:
    assert len(FILES) >= 20
    assert all(p.stat().st_size < 20_000 for p in FILES)
    assert not set(EXPECTED) - {p.name for p in FILES}, "manifest entries without a file"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_hostile_file_gives_its_expected_outcome(path: Path, tmp_path: Path) -> None:
    assert path.name in EXPECTED, f"{path.name} has no entry in expected.toml"
    expected = EXPECTED[path.name]
    db, plan_path, report = tmp_path / "r.db", tmp_path / "p.plan", tmp_path / "r.csv"
    result = run_cli("preview", path, "--db", db, "--plan", plan_path, "--report", report,
                     "--json", *expected.get("args", []))
    assert not db.exists()
    if "exit_code" in expected:
        assert result.exit_code == expected["exit_code"], result.stdout
        assert len(result.stderr.splitlines()) == 1
        message = result.json()["error"]
        assert message.startswith(f"{path}: "), message
        assert message[len(f"{path}: "):].startswith(expected["error_starts"]), message
        assert expected.get("error_contains", "") in message
        assert not plan_path.exists()
        return
    statuses = {int(row): status for row, status in expected["statuses"].items()}
    assert result.exit_code == (1 if {"Rejected", "Conflict"} & set(statuses.values()) else 0), \
        result.stderr
    assert {int(r["row"]): r["status"] for r in report_rows(report)} == statuses
    payload = result.json()
    assert payload["skipped"] == expected.get("skipped", 0)
    if "ignored" in expected:
        assert payload["source"]["ignored"] == expected["ignored"]
    rows = Plan.load(plan_path).rows
    for row, values in expected.get("values", {}).items():
        planned = rows.filter(rows["row"] == int(row)).to_dicts()[0]
        assert {f: planned[new_col(f)] for f in values} == values

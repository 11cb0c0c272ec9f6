"""Shared test helpers: run the CLI in-process, build registers from CSV text."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass
class Run:
    """The outcome of one regsync command."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(*args: str | Path) -> Run:
    """Run `regsync ARGS` in-process, as a user would from a shell."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def regsync() -> Callable[..., Run]:
    return run_cli


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a register that does not exist yet."""
    return tmp_path / "register.db"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write CSV text (first line the header) to `path`."""
    path.write_bytes(text.encode(encoding))
    return path


def load_register(db: Path, csv_text: str, tmp_path: Path) -> None:
    """Create a register holding the customers of `csv_text` (all New)."""
    source = write_csv(tmp_path / "register-seed.csv", csv_text)
    result = run_cli("import", source, "--db", db, "--yes", "--actor", "seed")
    assert result.exit_code == 0, result.stderr


def customers(db: Path) -> dict[str, dict[str, str | None]]:
    """Every customer in the register by number, with its group's name."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "SELECT c.*, g.name AS customer_group FROM customers c "
        "LEFT JOIN groups g ON g.id = c.group_id").fetchall()
    conn.close()
    return {r["customer_number"]: dict(r) for r in rows}


def report_rows(path: Path) -> list[dict[str, str]]:
    """The CSV report's lines as dicts."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))

"""The page size of SQLite registers: large for new ones, kept for existing ones."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sync.writers.register.sqlite import PAGE_SIZE
from tests.conftest import ROOT, customers, load_register, run_cli, write_csv

REGISTER = """customer_number;name;business_id;city
1001;Kahvila Aurinko Oy;0112038-9;Helsinki
1002;Matti Virtanen;;Tampere
"""


def _page_size(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def _set_page_size(db: Path, size: int) -> None:
    """Change an existing register's page size (to make one as registers were made before)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {size}")
        conn.execute("VACUUM")
    finally:
        conn.close()


def test_a_new_register_has_large_pages(tmp_path: Path) -> None:
    assert PAGE_SIZE == 65536
    by_init, by_import = tmp_path / "init.db", tmp_path / "import.db"
    assert run_cli("init", "--db", by_init).exit_code == 0
    load_register(str(by_import), REGISTER, tmp_path)
    assert _page_size(by_init) == PAGE_SIZE
    assert _page_size(by_import) == PAGE_SIZE


def test_a_register_with_small_pages_keeps_them_and_works_as_before(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    load_register(str(db), REGISTER, tmp_path)
    _set_page_size(db, 4096)  # as registers were made before
    assert _page_size(db) == 4096
    source = write_csv(tmp_path / "in.csv", "customer_number;city\n1001;Espoo\n")
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 0 and result.json()["modified"] == 1
    assert customers(str(db))["1001"]["city"] == "Espoo"
    assert _page_size(db) == 4096  # never rewritten behind the user's back


def _documented_commands() -> dict[str, str]:
    """What docs/register.md tells a user to run to move a register to large pages: the SQL
    it gives the `sqlite3` program and the code it gives `python -c`, by program."""
    text = (ROOT / "docs" / "register.md").read_text(encoding="utf-8")
    section = text[text.index("## The page size of an SQLite register"):]
    sql = re.search(r'^    sqlite3 register\.db "([^"]+)"$', section, re.MULTILINE)
    code = re.search(r'^    python -c "([^"]+)"$', section, re.MULTILINE)
    assert sql and code, "docs/register.md no longer gives both ways"
    return {"sqlite3": sql.group(1), "python": code.group(1)}


@pytest.mark.parametrize("program", ["sqlite3", "python"])
def test_the_documented_way_to_enlarge_the_pages_keeps_every_customer(tmp_path: Path,
                                                                       program: str) -> None:
    db = tmp_path / "register.db"  # the name the documented commands use
    load_register(str(db), REGISTER, tmp_path)
    _set_page_size(db, 4096)
    before = customers(str(db))
    command = _documented_commands()[program]
    if program == "sqlite3":
        # The program may not be installed: its SQL runs through Python's sqlite3 instead.
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.executescript(command)
        finally:
            conn.close()
    else:
        subprocess.run([sys.executable, "-c", command], cwd=tmp_path, check=True)
    assert _page_size(db) == PAGE_SIZE
    assert customers(str(db)) == before
    source = write_csv(tmp_path / "in.csv", "customer_number;city\n1002;Pori\n")
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 0 and result.json()["modified"] == 1

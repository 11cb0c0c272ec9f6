"""Counts in messages read as words do: "1 cell", "2 cells"."""

from __future__ import annotations

from pathlib import Path

from sync.wording import counted
from tests.conftest import run_cli, write_csv


def test_counted_is_singular_for_one_only() -> None:
    assert [counted(n, "cell") for n in (0, 1, 2, 1200)] == [
        "0 cells", "1 cell", "2 cells", "1,200 cells"]
    assert counted(3, "batch", "batches") == "3 batches"


def test_messages_say_one_cell_and_one_customer(tmp_path: Path) -> None:
    db = tmp_path / "register.db"
    source = write_csv(tmp_path / "s.csv", "Asiakasnumero;Nimi;Postinumero\n1001;Aho Oy;00100\n"
                                           "1002\n")
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 1
    assert "row has 1 cell but the header has 3" in result.stderr
    exported = run_cli("export", tmp_path / "out.csv", "--db", db)
    assert "exported 1 customer to " in exported.stdout + exported.stderr
    locked = run_cli("lock", "1001", "--db", db)
    assert "1 customer locked" in locked.stdout + locked.stderr


def test_an_export_of_listed_customers_says_one_number_is_missing(tmp_path: Path) -> None:
    db = tmp_path / "register.db"
    source = write_csv(tmp_path / "s.csv", "Asiakasnumero;Nimi\n1001;Aho Oy\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    listed = tmp_path / "numbers.txt"
    listed.write_text("1001\n9999\n", encoding="utf-8")
    result = run_cli("export", tmp_path / "out.csv", "--db", db, "--customers", listed)
    assert result.exit_code == 0, result.stderr
    assert f"1 number in {listed} is not in the register" in result.stdout + result.stderr

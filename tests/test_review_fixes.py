"""Cases found in review: each once let a plan write wrong data or crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import StalePlanError
from sync.pipeline import preview
from sync.rules import load_rules
from sync.writers.register import SQLRegister, open_register
from tests.conftest import (
    customers,
    report_rows,
    run_cli,
    seed_register,
    write_csv,
)

SEED = ("customer_number;name;business_id;postal_code;customer_group\n"
        "1001;Kahvila Aurinko Oy;0112038-9;00100;Straße\n"
        "1002;Matti Virtanen;;33100;\n1003;Liisa Laine;;20100;\n")


@pytest.fixture
def seeded(register_url: str, tmp_path: Path) -> str:
    """The register above, on each engine."""
    seed_register(register_url, SEED, tmp_path)
    return register_url


def test_a_commit_landing_during_preview_makes_the_plan_stale(tmp_path, seeded, monkeypatch):
    db = seeded
    mine = write_csv(tmp_path / "mine.csv", "name;business_id\nUusi Firma Oy;1572860-0\n")
    theirs = write_csv(tmp_path / "theirs.csv", "customer_number;name;business_id\n"
                                                "5000;Toinen Oy;1572860-0\n")
    # The other run commits after this preview has matched its rows (the next free
    # number is read after matching).
    real_read = SQLRegister.max_numeric_number

    def read_while_another_run_commits(self, *args, **kwargs):
        monkeypatch.setattr(SQLRegister, "max_numeric_number", real_read)
        assert run_cli("import", theirs, "--db", db, "--yes").exit_code == 0
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(SQLRegister, "max_numeric_number", read_while_another_run_commits)
    register = open_register(str(db), create=False)
    try:
        if str(db).startswith("postgresql"):
            # Every read in one snapshot: the preview sees the register as it began, so
            # its plan relies on the business id being free, and the commit refuses it.
            preview(mine, register, load_rules()).save(tmp_path / "mine.plan")
            refused_commit = run_cli("commit", tmp_path / "mine.plan", "--db", db, "--json")
            assert refused_commit.exit_code == 3, refused_commit.stderr
        else:
            # The preview itself refuses (seventeenth session): its reads saw the register
            # before and after that commit. Before, its plan was refused at commit.
            with pytest.raises(StalePlanError) as refused:
                preview(mine, register, load_rules())
            assert refused.value.exit_code == 3
    finally:
        register.close()
    assert [c["business_id"] for c in customers(db).values()].count("1572860-0") == 1


def test_a_business_id_set_by_one_row_is_claimed_against_later_rows(tmp_path, seeded):
    db = seeded
    source = write_csv(tmp_path / "s.csv", "customer_number;name;business_id\n"
                                           ";Uusi Oy;1572860-0\n1002;Matti Virtanen;1572860-0\n"
                                           "1003;Liisa Laine;1572860-0\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 1
    owners = [n for n, c in customers(db).items() if c["business_id"] == "1572860-0"]
    assert len(owners) == 1


def test_number_of_another_customer_is_a_conflict_whatever_the_match_order(tmp_path, seeded):
    db = seeded
    rules = tmp_path / "rules.toml"
    rules.write_text('[rules]\nmatch_order = ["business_id", "name"]\n')
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1001;Brand New Ltd\n")
    report = tmp_path / "r.csv"
    result = run_cli("import", source, "--db", db, "--yes", "--rules", rules,
                     "--report", report)
    assert result.exit_code == 1
    row = report_rows(report)[0]
    assert row["status"] == "Conflict" and "1001" in row["message"]


def test_custom_fields_named_like_sql_keywords_work(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.order]\naliases = ["Tilaus"]\nnormaliser = "text"\n')
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "Nimi;Tilaus\nUusi;T-1\n")
    assert run_cli("import", source, "--db", db, "--yes", "--rules", rules).exit_code == 0
    assert [c["order"] for c in customers(db).values()] == ["T-1"]


def test_custom_fields_may_not_take_register_column_names(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.name_key]\naliases = ["Avain"]\n')
    source = write_csv(tmp_path / "s.csv", "Nimi\nUusi\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules)
    assert result.exit_code == 2 and "name_key" in result.stderr


def test_unwritable_plan_or_report_path_is_exit_2(tmp_path):
    source = write_csv(tmp_path / "s.csv", "Nimi\nUusi\n")
    for option in ("--plan", "--report"):
        result = run_cli("preview", source, "--db", tmp_path / "r.db", option,
                         tmp_path / "missing" / "x")
        assert result.exit_code == 2, option
        assert "cannot write" in result.stderr or "does not exist" in result.stderr


def test_a_refused_commit_creates_no_register(tmp_path, seeded):
    db = seeded
    plan = tmp_path / "p.plan"
    source = write_csv(tmp_path / "s.csv", "customer_number;city\n1001;Espoo\n")
    run_cli("preview", source, "--db", db, "--plan", plan)
    typo = tmp_path / "typo.db"
    assert run_cli("commit", plan, "--db", typo).exit_code == 3
    assert not typo.exists()


def test_harmless_concurrent_changes_do_not_make_a_plan_stale(tmp_path, seeded):
    db = seeded
    plan = tmp_path / "p.plan"
    # 1003 takes 1001's name (the plan matched 1001 by number, not by name), and 1002,
    # which the plan does not name, changes. (A customer the plan found unchanged that
    # changes since does make it stale: test_register_safety.)
    source = write_csv(tmp_path / "s.csv", "customer_number;name;postal_code\n"
                                           "1001;Kahvila Aurinko Oy;00200\n")
    run_cli("preview", source, "--db", db, "--plan", plan)
    meanwhile = write_csv(tmp_path / "m.csv", "customer_number;name;postal_code\n"
                                              "1003;Kahvila Aurinko Oy;20100\n"
                                              "1002;Matti Virtanen;33200\n")
    assert run_cli("import", meanwhile, "--db", db, "--yes").exit_code == 0
    assert run_cli("commit", plan, "--db", db).exit_code == 0
    assert customers(db)["1001"]["postal_code"] == "00200"


def test_group_names_fold_the_same_way_when_compared_and_stored(tmp_path, seeded):
    db = seeded
    source = write_csv(tmp_path / "s.csv", "customer_number;customer_group\n1001;STRASSE\n"
                                           "1002;straße\n")
    report = tmp_path / "r.csv"
    run_cli("import", source, "--db", db, "--yes", "--report", report)
    again = tmp_path / "again.csv"
    run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--report", again)
    assert [r["status"] for r in report_rows(again)] == ["No change", "No change"]
    assert customers(db)["1002"]["customer_group"] == "Straße"


@pytest.mark.parametrize("group", ["\ua7cb Ryhmä", "ΟΔΟΣ"])
def test_a_group_whose_letters_polars_and_python_lowercase_differently_keeps_its_customers(
        tmp_path, seeded, group):
    # U+A7CB is newer than Python's Unicode tables: polars lowercased it, the register's
    # key (Python's lower) did not, and the customer silently got no group. Final sigma:
    # casefold and lower differ, and `export --group` refused an existing group.
    db = seeded
    source = write_csv(tmp_path / "s.csv", f"customer_number;customer_group\n1001;{group}\n")
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    assert customers(db)["1001"]["customer_group"] == group
    again = tmp_path / "again.csv"
    run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--report", again)
    assert [r["status"] for r in report_rows(again)] == ["No change"]
    out = tmp_path / "out.csv"
    exported = run_cli("export", out, "--db", db, "--group", group.lower())
    assert exported.exit_code == 0, exported.stderr
    assert "1001" in out.read_text(encoding="utf-8")


def test_unknown_number_conflict_names_every_customer_involved(tmp_path, seeded):
    db = seeded
    report = tmp_path / "r.csv"
    source = write_csv(tmp_path / "s.csv", "customer_number;name;business_id\n"
                                           "9999;Matti Virtanen;0112038-9\n")
    run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--report", report)
    message = report_rows(report)[0]["message"]
    assert "1001" in message and "1002" in message

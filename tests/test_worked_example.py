"""The worked example of spec section 8, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

from sync.writers.register import open_register
from tests.conftest import FIXTURES, customers, register_state, report_rows, run_cli

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"

EXPECTED = {
    2: ("No change", "1001", "customer_number"),
    3: ("Conflict", "1001", "customer_number"),
    4: ("Modified", "1004", "business_id"),
    5: ("Conflict", "", "name"),
    6: ("New", "2001", ""),
    7: ("Conflict", "", ""),
    8: ("Rejected", "", ""),
}


def _seeded(url: str) -> str:
    assert run_cli("import", REGISTER, "--db", url, "--yes").exit_code == 0
    return url


def test_preview_gives_every_row_its_status_and_writes_nothing(tmp_path: Path,
                                                               register_url: str) -> None:
    db = _seeded(register_url)
    before = register_state(db)
    report = tmp_path / "report.csv"
    result = run_cli("preview", SOURCE, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report, "--json")
    assert result.exit_code == 1
    payload = result.json()
    assert {k: payload[k] for k in ("new", "modified", "unchanged", "conflict", "rejected")} == {
        "new": 1, "modified": 1, "unchanged": 1, "conflict": 3, "rejected": 1}
    assert payload["source"]["encoding"] in ("cp1252", "iso8859-15")
    assert payload["source"]["delimiter"] == ";"
    # Spec section 8: "group Pohjoinen created", "group Uudet created", said before commit.
    assert payload["groups_to_create"] == ["Pohjoinen", "Uudet"]
    human = run_cli("preview", SOURCE, "--db", db, "--plan", tmp_path / "p2.plan")
    assert "groups to create: Pohjoinen, Uudet" in human.stderr + human.stdout
    rows = {int(r["row"]): r for r in report_rows(report)}
    assert {n: r["status"] for n, r in rows.items()} == {n: e[0] for n, e in EXPECTED.items()}
    assert rows[2]["customer_number"] == "1001" and rows[2]["matched_by"] == "customer_number"
    # Only repaired damage, which the register confirms (112038-9 is 0112038-9): silent.
    assert rows[2]["message"] == ""
    assert rows[4]["customer_number"] == "1004" and rows[4]["matched_by"] == "business_id"
    assert rows[4]["changed_fields"] == "customer_group"
    assert rows[6]["customer_number"] == "2001"
    assert "same customer as row 2" in rows[3]["message"]
    assert "1002" in rows[5]["message"] and "1003" in rows[5]["message"]
    assert "2002" in rows[7]["message"] and "1004" in rows[7]["message"]
    assert "business_id" in rows[8]["message"]
    assert register_state(db) == before


def test_commit_applies_exactly_the_plan(tmp_path: Path, register_url: str) -> None:
    db = _seeded(register_url)
    before = customers(db)
    plan = tmp_path / "p.plan"
    assert run_cli("preview", SOURCE, "--db", db, "--plan", plan).exit_code == 1
    result = run_cli("commit", plan, "--db", db, "--json", "--actor", "tester")
    assert result.exit_code == 1
    batch = result.json()["batch"]
    after = customers(db)
    assert set(after) - set(before) == {"2001"}
    assert after["2001"]["name"] == "Liisa Laine"
    assert after["2001"]["postal_code"] == "00250"
    assert after["2001"]["customer_group"] == "Uudet"
    assert after["1004"]["customer_group"] == "Pohjoinen"
    for number, row in before.items():
        changed = {k for k in row if row[k] != after[number][k]}
        expected = {"customer_group", "group_id", "updated_batch"} if number == "1004" else set()
        assert changed == expected, number
    register = open_register(db, create=False)
    groups = {r[0] for r in register._rows(
        f"SELECT name FROM {register._t('groups')} WHERE created_batch = ?", (batch,))}
    history = register.history(batch=batch).select(
        "customer_number", "action", "field", "old_value", "new_value", "actor").rows()
    register.close()
    assert groups == {"Pohjoinen", "Uudet"}
    assert len(history) == 2
    assert history[0][:2] == ("2001", "insert")
    assert history[1] == ("1004", "update", "customer_group", "Oulu", "Pohjoinen", "tester")


def test_import_again_after_commit_applies_nothing_new(tmp_path: Path,
                                                       register_url: str) -> None:
    db = _seeded(register_url)
    assert run_cli("import", SOURCE, "--db", db, "--yes").exit_code == 1
    again = run_cli("preview", SOURCE, "--db", db, "--plan", tmp_path / "again.plan", "--json")
    counts = again.json()
    assert counts["new"] == 0 and counts["modified"] == 0
    # Row 6 (2001) is now an existing customer with the same values.
    assert counts["unchanged"] == 3

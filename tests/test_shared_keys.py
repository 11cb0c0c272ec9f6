"""A name or business id that many customers share: every row carrying it is a Conflict
(spec section 4), and its message names the first ten customers and counts the rest.

QA (adversarial scaling): a placeholder name such as "Käteisasiakas" on 10,000 customers
and 10,000 rows put every customer's number into every row's message: 8 GiB and a 1 GB
report for a 10,000-row file. A register where a million customers share one legacy
business id took 7.5 GiB for 100 rows.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import execute_sql, report_rows, run_cli, seed_register, write_csv

SHARERS = 25
NAMED_AT_MOST = 10  # sync.matchers.keys.NAMED_AT_MOST, as a user reads it
FIRST_TEN = ", ".join(str(2001 + i) for i in range(NAMED_AT_MOST))


def _register(url: str, tmp_path: Path, name: str) -> str:
    """SHARERS customers 2001.. named `name`, then legacy data: all of them and customer
    3001 share business id 2617416-4 (an import never makes that)."""
    lines = ["customer_number;customer_type;name;business_id"]
    lines += [f"{2000 + i};person;{name};" for i in range(1, SHARERS + 1)]
    lines.append("3001;company;Kivi Oy;2617416-4")
    seed_register(url, "\n".join(lines) + "\n", tmp_path)
    execute_sql(url, "UPDATE {customers} SET business_id = '2617416-4'")
    return url


def _preview(url: str, tmp_path: Path, text: str) -> list[dict[str, str]]:
    source = write_csv(tmp_path / "source.csv", text)
    report = tmp_path / "report.csv"
    run = run_cli("preview", source, "--db", url, "--report", report,
                  "--plan", tmp_path / "p.plan")
    assert run.exit_code == 1, run.stderr
    return report_rows(report)


def test_a_name_many_customers_share_names_ten_and_counts_the_rest(register_url, tmp_path):
    url = _register(register_url, tmp_path, "Käteisasiakas")
    rows = _preview(url, tmp_path, "customer_number;name\n;Käteisasiakas\n"
                                   "9999;Käteisasiakas\n")
    assert [(r["status"], r["message"]) for r in rows] == [
        ("Conflict", f"name 'Käteisasiakas' matches customers {FIRST_TEN}, and 15 more"),
        ("Conflict", "number 9999 is unknown, but name 'Käteisasiakas' matches customers "
                     f"{FIRST_TEN}, and 15 more")]


def test_a_business_id_many_customers_share_names_ten_and_counts_the_rest(register_url,
                                                                          tmp_path):
    url = _register(register_url, tmp_path, "Käteisasiakas")
    rows = _preview(url, tmp_path, "customer_number;name;business_id\n;;2617416-4\n"
                                   "9999;Uusi Oy;2617416-4\n")
    assert [(r["status"], r["message"]) for r in rows] == [
        ("Conflict", f"business_id 2617416-4 matches customers {FIRST_TEN}, and 16 more"),
        ("Conflict", "number 9999 is unknown, but business_id 2617416-4 belongs to "
                     f"customers {FIRST_TEN}, and 16 more")]


def test_a_customer_whose_shared_business_id_is_not_among_the_named_is_not_said_to_lack_it(
        register_url, tmp_path):
    # Customer 2020 has the id too, but is not among the ten named: the message must not
    # say the id is "not customer 2020's".
    url = _register(register_url, tmp_path, "Käteisasiakas")
    rows = _preview(url, tmp_path, "customer_number;name;business_id\n"
                                   "2020;Käteisasiakas;2617416-4\n")
    assert [(r["status"], r["message"]) for r in rows] == [
        ("Conflict", f"business_id 2617416-4 belongs to customers {FIRST_TEN}, and 16 more")]


def test_a_name_with_lost_letters_fitting_many_customers_names_ten(register_url, tmp_path):
    url = _register(register_url, tmp_path, "Dvořák Anna")
    rows = _preview(url, tmp_path, "customer_number;name\n;Dvo?ák Anna\n")
    shown = ", ".join(f"{2001 + i} 'Dvořák Anna'" for i in range(NAMED_AT_MOST))
    assert [(r["status"], r["message"]) for r in rows] == [
        ("Conflict", "name 'Dvo?ák Anna' has characters its file's encoding lost as '?'; "
                     f"it may be customers {shown}, and 15 more")]


def test_messages_stay_short_however_many_rows_carry_a_shared_name(db, tmp_path):
    url = _register(str(db), tmp_path, "Käteisasiakas")
    rows = _preview(url, tmp_path, "name;city\n" + "Käteisasiakas;Espoo\n" * 2000)
    assert len(rows) == 2000
    assert {r["status"] for r in rows} == {"Conflict"}
    assert max(len(r["message"]) for r in rows) < 120


def test_the_terminal_names_twenty_groups_to_create_and_json_lists_all(db, tmp_path):
    source = write_csv(tmp_path / "groups.csv", "name;customer_group\n" + "".join(
        f"Asiakas {i};Ryhmä {i:02d}\n" for i in range(30)))
    shown = ", ".join(f"Ryhmä {i:02d}" for i in range(20))
    human = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan")
    assert human.exit_code == 0, human.stderr
    assert f"groups to create: {shown}, and 10 more\n" in human.stderr + human.stdout
    as_json = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--json")
    assert as_json.json()["groups_to_create"] == [f"Ryhmä {i:02d}" for i in range(30)]
    done = run_cli("import", source, "--db", db, "--yes")
    assert done.exit_code == 0, done.stderr
    assert f"groups created: {shown}, and 10 more\n" in done.stderr + done.stdout


def test_the_ten_named_are_the_lowest_numbered(db, tmp_path):
    # Sorted as text, customers 1..25 would be named "1, 10, 11, ..., 17, 18".
    seed_register(db, "customer_number;name\n" + "".join(
        f"{n};Käteisasiakas\n" for n in range(1, 26)), tmp_path)
    rows = _preview(str(db), tmp_path, "name\nKäteisasiakas\n")
    assert rows[0]["message"] == ("name 'Käteisasiakas' matches customers "
                                  "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, and 15 more")

"""The command line as users and scripts run it: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sync.cli
from sync.rules import load_rules
from sync.writers.register import open_register
from tests.conftest import (
    FIXTURES,
    ROOT,
    customers,
    load_register,
    register_state,
    run_cli,
    run_python,
    write_csv,
)

SEED = ("customer_number;name;postal_code\n"
        "1001;Kahvila Aurinko Oy;00100\n1002;Matti Virtanen;33100\n")


def test_preview_against_a_missing_register_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "nothing-here.db"
    source = write_csv(tmp_path / "s.csv", "name\nUusi Asiakas\n")
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 0
    assert result.json()["new"] == 1
    assert not db.exists()


def test_import_requires_yes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "name\nUusi Asiakas\n")
    result = run_cli("import", source, "--db", db, "--json")
    assert result.exit_code == 2
    assert "--yes" in result.json()["error"]
    assert not db.exists()


def test_regsync_db_environment_variable_names_the_register(tmp_path: Path,
                                                             monkeypatch) -> None:
    db = tmp_path / "env.db"
    monkeypatch.setenv("REGSYNC_DB", str(db))
    source = write_csv(tmp_path / "s.csv", "name\nUusi Asiakas\n")
    assert run_cli("import", source, "--yes").exit_code == 0
    assert [c["name"] for c in customers(db).values()] == ["Uusi Asiakas"]


def test_stale_plan_is_refused_with_exit_3_and_nothing_written(tmp_path: Path,
        register_url: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    first = write_csv(tmp_path / "a.csv", "customer_number;postal_code\n1001;00200\n")
    plan = tmp_path / "a.plan"
    assert run_cli("preview", first, "--db", db, "--plan", plan).exit_code == 0
    other = write_csv(tmp_path / "b.csv", "customer_number;postal_code\n1001;00300\n")
    assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
    before = register_state(db)
    result = run_cli("commit", plan, "--db", db, "--json")
    assert result.exit_code == 3
    assert "preview again" in result.json()["error"]
    assert result.json()["exit_code"] == 3
    assert register_state(db) == before
    assert customers(db)["1001"]["postal_code"] == "00300"


def test_plan_survives_unrelated_commits(tmp_path: Path,
        register_url: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    first = write_csv(tmp_path / "a.csv", "customer_number;postal_code\n1001;00200\n")
    plan = tmp_path / "a.plan"
    assert run_cli("preview", first, "--db", db, "--plan", plan).exit_code == 0
    other = write_csv(tmp_path / "b.csv", "customer_number;postal_code\n1002;33200\n")
    assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
    assert run_cli("commit", plan, "--db", db).exit_code == 0
    assert customers(db)["1001"]["postal_code"] == "00200"


def test_plan_relying_on_a_key_added_since_is_stale(tmp_path: Path,
        register_url: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    plan = tmp_path / "a.plan"
    source = write_csv(tmp_path / "a.csv", "name;business_id\nUusi Oy;1572860-0\n")
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    meanwhile = write_csv(tmp_path / "b.csv", "name;business_id\nToinen Oy;1572860-0\n")
    assert run_cli("import", meanwhile, "--db", db, "--yes").exit_code == 0
    assert run_cli("commit", plan, "--db", db).exit_code == 3


@pytest.mark.parametrize(("planned", "meanwhile"), [
    # The New row's business id, given meanwhile to a customer of another number.
    ("name;business_id\nUusi Oy;1572860-0\n",
     "customer_number;name;business_id\n7000;Toinen Oy;1572860-0\n"),
    # The name-only New row's name, given meanwhile to a customer of another number:
    # the row would now match that customer by name (spec section 4).
    ("name\nUusi Oy\n", "customer_number;name\n7000;Uusi  OY\n"),
])
def test_plan_relying_on_a_key_another_number_took_since_is_stale(
        tmp_path: Path, register_url: str, planned: str, meanwhile: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    plan = tmp_path / "a.plan"
    source = write_csv(tmp_path / "a.csv", planned)
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    other = write_csv(tmp_path / "b.csv", meanwhile)
    assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
    before = register_state(db)
    assert run_cli("commit", plan, "--db", db).exit_code == 3
    assert register_state(db) == before


def test_committing_the_same_plan_twice_is_refused(tmp_path: Path,
        register_url: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    source = write_csv(tmp_path / "a.csv", "customer_number;postal_code\n1001;00200\n")
    plan = tmp_path / "a.plan"
    assert run_cli("preview", source, "--db", db, "--plan", plan).exit_code == 0
    assert run_cli("commit", plan, "--db", db).exit_code == 0
    before = register_state(db)
    again = run_cli("commit", plan, "--db", db)
    assert again.exit_code == 3
    assert "already committed" in again.stderr
    assert register_state(db) == before


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ""),
    (b"foo;bar;baz\n1;2;3\n", "no customer number, business id or name column"),
])
def test_unreadable_sources_exit_2_with_one_line_and_nothing_written(tmp_path: Path,
                                                                     content, words) -> None:
    db = tmp_path / "r.db"
    source = tmp_path / "bad.csv"
    source.write_bytes(content)
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 2
    error = result.json()["error"]
    assert str(source) in error and words in error
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not db.exists()


def test_missing_source_file_is_exit_2(tmp_path: Path) -> None:
    result = run_cli("preview", tmp_path / "nope.csv", "--db", tmp_path / "r.db")
    assert result.exit_code == 2
    assert "nope.csv" in result.stderr


def test_header_only_file_is_zero_rows_exit_0_no_batch(tmp_path: Path,
        register_url: str) -> None:
    db = register_url
    load_register(db, SEED, tmp_path)
    source = write_csv(tmp_path / "h.csv", "customer_number;name\n")
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 0
    assert result.json()["batch"] is None
    register = open_register(db, create=False)
    assert register.batches().height == 1
    register.close()


def test_two_headers_for_one_field_is_an_error(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "d.csv", "Nimi;Name\nA;B\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db")
    assert result.exit_code == 2
    assert "'Nimi'" in result.stderr and "'Name'" in result.stderr


def test_broken_rule_file_is_refused_with_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[rules]\ndefault_country = FI\nfuzzy_threshold = 80\n")
    source = write_csv(tmp_path / "s.csv", "name\nA\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules)
    assert result.exit_code == 2
    assert "rules.toml" in result.stderr and "line 2" in result.stderr


@pytest.mark.parametrize(("text", "words"), [
    ('[fields.name]\nnormaliser = "nonsense"\n', "unknown normaliser 'nonsense'"),
    ('[fields.phone]\nsevirity = {}\n', "unknown key fields.phone.sevirity"),
    ('[fields.loyalty_id]\naliases = ["Nimi"]\n', "claimed by both"),
    ('[rules]\nmatch_order = ["email"]\n', "match_order"),
    # Shaped like a code, but no country: every phone would be "not valid for XX".
    ('[rules]\ndefault_country = "XX"\n', "default_country must be the ISO alpha-2 code"),
    ('[rules]\ndefault_country = "EU"\n', "default_country must be the ISO alpha-2 code"),
    ('[fields.customer_type]\noptions = { values = { company = [1, 2] } }\n',
     "options.values must map company and person to lists of words"),
    ('[fields.customer_type]\noptions = { values = { firm = ["Oy"] } }\n',
     "options.values must map company and person"),
    # The same word for both types failed preview with exit 70, and only for a source
    # with that column; now at load time, for a custom field with that normaliser too.
    ('[fields.customer_type.options.values]\ncompany = ["Firma"]\nperson = ["firma"]\n',
     "fields.customer_type.options.values: customer type alias 'firma' means both company "
     "and person"),
    ('[fields.kind]\nnormaliser = "customer_type"\n'
     '[fields.kind.options.values]\ncompany = ["Yritys"]\nperson = ["company"]\n',
     "fields.kind.options.values: customer type alias 'company' means both company and "
     "person"),
    # A code, option or legal form that changes nothing was accepted silently.
    ('[fields.email]\nseverity = { invalid_emial = "error" }\n',
     "fields.email.severity: unknown issue code 'invalid_emial' (the email normaliser "
     "raises invalid_email; every field may also name control_character, spreadsheet_error, "
     "too_long, utf8_read_as_single_byte as error)"),
    ('[fields.email]\nseverity = { invalid_phone = "error" }\n',
     "unknown issue code 'invalid_phone' (the email normaliser raises invalid_email;"),
    ('[fields.loyalty_id]\nnormaliser = "text"\nseverity = { invalid_phone = "error" }\n',
     "unknown issue code 'invalid_phone' (the text normaliser raises none;"),
    ('[fields.notes]\nseverity = { spreadsheet_error = "warn" }\n',
     "fields.notes.severity.spreadsheet_error: always an error"),
    ('[fields.phone.options]\ndefault_region = "SE"\n',
     "unknown key fields.phone.options.default_region (the phone normaliser reads no "
     "options)"),
    ('[fields.customer_type.options]\nvalue = { company = ["Firma"] }\n',
     "unknown key fields.customer_type.options.value (keys the customer_type normaliser "
     "reads: values)"),
    ('[rules]\nlegal_forms = ["", " "]\n', "rules.legal_forms: '' is no legal form"),
    ('[rules]\nlegal_forms = ["oy", " . "]\n', "rules.legal_forms: ' . ' is no legal form"),
    # A name PostgreSQL would cut: the message says why, not "must be lower-case".
    (f'[fields.{"a" * 64}]\nnormaliser = "text"\n', "at most 63 characters"),
    # PostgreSQL refuses these column names at commit (exit 70); SQLite takes them.
    *[(f'[fields.{name}]\nnormaliser = "text"\n', f"{name!r} is the name of a PostgreSQL "
       "system column") for name in ("xmin", "xmax", "cmin", "cmax", "ctid", "tableoid",
                                     "oid")],
    ('[fields.rowid]\nnormaliser = "text"\n', "'rowid' is SQLite's name for a table's row id"),
    # A word of only punctuation would stand for any such cell ("-" read as a person).
    ('[fields.customer_type]\noptions = { values = { person = ["Henkilö", "-"] } }\n',
     "customer type alias '-' has no letter or digit"),
])
def test_inconsistent_rule_files_are_refused(tmp_path: Path, text: str, words: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    source = write_csv(tmp_path / "s.csv", "name\nA\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules)
    assert result.exit_code == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(rules) in result.stderr


def test_a_custom_field_named_like_a_postgresql_system_column_is_refused_on_both_engines(
        tmp_path: Path, register_url: str) -> None:
    # It used to pass the rules check and preview, then fail PostgreSQL's commit with
    # exit 70 (DuplicateColumn); SQLite took it, so that register could never move.
    load_register(register_url, SEED, tmp_path)
    before = register_state(register_url)
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.xmin]\naliases = ["Xmin"]\nnormaliser = "text"\n')
    source = write_csv(tmp_path / "s.csv", "customer_number;name;Xmin\n1003;Aho Oy;x\n")
    result = run_cli("import", source, "--db", register_url, "--yes", "--rules", rules)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"regsync: error: {rules}: fields.xmin: 'xmin' is the name of a PostgreSQL system column, "
        "which no register column can take (on either engine, so the register can move "
        "to PostgreSQL); choose another name"]
    assert register_state(register_url) == before


@pytest.mark.parametrize("text", [
    # Codes other stages give any field may be named, as the errors they always are.
    '[fields.notes]\nseverity = { spreadsheet_error = "error", too_long = "error", '
    'utf8_read_as_single_byte = "error" }\n',
    # A built-in field given another normaliser keeps only the default severities and
    # options the new one has: nothing the user did not write is refused.
    '[fields.customer_number]\nnormaliser = "compact"\n',
    '[fields.customer_type]\nnormaliser = "text"\n',
    '[fields.phone]\nnormaliser = "key"\n',
])
def test_rule_files_naming_only_codes_and_keys_in_use_load(tmp_path: Path, text: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    source = write_csv(tmp_path / "s.csv", "name\nA\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules,
                     "--plan", tmp_path / "p.plan")
    assert result.exit_code == 0, result.stderr


def test_rules_loaded_from_one_file_are_shared_and_read_only(tmp_path: Path) -> None:
    # One Rules serves every command that loads the same file's contents (building them
    # cost 17 ms a command), so none may change it for the next; a change to the file
    # gives new rules.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.tier]\naliases = ["Taso"]\nnormaliser = "text"\n')
    first = load_rules(rules)
    assert load_rules(rules) is first and load_rules() is load_rules()
    with pytest.raises(TypeError):
        first.fields["name"] = first.fields["tier"]  # type: ignore[index]
    phone = first.fields["phone"]
    for mapping in (phone.severity, phone.options, phone.headers):
        with pytest.raises(TypeError):
            mapping["x"] = "error"  # type: ignore[index]
    rules.write_text('[fields.tier]\naliases = ["Taso", "Tier"]\nnormaliser = "text"\n')
    assert load_rules(rules).fields["tier"].aliases == ("tier", "Taso", "Tier")


def test_an_alias_of_punctuation_only_is_refused_saying_why(tmp_path: Path) -> None:
    # QA: alias "-" was "must be a list of non-empty strings", though it is not empty.
    from sync.errors import RulesError

    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.tier]\naliases = ["Taso", "-"]\nnormaliser = "text"\n')
    with pytest.raises(RulesError, match=r"aliases must be a list of strings, each with a "
                                         r"letter or digit \(headers are compared"):
        load_rules(rules)


def test_a_built_in_field_given_another_normaliser_keeps_the_severities_it_shares(
        tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.phone]\nnormaliser = "key"\n')
    loaded = load_rules(rules)
    assert dict(loaded.fields["phone"].severity) == {"scientific_notation": "error"}
    assert dict(load_rules().fields["phone"].severity) == {
        "scientific_notation": "error", "invalid_phone": "warn"}


@pytest.mark.parametrize("normaliser", ["phone", "key", "einvoice"])
def test_a_custom_field_rejects_lost_digits_as_the_built_in_fields_of_its_normaliser(
        tmp_path: Path, normaliser: str) -> None:
    # It took 3,58401E+11 with a warning, where the built-in phone column rejects it:
    # a custom field had no severities. It now reads lost information as the default
    # rules' fields of its normaliser do, unless its own table says otherwise.
    source = write_csv(tmp_path / "s.csv", "customer_number;name;Alt\n1;Aho Oy;3,58401E+11\n")
    rules = tmp_path / "rules.toml"
    rules.write_text(f'[fields.alt]\naliases = ["Alt"]\nnormaliser = "{normaliser}"\n')
    assert dict(load_rules(rules).fields["alt"].severity) == {"scientific_notation": "error"}
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules,
                     "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 1
    rules.write_text(f'[fields.alt]\naliases = ["Alt"]\nnormaliser = "{normaliser}"\n'
                     'severity = { scientific_notation = "warn" }\n')
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules,
                     "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 0 and result.json()["new"] == 1


def test_a_phone_severity_table_that_names_only_invalid_phone_still_rejects_lost_digits(
        tmp_path: Path) -> None:
    # A user's `severity` replaces the default table: scientific_notation fell to a
    # warning with it, and the digits were imported lost.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.phone]\nseverity = { invalid_phone = "error" }\n')
    assert dict(load_rules(rules).fields["phone"].severity) == {
        "scientific_notation": "error", "invalid_phone": "error"}
    source = write_csv(tmp_path / "s.csv", "customer_number;name;Puhelin\n1;Aho Oy;3,58401E+11\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules, "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 1


def test_a_custom_field_from_the_rules_grows_a_register_column(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.loyalty_id]\naliases = ["Kanta-asiakasnumero"]\n'
                     'normaliser = "compact"\n')
    db = tmp_path / "r.db"
    source = write_csv(tmp_path / "s.csv", "Nimi;Kanta-asiakasnumero\nUusi Asiakas;AB 12 34\n")
    assert run_cli("import", source, "--db", db, "--yes", "--rules", rules).exit_code == 0
    assert [c["loyalty_id"] for c in customers(db).values()] == ["AB1234"]


def test_unknown_headers_are_listed_as_ignored(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "Nimi;Kengännumero\nUusi;42\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--json")
    assert result.json()["source"]["ignored"] == ["Kengännumero"]
    assert result.json()["source"]["columns"] == {"Nimi": "name"}


def test_json_prints_exactly_one_object_and_humans_read_stderr(tmp_path: Path) -> None:
    source = FIXTURES / "demo" / "register.csv"
    result = run_cli("import", source, "--db", tmp_path / "r.db", "--yes", "--json")
    payload = json.loads(result.stdout)
    assert payload["batch"] == 1 and payload["new"] == 6
    assert "New" in result.stderr


def test_python_dash_m_sync_runs_the_same_command(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "name\nUusi Asiakas\n")
    env = {**os.environ, "REGSYNC_DB": str(tmp_path / "r.db")}
    done = subprocess.run([sys.executable, "-m", "sync", "preview", str(source), "--json",
                           "--plan", str(tmp_path / "p.plan")],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new"] == 1


def test_a_commit_in_doubt_is_exit_70_not_the_nothing_written_of_2_or_3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A connection lost while its COMMIT was confirmed (docs/postgresql.md): the batch
    # may stand, so the exit code must not be one that promises nothing was written.
    from sync.errors import CommitInDoubtError

    def lost(*_args: object, **_kwargs: object) -> None:
        raise CommitInDoubtError("the connection was lost during COMMIT: the batch may or "
                                 "may not have been written")

    monkeypatch.setattr(sync.cli, "commit", lost)
    source = write_csv(tmp_path / "a.csv", "customer_number;name\n1;Aho Oy\n")
    result = run_cli("import", source, "--db", tmp_path / "r.db", "--yes", "--json")
    assert result.exit_code == 70, result.stderr
    assert result.json()["exit_code"] == 70
    assert "may or may not have been written" in result.json()["error"]


def test_usage_error_under_json_is_still_one_json_object(tmp_path: Path) -> None:
    env = {**os.environ, "REGSYNC_DB": str(tmp_path / "r.db")}
    done = subprocess.run([sys.executable, "-m", "sync", "preview", "--json", "--no-such"],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert done.returncode == 2
    assert json.loads(done.stdout)["exit_code"] == 2


def test_a_folder_given_as_the_plan_is_exit_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli("commit", tmp_path, "--db", tmp_path / "r.db")
    assert result.exit_code == 2
    assert result.stderr == f"regsync: error: {tmp_path}: not a plan file: a folder\n"
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    result = run_cli("commit", pipe, "--db", tmp_path / "r.db")
    assert result.exit_code == 2
    assert result.stderr == (f"regsync: error: {pipe}: not a plan file: not a plain file "
                             "(a pipe or a device)\n")


def test_a_reader_leaving_during_a_large_output_is_warned_of() -> None:
    # QA: 30 MB of --json into `head -c 10` ended with no warning: the kernel took part
    # of the one large write, and Python dropped the rest without an error.
    reader = subprocess.Popen(
        [sys.executable, "-c", "from sync.cli_output import say\nsay('x' * 30_000_000)"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.read(10) == b"x" * 10
    reader.stdout.close()
    said = reader.stderr.read().decode()
    assert reader.wait() == 0
    assert "output stream closed by its reader (broken pipe)" in said


@pytest.mark.parametrize("as_json", [True, False])
def test_a_closed_output_pipe_does_not_turn_a_commit_into_an_error(tmp_path: Path,
                                                                    as_json: bool) -> None:
    # `regsync import ... --json | head -c 10`: the reader is gone before regsync prints.
    # The commit has landed, so the exit code must say so, not "internal error, nothing
    # was written".
    read_end, write_end = os.pipe()
    os.close(read_end)
    db = tmp_path / "r.db"
    command = [sys.executable, "-m", "sync", "import", str(FIXTURES / "demo" / "register.csv"),
               "--db", str(db), "--yes", *(["--json"] if as_json else [])]
    try:
        done = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert "broken pipe" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert len(customers(db)) == 6


@pytest.mark.parametrize("as_json", [True, False])
def test_a_command_started_with_stderr_closed_works_and_keeps_stdout_clean(
        tmp_path: Path, as_json: bool) -> None:
    # QA: `regsync import ... 2>&-` was exit 70 (the progress line asked None.isatty()),
    # and with --json the human lines went to stdout, before the JSON object.
    db = tmp_path / "r.db"
    command = [sys.executable, "-m", "sync", "import", str(FIXTURES / "demo" / "register.csv"),
               "--db", str(db), "--yes", *(["--json"] if as_json else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                          check=False, preexec_fn=lambda: os.close(2))  # noqa: PLW1509
    assert done.returncode == 0, done.stdout
    assert len(customers(db)) == 6
    if as_json:
        assert json.loads(done.stdout)["new"] == 6
    else:
        assert done.stdout.splitlines()[-1].startswith("committed batch 1: 6 inserted")


@pytest.mark.parametrize(("failure", "line"), [
    # polars' PanicException derives from BaseException, not Exception: it must still be
    # one line and the internal-error exit code, with --json the error object.
    (lambda: __import__("polars").exceptions.PanicException("out-of-range date\nsecond"),
     "internal error (PanicException: out-of-range date); nothing was written. Set "
     "REGSYNC_DEBUG=1 for details"),
    # QA (ulimit -v): "internal error (MemoryError: ); ... REGSYNC_DEBUG" read as a bug.
    (MemoryError, "out of memory: the machine, or a limit such as ulimit -v, gave this "
                  "command no more (a smaller file, or more memory, will do); nothing was "
                  "written"),
])
def test_a_library_panic_or_running_out_of_memory_is_one_line_exit_70(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure, line: str) -> None:
    import sync.cli

    def fails(*_args: object, **_kwargs: object) -> None:
        raise failure()

    monkeypatch.setattr(sync.cli, "open_register", fails)
    result = run_cli("export", tmp_path / "out.csv", "--db", tmp_path / "r.db", "--json")
    assert result.exit_code == 70
    assert result.stderr.splitlines() == [f"regsync: error: {line}"]
    assert json.loads(result.stdout)["exit_code"] == 70


def test_sqlite_urls_are_read_as_sqlalchemy_reads_them(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # As docs/import.md says: three slashes and a relative path, four for an absolute one.
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1;Aho Oy\n")
    absolute = tmp_path / "abs" / "register.db"
    absolute.parent.mkdir()
    assert str(absolute).startswith("/")
    result = run_cli("import", source, "--db", f"sqlite:///{absolute}", "--yes")
    assert result.exit_code == 0 and absolute.exists()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel").mkdir()
    result = run_cli("import", source, "--db", "sqlite:///rel/register.db", "--yes")
    assert result.exit_code == 0 and (tmp_path / "rel" / "register.db").exists()


def test_user_mistakes_that_were_internal_errors_are_usage_errors(tmp_path: Path) -> None:
    # Each of these ended in "internal error" (exit 70); they are the user's to fix.
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1;Aho Oy\n")
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    rules = tmp_path / "rules.toml"
    rules.write_bytes('[rules]\ndefault_country = "Suomi \xe4"\n'.encode("latin-1"))
    result = run_cli("preview", source, "--db", db, "--rules", rules)
    assert result.exit_code == 2 and "rules.toml: not UTF-8 text" in result.stderr
    result = run_cli("revert", "99999999999999999999999", "--db", db)
    assert result.exit_code == 2 and "BATCH" in result.stderr
    latin1_name = tmp_path / os.fsdecode(b"caf\xe9.csv")
    latin1_name.write_bytes(source.read_bytes())
    result = run_cli("preview", latin1_name, "--db", db)
    assert result.exit_code == 2 and "the file's name is not UTF-8 text" in result.stderr


def test_a_rule_file_restating_a_fields_aliases_keeps_its_severity(tmp_path: Path) -> None:
    # [fields.customer_type] with aliases only: the default normaliser and its error
    # severity stay, so an unknown type still rejects the row instead of being stored.
    rules = tmp_path / "rules.toml"
    rules.write_text('[fields.customer_type]\naliases = ["Tyyppi", "Laji"]\n'
                     'normaliser = "customer_type"\n', encoding="utf-8")
    source = write_csv(tmp_path / "s.csv", "customer_number;name;Laji\n1;Aho Oy;alien\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--rules", rules,
                     "--json")
    assert result.exit_code == 1 and result.json()["rejected"] == 1


def test_runs_of_columns_without_a_header_are_shown_as_ranges(tmp_path: Path) -> None:
    # A sheet with one value far to the right has thousands of them; --json keeps each.
    source = write_csv(tmp_path / "s.csv", "customer_number;;;;name;;Foo\n1;a;b;c;Aho;d;e\n")
    plan = tmp_path / "p.plan"
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", plan)
    assert ("ignored columns: (no header, columns 2-4), (no header, column 6), Foo"
            in result.stdout)
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan", plan, "--json")
    assert result.json()["source"]["ignored"] == [
        "(no header, column 2)", "(no header, column 3)", "(no header, column 4)",
        "(no header, column 6)", "Foo"]


def test_sigterm_during_an_import_rolls_it_back_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: SIGTERM (systemctl stop, a timeout) ended `import`/`commit` silently: status
    # 143, no line, no JSON object, where Ctrl-C gave both. Without regsync's handler,
    # this test's handler turns the signal into an error it can see.
    from sync.writers.register.sqlite import SQLiteRegister

    def not_handled(signum: int, frame: object) -> None:
        raise RuntimeError("SIGTERM reached the default handler")

    real_insert = SQLiteRegister._insert

    def insert_then_sigterm(self: SQLiteRegister, inserts: object, *args: object) -> None:
        real_insert(self, inserts, *args)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs here

    db = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    before = register_state(db)
    monkeypatch.setattr(SQLiteRegister, "_insert", insert_then_sigterm)
    previous = signal.signal(signal.SIGTERM, not_handled)
    try:
        result = run_cli("import", FIXTURES / "demo" / "asiakkaat.csv", "--db", db,
                         "--yes", "--json")
        assert signal.getsignal(signal.SIGTERM) is not_handled  # put back afterwards
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 143, result.stderr
    assert result.json() == {"error": "terminated (SIGTERM); nothing was written",
                             "exit_code": 143}
    assert register_state(db) == before


def test_debug_output_keeps_the_internal_error_exit_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: with REGSYNC_DEBUG=1 a bug exited 1, which a job reads as "rows not applied".
    import sync.cli

    def fails(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sync.cli, "open_register", fails)
    monkeypatch.setenv("REGSYNC_DEBUG", "1")
    result = run_cli("export", tmp_path / "out.csv", "--db", tmp_path / "r.db", "--json")
    assert result.exit_code == 70
    assert "Traceback" in result.stderr and "ZeroDivisionError: a bug" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 70


def test_ctrl_c_while_the_libraries_load_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # QA: Ctrl-C in the first ~0.3 s (polars loading) printed a KeyboardInterrupt
    # traceback.
    import builtins

    import sync.entry

    real_import = builtins.__import__

    def interrupted(name: str, *args: object, **kwargs: object) -> object:
        if name == "sync.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as stopped:
        sync.entry.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "regsync: error: interrupted; nothing was written\n"


@pytest.mark.parametrize(("sent", "code", "what"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")])
def test_a_stop_while_the_libraries_load_is_one_line_and_one_json_object(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        sent: int, code: int, what: str) -> None:
    # QA: SIGTERM in the first second ended the process with 143 and nothing said, no
    # JSON object (a job's run: nothing logged either); Ctrl-C gave its line, no JSON.
    import builtins
    import json
    import os
    import sys

    import sync.entry

    real_import = builtins.__import__

    def stopped_loading(name: str, *args: object, **kwargs: object) -> object:
        if name == "sync.cli":
            os.kill(os.getpid(), sent)  # the handler raises at the next bytecode
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", stopped_loading)
    monkeypatch.setattr(sys, "argv", ["regsync", "import", "x.csv", "--yes", "--json"])
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as stopped:
            sync.entry.main()
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert stopped.value.code == code
    out = capsys.readouterr()
    assert out.err == f"regsync: error: {what}; nothing was written\n"
    assert json.loads(out.out) == {"error": f"{what}; nothing was written", "exit_code": code}


@pytest.mark.parametrize(("sent", "code", "what"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")])
def test_a_stop_after_the_commit_while_printing_names_the_batch_that_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: int, code: int,
        what: str) -> None:
    # The batch had landed and the summary was being printed: the line said "nothing
    # was written" (left alone in session 16, for `run`; `import` and `commit` too).
    import sync.cli
    import sync.cli_admin

    def stopped(*_args: object) -> None:
        os.kill(os.getpid(), sent)
        time.sleep(1)  # the handler runs here

    db = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    monkeypatch.setattr(sync.cli, "_emit", stopped)
    result = run_cli("import", FIXTURES / "demo" / "asiakkaat.csv", "--db", db, "--yes",
                     "--json")
    assert result.exit_code == code, result.stderr
    assert result.json()["error"] == (f"{what} after batch 2 was committed: it stands "
                                      "(regsync batch show 2)")
    assert len(json.loads(run_cli("batches", "--db", db, "--json").stdout)["batches"]) == 2
    result = run_cli("export", tmp_path / "out.csv", "--db", db, "--json")
    assert result.exit_code == code, result.stderr
    assert result.json()["error"] == f"{what} after {tmp_path / 'out.csv'} was written"
    assert (tmp_path / "out.csv").exists()
    monkeypatch.setattr(sync.cli_admin, "emit", stopped)
    result = run_cli("revert", "2", "--db", db, "--json")
    assert result.exit_code == code, result.stderr
    assert result.json()["error"] == f"{what} after batch 2 was reverted by batch 3: it stands"


@pytest.mark.parametrize(("sent", "code", "what"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")])
def test_a_stop_just_as_the_commit_lands_names_the_batch_that_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: int, code: int,
        what: str) -> None:
    # Review: a signal during COMMIT is raised at the next bytecode, after the batch has
    # landed; the line said "nothing was written".
    from sync.writers.register.sql_commit import SQLCommits

    real_apply = SQLCommits.apply

    def apply_then_stop(self: SQLCommits, *args: object, **kwargs: object) -> object:
        landed = real_apply(self, *args, **kwargs)
        os.kill(os.getpid(), sent)
        time.sleep(1)  # the handler runs here
        return landed

    db = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    monkeypatch.setattr(SQLCommits, "apply", apply_then_stop)
    result = run_cli("import", FIXTURES / "demo" / "asiakkaat.csv", "--db", db, "--yes",
                     "--json")
    assert result.exit_code == code, result.stderr
    assert result.json()["error"] == (f"{what} just as the commit went through: batch 2 "
                                      "stands (regsync batch show 2)")
    assert [b["id"] for b in json.loads(run_cli("batches", "--db", db, "--json").stdout)[
        "batches"]] == [1, 2]


@pytest.mark.parametrize(("actor", "why"), [
    ("", "is empty: name who commits"), ("  ", "is empty: name who commits"),
    ("evil\n    9  fake line", "'evil\\n    9  fake line' holds a control character"),
    ("a\u202eb", "'a\\u202eb' holds a control character")])
def test_an_actor_that_is_blank_or_spans_lines_is_refused(
        tmp_path: Path, actor: str, why: str) -> None:
    # QA: a blank actor recorded no one, and one with a line break forged a line in
    # `regsync batches` and every `history` line.
    db = tmp_path / "r.db"
    for command in (("import", FIXTURES / "demo" / "register.csv", "--yes"), ("revert", "1")):
        result = run_cli(*command, "--db", db, "--actor", actor, "--json")
        assert result.exit_code == 2
        assert f"Invalid value for --actor: {why}" in result.stderr
    assert not db.exists()
    result = run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db, "--yes",
                     "--actor", " maija ", "--json")
    assert result.exit_code == 0
    assert run_cli("batches", "--db", db, "--json").json()["batches"][0]["actor"] == "maija"


@pytest.mark.parametrize("stopped", [False, True])
def test_a_report_that_cannot_be_put_in_place_after_the_commit_says_the_batch_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stopped: bool) -> None:
    # Review: once the batch landed, a report that could not be renamed into place said
    # only "cannot write the report" (exit 2, read as "nothing was written"), or, after a
    # stop, took the place of the stop's line naming the batch (exit 70).
    from sync.writers.register.sql_commit import SQLCommits

    db, report = tmp_path / "r.db", tmp_path / "report.csv"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0

    def refused(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sync.cli, "replace_with", refused)
    if stopped:
        real_apply = SQLCommits.apply

        def apply_then_stop(self: SQLCommits, *args: object, **kwargs: object) -> object:
            landed = real_apply(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here
            return landed

        monkeypatch.setattr(SQLCommits, "apply", apply_then_stop)
    result = run_cli("import", FIXTURES / "demo" / "asiakkaat.csv", "--db", db, "--yes",
                     "--report", report, "--json")
    if stopped:
        assert result.exit_code == 143, result.stderr
        assert result.json()["error"] == ("terminated (SIGTERM) just as the commit went "
                                          "through: batch 2 stands (regsync batch show 2)")
    else:
        assert result.exit_code == 2, result.stderr
        assert result.json()["error"] == (
            f"{report}: cannot write the report: Permission denied after batch 2 was "
            "committed: it stands (regsync batch show 2)")
    assert [b["id"] for b in json.loads(run_cli("batches", "--db", db, "--json").stdout)[
        "batches"]] == [1, 2]
    assert not report.exists()


def test_an_error_line_shows_the_characters_that_dont_show_escaped(tmp_path) -> None:
    # QA: a customer number holding a CR, quoted in an error line, overwrote the line on
    # a terminal. The JSON keeps the message as it is (JSON escapes it itself).
    db = tmp_path / "r.db"
    load_register(db, "customer_number;name\n1001;Aho Oy\n", tmp_path)
    result = run_cli("history", "10\r01\x1b[31m", "--db", db, "--json")
    assert result.exit_code == 2
    assert result.stderr == "regsync: error: there is no customer 10\\r01\\x1b[31m\n"
    assert result.json()["error"] == "there is no customer 10\r01\x1b[31m"


@pytest.mark.parametrize(("args", "says"), [
    (["batches", "--schema", "crm", "--json"],
     "--schema goes before the command's name: regsync --schema NAME batches ..."),
    (["--db", "r.db", "batches"], "--db goes after the command's name: regsync COMMAND "
                                  "--db ... (run takes none: a job names its register in "
                                  "its job file)"),
    (["run", "job.toml", "--schema", "crm"],
     "--schema does not reach a job: a job names its register in its job file"),
])
def test_an_option_on_the_wrong_side_of_the_command_says_where_it_goes(
        args: list[str], says: str) -> None:
    # QA: `import x.csv --schema crm` answered "No such option '--schema'. Did you mean
    # '--sheet'?", which points the wrong way.
    done = subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"regsync: error: {says}"]


def _stopped_as_it_exits(signum: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`regsync ARGS --json` as the command line runs it, sent `signum` just as it
    exits, after all it printed. SIGINT is reset: a suite started in the background
    inherits it ignored."""
    return run_python(
        "import os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "real_exit = sys.exit\n"
        "def exit_after_a_stop(code=0):\n"
        f"    os.kill(os.getpid(), {int(signum)})\n"
        "    real_exit(code)\n"
        "sys.exit = exit_after_a_stop\n"
        f"sys.argv = ['regsync', *{args!r}, '--json']\n"
        "from sync.entry import main\n"
        "main()\n")


@pytest.mark.parametrize("args", [["batches", "--db", "/nowhere/r.db"],
                                  ["batches", "--db", "/nowhere/r.db", "--no-such-option"]])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_after_an_error_line_leaves_the_exit_code_the_line_gave(
        signum: int, args: list[str]) -> None:
    # Mutation QA: after an error line (exit 2), a SIGTERM or Ctrl-C while the process
    # ended made it 143, or 130 with a traceback. The line is the last word, as after a
    # command that succeeded (below).
    done = _stopped_as_it_exits(signum, args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_after_the_last_line_leaves_the_exit_code_the_line_gave(
        tmp_path: Path, signum: int) -> None:
    # QA: a Ctrl-C that came after `run`'s last line ("...; exit 1") ended the process
    # by the signal (130), against what the line said. Sent here just as the command
    # exits, after all it printed.
    db = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db,
                   "--yes").exit_code == 0
    done = _stopped_as_it_exits(signum, ["batches", "--db", str(db)])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["batches"][0]["id"] == 1

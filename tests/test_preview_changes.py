"""What the preview shows before anything is saved: each Modified row's old -> new
values, on the terminal (shortened) and in the report's `changes` column (in full)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sync.writers.report
from sync.changes import _quote_series, quote, quote_tokens, shorten_pair, show_unseen, shown
from sync.cli import _SHOWN_ROWS
from sync.plan import Plan
from tests.conftest import FIXTURES, ROOT, run_cli, seed_register, write_csv

SPEC_COLUMNS = ["row", "status", "customer_number", "matched_by", "changed_fields",
                "message", "possible_duplicate", "similarity"]
SEED = ("customer_number;name;phone;customer_group;notes\n"
        "1006;Anna Dvořák;+358401234567;Helsinki;line one\n"
        "1007;Bo Berg;;;\n")
# Row 2: the name garbled by an encoding, a group move, a line added to the notes.
# Row 3: a new name and a phone that is no valid number (a warning: still Modified).
SOURCE = ("customer_number;name;phone;customer_group;notes\n"
          '1006;Anna DvoĹ™Ăˇk;;Espoo;"line one\nline two"\n'
          "1007;Bo Bergström;12;;\n")
LEAD = " " * len("  row      2  Modified   1006          ")


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def previewed(tmp_path: Path):
    db = tmp_path / "r.db"
    seed_register(db, SEED, tmp_path)
    source = write_csv(tmp_path / "s.csv", SOURCE)
    report = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report)
    assert result.exit_code == 0, result.stderr
    return result, report


def test_the_terminal_shows_each_change_old_to_new(previewed) -> None:
    result, _ = previewed
    lines = result.stdout.splitlines()
    at = lines.index("  row      2  Modified   1006          "
                     "name: 'Anna Dvořák' -> 'Anna DvoĹ™Ăˇk'")
    assert lines[at + 1:at + 3] == [
        LEAD + "customer_group: 'Helsinki' -> 'Espoo'",
        # The line break shows as \n: the row stays on its lines.
        LEAD + r"notes: 'line one' -> 'line one\nline two'",
    ]
    assert lines[at + 3].startswith("  row      3  ")


def test_a_row_with_a_warning_shows_its_changes_and_the_warning(previewed) -> None:
    result, report = previewed
    row = _report(report)[1]
    assert (row["status"], row["changed_fields"]) == ("Modified", "name|phone")
    lines = result.stdout.splitlines()
    at = lines.index("  row      3  Modified   1007          "
                     "name: 'Bo Berg' -> 'Bo Bergström'")
    assert lines[at + 1:at + 3] == [
        LEAD + "phone: '' -> '12'",
        LEAD + f"note: {row['message']}",
    ]
    assert "phone" in row["message"]


def test_the_report_adds_changes_after_the_spec_columns(previewed) -> None:
    _, report = previewed
    assert report.read_text(encoding="utf-8").splitlines()[0].split(",") == [
        *SPEC_COLUMNS, "changes"]
    rows = _report(report)
    assert [r["changes"] for r in rows] == [
        "name: 'Anna Dvořák' -> 'Anna DvoĹ™Ăˇk' | customer_group: 'Helsinki' -> 'Espoo' | "
        r"notes: 'line one' -> 'line one\nline two'",
        "name: 'Bo Berg' -> 'Bo Bergström' | phone: '' -> '12'",
    ]


def test_the_report_holds_full_values_and_its_quoting_survives_csv(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    seed_register(db, "customer_number;name;notes\n1;Aho Oy;short\n2;Berg AB;x\n", tmp_path)
    long = "Toimitus takaovelle, " * 6 + "soita ensin"
    tricky = 'O\'Brien said "hi", | then -> left'
    cell = '"' + tricky.replace('"', '""') + '"'
    source = write_csv(tmp_path / "s.csv", f"customer_number;notes\n1;{long}\n2;{cell}\n")
    report = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report)
    assert result.exit_code == 0, result.stderr
    assert [r["changes"] for r in _report(report)] == [
        f"notes: 'short' -> '{long}'",
        f"notes: 'x' -> {tricky!r}",
    ]
    # The terminal shortens the long value: its line stays readable.
    shown = next(line for line in result.stdout.splitlines() if "row      2" in line)
    assert shown.endswith("notes: 'short' -> 'Toimitus takaovelle, Toimitus …'")


def test_the_terminal_still_shows_at_most_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    n = _SHOWN_ROWS + 5
    seed_register(db, "customer_number;name;city\n" + "".join(
        f"{i};Asiakas {i};Turku\n" for i in range(n)), tmp_path)
    source = write_csv(tmp_path / "s.csv", "customer_number;name;city\n" + "".join(
        f"{i};Asiakas {i} Oy;Tampere\n" for i in range(n)))
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan")
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("  row ")]) == _SHOWN_ROWS
    assert len([line for line in lines if line == LEAD + "city: 'Turku' -> 'Tampere'"]) \
        == _SHOWN_ROWS
    assert "  ... 5 more rows in the report (--report)" in lines


def test_import_shows_the_changes_and_commit_its_summary(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    seed_register(db, SEED, tmp_path)
    source = write_csv(tmp_path / "s.csv", SOURCE)
    plan = tmp_path / "p.plan"
    before = run_cli("preview", source, "--db", db, "--plan", plan, "--json")
    result = run_cli("import", source, "--db", db, "--yes")
    assert result.exit_code == 0, result.stderr
    assert ("  row      2  Modified   1006          name: 'Anna Dvořák' -> 'Anna DvoĹ™Ăˇk'"
            in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1] == \
        "committed batch 2: 0 inserted, 2 updated; groups created: Espoo"
    # --json's keys are as they were: the changes are for people and the report.
    assert set(before.json()) == {"new", "modified", "unchanged", "conflict", "rejected",
                                  "skipped", "source", "plan", "report", "groups_to_create"}
    assert "->" not in json.dumps(before.json())


def test_the_report_is_written_slice_by_slice_as_one_csv(tmp_path: Path, monkeypatch,
                                                         previewed) -> None:
    plan = Plan.load(tmp_path / "p.plan")
    monkeypatch.setattr(sync.writers.report, "_SLICE_ROWS", 1)
    sliced = tmp_path / "sliced.csv"
    sync.writers.report.write_report(plan, sliced)
    whole = plan.report()
    assert whole.columns == [*SPEC_COLUMNS, "changes"]
    assert pl.read_csv(sliced, infer_schema=False).equals(
        pl.read_csv(whole.write_csv(null_value="").encode(), infer_schema=False))
    assert sliced.read_text(encoding="utf-8").count("row,status,") == 1


def test_quoting_shows_invisible_characters() -> None:
    # A zero-width space or a no-break space would look like nothing changed.
    assert quote("Aho\u200b Oy") == r"'Aho\u200b Oy'"
    assert quote("Aho\xa0Oy") == r"'Aho\xa0Oy'"
    assert quote(None) == "''"
    assert shorten_pair("Aho Oy", "Aho\u200b Oy") == ("'Aho Oy'", r"'Aho\u200b Oy'")


def test_shortening_keeps_the_difference_in_sight() -> None:
    old = "Mannerheimintie 12 A 5, 00100 Helsinki, porraskäytävä B"
    new = "Mannerheimintie 12 A 6, 00100 Helsinki, porraskäytävä B"
    before, after = shorten_pair(old, new, width=20)
    assert (before, after) == ("'… 12 A 5, 00100 Helsi…'", "'… 12 A 6, 00100 Helsi…'")
    # An escape is never cut in two.
    before, after = shorten_pair("a" * 40, "a" * 19 + "\u200b" + "b" * 20, width=20)
    assert after.startswith("'…") and r"\u200b" in after


_TEXT = st.text(st.sampled_from(["a", "'", '"', "\\", "\n", "\t", "\u200b", "\xa0", "ř",
                                 "?", " ", "\x00", "\U0001f600", "\ufeff", "\u2028"]))


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=8))
def test_quoting_is_reprs_in_python_and_in_polars(values: list[str | None]) -> None:
    expected = [repr(v or "") for v in values]
    assert [quote(v) for v in values] == expected
    assert [m + "".join(t) + m for m, t in map(quote_tokens, values)] == expected
    assert _quote_series(pl.Series(values, dtype=pl.String)).to_list() == expected


def test_a_message_shows_what_doesnt_show_escaped() -> None:
    assert shown("id: '0112038-9\u202c'") == r"id: '0112038-9\u202c'"
    assert shown("a\tb\u2028c\x7f\u200cd") == r"a\tb\u2028c\x7f\u200cd"
    # Only those: letters, quotes, backslashes and spaces of any kind stay as they are.
    assert shown("Dvořák 'x' \\ \xa0😀") == "Dvořák 'x' \\ \xa0😀"


@given(st.lists(st.one_of(st.none(), _TEXT, st.text(max_size=12)), max_size=8))
def test_show_unseen_is_shown_of_each_message(messages: list[str | None]) -> None:
    expected = [None if m is None else shown(m) for m in messages]
    assert show_unseen(pl.Series(messages, dtype=pl.String)).to_list() == expected


def test_the_readmes_sample_preview_is_what_the_preview_prints(tmp_path: Path,
                                                               monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("    source: csv, encoding cp1252")
    sample = readme[start:readme.index("\n\n", start)].splitlines()
    db = tmp_path / "r.db"
    assert run_cli("import", FIXTURES / "demo" / "register.csv", "--db", db, "--yes"
                   ).exit_code == 0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REGSYNC_DB", str(db))  # as the tour, without --db
    result = run_cli("preview", FIXTURES / "demo" / "asiakkaat.csv", "--report", "preview.csv")
    assert result.stdout.splitlines() == [line.removeprefix("    ") for line in sample]


def test_a_no_change_row_that_says_something_is_shown(tmp_path: Path) -> None:
    # A value repaired (letters a file's encoding lost as '?') makes the row No change,
    # and the row says what was kept: the terminal must show it, not only the report.
    db = tmp_path / "r.db"
    seed_register(db, SEED, tmp_path)
    source = write_csv(tmp_path / "s.csv", "customer_number;name\n1006;Anna Dvo?ák\n"
                                           "1007;Bo Berg\n")
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan")
    assert result.exit_code == 0, result.stderr
    shown = [line for line in result.stdout.splitlines() if line.startswith("  row ")]
    assert shown == ["  row      2  No change  1006          name: kept 'Anna Dvořák': the "
                     "file has 'Anna Dvo?ák' (characters its encoding could not hold were "
                     "saved as '?')"]

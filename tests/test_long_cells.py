"""Long cells (notes of thousands of characters) keep a preview's memory bounded by the
bytes it handles at once, not only by its rows.

QA (adversarial scaling): re-importing 10,000 customers with 30,000-character notes
(a 300 MB file) peaked at 3.7 GB. The register's values came back as one JSON text per
column for all 10,000 customers, the plan was written as one 300 MB row group, and every
stage of the preview held a whole-file copy of the notes. Each is now cut by size: the
tests shrink the sizes so that a few short rows cross them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

import sync.pipeline
import sync.plan
import sync.writers.report
from sync.pipeline import preview
from sync.rules import load_rules
from sync.slices import rows_per_slice, slice_bounds
from sync.types import FIELDS
from sync.writers.register import open_register, sql_reads
from tests.conftest import customers, load_register, report_rows, run_cli, write_csv

RULES = load_rules()
COUNT = 12
NOTE_CHARS = 2_000


def _note(i: int) -> str | None:
    """Customer i's notes: long, with what JSON must escape and what UTF-8 spells in
    several bytes; every fifth customer has none."""
    if i % 5 == 4:
        return None
    head = f'Rivi {i}: "lainaus" \\ kenoviiva\nuusi rivi\tsarkain ž 😀 '
    return (head + "x" * NOTE_CHARS)[:NOTE_CHARS]


def _csv(rows: list[tuple[str, str, str | None]]) -> str:
    def quoted(text: str | None) -> str:
        return "" if text is None else '"' + text.replace('"', '""') + '"'
    return "customer_number;name;notes\n" + "".join(
        f"{number};{name};{quoted(notes)}\n" for number, name, notes in rows)


ROWS = [(str(3000 + i), f"Asiakas {i}", _note(i)) for i in range(COUNT)]


# Both decoders: json.loads for a long JSON text (0: every text), polars for short ones.
@pytest.mark.parametrize("long_json", [0, 10**9])
def test_a_fetch_of_long_values_reads_them_in_parts_of_bounded_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, long_json: int) -> None:
    db = tmp_path / "r.db"
    load_register(db, _csv(ROWS), tmp_path)
    monkeypatch.setattr(sql_reads, "_LONG_JSON", long_json)
    monkeypatch.setattr(sql_reads, "_PROBE_KEYS", 2)
    monkeypatch.setattr(sql_reads, "_PART_BYTES", 3 * NOTE_CHARS)
    decoded = sql_reads._json_columns
    texts: list[int] = []

    def measured(arrays, schema):
        texts.append(sum(len(a) for a in arrays))
        return decoded(arrays, schema)

    monkeypatch.setattr(sql_reads, "_json_columns", measured)
    register = open_register(str(db), create=False)
    try:
        fetched = register.fetch(pl.Series([n for n, _, _ in ROWS]), FIELDS)
    finally:
        register.close()
    got = {r["customer_number"]: (r["name"], r["notes"]) for r in fetched.to_dicts()}
    assert got == {number: (name, notes) for number, name, notes in ROWS}
    # Each part holds about 3 notes' worth (JSON escapes add a little), never all 12.
    assert len(texts) >= 4
    assert max(texts) < 5 * NOTE_CHARS


def test_a_plan_of_long_rows_is_written_in_row_groups_of_bounded_size(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.plan, "_SAVE_BYTES", 3 * NOTE_CHARS)
    source = write_csv(tmp_path / "s.csv", _csv(ROWS))
    plan = tmp_path / "p.plan"
    run = run_cli("preview", source, "--db", register_url, "--plan", plan)
    assert run.exit_code == 0, run.stderr
    groups = pq.ParquetFile(plan).metadata.num_row_groups
    assert 4 <= groups <= COUNT
    run = run_cli("commit", plan, "--db", register_url)
    assert run.exit_code == 0, run.stderr
    assert {n: c["notes"] for n, c in customers(register_url).items()} == {
        number: notes for number, _, notes in ROWS}


def test_a_preview_of_long_rows_works_on_slices_of_bounded_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.db"
    load_register(db, _csv(ROWS[:6]), tmp_path)
    edited = [(n, name, None if notes is None else notes.replace("x", "y", 1))
              for n, name, notes in ROWS]
    source = write_csv(tmp_path / "s.csv", _csv(edited))
    register = open_register(str(db), create=False)
    try:
        whole = preview(source, register, RULES)
        monkeypatch.setattr(sync.pipeline, "_CHUNK_BYTES", 3 * NOTE_CHARS)
        seen: list[str] = []
        sliced = preview(source, register, RULES, progress=lambda step, *_: seen.append(step))
    finally:
        register.close()
    # 12 rows of about 2,000 bytes in slices of about 6,000 bytes.
    assert sum(s.startswith("normalising, rows ") for s in seen) >= 4
    assert any(s.startswith("normalising, rows ") and s.endswith(f"-{COUNT} of {COUNT}")
               for s in seen)
    assert sliced.header.counts == whole.header.counts == {
        "new": 6, "modified": 5, "unchanged": 1, "conflict": 0, "rejected": 0}
    assert sliced.rows.equals(whole.rows)


def test_long_notes_imported_twice_are_no_change_the_second_time(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_reads, "_PROBE_KEYS", 2)
    monkeypatch.setattr(sql_reads, "_PART_BYTES", 3 * NOTE_CHARS)
    monkeypatch.setattr(sync.pipeline, "_CHUNK_BYTES", 3 * NOTE_CHARS)
    monkeypatch.setattr(sync.plan, "_SAVE_BYTES", 3 * NOTE_CHARS)
    source = write_csv(tmp_path / "s.csv", _csv(ROWS))
    first = run_cli("import", source, "--db", register_url, "--yes")
    assert first.exit_code == 0, first.stderr
    report = tmp_path / "again.csv"
    again = run_cli("preview", source, "--db", register_url, "--report", report,
                    "--plan", tmp_path / "again.plan", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["unchanged"] == COUNT
    assert {r["status"] for r in report_rows(report)} == {"No change"}


def test_the_report_of_long_changes_is_spelled_out_a_slice_of_bounded_size_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.db"
    load_register(db, _csv(ROWS), tmp_path)
    edited = [(n, name, (notes or "") + " muutettu") for n, name, notes in ROWS]
    source = write_csv(tmp_path / "s.csv", _csv(edited))
    whole = tmp_path / "whole.csv"
    run = run_cli("preview", source, "--db", db, "--report", whole, "--plan", tmp_path / "p")
    assert run.exit_code == 0, run.stderr
    spelled: list[int] = []
    report = sync.plan.Plan.report

    def counted(plan, start=0, length=None):
        part = report(plan, start, length)
        spelled.append(part.height)
        return part

    monkeypatch.setattr(sync.plan.Plan, "report", counted)
    monkeypatch.setattr(sync.writers.report, "_SLICE_BYTES", 3 * 2 * NOTE_CHARS)
    sliced = tmp_path / "sliced.csv"
    run = run_cli("preview", source, "--db", db, "--report", sliced, "--plan", tmp_path / "p")
    assert run.exit_code == 0, run.stderr
    # Each row holds its old and new notes: about 4,000 bytes, so 3 rows a slice or so.
    assert len(spelled) >= 4 and sum(spelled) == COUNT
    assert sliced.read_bytes() == whole.read_bytes()
    changes = [r["changes"] for r in report_rows(sliced)]
    assert all(c.startswith("notes: ") and c.endswith("muutettu'") for c in changes)


@pytest.mark.parametrize(("chars", "expected"), [(0, 100), (10, 100), (2_000, 3), (10**6, 1)])
def test_a_slice_holds_about_so_many_bytes_and_at_most_so_many_rows(chars: int,
                                                                  expected: int) -> None:
    frame = pl.DataFrame({"notes": ["x" * chars] * 100})
    size = rows_per_slice(frame, most_bytes=3 * 2_000 + 100, most_rows=100)
    assert size == expected
    assert rows_per_slice(frame.clear(), most_bytes=10, most_rows=7) == 7


def test_a_commit_of_long_edits_writes_them_whole_a_slice_of_bounded_size_at_a_time(
        register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_csv(tmp_path / "s.csv", _csv(ROWS))
    assert run_cli("import", source, "--db", register_url, "--yes").exit_code == 0
    edited = [(n, name, (notes or "") + " muutettu") for n, name, notes in ROWS]
    # Rows of old and new notes go to the database about 3 at a time (sql_reads._tuples).
    monkeypatch.setattr(sql_reads, "_PART_BYTES", 3 * 2 * NOTE_CHARS)
    source = write_csv(tmp_path / "edited.csv", _csv(edited))
    run = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["modified"] == COUNT
    register = open_register(register_url, create=False)
    try:
        history = register.history(batch=run.json()["batch"]).filter(
            pl.col("field") == "notes")
    finally:
        register.close()
    assert {(r["customer_number"], r["old_value"], r["new_value"])
            for r in history.to_dicts()} == {
        (n, old, new.strip()) for (n, _, old), (_, _, new) in zip(ROWS, edited, strict=True)}
    assert {n: c["notes"] for n, c in customers(register_url).items()} == {
        n: new.strip() for n, _, new in edited}


def test_every_slice_is_bounded_even_where_long_rows_are_bunched_together() -> None:
    # QA: cut by the average row, 20,000 short rows and then 200 long ones put all the
    # long ones in the last slice.
    frame = pl.DataFrame({"_row": range(1_100),
                          "notes": ["short"] * 1_000 + ["x" * 3_000] * 100})
    bounds = slice_bounds(frame, most_bytes=10_000, most_rows=400)
    assert [o for o, _ in bounds] == [sum(n for _, n in bounds[:i]) for i in range(len(bounds))]
    assert sum(n for _, n in bounds) == frame.height
    for offset, length in bounds:
        part = frame.slice(offset, length)
        assert 1 <= length <= 400
        assert part["notes"].str.len_bytes().sum() <= 10_000 + 3_000
    assert slice_bounds(frame.clear(), most_bytes=10, most_rows=7) == [(0, 0)]
    assert slice_bounds(pl.DataFrame({"notes": ["x" * 50, None]}), 10, 7) == [(0, 1), (1, 1)]


def test_slices_are_bounded_past_four_gib_of_text() -> None:
    # Review: a frame's text was totalled as 32-bit lengths, which wrapped past 4 GiB,
    # and 4 GiB of notes in few enough rows looked like one small slice. (The 4,097
    # values share one 1 MiB buffer here: the frame takes about 1 MiB.)
    frame = pl.select(pl.repeat("x" * 2**20, 4_097).alias("notes"))
    bounds = slice_bounds(frame, most_bytes=32 * 2**20, most_rows=100_000)
    assert bounds[:2] == [(0, 32), (32, 32)] and bounds[-1] == (4_096, 1)
    assert len(bounds) == 129

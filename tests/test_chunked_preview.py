"""A preview works on slices of rows (bounded memory); the plan must not depend on them.

Every rule that looks across rows (same customer twice, a claimed number or business
id, the next free numbers, a group's first spelling, a name seen earlier in the file,
ragged rows) is exercised with slices as small as one row and compared with one slice.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sync.pipeline
from sync.pipeline import PREVIEW_STEPS, preview, preview_table
from sync.plan import Plan
from sync.readers.table import SourceTable
from sync.rules import load_rules
from sync.spill import in_memory_filesystem
from sync.writers.register import open_register
from tests.conftest import load_register

RULES = load_rules()
REGISTER = ("customer_number;customer_type;name;business_id;customer_group\n"
            "1001;company;Kahvila Aurinko Oy;0112038-9;Helsinki\n"
            "1002;person;Matti Virtanen;;\n"
            "1003;person;Matti Virtanen;;\n"
            "1004;company;Rakennus Kivi Oy;2617416-4;Oulu\n"
            "A-7;person;Liisa Laine;;\n")
HEADER = "customer_number;name;business_id;customer_group;postal_code"

cell = st.sampled_from
# Weighted towards collisions: rows without a number, new names, shared keys.
row = st.tuples(
    cell(["", "", "", "1001", "1002", "1004", "2001", "2001", "2002", "0099", "A-7"]),
    cell(["", "Uusi Asiakas", "Uusi Asiakas", "uusi  asiakas", "Toinen Oy", "Kahvila Aurinko",
          "Kahvila Aurinko Oy", "Matti Virtanen", "Rakennus Kivi Oy", "Liisa Laine"]),
    cell(["", "", "", "0112038-9", "2617416-4", "0737546-2", "0737546-2", "1234567-8",
          "112038-9"]),
    cell(["", "Helsinki", "helsinki", "Uudet", "UUDET", "uudet", "Pohjoinen"]),
    cell(["", "100", "00100", "abc"]),
).map(";".join)
line = st.one_of(row, row, row, row, st.just(""), st.just("2003;Ragged Oy"),
                 st.just(";;;;"))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The register every example previews against (a preview writes nothing)."""
    folder = tmp_path_factory.mktemp("chunked")
    load_register(folder / "r.db", REGISTER, folder)
    return folder / "r.db"


def _plans(db: Path, source_text: str, chunk_rows: int) -> tuple[pl.DataFrame, dict[str, int]]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "s.csv"
        source.write_text(source_text, encoding="utf-8")
        register = open_register(str(db), create=False)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sync.pipeline, "_CHUNK_ROWS", chunk_rows)
                plan = preview(source, register, RULES)
        finally:
            register.close()
    return plan.rows, plan.header.counts


# 30 examples: each previews twice, with up to 12 one-row slices (about 0.25 s an
# example on the 2-core machine), and this was the suite's slowest test at 100. CI
# starts from a fresh clone with no example database, so every run draws new examples.
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(line, min_size=1, max_size=12), chunk_rows=st.integers(1, 4))
def test_the_plan_does_not_depend_on_the_slice_size(db: Path, lines: list[str],
                                                    chunk_rows: int) -> None:
    text = HEADER + "\n" + "\n".join(lines) + "\n"
    whole, whole_counts = _plans(db, text, 1_000_000)
    sliced, sliced_counts = _plans(db, text, chunk_rows)
    assert sliced_counts == whole_counts
    assert sliced.columns == whole.columns
    assert sliced.equals(whole), (sliced.to_dicts(), whole.to_dicts())


def test_a_sliced_preview_reports_the_rows_each_step_is_on(db: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    source = tmp_path / "s.csv"
    source.write_text(HEADER + "\n" + "\n".join(f"{3000 + i};Asiakas {i};;;" for i in range(5))
                      + "\n", encoding="utf-8")
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 2)
    seen: list[tuple[str, int, int]] = []
    register = open_register(str(db), create=False)
    plan = preview(source, register, RULES, progress=lambda *a: seen.append(a))
    register.close()
    assert plan.header.counts["new"] == 5
    assert ("normalising, rows 5-5 of 5", 2, len(PREVIEW_STEPS)) in seen
    assert [s for s, _, _ in seen].count("looking for duplicates") == 1


def _source(tmp_path: Path, n: int) -> Path:
    source = tmp_path / "s.csv"
    lines = [f"{3000 + i};Asiakas {i};;Uudet;100" for i in range(n)]
    lines.insert(3, "2003;Ragged Oy")  # a ragged row between the slices
    source.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return source


def _mapped_spill_files() -> list[str]:
    """The temporary files this process has memory-mapped (deleted once mapped)."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    return sorted({line.split(None, 5)[-1] for line in maps
                   if "/regsync-" in line and ".arrow" in line})


def _sliced_preview(db: Path, tmp_path: Path, temp_folder: Path, monkeypatch) -> Plan:
    """The plan of 8 New rows and a ragged one, in slices of 3 rows, with `temp_folder`
    as the temporary folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(temp_folder))
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 3)
    monkeypatch.setattr(sync.pipeline, "_SPILL_AFTER_BYTES", 0)
    register = open_register(str(db), create=False)
    try:
        return preview(_source(tmp_path, 8), register, RULES)
    finally:
        register.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux's /proc needed")
def test_a_sliced_preview_keeps_its_values_in_mapped_files_and_leaves_none_behind(
        db: Path, tmp_path: Path, monkeypatch) -> None:
    # A source of more than one slice: the plan's values live in memory-mapped temporary
    # files (the page cache), not on the heap; the files are gone from the folder at once.
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    plan = _sliced_preview(db, tmp_path, spill_root, monkeypatch)
    mapped = _mapped_spill_files()
    assert mapped and all(m.startswith(str(spill_root)) for m in mapped)
    assert all(m.endswith("(deleted)") for m in mapped)
    assert list(spill_root.iterdir()) == []
    assert plan.rows["row"].to_list() == list(range(2, 11))
    assert plan.rows.filter(pl.col("row") == 5)["status"].to_list() == ["Rejected"]
    assert plan.header.counts["new"] == 8
    del plan


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux's /proc needed")
def test_a_sliced_preview_within_its_heap_budget_spills_nothing(db: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    # Spilling costs time and only pays where memory runs short: slices whose values
    # fit the budget stay on the heap (past it they are memory-mapped: the test above).
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 3)
    register = open_register(str(db), create=False)
    try:
        plan = preview(_source(tmp_path, 8), register, RULES)
        assert not _mapped_spill_files()
        assert plan.header.counts["new"] == 8
        del plan
    finally:
        register.close()


def test_a_temporary_folder_that_cannot_be_written_keeps_the_rows_on_the_heap(
        db: Path, tmp_path: Path, monkeypatch) -> None:
    # Spilling only saves memory: a full disk must not fail a preview that fits.
    import errno

    import pyarrow as pa

    from tests.conftest import run_cli

    real = pa.OSFile

    def full(path, mode="r", *args, **kwargs):  # writing fails; the CSV is still read
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, mode, *args, **kwargs)

    source = _source(tmp_path, 8)
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 1_000_000)
    expected = run_cli("preview", source, "--db", db, "--plan", tmp_path / "whole.plan",
                       "--report", tmp_path / "whole.csv")
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 3)
    monkeypatch.setattr(sync.pipeline, "_SPILL_AFTER_BYTES", 0)
    monkeypatch.setattr(pa, "OSFile", full)
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", tmp_path / "sliced.csv")
    assert result.exit_code == expected.exit_code
    assert result.stdout.replace("p.plan", "whole.plan") == expected.stdout
    assert expected.exit_code == 1  # the ragged row
    assert (tmp_path / "sliced.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert Plan.load(tmp_path / "p.plan").rows.equals(Plan.load(tmp_path / "whole.plan").rows)
    assert list(spill_root.iterdir()) == []
    assert not _mapped_spill_files()


@pytest.mark.skipif(not Path("/dev/shm").is_dir() or not Path("/proc/mounts").exists(),
                    reason="needs Linux's /proc/mounts and a tmpfs at /dev/shm")
def test_a_temporary_folder_in_memory_is_not_used(db: Path, tmp_path: Path,
                                                  monkeypatch) -> None:
    # On tmpfs the files would cost memory like the heap does (and a small tmpfs would
    # fill up): the rows stay on the heap.
    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        assert in_memory_filesystem(shm) and not in_memory_filesystem(tmp_path)
        plan = _sliced_preview(db, tmp_path, shm, monkeypatch)
        assert plan.header.counts["new"] == 8
        assert not _mapped_spill_files()
        assert list(shm.iterdir()) == []
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_rows_read_out_of_order_are_planned_in_row_order(db: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    # A streamed sheet may list its rows out of order; slices must still line up.
    frame = pl.DataFrame({"_row": [6, 7, 8, 2, 3, 4, 5],
                          "c0": [f"{3000 + r}" for r in (6, 7, 8, 2, 3, 4, 5)],
                          "c1": [f"Asiakas {r}" for r in (6, 7, 8, 2, 3, 4, 5)]})
    table = SourceTable(path=tmp_path / "s.xlsx", format="xlsx", encoding=None,
                        delimiter=None, header_row=1,
                        headers=["customer_number", "name"], frame=frame,
                        ragged=[(9, 1)])
    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 3)
    register = open_register(str(db), create=False)
    try:
        plan = preview_table(table, "s.xlsx", "0" * 64, register, RULES)
    finally:
        register.close()
    assert plan.rows["row"].to_list() == list(range(2, 10))
    assert plan.rows["customer_number"].to_list()[:7] == [f"{3000 + r}" for r in range(2, 9)]
    assert plan.rows["status"].to_list() == ["New"] * 7 + ["Rejected"]


def test_the_preview_says_how_many_rows_are_not_shown(db: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    from sync.cli import _SHOWN_ROWS
    from tests.conftest import run_cli

    monkeypatch.setattr(sync.pipeline, "_CHUNK_ROWS", 7)
    n = _SHOWN_ROWS + 13
    result = run_cli("preview", _source(tmp_path, n), "--db", db,
                     "--plan", tmp_path / "p.plan")
    assert result.exit_code == 1  # the ragged row
    shown = [line for line in result.stdout.splitlines() if line.startswith("  row ")]
    assert len(shown) == _SHOWN_ROWS
    # n New rows and the ragged one, all but the shown ones left to the report.
    assert f"  ... {n + 1 - _SHOWN_ROWS} more rows in the report (--report)" in result.stdout

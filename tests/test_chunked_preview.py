"""A preview works on slices of rows (bounded memory); the plan must not depend on them.

Every rule that looks across rows (same customer twice, a claimed number or business
id, the next free numbers, a group's first spelling, a name seen earlier in the file,
ragged rows) is exercised with slices as small as one row and compared with one slice.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sync.pipeline
from sync.pipeline import PREVIEW_STEPS, preview
from sync.rules import load_rules
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


@settings(max_examples=100, deadline=None,
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

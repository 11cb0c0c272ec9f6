"""The possible-duplicate scan flags exactly what scoring every pair that shares a name
block would flag (while the budget allows all of them), however the scan batches,
sorts and skips its work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from sync.matchers import fuzzy
from sync.matchers.fuzzy import _comparison_text, _form_tokens, strip_legal_forms
from sync.namekey import name_blocks, word_blocks
from sync.writers.register import open_register
from tests.conftest import load_register, report_rows, run_cli, write_csv

FORMS = ["Oy", "Ab", "Ky", "Tmi", "AB", "s.r.o.", "a.s."]


class MemoryBlocks:
    """A register's name blocks held in memory (what the scan reads), recording the
    blocks whose members were read."""

    def __init__(self, numbers: list[str], names: list[str]) -> None:
        self.blocks = name_blocks(pl.Series(numbers, dtype=pl.String),
                                  pl.Series(names, dtype=pl.String))
        self.read: list[str] = []

    def has_name_blocks(self) -> bool:
        """Whether there is any block."""
        return not self.blocks.is_empty()

    def block_sizes(self, blocks: list[str], cap: int) -> pl.DataFrame:
        """block, size (up to cap) of these blocks."""
        sizes = self.blocks.group_by("block").len("size").with_columns(
            pl.col("size").clip(upper_bound=cap).cast(pl.Int64))
        return pl.DataFrame({"block": blocks}, schema={"block": pl.String}).join(
            sizes, on="block", how="left").fill_null(0)

    def block_members(self, blocks: list[str]) -> pl.DataFrame:
        """block, customer_number, name of these blocks' customers."""
        self.read.extend(blocks)
        return self.blocks.filter(pl.col("block").is_in(blocks))


def comparison(name: str) -> str:
    """token_sort_ratio's form of a name, legal forms stripped."""
    return " ".join(sorted(strip_legal_forms(name, _form_tokens(FORMS)).split()))


def brute_force(queries: list[str], numbers: list[str], names: list[str],
                threshold: float) -> dict[int, tuple[str, int]]:
    """Per query (index), the best customer sharing a block with it and its rounded
    similarity: every such pair scored, the highest score and then the lowest number
    winning."""
    forms = _form_tokens(FORMS)
    query_blocks = word_blocks(pl.int_range(len(queries), eager=True), pl.Series(
        [strip_legal_forms(q, forms).split() for q in queries], dtype=pl.List(pl.String)))
    customer_blocks = name_blocks(pl.Series(numbers, dtype=pl.String),
                                  pl.Series(names, dtype=pl.String))
    pairs = query_blocks.join(customer_blocks, on="block").select(
        "id", "customer_number", "name").unique()
    best: dict[int, tuple[float, str]] = {}
    for q, number, name in pairs.iter_rows():
        score = fuzz.ratio(comparison(queries[q]), comparison(name))
        if score >= threshold and (q not in best or (-score, number) < (-best[q][0],
                                                                         best[q][1])):
            best[q] = (score, number)
    return {q: (number, round(score)) for q, (score, number) in best.items()}


def scan(queries: list[str], register: MemoryBlocks,
         threshold: float = 90) -> dict[int, tuple[str, int]]:
    """possible_duplicates' register flags, by query index."""
    rows = pl.DataFrame({"_row": range(len(queries)), "name": queries,
                         "customer_number": [f"N{i}" for i in range(len(queries))]},
                        schema={"_row": pl.Int64, "name": pl.String,
                                "customer_number": pl.String}).with_columns(
        pl.lit(None, pl.String).alias("name_key"))
    flags = fuzzy.possible_duplicates(rows, register, FORMS, threshold)
    return {row: (number, similarity) for row, number, similarity in
            flags.select("_row", "possible_duplicate", "similarity").iter_rows()}


WORDS = ["puutarha", "puut", "puutalo", "kahvila", "kahvi", "aurinko", "aurinkoinen",
         "oy", "ab", "ky", "matti", "mattila", "virtanen", "virtamen", "a", "&", "2024",
         "straße", "strasse", "s.r.o.", "kivi", "kiviö"]
NAME = st.builds(" ".join, st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NAME, min_size=1, max_size=12), st.lists(NAME, min_size=1, max_size=25),
       st.sampled_from([60, 80, 90, 100]), st.sampled_from([1, 3, 10**9]),
       st.sampled_from([1, 2, 250_000]))
def test_the_scan_flags_what_scoring_every_pair_sharing_a_block_flags(
        queries: list[str], names: list[str], threshold: int, matrix_queries: int,
        rows_per_slice: int) -> None:
    # matrix_queries 1: every block as a matrix; 10**9: every block pair by pair.
    # rows_per_slice: the New rows' blocks are found that many rows at a time.
    numbers = [f"{1000 + i}" for i in range(len(names))]
    saved = fuzzy._MATRIX_QUERIES, fuzzy._ROWS_PER_BLOCK_SLICE
    fuzzy._MATRIX_QUERIES, fuzzy._ROWS_PER_BLOCK_SLICE = matrix_queries, rows_per_slice
    try:
        got = scan(queries, MemoryBlocks(numbers, names), threshold)
    finally:
        fuzzy._MATRIX_QUERIES, fuzzy._ROWS_PER_BLOCK_SLICE = saved
    assert got == brute_force(queries, numbers, names, threshold)


TEXT = st.text(alphabet="ab cdeé ßĀ\U0001F600xyz0", max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=30),
       st.floats(min_value=0, max_value=100))
def test_the_candidate_filter_keeps_every_pair_that_reaches_the_threshold(
        pairs: list[tuple[str, str]], threshold: float) -> None:
    left, right = (texts(*side) for side in zip(*pairs, strict=True))
    index = np.arange(len(pairs))
    keep = fuzzy._can_reach(left, index, right, index, threshold)
    for (a, b), kept in zip(pairs, keep, strict=True):
        if fuzz.ratio(a, b, score_cutoff=threshold) >= threshold:
            assert kept, (a, b)


def test_the_candidate_filter_drops_pairs_too_different_in_length_or_letters() -> None:
    left = texts("aurinko kahvila", "aurinko kahvila", "aurinko kahvila", "abc", "abc")
    right = texts("aurinko kahvila oulu", "kahvila aurinko", "aurinko kahvilx", "Abc", "xyz")
    index = np.arange(5)
    # Too long; the same letters (kept, then scored 53); one letter off (kept, scored
    # 93); "A" counts in "a"'s bucket (kept, then scored 67); nothing shared.
    assert fuzzy._can_reach(left, index, right, index, 90).tolist() == [
        False, True, True, True, False]


def test_letter_counts_are_the_same_counted_in_chunks(monkeypatch) -> None:
    values = ("aurinko", "", "ääkköset", "x" * 300, "\U0001F600 ß")
    whole = texts(*values).buckets
    monkeypatch.setattr(fuzzy, "_TEXTS_PER_CHUNK", 2)
    assert (texts(*values).buckets == whole).all()
    assert whole.sum(axis=1).tolist() == [len(v.encode()) for v in values]


def texts(*values: str) -> fuzzy._Texts:
    return fuzzy._Texts(pl.Series(values, dtype=pl.String))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.none(),
    st.text(alphabet="abcXYZ äöåÄÖŽčř_-.,&ßİſµ\u0301\xa0\t\x1cOoYyKkAaBbSsRr", max_size=30),
    st.builds(" ".join, st.lists(st.sampled_from(
        ["Oy", "AB", "s.r.o.", "Ky", "Kahvila", "ÅLAND", "a.s.", "Tmi", "", "&", "b", "a"]),
        max_size=7))), max_size=20))
def test_comparison_text_is_the_stripped_name_with_its_words_sorted(
        names: list[str | None]) -> None:
    forms = _form_tokens(FORMS)
    words = fuzzy._comparable_words(pl.Series(names, dtype=pl.String), forms)
    got = _comparison_text(words).to_list()
    assert got == [None if n is None else comparison(n) for n in names]


def test_a_word_block_is_not_read_when_its_prefix_block_pairs_the_same_names() -> None:
    register = MemoryBlocks(["1", "2", "3"], ["Puutarha Lehto Oy", "Puutarhat Lehto Ky",
                                              "Puutalo Virta"])
    assert scan(["Puutarha Lehto Ab"], register) == {0: ("1", 100)}
    # "puut" holds everyone with "puutarha"; "lehto" is a word of four letters or less.
    assert sorted(register.read) == ["leht", "puut"]


def test_a_word_of_digits_only_is_no_block() -> None:
    # A number in a name (a street number, a year: 'Talo 2000 Oy') is shared by customers
    # with nothing else in common: a block of it would pair them all for nothing.
    blocks = word_blocks(pl.Series([7]), pl.Series([["talo", "2000", "k2", "kahvila"]]))
    assert sorted(blocks["block"].to_list()) == ["k2", "kahv", "kahvila", "talo"]


def test_a_new_row_whose_name_has_no_words_does_not_shift_the_others(tmp_path: Path) -> None:
    # The scan used to drop wordless names from its list of comparison texts, so every
    # later row was scored by the next row's name (or the scan failed with IndexError).
    db = tmp_path / "register.db"
    load_register(db, "customer_number;customer_type;name\n1001;company;Kahvila Aurinko Oy\n"
                  "1002;person;Matti Virtanen\n", tmp_path)
    source = write_csv(tmp_path / "source.csv",
                       "name\nKahvila Aurinko Ab\n&\nMatti Virtamen\nZyxwv Qwerty\n")
    report = tmp_path / "report.csv"
    result = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report)
    assert result.exit_code in (0, 1), result.stderr
    flags = {int(r["row"]): r["possible_duplicate"] for r in report_rows(report)}
    assert flags == {2: "1001", 3: "", 4: "1002", 5: ""}


def test_an_empty_register_is_not_scanned_and_same_names_are_still_flagged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A first load's preview found the blocks and comparison texts of a million rows
    # to pair them with a register that has no customers: 2.3 s of 11.5 s.
    asked: list[str] = []
    monkeypatch.setattr(fuzzy, "_comparable_words",
                        lambda names, forms: asked.append("words") or names)
    empty = MemoryBlocks([], [])
    assert not empty.has_name_blocks()
    rows = pl.DataFrame({"_row": [2, 3, 4], "name": ["Kahvila Aurinko Oy", "Matti Virtanen",
                                                     "Kahvila Aurinko Oy"],
                         "customer_number": ["1", "2", "3"]}).with_columns(
        pl.col("name").str.to_lowercase().alias("name_key"))
    flags = fuzzy.possible_duplicates(rows, empty, FORMS, 90)
    assert asked == [] and empty.read == []
    assert flags.select("_row", "possible_duplicate", "similarity").rows() == [(4, "1", 100)]
    assert fuzzy.similar_customers(rows.select("_row", "name"), empty, FORMS, 90).is_empty()


def test_a_register_says_whether_it_has_name_blocks(register_url: str,
                                                    tmp_path: Path) -> None:
    assert run_cli("init", "--db", register_url).exit_code == 0
    register = open_register(register_url, create=False)
    try:
        assert register.has_name_blocks() is False
    finally:
        register.close()
    load_register(register_url, "customer_number;name\n1001;Kahvila Aurinko Oy\n", tmp_path)
    register = open_register(register_url, create=False)
    try:
        assert register.has_name_blocks() is True
    finally:
        register.close()


def test_a_later_same_name_row_also_like_a_customer_names_both(tmp_path: Path) -> None:
    # Spec section 4: "the second is flagged as a possible duplicate of the first". A
    # similar existing customer took the flag, and the earlier row went unmentioned.
    db = tmp_path / "register.db"
    load_register(db, "customer_number,name\n500,Kahvila Aurinkoo\n", tmp_path)
    source = write_csv(tmp_path / "s.csv", "name\nKahvila Aurinko\nKahvila Aurinko\n"
                                           "Muu Oy\nMuu Oy\n")
    report = tmp_path / "r.csv"
    result = run_cli("preview", source, "--db", db, "--report", report)
    assert result.exit_code == 0, result.stderr
    rows = {int(r["row"]): r for r in report_rows(report)}
    assert [rows[n]["possible_duplicate"] for n in (2, 3, 4, 5)] == ["500", "500", "", "503"]
    assert "row 2" not in rows[2]["message"]
    assert rows[3]["message"] == ("possible duplicate of customer 500 'Kahvila Aurinkoo' "
                                  "(similarity 97); possible duplicate of row 2 (same name)")
    assert rows[5]["message"] == "possible duplicate of row 4 (same name)"

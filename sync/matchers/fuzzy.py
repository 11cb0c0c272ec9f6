"""Possible duplicates: New rows whose name is close to an existing customer's.

Similarity never matches by itself; it only flags. Company names are compared after
their legal forms (Oy, Ab, s.r.o., ...) are stripped, word order ignored.

Only candidate pairs are scored (blocking): a New row and a customer are compared when
their names share a word or the first four letters of a word (numbers are not words
here). The register keeps every customer's blocks (`name_blocks`), so only the
customers sharing a block with a New row are read, never the whole register. Blocks
so common that they would pair everything (more than `_MAX_BLOCK` customers) make no
pairs (the register stores only the first FULL_BLOCK members of such a block, enough
to count it as too common), and when the pairs would still exceed `_MAX_PAIRS` the
most common blocks are dropped first, so memory stays bounded. A word block is not
read when the block of its first four letters is (that block already pairs the same
names).

A block with many New rows is scored as one rapidfuzz matrix with the threshold as
cut-off. The many blocks of one or a few New rows are paired up together, and a pair is
scored only if its lengths and letter counts allow the threshold (`_can_reach`): every
pair that could reach it is still scored, so the flags are those of scoring them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from sync.namekey import BLOCK_PREFIX, MAX_BLOCK, name_words, word_blocks, words_of

DUPLICATE_SCHEMA = {"_row": pl.Int64, "possible_duplicate": pl.String,
                    "similarity": pl.Int64, "duplicate_note": pl.String}

_PUNCT = re.compile(r"[^\w\s]")
_MAX_BLOCK = MAX_BLOCK
_MAX_PAIRS = 5_000_000
_MEMBERS_PER_SLICE = 250_000
_ROWS_PER_BLOCK_SLICE = 250_000
# Blocks with at least this many New rows are scored as one matrix, others pair by pair.
_MATRIX_QUERIES = 8
# Letter counts for _can_reach: UTF-8 bytes modulo _BUCKETS; pairs bounded a chunk at a time.
_BUCKETS = 32
_PAIRS_PER_CHUNK = 200_000
_TEXTS_PER_CHUNK = 100_000
_EMPTY_MATCHES = pl.DataFrame(schema={"q": pl.Int64, "customer_number": pl.String,
                                      "name": pl.String, "score": pl.Float64})


class NameBlocks(Protocol):
    """What the scan reads from a register: its name blocks."""

    def has_name_blocks(self) -> bool:
        """Whether any customer has a name block (False: no customer can be paired, as in
        an empty register)."""
        ...

    def block_sizes(self, blocks: list[str], cap: int) -> pl.DataFrame:
        """block, size: customers per block, counted up to `cap`."""
        ...

    def block_members(self, blocks: list[str]) -> pl.DataFrame:
        """block, customer_number, name of the customers in these blocks."""
        ...


@dataclass(frozen=True)
class LegalForms:
    """The configured legal forms as the words `words_of` sees in them: "Oy" is the word
    oy, "s.r.o." (or "s.r.o", "s. r. o.") the words s r o, "spol. s r.o." spol s r o.

    A form is stripped where its words stand in a name one after another, so a form
    with dots is stripped whatever dots a name writes it with.
    """

    words: frozenset[str]
    """The forms of one word, and each form's letters without its dots ("sro")."""
    sequences: tuple[tuple[str, ...], ...]
    """The forms of several words, the longest first."""

    @cached_property
    def pattern(self) -> str | None:
        """Regex of a sequence form in words joined by two spaces with one space around
        them (each side of a match keeps one space for the next), or None."""
        if not self.sequences:
            return None
        return " (?:{}) ".format("|".join("  ".join(map(re.escape, s))
                                            for s in self.sequences))

    @cached_property
    def sequence_words(self) -> list[str]:
        """Every word of a sequence form."""
        return sorted({w for s in self.sequences for w in s})


def _form_tokens(legal_forms: Iterable[str]) -> LegalForms:
    tokens = {tuple(words_of(form)) for form in legal_forms} - {()}
    # A form is also the one word it makes without its dots ("s.r.o." strips "sro" too),
    # as forms were compared before their dots were seen as word breaks.
    joined = {w[0] for w in (_PUNCT.sub("", f.casefold()).split() for f in legal_forms)
              if len(w) == 1}
    return LegalForms(frozenset(t[0] for t in tokens if len(t) == 1) | joined,
                      tuple(sorted((t for t in tokens if len(t) > 1),
                                   key=lambda t: (-len(t), t))))


def _strip_words(words: list[str], forms: LegalForms) -> list[str]:
    """`words` without the legal forms' words; all of them when nothing else is left.
    From the left, the longest form that starts at a word is dropped."""
    kept: list[str] = []
    i = 0
    while i < len(words):
        form = next((s for s in forms.sequences if tuple(words[i:i + len(s)]) == s), None)
        if form is not None:
            i += len(form)
            continue
        if words[i] not in forms.words:
            kept.append(words[i])
        i += 1
    return kept or words


def strip_legal_forms(name: str, forms: LegalForms) -> str:
    """The comparison form of a name: lower case, no punctuation, no legal-form words."""
    return " ".join(_strip_words(words_of(name), forms))


def _comparable_words(names: pl.Series, forms: LegalForms) -> pl.Series:
    """The words of strip_legal_forms over a column (List[String])."""
    words = name_words(names)
    kept = words
    if forms.pattern is not None:
        # Only the names with a word of a sequence form are searched for one.
        frame = pl.DataFrame({"words": words}).with_row_index("i")
        some = frame.filter(pl.col("words").list.eval(
            pl.element().is_in(forms.sequence_words)).list.any().fill_null(False))
        if some.height:
            joined = " " + pl.col("words").list.join("  ") + " "
            without = some.select("i", joined.str.replace_all(forms.pattern, " ")
                                  .str.split(" ").list.eval(pl.element().filter(
                                      pl.element() != "")).alias("without"))
            kept = frame.join(without, on="i", how="left", maintain_order="left").select(
                pl.coalesce("without", "words")).to_series()
    kept = kept.list.eval(pl.element().filter(~pl.element().is_in(sorted(forms.words))))
    return pl.select(pl.when(kept.list.len() > 0).then(kept).otherwise(words)
                     ).to_series().alias(names.name)


def _comparable(names: pl.Series, forms: LegalForms) -> pl.Series:
    """strip_legal_forms over a column."""
    return _comparable_words(names, forms).list.join(" ")


# Sorts after every word: a word is \w characters, and U+10FFFF is not one.
_LAST = "\U0010ffff"
# A sorting network of _NETWORK_WIDTH columns: these compare-exchanges sort any 4 values.
_NETWORK_WIDTH = 4
_NETWORK = ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2))


def _comparison_text(words: pl.Series) -> pl.Series:
    """Each list of words (`_comparable_words`' form, legal forms already stripped), its
    words sorted and joined by one space: the text token_sort_ratio compares.

    Names of up to four words (nearly all) are sorted column-wise by a sorting network,
    missing words sorting last and cut off; longer ones one by one.
    """
    word = [pl.col(f"w{i}") for i in range(_NETWORK_WIDTH)]
    frame = pl.DataFrame({"words": words}).with_columns(
        pl.col("words").list.len().alias("n"),
        *(pl.col("words").list.get(i, null_on_oob=True).fill_null(_LAST).alias(f"w{i}")
          for i in range(_NETWORK_WIDTH)))
    for a, b in _NETWORK:
        frame = frame.with_columns(pl.min_horizontal(f"w{a}", f"w{b}").alias(f"w{a}"),
                                   pl.max_horizontal(f"w{a}", f"w{b}").alias(f"w{b}"))
    # The first word is never _LAST unless there are no words.
    text = frame.select(
        pl.when(pl.col("words").is_null()).then(pl.lit(None, pl.String))
        .when(pl.col("n") > 0)
        .then(pl.concat_str(word, separator=" ").str.replace_all(f" {_LAST}", "",
                                                                 literal=True))
        .otherwise(pl.lit("")).alias("text"))["text"]
    wide = frame.select(pl.arg_where(pl.col("n") > _NETWORK_WIDTH))[:, 0]
    if len(wide):
        text = text.scatter(wide, [" ".join(sorted(many))
                                   for many in words.gather(wide).to_list()])
    return text


def _usable_blocks(query_keys: pl.DataFrame,
                   register: NameBlocks) -> tuple[pl.DataFrame, pl.Series]:
    """Blocks to pair on, not too common and together under the pair budget: block,
    size (its customers), smallest first; and the queries (q) some of whose customers
    are left unpaired (a block of theirs with customers is too common or past the
    budget, and not covered by its chosen prefix block).

    A word block longer than BLOCK_PREFIX is left out when its prefix block is chosen
    too: whoever has the word has the prefix, so the prefix block already pairs them.
    """
    queries = query_keys.group_by("block").len("queries")
    sizes = register.block_sizes(queries["block"].to_list(), _MAX_BLOCK + 1)
    chosen = (queries.join(sizes, on="block")
              .filter((pl.col("size") > 0) & (pl.col("size") <= _MAX_BLOCK))
              .with_columns((pl.col("queries") * pl.col("size")).alias("pairs"))
              .sort("size", "block"))
    chosen = chosen.filter(pl.col("pairs").cum_sum() <= _MAX_PAIRS)
    block = pl.col("block")
    covered = ((block.str.len_chars() > BLOCK_PREFIX)
               & block.str.slice(0, BLOCK_PREFIX).is_in(chosen["block"].implode()))
    dropped = (sizes.filter(pl.col("size") > 0)
               .filter(~block.is_in(chosen["block"].implode()) & ~covered)["block"])
    partial = query_keys.filter(pl.col("block").is_in(dropped.implode()))["q"].unique()
    return chosen.filter(~covered).select("block", "size"), partial


class _Texts:
    """Comparison texts with what the candidate filters need: their lengths (code
    points) and their UTF-8 bytes counted into _BUCKETS buckets (byte modulo _BUCKETS).

    Every character two texts share is at least one byte both have, so the bucket counts
    bound the shared characters from above, as _can_reach needs.
    """

    def __init__(self, texts: pl.Series) -> None:
        self.texts = texts.fill_null("")
        self.lengths = self.texts.str.len_chars().cast(pl.Int64).to_numpy()
        array = self.texts.to_arrow(compat_level=pl.CompatLevel.oldest())
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
            array.offset:array.offset + len(array) + 1]
        data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
        # Never clipped: a count cut down would make the bound too low.
        dtype = (np.uint16 if self.lengths.max(initial=0) * 4 <= np.iinfo(np.uint16).max
                 else np.int64)
        self.buckets = np.empty((len(array), _BUCKETS), dtype=dtype)
        for start in range(0, len(array), _TEXTS_PER_CHUNK):
            ends = offsets[start:start + _TEXTS_PER_CHUNK + 1]
            owner = np.repeat(np.arange(len(ends) - 1), np.diff(ends))
            counts = np.bincount(owner * _BUCKETS + data[ends[0]:ends[-1]] % _BUCKETS,
                                 minlength=(len(ends) - 1) * _BUCKETS)
            self.buckets[start:start + len(ends) - 1] = counts.reshape(-1, _BUCKETS)

    def strings(self, index: np.ndarray) -> list[str]:
        """The texts at these positions."""
        return self.texts.gather(index).to_list()

    @cached_property
    def as_list(self) -> list[str]:
        """Every text, for many small look-ups."""
        return self.texts.to_list()


def _can_reach(queries: _Texts, q: np.ndarray, choices: _Texts, c: np.ndarray,
               threshold: float) -> np.ndarray:
    """Which pairs (q[i], c[i]) may reach the threshold: fuzz.ratio is 200 * LCS /
    (total length), and the longest common subsequence is at most the shorter length and
    at most the characters the two share (per bucket, the smaller count). Pairs failing
    either bound can't score the threshold and are not scored; the rest are."""
    total = queries.lengths[q] + choices.lengths[c]
    # A hair below the threshold, so rounding never drops a pair that reaches it.
    needed = (threshold - 1e-6) * total
    keep = 200 * np.minimum(queries.lengths[q], choices.lengths[c]) >= needed
    for start in range(0, q.size, _PAIRS_PER_CHUNK):
        part = slice(start, start + _PAIRS_PER_CHUNK)
        shared = np.minimum(queries.buckets[q[part]], choices.buckets[c[part]]).sum(
            axis=1, dtype=np.int64)
        keep[part] &= 200 * shared >= needed[part]
    return keep


def _register_matches(new_rows: pl.DataFrame, register: NameBlocks,
                      forms: LegalForms, threshold: float) -> pl.DataFrame:
    """Per New row, the most similar existing customer at or above the threshold:
    q (index into new_rows), customer_number, name, score."""
    pairs, _ = _register_pairs(new_rows, register, forms, threshold)
    return pairs.group_by("q", maintain_order=True).first()


def _register_pairs(new_rows: pl.DataFrame, register: NameBlocks, forms: LegalForms,
                    threshold: float) -> tuple[pl.DataFrame, pl.Series]:
    """Every (row, existing customer) pair at or above the threshold, once each: q (index
    into new_rows), customer_number, name, score; by q, then best score first. And the
    rows (q) whose search was partial (see _usable_blocks)."""
    if not register.has_name_blocks():
        # An empty register (a first load): nothing to pair with, and finding the
        # rows' blocks and comparison texts cost a 1M-row preview 2.3 s.
        return _EMPTY_MATCHES, pl.Series("q", [], dtype=pl.Int64)
    words = _comparable_words(new_rows["name"], forms)
    # A slice of rows at a time: finding the unique blocks of all the rows at once holds
    # several times their blocks (about 0.5 GiB per million rows) at its peak. A row's
    # blocks are all in its own slice, so the pairs are the same.
    step, total = _ROWS_PER_BLOCK_SLICE, words.len()
    query_keys = pl.concat(
        [word_blocks(pl.int_range(start, min(start + step, total), eager=True),
                     words.slice(start, step))
         for start in range(0, max(total, 1), step)]).rename({"id": "q"})
    blocks, partial = (_usable_blocks(query_keys, register) if query_keys.height
                       else (pl.DataFrame(schema={"block": pl.String, "size": pl.Int64}),
                             pl.Series("q", [], dtype=pl.Int64)))
    # token_sort_ratio is the plain ratio of the names with their words sorted: sort
    # them once here.
    queries = _Texts(_comparison_text(words))
    del words  # not needed while scoring, the scan's peak (a list of words per row)
    # Members are read and scored a slice of blocks at a time, so memory holds one
    # slice of the register's names, not every candidate at once.
    slices = blocks.with_columns((pl.col("size").cum_sum() // _MEMBERS_PER_SLICE)
                                 .alias("slice")).partition_by("slice", maintain_order=True)
    found = [_score_slice(query_keys, part["block"], queries, register, forms, threshold)
             for part in slices]
    return (pl.concat([_EMPTY_MATCHES, *found])
            .sort(["q", "score", "customer_number"], descending=[False, True, False])
            .unique(["q", "customer_number"], keep="first", maintain_order=True)
            .select("q", "customer_number", "name", "score")), partial


def _score_slice(query_keys: pl.DataFrame, blocks: pl.Series, queries: _Texts,
                 register: NameBlocks, forms: LegalForms,
                 threshold: float) -> pl.DataFrame:
    """The pairs of these blocks that reach the threshold: q, customer_number, name,
    score.

    A block with many New rows is scored as one query x member matrix (rapidfuzz
    prepares each query once). The many blocks of a few New rows each are paired up
    together: pairs that can't reach the threshold (_can_reach) are dropped without
    scoring, the rest scored pair by pair. A customer in two blocks of one row may be
    scored twice; the best score is the same.
    """
    members = register.block_members(blocks.to_list()).with_row_index("c")
    choices = _Texts(_comparison_text(_comparable_words(members["name"], forms)))
    keys = query_keys.filter(pl.col("block").is_in(blocks.implode())).with_columns(
        (pl.len().over("block") >= _MATRIX_QUERIES).alias("matrix"))
    found_q: list[np.ndarray] = []
    found_c: list[np.ndarray] = []
    found_score: list[np.ndarray] = []
    per_block = (keys.filter("matrix").group_by("block").agg("q")
                 .join(members.group_by("block").agg("c"), on="block"))
    for qs, cs in per_block.select("q", "c").iter_rows():
        qs_, cs_ = np.asarray(qs), np.asarray(cs)
        scores = process.cdist([queries.as_list[i] for i in qs],
                               [choices.as_list[j] for j in cs],
                               scorer=fuzz.ratio, score_cutoff=threshold,
                               dtype=np.float64)
        qi, ci = (scores >= threshold).nonzero()
        found_q.append(qs_[qi])
        found_c.append(cs_[ci])
        found_score.append(scores[qi, ci])
    pairs = keys.filter(~pl.col("matrix")).select("q", "block").join(
        members.select("block", "c"), on="block")
    q, c = pairs["q"].to_numpy(), pairs["c"].to_numpy()
    keep = _can_reach(queries, q, choices, c, threshold)
    q, c = q[keep], c[keep]
    scores = process.cpdist(queries.strings(q), choices.strings(c),
                            scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float64)
    hit = scores >= threshold
    found_q.append(q[hit])
    found_c.append(c[hit])
    found_score.append(scores[hit])
    scored = pl.DataFrame({"q": np.concatenate(found_q), "c": np.concatenate(found_c),
                           "score": np.concatenate(found_score)},
                          schema={"q": pl.Int64, "c": pl.UInt32, "score": pl.Float64})
    return scored.join(members.select("c", "customer_number", "name"), on="c").select(
        "q", "customer_number", "name", "score")


def possible_duplicates(new_rows: pl.DataFrame, register: NameBlocks,
                        legal_forms: Iterable[str], threshold: float) -> pl.DataFrame:
    """Flag New rows that look like an existing customer or an earlier New row.

    `new_rows`: _row, name, name_key, customer_number (the number the row will get),
    sorted by _row. Existing customers are read from `register`'s name blocks. Returns
    _row, possible_duplicate (a customer number), similarity (0-100) and
    duplicate_note, only for flagged rows.
    """
    forms = _form_tokens(legal_forms)
    flagged = pl.DataFrame(schema=DUPLICATE_SCHEMA)
    if new_rows.height:
        best = _register_matches(new_rows, register, forms, threshold)
        score = pl.col("score").round(0).cast(pl.Int64)
        number = pl.col("customer_number")
        flagged = best.select(
            new_rows["_row"].gather(best["q"]).alias("_row"),
            "customer_number", "name", score.alias("similarity"),
        ).select(
            "_row", number.alias("possible_duplicate"), "similarity",
            pl.format("possible duplicate of customer {} '{}' (similarity {})", number,
                      pl.col("name"), pl.col("similarity")).alias("duplicate_note"))
    earlier = (new_rows.filter(pl.col("name_key").is_not_null())
               .with_columns(pl.col("_row").first().over("name_key").alias("first_row"),
                             pl.col("customer_number").first().over("name_key")
                             .alias("first_number"))
               .filter(pl.col("_row") != pl.col("first_row"))
               .select("_row", pl.col("first_number").alias("possible_duplicate"),
                       pl.lit(100, pl.Int64).alias("similarity"),
                       pl.format("possible duplicate of row {} (same name)",
                                 pl.col("first_row")).alias("duplicate_note")))
    # A row like an existing customer and named as an earlier row says both; its
    # possible_duplicate stays the existing customer (spec section 9).
    both = pl.col("_row").is_in(flagged["_row"].implode())
    also = earlier.filter(both).select("_row", pl.col("duplicate_note").alias("_also"))
    flagged = (flagged.join(also, on="_row", how="left", maintain_order="left")
               .with_columns(pl.when(pl.col("_also").is_not_null())
                             .then(pl.format("{}; {}", "duplicate_note", "_also"))
                             .otherwise(pl.col("duplicate_note")).alias("duplicate_note"))
               .drop("_also"))
    return pl.concat([flagged, earlier.filter(~both)], how="vertical_relaxed")


def similar_customers(rows: pl.DataFrame, register: NameBlocks, legal_forms: Iterable[str],
                      threshold: float) -> pl.DataFrame:
    """Every existing customer whose name is at least `threshold` similar to a row's
    (the possible-duplicate comparison, over the same name blocks).

    `rows`: _row and name. Returns _row, customer_number, name (the customer's),
    similarity (0-100, rounded as possible duplicates show it), best first per row, and
    partial: True when some customers sharing a word with the row's name were not
    compared (a word so common that comparing it would pair too much), so that more
    customers may be that similar. Rows with no such customer are absent.
    """
    schema = {"_row": pl.Int64, "customer_number": pl.String, "name": pl.String,
              "similarity": pl.Int64, "partial": pl.Boolean}
    if not rows.height:
        return pl.DataFrame(schema=schema)
    pairs, partial = _register_pairs(rows.select("name"), register,
                                     _form_tokens(legal_forms), threshold)
    return pairs.select(
        rows["_row"].gather(pairs["q"]).alias("_row"), "customer_number", "name",
        pl.col("score").round(0).cast(pl.Int64).alias("similarity"),
        pl.col("q").is_in(partial.implode()).alias("partial")).cast(schema)

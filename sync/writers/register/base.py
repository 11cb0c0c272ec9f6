"""The register interface every engine (SQLite, PostgreSQL) implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from sync.types import Progress

# The steps of a commit, in order, as reported to a progress callback.
COMMIT_STEPS: tuple[str, ...] = ("checking the plan is current", "inserting customers",
                                 "updating customers", "updating name blocks",
                                 "writing the transaction")

KeyField = str  # "customer_number", "business_id" or "name_key"


@dataclass(frozen=True)
class Parts:
    """Frames read a part at a time as they are iterated (once): how many (>= 1), and
    how many plan rows they come from in all."""

    count: int
    frames: Iterable[pl.DataFrame]
    rows: int = 0


@dataclass(frozen=True)
class ChangeSet:
    """What a commit writes, derived from a plan: nothing here is decided by the engine.

    The rows come in parts (read from the plan as they are written, so a commit holds a
    part in memory, not the whole plan); a customer is in one part only.
    inserts: one row per New customer, canonical field columns (customer_group by name).
    updates: long form, one row per changed field: customer_number, field, old, new.
    names: customer_number, old (the name before; null for a New customer), new, for
    the New customers and the renamed ones (their name blocks change).
    columns: the field columns of the inserts (the register grows one for a custom field).
    groups: group names the plan needs (created when missing, matched ignoring case).
    touched: the customer numbers the plan writes to (New rows' numbers included).
    relies_on: key values the plan's matching relied on, per key field, for the stale check.
    relies_on_similar_names: the plan's matching compared names by similarity, so a name
    added or changed anywhere in the register since makes it stale.
    custom_headers: the headers of the plan's custom fields, which the register
    remembers (see Register.custom_headers).
    """

    inserts: Parts
    updates: Parts
    names: Parts
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    touched: pl.Series
    relies_on: dict[KeyField, pl.Series]
    relies_on_similar_names: bool = False
    custom_headers: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchInfo:
    """A committed batch."""

    batch_id: int
    version: int
    inserted: int
    updated: int
    groups_created: tuple[str, ...]


@dataclass(frozen=True)
class Selection:
    """Which customers an export takes; every condition given must hold (AND).

    group: a group name (compared ignoring case). customer_type: company or person.
    where: (field, canonical value) pairs; an empty value selects customers without one.
    default_country: the rules' default country; `country` equal to it also selects
    customers without a country (an empty country means the default one, spec section 2).
    changed_since_batch: customers inserted or updated by that batch or a later one.
    changed_since: customers inserted or updated by a batch committed at or after this
    UTC ISO time. customers: these customer numbers only. include_invalidated: also
    customers marked invalidated (registers without that mark have none).
    """

    group: str | None = None
    customer_type: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    changed_since_batch: int | None = None
    changed_since: str | None = None
    customers: tuple[str, ...] | None = None
    include_invalidated: bool = False
    default_country: str | None = None


class Register(Protocol):
    """The small surface the pipeline needs from a register engine."""

    # Where the register is, or would be created: an SQLite file's resolved path, or
    # PostgreSQL's server, database and schema. A plan made where no register existed
    # yet (no register_id) is committed only to the same place.
    location: str

    def register_id(self) -> str | None:
        """The register's identity (None for an empty, not yet created register)."""
        ...

    def version(self) -> int:
        """A number that moves on every commit."""
        ...

    def read_snapshot(self) -> AbstractContextManager[None]:
        """Around reads that must see the register in one state (a preview): where the
        engine can (PostgreSQL), every read within, on any connection, sees it as it was
        when the block began, whatever commits meanwhile. Elsewhere it changes nothing,
        and the caller checks the version instead. Nothing may be written within."""
        ...

    def history_digest(self, version: int) -> str:
        """A digest of the batches that took the register to `version`: copies of one
        register that went separate ways (a restored backup) differ here, even where
        their versions are equal."""
        ...

    def lookup(self, key: KeyField, values: pl.Series) -> pl.DataFrame:
        """Customers whose `key` equals one of `values`: columns value, customer_number."""
        ...

    def fetch(self, numbers: pl.Series, fields: tuple[str, ...]) -> pl.DataFrame:
        """The register rows of these customers (customer_number plus `fields`)."""
        ...

    def max_numeric_number(self) -> int | None:
        """The largest all-digit customer_number as an integer, None if there is none."""
        ...

    def group_names(self) -> pl.DataFrame:
        """Every group: columns name, name_key."""
        ...

    def padded_twins(self, numbers: pl.Series) -> pl.DataFrame:
        """Customers whose number is one of these all-digit `numbers` with leading zeros
        added (0042 for 42): columns number, customer_number, name_key."""
        ...

    def numbers_in_ranges(self, ranges: list[tuple[str, str]]) -> pl.DataFrame:
        """The all-digit customer numbers from `low` to `high` of each range, where both
        are digits of one length without leading zeros, compared as numbers (a number
        with leading zeros is in the range its digits are): columns low,
        customer_number."""
        ...

    def numbers_with_letters(self, lengths: list[int]) -> pl.Series:
        """The customer numbers of these lengths (in characters) that hold a character
        past ASCII (`ŘK-7`): the only ones a number with '?' for a lost letter can be."""
        ...

    def has_name_blocks(self) -> bool:
        """Whether any customer has a name block (False: no customer can be paired, as in
        an empty register)."""
        ...

    def block_sizes(self, blocks: list[str], cap: int) -> pl.DataFrame:
        """How many customers each name block has, counted up to `cap`: block, size."""
        ...

    def block_members(self, blocks: list[str]) -> pl.DataFrame:
        """The customers in these name blocks: block, customer_number, name."""
        ...

    def custom_columns(self) -> tuple[str, ...]:
        """The columns of custom fields the register holds (named by any rules used)."""
        ...

    def custom_headers(self) -> dict[str, list[str]]:
        """The headers of its custom fields that the rules of its commits named (their
        aliases and export headers), by field; empty where none were recorded."""
        ...

    def export_chunks(self, fields: tuple[str, ...], selection: Selection,
                      chunk_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """The selected customers in register order, `fields` as String columns, in
        frames of at most `chunk_rows` rows; only one chunk is held at a time."""
        ...

    def apply(self, changes: ChangeSet, *, plan_id: str, plan_version: int, source: str,
              checksum: str, actor: str, counts: dict[str, int],
              progress: Progress | None = None, once: bool = False,
              plan_history: str | None = None) -> BatchInfo:
        """Apply a change set in one transaction, or raise and write nothing.

        `progress`, when given, is called as each step of COMMIT_STEPS begins. `once`:
        refuse (AlreadyCommittedError) a source checksum an import batch not reverted
        has. `plan_history`: the `history_digest` of the register the plan was made
        against, at `plan_version` (StalePlanError if this register's differs)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

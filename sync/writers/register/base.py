"""The register interface every engine (SQLite, PostgreSQL) implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

KeyField = str  # "customer_number", "business_id" or "name_key"


@dataclass(frozen=True)
class ChangeSet:
    """What a commit writes, derived from a plan: nothing here is decided by the engine.

    inserts: one row per New customer, canonical field columns (customer_group by name).
    updates: long form, one row per changed field: customer_number, field, old, new.
    groups: group names the plan needs (created when missing, matched ignoring case).
    relies_on: key values the plan's matching relied on, per key field, for the stale check.
    """

    inserts: pl.DataFrame
    updates: pl.DataFrame
    groups: tuple[str, ...]
    touched: frozenset[str]
    relies_on: dict[KeyField, frozenset[str]]


@dataclass(frozen=True)
class BatchInfo:
    """A committed batch."""

    batch_id: int
    version: int
    inserted: int
    updated: int
    groups_created: tuple[str, ...]


class Register(Protocol):
    """The small surface the pipeline needs from a register engine."""

    def register_id(self) -> str | None:
        """The register's identity (None for an empty, not yet created register)."""
        ...

    def version(self) -> int:
        """A number that moves on every commit."""
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

    def names(self) -> pl.DataFrame:
        """Every customer's customer_number and name, for similarity checks."""
        ...

    def apply(self, changes: ChangeSet, *, plan_id: str, plan_version: int, source: str,
              checksum: str, actor: str, counts: dict[str, int]) -> BatchInfo:
        """Apply a change set in one transaction, or raise and write nothing."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

"""`regsync` with the possible-duplicate check switched off: a diagnostic, not a product.

    python benchmarks/regsync_nofuzzy.py preview SOURCE --db DB --plan PLAN --json

Runs the unchanged regsync CLI, except that `sync.pipeline.possible_duplicates` (the
rapidfuzz scan of every New row's name against every register name) returns no flags.
Statuses and counts are unaffected: the check only flags, it never matches. It lets the
benchmark time the rest of the preview on registers where the scan alone takes hours.
"""

from __future__ import annotations

from typing import Any

import polars as pl

import sync.pipeline
from sync.cli import main
from sync.matchers.fuzzy import DUPLICATE_SCHEMA


def _no_flags(*_args: Any, **_kwargs: Any) -> pl.DataFrame:
    """What possible_duplicates returns when it flags nothing."""
    return pl.DataFrame(schema=DUPLICATE_SCHEMA)


sync.pipeline.possible_duplicates = _no_flags

if __name__ == "__main__":
    main()

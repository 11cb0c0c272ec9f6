"""The preview report: one CSV line per source row (spec section 9 columns)."""

from __future__ import annotations

from pathlib import Path

from sync.plan import Plan


def write_report(plan: Plan, path: Path) -> None:
    """Write the report as UTF-8 CSV with the columns of spec section 9, in row order."""
    plan.report().write_csv(path, null_value="")

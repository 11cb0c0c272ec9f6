"""Time the possible-duplicate scan alone, and compare its flags between two versions.

    python benchmarks/fuzzy_scan.py --data DIR --rows NEW.parquet --runs 3 --flags OUT.parquet
    python benchmarks/fuzzy_scan.py --compare A.parquet B.parquet

DIR holds register.db (schema 2) and source.csv. The first run previews the source once
and keeps the New rows the scan is given in NEW.parquet; later runs (of this or another
version of regsync, e.g. with PYTHONPATH pointing at an exported tree) reuse them, so
every version scans the same input. Times are CPU seconds of this process (all threads)
and wall seconds; --flags writes the scan's flags sorted by row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl


def _new_rows(data: Path, rows: Path) -> pl.DataFrame:
    """The New rows a preview of data/source.csv hands to the scan (kept in `rows`)."""
    if rows.exists():
        return pl.read_parquet(rows)
    import sync.pipeline as pipeline
    from sync.rules import load_rules
    from sync.writers.register import open_register

    real = pipeline.possible_duplicates
    seen: list[pl.DataFrame] = []

    def keep(new_rows: pl.DataFrame, *args: object) -> pl.DataFrame:
        seen.append(new_rows)
        return real(new_rows, *args)  # type: ignore[arg-type]

    pipeline.possible_duplicates = keep  # type: ignore[assignment]
    register = open_register(str(data / "register.db"), create=False)
    try:
        pipeline.preview(data / "source.csv", register, load_rules())
    finally:
        register.close()
        pipeline.possible_duplicates = real
    seen[0].write_parquet(rows)
    return seen[0]


def _scan(data: Path, new_rows: pl.DataFrame, runs: int) -> pl.DataFrame:
    from sync.matchers.fuzzy import possible_duplicates
    from sync.rules import load_rules
    from sync.writers.register import open_register

    rules = load_rules()
    register = open_register(str(data / "register.db"), create=False)
    cpu: list[float] = []
    flags = pl.DataFrame()
    try:
        for _ in range(runs):
            started, wall = time.process_time(), time.perf_counter()
            flags = possible_duplicates(new_rows, register, rules.legal_forms,
                                        rules.fuzzy_threshold)
            cpu.append(time.process_time() - started)
            print(f"scan: {cpu[-1]:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall, "
                  f"{flags.height} flagged", file=sys.stderr)
    finally:
        register.close()
    print(f"median {sorted(cpu)[len(cpu) // 2]:.2f} s CPU over {runs} run(s), "
          f"{new_rows.height} New rows", file=sys.stderr)
    return flags.sort("_row")


def _compare(before: Path, after: Path) -> None:
    """How the flags of two runs differ, row by row."""
    a, b = pl.read_parquet(before), pl.read_parquet(after)
    both = a.join(b, on="_row", how="full", suffix="_after", coalesce=True)
    flag, flag_after = both["possible_duplicate"], both["possible_duplicate_after"]
    same = ((flag == flag_after)
            & (both["similarity"] == both["similarity_after"])).fill_null(False)
    differ = ~same & flag.is_not_null() & flag_after.is_not_null()
    print(f"{before}: {a.height} flagged; {after}: {b.height} flagged")
    print(f"same flag: {int(same.sum())}; only before: {int(flag_after.is_null().sum())}; "
          f"only after: {int(flag.is_null().sum())}; another customer or similarity: "
          f"{int(differ.sum())}")


def main() -> None:
    """Parse the arguments and time or compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--rows", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flags", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        _compare(*args.compare)
        return
    if not args.data or not args.rows:
        parser.error("--data and --rows are needed to time the scan")
    import sync
    print(f"regsync from {Path(sync.__file__).parent}", file=sys.stderr)
    flags = _scan(args.data, _new_rows(args.data, args.rows), args.runs)
    if args.flags:
        flags.write_parquet(args.flags)


if __name__ == "__main__":
    main()

"""A first load: a generated register's whole CSV export imported into an empty register.

    python benchmarks/first_load.py --data DATA --runs 2 [--engine sqlite|postgresql]

DATA is a folder written by `generate.py` (its `register.csv` is the source: every row
New). The preview runs once (its plan is kept in a temp folder); then `regsync commit`
of that plan runs `--runs` times, each into a fresh empty register (an SQLite file in
the temp folder, or a fresh schema of the test database). Prints wall seconds, CPU
seconds (user + sys of the regsync process) and peak RSS of each run, and the medians.
With `--base DIR`, each run is followed by the same commit with the code in DIR (a
worktree of an earlier commit, put first on PYTHONPATH), alternating.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from pg_case import PG, drop_schema, regsync


def empty_register(engine: str, folder: Path) -> tuple[str, str | None]:
    """A register URL that does not exist yet, and the schema to drop after (PostgreSQL)."""
    if engine == "sqlite":
        path = folder / f"{uuid.uuid4().hex[:8]}.db"
        return str(path), None
    schema = f"first_{uuid.uuid4().hex[:8]}"
    return f"{PG}?schema={schema}", schema


def drop(url: str, schema: str | None) -> None:
    """Remove a register made by a run."""
    if schema is None:
        for suffix in ("", "-journal", "-wal"):
            Path(url + suffix).unlink(missing_ok=True)
        return
    drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--base", type=Path, help="also time the code in this folder")
    args = parser.parse_args()
    source = args.data / "register.csv"
    codes = {"new": os.environ.get("PYTHONPATH", "")}
    if args.base is not None:
        codes["base"] = str(args.base.resolve())
    figures: dict[str, list[tuple[float, float, int]]] = {code: [] for code in codes}
    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        folder = Path(tmp)
        plan = folder / "first.plan"
        seconds, cpu, rss, counts = regsync("preview", str(source), "--db",
                                            str(folder / "none.db"), "--plan", str(plan))
        print(f"preview {seconds:.2f} s ({cpu:.2f} s CPU, {rss} MiB): {counts['new']:,} New",
              flush=True)
        for run in range(args.runs):
            for code, path in codes.items():
                os.environ["PYTHONPATH"] = path
                url, schema = empty_register(args.engine, folder)
                try:
                    if schema is not None:
                        regsync("init", "--db", url)
                    seconds, cpu, rss, _ = regsync("commit", str(plan), "--db", url)
                finally:
                    drop(url, schema)
                figures[code].append((seconds, cpu, rss))
                print(f"run {run + 1} {code}: commit {seconds:.2f} s ({cpu:.2f} s CPU, "
                      f"{rss} MiB)", flush=True)
    for code, runs in figures.items():
        print(f"median {code} over {len(runs)} runs: commit "
              f"{statistics.median(r[0] for r in runs):.2f} s "
              f"({statistics.median(r[1] for r in runs):.2f} s CPU), peak RSS "
              f"{statistics.median(r[2] for r in runs):.0f} MiB")


if __name__ == "__main__":
    main()

"""Preview and commit of a generated case on registers that differ only in page size.

    python benchmarks/page_size.py --data DATA --sizes 4096,65536 --runs 2

DATA is a folder written by `generate.py`. Its register is copied once per page size
and rewritten with `PRAGMA page_size = N; VACUUM` (every size, the register's own
included, so that each copy is equally unfragmented), in a temp folder inside DATA.
The plan is made once, against the first copy (the copies hold the same register, so
it applies to each). Then, in turns (size after size, `--runs` rounds), `regsync
preview` of DATA's source against each copy, and `regsync commit` of the plan on a
fresh copy of it, flushed to disk first. Prints wall seconds, CPU seconds and peak RSS
of each run, and the medians per size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

from pg_case import regsync


def rewritten(register: Path, size: int, folder: Path) -> Path:
    """A copy of `register` with pages of `size` bytes."""
    copy = folder / f"r{size}.db"
    shutil.copyfile(register, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {size}")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA page_size").fetchone()[0] == size
    finally:
        conn.close()
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sizes", default="4096,65536",
                        help="comma-separated page sizes in bytes")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    source = args.data / "source.csv"
    figures: dict[tuple[int, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        folder = Path(tmp)
        copies = {size: rewritten(args.data / "register.db", size, folder) for size in sizes}
        plan = folder / "case.plan"
        regsync("preview", str(source), "--db", str(copies[sizes[0]]), "--plan", str(plan))
        for run in range(args.runs):
            for size in sizes:
                out = folder / "x.plan"
                preview = regsync("preview", str(source), "--db", str(copies[size]),
                                  "--plan", str(out))
                target = folder / "c.db"
                shutil.copyfile(copies[size], target)
                os.sync()
                commit = regsync("commit", str(plan), "--db", str(target))
                target.unlink()
                for step, (seconds, cpu, rss, _) in (("preview", preview), ("commit", commit)):
                    figures.setdefault((size, step), []).append((seconds, cpu, rss))
                    print(f"run {run + 1} {size:>6} {step:<7} {seconds:6.2f} s "
                          f"({cpu:.2f} s CPU, {rss} MiB)", flush=True)
    for (size, step), runs in sorted(figures.items()):
        print(f"median {size:>6} {step:<7} over {len(runs)} runs: "
              f"{statistics.median(r[0] for r in runs):.2f} s "
              f"({statistics.median(r[1] for r in runs):.2f} s CPU), peak RSS "
              f"{statistics.median(r[2] for r in runs):.0f} MiB")


if __name__ == "__main__":
    main()

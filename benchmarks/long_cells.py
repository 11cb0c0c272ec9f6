"""Long cells: a register of customers with long notes, imported again (all No change).

    python benchmarks/long_cells.py [--rows 10000] [--chars 30000] [--runs 3] [--db URL]

Writes a semicolon CSV of ROWS customers (number, name, notes of CHARS characters) to
a temporary folder, imports it once into a new register (an SQLite file there, or the
PostgreSQL URL given), then previews the same file again RUNS times and commits the
last plan; then previews and commits a copy with every note edited. Prints, per step,
wall seconds and peak RSS (the child's ru_maxrss), the file's size and the ratio of
peak RSS to it. The previews again must report all rows as No change, the edited one
all Modified.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORDS = "lorem ipsum dolor sit amet asiakas lasku kahvila aurinko oy".split()


def write_source(path: Path, rows: int, chars: int, seed: int = 1,
                 suffix: str = "") -> None:
    """ROWS customers 1000.. with notes of exactly `chars` characters of words, then
    `suffix`."""
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["Asiakasnumero", "Nimi", "Lisätiedot"])
        for i in range(rows):
            words: list[str] = []
            size = 0
            while size < chars:
                word = rnd.choice(_WORDS)
                words.append(word)
                size += len(word) + 1
            out.writerow([str(1000 + i), f"Asiakas {i}", " ".join(words)[:chars] + suffix])


def run(args: list[str]) -> tuple[float, int, dict]:
    """`python -m sync ARGS --json`: wall seconds, the child's peak RSS in MiB, its JSON.

    Each step runs in a child of its own, started through a fresh Python that waits for
    it, so ru_maxrss is that step's peak alone."""
    waiter = ("import resource, subprocess, sys, json\n"
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
              "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr,"
              " 'peak': peak}))\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", waiter, sys.executable, "-m", "sync",
                           *args, "--json"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    if result["code"] not in (0, 1):
        raise SystemExit(f"{args[0]} failed ({result['code']}): {result['err'][-500:]}")
    return wall, result["peak"] // 1024, json.loads(result["out"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--chars", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="a PostgreSQL URL (default: an SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "long.csv"
        write_source(source, args.rows, args.chars)
        size = source.stat().st_size / 2**20
        db = args.db or str(work / "register.db")
        print(f"source: {args.rows:,} rows, notes of {args.chars:,} characters, "
              f"{size:.0f} MiB; register: {'PostgreSQL' if args.db else 'SQLite'}",
              flush=True)
        wall, peak, _ = run(["import", str(source), "--db", db, "--yes"])
        print(f"import (all New): {wall:.2f} s, peak RSS {peak} MiB ({peak / size:.1f}x "
              "the file)", flush=True)
        walls, peaks = [], []
        plan = work / "again.plan"
        for i in range(args.runs):
            wall, peak, counts = run(["preview", str(source), "--db", db, "--plan",
                                      str(plan)])
            if counts["unchanged"] != args.rows:
                raise SystemExit(f"preview {i + 1}: expected all No change, got {counts}")
            walls.append(wall)
            peaks.append(peak)
            print(f"preview again, run {i + 1}: {wall:.2f} s, peak RSS {peak} MiB",
                  flush=True)
        wall, peak, _ = run(["commit", str(plan), "--db", db])
        print(f"median preview: {statistics.median(walls):.2f} s, peak RSS "
              f"{statistics.median(peaks):.0f} MiB ({statistics.median(peaks) / size:.1f}x "
              f"the file); commit of that plan: {wall:.2f} s, peak RSS {peak} MiB",
              flush=True)
        edited = work / "edited.csv"
        write_source(edited, args.rows, args.chars, suffix=" muutettu")
        wall, peak, counts = run(["preview", str(edited), "--db", db, "--plan", str(plan),
                                  "--report", str(work / "edited-report.csv")])
        if counts["modified"] != args.rows:
            raise SystemExit(f"edited preview: expected all Modified, got {counts}")
        report = (work / "edited-report.csv").stat().st_size / 2**20
        print(f"preview of every note edited (with its {report:.0f} MiB report): "
              f"{wall:.2f} s, peak RSS {peak} MiB", flush=True)
        wall, peak, _ = run(["commit", str(plan), "--db", db])
        print(f"commit of it: {wall:.2f} s, peak RSS {peak} MiB", flush=True)
        print(f"machine: nproc {os.cpu_count()}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()

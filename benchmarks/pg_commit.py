"""Commit N new rows, then N updates, into a PostgreSQL register, next to a plain COPY.

    python benchmarks/pg_commit.py --rows 1000000 --runs 1

Each run uses fresh schemas in the test database. Timed: `regsync commit` of a plan of
N New rows into an empty register, `regsync commit` of a plan of N Modified rows (one
field each) into that register, and the floor: a plain `COPY` of the same N rows (the
same CSV the preview read) into an empty table with the register's customer columns.
Previews are timed too but are not part of the target. Prints one line per run and
the medians; generated files go to a temp folder. `commit_*_cpu` is the regsync
process's user + sys CPU seconds (the server's work is not in it), `*_rss_mib` its peak
RSS, both from /usr/bin/time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import polars as pl
import psycopg

PG = os.environ.get("REGSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = ("customer_number", "name", "email", "postal_code", "city", "customer_group")


def source(rows: int, city: str) -> pl.DataFrame:
    """N customers with distinct numbers, names and emails; `city` varies per file."""
    n = pl.int_range(1, rows + 1, eager=True).alias("n")
    return pl.DataFrame(n).select(
        pl.col("n").cast(pl.String).alias("customer_number"),
        pl.format("Asiakas {} Oy", "n").alias("name"),
        pl.format("asiakas{}@example.fi", "n").alias("email"),
        (pl.col("n") % 99999).cast(pl.String).str.zfill(5).alias("postal_code"),
        pl.lit(city).alias("city"),
        pl.format("Ryhmä {}", pl.col("n") % 50).alias("customer_group"),
    )


CPU: dict[str, float] = {}  # CPU seconds (user + sys) of the last timed command, by step
RSS: dict[str, float] = {}  # its peak RSS in MiB


def timed(step: str, *args: str) -> float:
    """Seconds of one regsync command run as its own process (exit 0/1 expected);
    its CPU time and peak RSS (from /usr/bin/time) go to CPU[step] and RSS[step]."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %M", sys.executable, "-P",
                           "-m", "sync", *args, "--json"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"regsync {' '.join(args)} failed: {done.stderr.strip()}")
    user, system, rss = done.stderr.strip().splitlines()[-1].split()[1:]
    CPU[step] = float(user) + float(system)
    RSS[step] = int(rss) / 1024
    return seconds


def copy_floor(csv_path: Path, like: str | None = None,
               columns: tuple[str, ...] | None = None) -> float:
    """Seconds of COPY of the CSV (`;`-separated, a header line) into an empty table (a
    fresh schema): text columns c0, c1, ... one per header field, or with `like` a copy
    of that table with all its indexes, filled in `columns`."""
    if columns is None:
        with open(csv_path, encoding="utf-8") as handle:
            width = len(handle.readline().rstrip("\n").split(";"))
        columns = tuple(f"c{i}" for i in range(width))
    schema = f"floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        if like is None:
            conn.execute(f'CREATE TABLE "{schema}".t ({", ".join(c + " TEXT" for c in columns)})')
        else:
            conn.execute(f'CREATE TABLE "{schema}".t (LIKE {like} INCLUDING ALL)')
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                f'COPY "{schema}".t ({", ".join(columns)}) FROM STDIN '
                f"(FORMAT csv, HEADER true, DELIMITER ';')"
        ) as copy, open(csv_path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - start
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return seconds


def one_run(rows: int, folder: Path) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    db = f"{PG}?schema={schema}"
    first, second = folder / "new.csv", folder / "update.csv"
    source(rows, "Oulu").write_csv(first, separator=";")
    source(rows, "Kemi").write_csv(second, separator=";")
    figures = {"preview_new": timed("preview_new", "preview", str(first), "--db", db,
                                    "--plan", str(folder / "new.plan"))}
    figures["commit_new"] = timed("commit_new", "commit", str(folder / "new.plan"),
                                  "--db", db)
    figures["commit_new_cpu"] = CPU["commit_new"]
    figures["commit_new_rss_mib"] = RSS["commit_new"]
    figures["preview_update"] = timed("preview_update", "preview", str(second), "--db", db,
                                      "--plan", str(folder / "update.plan"))
    figures["commit_update"] = timed("commit_update", "commit", str(folder / "update.plan"),
                                     "--db", db)
    figures["commit_update_cpu"] = CPU["commit_update"]
    figures["commit_update_rss_mib"] = RSS["commit_update"]
    figures["copy_floor"] = copy_floor(first)
    # The customers table holds a group id, not the group's name: that column stays out.
    plain = folder / "indexed.csv"
    pl.read_csv(first, separator=";", infer_schema=False).drop("customer_group").write_csv(
        plain, separator=";")
    figures["copy_indexed"] = copy_floor(plain, like=f'"{schema}".customers',
                                         columns=COLUMNS[:-1])
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return figures


def _shown(name: str, value: float) -> str:
    unit = " MiB" if name.endswith("_mib") else " s CPU" if name.endswith("_cpu") else "s"
    return f"{name} {value:.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            figures = one_run(args.rows, Path(tmp))
            runs.append(figures)
            print(f"run {index + 1}: " + ", ".join(_shown(k, v) for k, v in figures.items()),
                  flush=True)
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"medians over {args.runs} runs of {args.rows} rows: "
          + ", ".join(_shown(k, v) for k, v in medians.items()))
    print(f"commit_new / copy_floor = {medians['commit_new'] / medians['copy_floor']:.2f}x; "
          f"commit_update / copy_floor = {medians['commit_update'] / medians['copy_floor']:.2f}x; "
          f"commit_new / copy_indexed = {medians['commit_new'] / medians['copy_indexed']:.2f}x")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

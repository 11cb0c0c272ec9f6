"""Streaming export: seconds and peak memory of `regsync export` on a large register.

    .venv/bin/python benchmarks/export_stream.py [--rows 5000000] [--dir /tmp/regsync-bench]

Builds (once, reused while its row count matches) an SQLite register of N customers by
bulk insert through the register's own schema, then runs `regsync export` to CSV and
to Parquet, each in a child process, and prints the wall time and the child's peak RSS
(getrusage RUSAGE_CHILDREN). The register lives under --dir and is never committed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.writers.register.sqlite import SQLiteRegister  # noqa: E402

BATCH = 200_000
CITIES = ("Helsinki", "Espoo", "Tampere", "Oulu", "Turku", "Stockholm", "Praha 1")
GROUPS = ("Helsinki", "Oulu", "Uudet", "Pohjoinen", "Etelä")


def build(path: Path, rows: int) -> None:
    """A register of `rows` customers: groups, a batch, and every common field filled."""
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM customers").fetchone()[0] == rows:
                return
        path.unlink()
    SQLiteRegister.open(path, create=True).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO groups (id, name, name_key, created_batch) VALUES (?,?,?,1)",
                     [(i + 1, g, g.casefold()) for i, g in enumerate(GROUPS)])
    conn.execute("INSERT INTO batches (id, plan_id, version, committed_at, counts) "
                 "VALUES (1, 'bench', 1, '2024-01-01T00:00:00+00:00', '{}')")
    sql = ("INSERT INTO customers (customer_number, customer_type, name, business_id, email, "
           "phone, street_address, postal_code, city, country, group_id, notes, name_key, "
           "created_batch, updated_batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1,1)")
    for start in range(0, rows, BATCH):
        conn.executemany(sql, (_row(i) for i in range(start, min(start + BATCH, rows))))
    conn.execute("COMMIT")
    conn.close()


def _row(i: int) -> tuple[object, ...]:
    name = f"Asiakas {i} Oy" if i % 3 else f"Matti Virtanen {i}"
    return (str(100000 + i), "company" if i % 3 else "person", name,
            None, f"asiakas{i}@example.fi", f"+35840{i % 10_000_000:07d}",
            f"Katu {i % 200} A {i % 30}", f"{i % 100000:05d}", CITIES[i % len(CITIES)],
            "FI", i % len(GROUPS) + 1, "-Oy- =Summa" if i % 1000 == 0 else None,
            name.lower(), )


def run_export(db: Path, dest: Path) -> None:
    """Run `regsync export` in a child and print its seconds and peak RSS (KiB).

    Called in a fresh process of its own (see `measure`), so RUSAGE_CHILDREN holds
    exactly the one export.
    """
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sync", "export", str(dest), "--db", str(db),
                    "--json"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def measure(db: Path, dest: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, output bytes) of one export, measured in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--measure", str(db), str(dest)],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, dest.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/regsync-bench"))
    parser.add_argument("--measure", nargs=2, type=Path, metavar=("DB", "DEST"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        run_export(*args.measure)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    db = args.dir / f"register-{args.rows}.db"
    started = time.perf_counter()
    build(db, args.rows)
    print(f"register: {args.rows:,} customers, {db.stat().st_size / 2**20:,.0f} MiB "
          f"({time.perf_counter() - started:.0f} s to build or check)")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for name in ("export.parquet", "export.csv"):
        seconds, peak, size = measure(db, args.dir / name)
        print(f"{name:<15} {seconds:7.1f} s  peak RSS {peak:7.0f} MiB  "
              f"output {size / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()

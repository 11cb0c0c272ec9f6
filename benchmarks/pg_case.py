"""A generated case on PostgreSQL: preview and commit next to a plain COPY of the source.

    python benchmarks/pg_case.py --data /work/data/large --runs 1

DATA is a folder from generate.py (register.db, source.csv, expected.json). Each run
loads the SQLite register into a fresh schema of the test database (`regsync init`,
then the customers, groups and name blocks tables copied through the sqlite3 shell
and COPY; not timed), then
times `regsync preview DATA/source.csv` and `regsync commit` against it, each its own
process, and the floor of issue 8: a plain `COPY` of the same source rows into an
empty table of text columns, in the same run. Prints one line per run, then the
medians and the ratio commit / floor. The schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from pg_commit import copy_floor  # the same floor as the commit benchmark

PG = os.environ.get("REGSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_TABLES = ("groups", "customers", "name_blocks")


def regsync(*args: str) -> tuple[float, float, int, dict[str, object]]:
    """Run one regsync command: wall s, CPU s (user + sys), peak RSS MiB, its JSON.

    `-P`: the working folder is not put first on the module path, so a PYTHONPATH
    pointing at another checkout (the --base runs) is what runs, wherever this is
    started from."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %M", sys.executable, "-P",
                           "-m", "sync", *args, "--json"], capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"regsync {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    user, system, rss = done.stderr.strip().splitlines()[-1].split()[1:]
    return seconds, float(user) + float(system), int(rss) // 1024, json.loads(done.stdout)


def drop_schema(schema: str) -> None:
    """Remove a schema a run made in the test database, with everything in it."""
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def load_register(register: Path, url: str, schema: str) -> None:
    """Make a regsync register in `schema` holding the SQLite register's customers."""
    regsync("init", "--db", url)
    source = sqlite3.connect(f"file:{register}?mode=ro", uri=True)
    columns_of = {t: [r[1] for r in source.execute(f"PRAGMA table_info({t})")]
                  for t in _TABLES}
    source.close()
    with psycopg.connect(PG, autocommit=False) as conn:
        for table in _TABLES:
            columns = columns_of[table]
            quoted = ", ".join(f'"{c}"' for c in columns)
            # The sqlite3 shell writes CSV as PostgreSQL reads it: NULL as an empty
            # field, an empty string as "".
            dump = subprocess.Popen(["sqlite3", "-csv", str(register),
                                     f"SELECT {quoted} FROM {table}"],
                                    stdout=subprocess.PIPE)
            assert dump.stdout is not None
            with conn.cursor() as cur, cur.copy(
                    f'COPY "{schema}".{table} ({quoted}) FROM STDIN (FORMAT csv)') as copy:
                while chunk := dump.stdout.read(8 << 20):
                    copy.write(chunk)
            if dump.wait() != 0:
                raise SystemExit(f"sqlite3 could not read {table} from {register}")
        for table in ("groups", "customers"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table}', "
                         f"'id'), (SELECT max(id) FROM \"{schema}\".{table}))")
        conn.commit()
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'VACUUM ANALYZE "{schema}".customers')
        conn.execute(f'VACUUM ANALYZE "{schema}".name_blocks')


def one_run(data: Path, folder: Path) -> dict[str, float]:
    """Load, preview, commit and the floor, once."""
    schema = f"case_{uuid.uuid4().hex[:8]}"
    url = f"{PG}?schema={schema}"
    try:
        start = time.perf_counter()
        load_register(data / "register.db", url, schema)
        loaded = time.perf_counter() - start
        plan = folder / "case.plan"
        preview = regsync("preview", str(data / "source.csv"), "--db", url,
                          "--plan", str(plan))
        expected = json.loads((data / "expected.json").read_text())["counts"]
        got = {k: preview[3][k] for k in expected}
        if got != expected:
            raise SystemExit(f"counts {got} are not the expected {expected}")
        commit = regsync("commit", str(plan), "--db", url)
        return {"load": loaded, "preview": preview[0], "preview_cpu": preview[1],
                "preview_rss_mib": preview[2], "commit": commit[0],
                "commit_cpu": commit[1], "commit_rss_mib": commit[2],
                "copy_floor": copy_floor(data / "source.csv")}
    finally:
        drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            runs.append(one_run(args.data, Path(tmp)))
            print(f"run {index + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()),
                  flush=True)
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"medians over {args.runs} run(s): "
          + ", ".join(f"{k} {v:.2f}" for k, v in medians.items()))
    print(f"commit / copy_floor = {medians['commit'] / medians['copy_floor']:.1f}x; "
          f"(preview + commit) / copy_floor = "
          f"{(medians['preview'] + medians['commit']) / medians['copy_floor']:.1f}x")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

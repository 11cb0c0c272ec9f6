"""Export speed by format: the XLSX export next to the CSV export of the same register.

    python benchmarks/export_xlsx.py --db /work/data/small/register.db [--runs 3]
        [--formats xlsx,csv] [--code DIR]

Exports every customer of the register RUNS times per format into a temporary folder
and prints, per format, the median wall seconds, the runs, the median peak RSS (the
child's ru_maxrss) and the file's size. `--code DIR` runs the regsync of another
checkout (a worktree of an older commit, say) instead of this one, for a before/after
in one sitting; run the two alternately, since the first runs of a sitting are slower.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WAITER = ("import resource, subprocess, sys, json\n"
           "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr,"
           " 'peak': peak}))\n")


def export_once(db: str, dest: Path, code: str | None) -> tuple[float, int, int]:
    """One `regsync export DEST --db DB`: wall seconds, peak RSS in MiB, customers."""
    env = dict(os.environ)
    command = [sys.executable]
    if code:
        env["PYTHONPATH"] = code
        command.append("-P")  # this checkout's sync must not come first on the path
    command += ["-m", "sync", "export", str(dest), "--db", db, "--json"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WAITER, *command], capture_output=True,
                          text=True, check=True, env=env)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise SystemExit(f"export failed ({result['code']}): {result['err'].strip()}")
    return wall, result["peak"] // 1024, int(json.loads(result["out"])["count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the register to export")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--code", help="a checkout whose regsync to run instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regsync-export-") as folder:
        for fmt in args.formats.split(","):
            walls, peaks = [], []
            count = size = 0
            for _ in range(args.runs):
                dest = Path(folder) / f"customers.{fmt}"
                dest.unlink(missing_ok=True)
                wall, peak, count = export_once(args.db, dest, args.code)
                walls.append(wall)
                peaks.append(peak)
                size = dest.stat().st_size
            print(f"{fmt}: {count:,} customers, median {statistics.median(walls):.2f} s "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls)}), median peak RSS "
                  f"{statistics.median(peaks):.0f} MiB, file {size / 2**20:.1f} MiB",
                  flush=True)


if __name__ == "__main__":
    main()

"""Time what a small file's preview costs: the demo file (8 rows) against the demo
register, in one process, so that what every command pays before its rows shows.

    python benchmarks/small_preview.py [--runs 15]

Prints the median of the runs after the first three (warm-ups). For an A/B of two
commits: `PYTHONPATH=/path/to/other/checkout python -P benchmarks/small_preview.py`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

import sync
from sync.cli import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "demo"


def main() -> None:
    """Import the demo register, then time `regsync preview` of the demo file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder:
        db, plan = Path(folder) / "r.db", Path(folder) / "p.plan"
        made = runner.invoke(cli, ["import", str(FIXTURES / "register.csv"), "--db", str(db),
                                   "--yes"])
        assert made.exit_code == 0, made.output
        seconds = []
        for _ in range(max(args.runs, 4)):
            start = time.perf_counter()
            result = runner.invoke(cli, ["preview", str(FIXTURES / "asiakkaat.csv"),
                                         "--db", str(db), "--plan", str(plan)])
            seconds.append(time.perf_counter() - start)
            assert result.exit_code == 1, result.output  # the demo file has Conflicts
    print(f"regsync from {Path(sync.__file__).parent}: demo preview median "
          f"{statistics.median(seconds[3:]) * 1000:.1f} ms over {len(seconds) - 3} runs")


if __name__ == "__main__":
    main()

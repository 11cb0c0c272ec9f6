"""Memory of one preview: peak RSS, and how much of it was the heap (anonymous memory).

A large preview keeps its plan's rows in memory-mapped temporary files: those pages are
counted in RSS but belong to the page cache, which the kernel can take back, so the
figure that says whether a source fits is the peak of anonymous memory. Linux keeps no
peak of it, so it is sampled from /proc/PID/status every `--every` seconds (a short
peak between samples can be missed; the peak RSS beside it comes from the kernel).

    python benchmarks/preview_memory.py --data DIR [--runs 1] [--every 0.1]

DIR holds `source.csv` and `register.db` (benchmarks/generate.py). Prints one line per
run: wall seconds, peak RSS (VmHWM), peak anonymous memory, peak file-backed RSS, and
the counts; the register is only read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_FIELDS = ("VmHWM", "RssAnon", "RssFile")


def _status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/PID/status, in MiB ({} once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in _FIELDS:
            found[key] = int(value.split()[0]) // 1024
    return found


def run_once(data: Path, every: float) -> dict[str, object]:
    """One `regsync preview --json` of DIR's source against its register, sampled."""
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, "-m", "sync", "preview", str(data / "source.csv"),
               "--db", str(data / "register.db"), "--plan", str(Path(work) / "p.plan"),
               "--json"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peaks = dict.fromkeys(_FIELDS, 0)
        while proc.poll() is None:
            for key, value in _status(proc.pid).items():
                peaks[key] = max(peaks[key], value)
            time.sleep(every)
        out, err = proc.communicate()
        wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"preview failed ({proc.returncode}): {err.decode()[-500:]}")
    counts = json.loads(out)
    return {"wall": wall, "peak_rss": peaks["VmHWM"], "peak_anon": peaks["RssAnon"],
            "peak_file": peaks["RssFile"],
            "counts": {k: counts[k] for k in ("new", "modified", "unchanged", "conflict",
                                              "rejected")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--every", type=float, default=0.1, help="sampling interval, s")
    args = parser.parse_args()
    results = []
    for i in range(args.runs):
        result = run_once(args.data, args.every)
        results.append(result)
        print(f"run {i + 1}: {result['wall']:.2f} s, peak RSS {result['peak_rss']} MiB, "
              f"peak anonymous {result['peak_anon']} MiB, peak file-backed "
              f"{result['peak_file']} MiB, counts {result['counts']}", flush=True)
    if len(results) > 1:
        print(f"median: {statistics.median(r['wall'] for r in results):.2f} s, "
              f"peak RSS {statistics.median(r['peak_rss'] for r in results):.0f} MiB, "
              f"peak anonymous {statistics.median(r['peak_anon'] for r in results):.0f} MiB")


if __name__ == "__main__":
    main()

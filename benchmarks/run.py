"""Time regsync against the pandas and DuckDB baselines on the same generated files.

    python benchmarks/run.py --case small            # 100k source vs 1M register, 3 runs
    python benchmarks/run.py --case large --runs 1   # 1M source vs 5M register

Each run of each tool starts from a fresh copy of the generated register. regsync runs
as `regsync preview` then `regsync commit`, separately timed, each its own process.
Wall seconds come from the parent's clock; peak RSS from `/usr/bin/time -v` (or
`getrusage(RUSAGE_CHILDREN)` in a wrapper process when it is missing). Counts are
checked against the generator's `expected.json` and against each other. A table of
medians and ratios is printed and, unless --no-record, appended to RESULTS.md.

Tools: `regsync` (as shipped), `regsync-import` (the same job as one `regsync import
--yes` process, as an unattended run does it: no plan file, one Python start),
`regsync-nofuzzy` (the same CLI with the possible-duplicate scan switched off, see
regsync_nofuzzy.py; its commit is plain `regsync commit`), `pandas`, `duckdb`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
REGSYNC = str(Path(PYTHON).with_name("regsync"))
TIME = "/usr/bin/time"
CASES = {"small": (1_000_000, 100_000), "large": (5_000_000, 1_000_000),
         "tiny": (20_000, 5_000)}
TOOLS = ("regsync", "regsync-import", "regsync-nofuzzy", "pandas", "duckdb")
COUNT_KEYS = ("new", "modified", "unchanged", "conflict", "rejected")

_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'\\n\\tMaximum resident set size (kbytes): {peak}\\n')\n"
    "sys.exit(code)\n"
)


@dataclass
class Measure:
    """One process: wall seconds, peak RSS (KiB), exit code, parsed JSON counts."""

    seconds: float
    rss_kib: int | None
    exit_code: int | None
    counts: dict[str, int] | None
    timed_out: bool = False
    error: str = ""
    cpu: float | None = None  # user + sys seconds, from /usr/bin/time -v


@dataclass
class Step:
    """All runs of one step of one tool (e.g. regsync preview)."""

    tool: str
    step: str
    runs: list[Measure] = field(default_factory=list)

    def ok_runs(self) -> list[Measure]:
        """Runs that finished."""
        return [m for m in self.runs if not m.timed_out and m.exit_code in (0, 1)]

    def median(self) -> float | None:
        """Median wall seconds of finished runs."""
        ok = self.ok_runs()
        return statistics.median(m.seconds for m in ok) if ok else None

    def median_cpu(self) -> float | None:
        """Median CPU seconds (user + sys) of finished runs, when measured."""
        values = [m.cpu for m in self.ok_runs() if m.cpu is not None]
        return statistics.median(values) if values else None

    def peak_rss_mib(self) -> float | None:
        """Largest peak RSS over the finished runs, MiB."""
        values = [m.rss_kib for m in self.ok_runs() if m.rss_kib is not None]
        return max(values) / 1024 if values else None


def measure(cmd: list[str], timeout: float, cwd: Path) -> Measure:
    """Run `cmd` under /usr/bin/time -v (or the rusage wrapper), with a timeout."""
    if Path(TIME).exists():
        full = [TIME, "-v", *cmd]
    else:
        full = [PYTHON, "-c", _RUSAGE_WRAPPER, *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the process we started
        proc.communicate()
        return Measure(time.perf_counter() - start, None, None, None, timed_out=True)
    seconds = time.perf_counter() - start
    rss = None
    cpu: float | None = None
    for line in err.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.rsplit(":", 1)[1])
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            cpu = (cpu or 0.0) + float(line.rsplit(":", 1)[1])
    counts = None
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if lines:
        data = json.loads(lines[-1])
        counts = {k: int(data.get(k, 0)) for k in COUNT_KEYS} if "new" in data else None
    error = "" if proc.returncode in (0, 1) else err.strip().splitlines()[-1:][0] \
        if err.strip() else f"exit {proc.returncode}"
    return Measure(seconds, rss, proc.returncode, counts, error=error, cpu=cpu)


def fresh_register(data: Path, work: Path, name: str) -> Path:
    """A fresh copy of the generated register (not timed)."""
    target = work / f"{name}.db"
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(data / "register.db", target)
    return target


def register_digest(path: Path) -> str:
    """SHA-256 over the customers (sorted by number) with their group: equal jobs, equal digest."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    digest = hashlib.sha256()
    cur = conn.execute(
        "SELECT c.customer_number, c.customer_type, c.name, c.business_id, c.email, c.phone, "
        "c.street_address, c.postal_code, c.city, g.name_key, c.name_key FROM customers c "
        "LEFT JOIN groups g ON g.id = c.group_id ORDER BY c.customer_number")
    while rows := cur.fetchmany(100_000):
        digest.update(repr(rows).encode())
    conn.close()
    return digest.hexdigest()[:16]


def run_tool(tool: str, data: Path, work: Path, runs: int, timeout: float,
             digests: dict[str, str], check_registers: bool) -> list[Step]:
    """All runs of one tool; returns its steps (preview/commit, or job)."""
    source, csv = data / "source.csv", data / "register.csv"
    if tool == "regsync-import":
        return [_one_step(tool, "import", lambda db: [
            REGSYNC, "import", str(source), "--db", str(db), "--yes", "--json"],
            data, work, runs, timeout, digests, check_registers)]
    if tool.startswith("regsync"):
        preview = Step(tool, "preview")
        commit = Step(tool, "commit")
        steps = [preview, commit]
        for i in range(runs):
            db = fresh_register(data, work, tool)
            plan = work / f"{tool}.plan"
            plan.unlink(missing_ok=True)
            front = [REGSYNC] if tool == "regsync" else [PYTHON, str(HERE / "regsync_nofuzzy.py")]
            m = measure([*front, "preview", str(source), "--db", str(db), "--plan", str(plan),
                         "--json"], timeout, work)
            preview.runs.append(m)
            report(tool, "preview", i, m)
            if m.timed_out or m.error:
                break
            m = measure([REGSYNC, "commit", str(plan), "--db", str(db), "--json"], timeout, work)
            commit.runs.append(m)
            report(tool, "commit", i, m)
        if check_registers and commit.ok_runs():
            digests[tool] = register_digest(db)
        return steps
    script = HERE / "baselines" / f"{tool}_job.py"
    return [_one_step(tool, "job", lambda db: [
        PYTHON, str(script), str(source), "--db", str(db), "--register-csv", str(csv)],
        data, work, runs, timeout, digests, check_registers)]


def _one_step(tool: str, step: str, command: Callable[[Path], list[str]], data: Path,
              work: Path, runs: int, timeout: float, digests: dict[str, str],
              check_registers: bool) -> Step:
    """The runs of a job done by one process, `command(register)`, on fresh registers."""
    one = Step(tool, step)
    db = None
    for i in range(runs):
        db = fresh_register(data, work, tool)
        m = measure(command(db), timeout, work)
        one.runs.append(m)
        report(tool, step, i, m)
        if m.timed_out or m.error:
            break
    if check_registers and one.ok_runs() and db is not None:
        digests[tool] = register_digest(db)
    return one


def report(tool: str, step: str, i: int, m: Measure) -> None:
    """One progress line on stderr."""
    what = "TIMEOUT" if m.timed_out else (m.error or f"exit {m.exit_code}")
    rss = f"{m.rss_kib / 1024:.0f} MiB" if m.rss_kib else "?"
    cpu = f"cpu {m.cpu:.2f} s" if m.cpu is not None else ""
    print(f"  {tool:<16} {step:<8} run {i + 1}: {m.seconds:8.2f} s  {cpu}  {rss:>9}  {what}  "
          f"{m.counts or ''}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """nproc, RAM, CPU model, load average, versions."""
    info = {"nproc": str(os.cpu_count())}
    try:
        mem = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        info["ram"] = f"{int(mem['MemTotal'].split()[0]) / 1024**2:.1f} GiB"
        cpu = [line.split(":", 1)[1].strip() for line in
               Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        info["cpu"] = cpu[0] if cpu else platform.processor()
        info["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except (OSError, KeyError, ValueError):
        pass
    info["python"] = platform.python_version()
    versions = subprocess.run(
        [PYTHON, "-c", "import polars, pandas, duckdb, sqlite3; print(polars.__version__, "
         "pandas.__version__, duckdb.__version__, sqlite3.sqlite_version)"],
        capture_output=True, text=True).stdout.split()
    if len(versions) == 4:
        info.update(zip(("polars", "pandas", "duckdb", "sqlite"), versions, strict=True))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    info["regsync commit"] = commit or "?"
    return info


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(steps: list[Step], expected: dict[str, int], timeout: float) -> tuple[str, str]:
    """The results table and the ratio lines (markdown)."""
    lines = ["| tool | step | median s | runs (s) | median CPU s | peak RSS MiB | counts |",
             "|---|---|---|---|---|---|---|"]
    totals: dict[str, float | None] = {}
    for s in steps:
        runs = ", ".join("timeout" if m.timed_out else f"{m.seconds:.2f}" for m in s.runs)
        if any(m.timed_out for m in s.runs):
            runs += f" (> {timeout:.0f} s)"
        counts = [m.counts for m in s.ok_runs() if m.counts is not None]
        if not counts:
            verdict = "—"
        elif all(c == expected for c in counts):
            verdict = "as expected"
        else:
            verdict = "DIFFER: " + json.dumps(counts[0])
        lines.append(f"| {s.tool} | {s.step} | {_fmt(s.median())} | {runs} | "
                     f"{_fmt(s.median_cpu())} | {_fmt(s.peak_rss_mib(), 0)} | {verdict} |")
        previous = totals.get(s.tool, 0.0)
        med = s.median()
        totals[s.tool] = None if previous is None or med is None else previous + med
    ratio_lines = ["| tool | end-to-end median s | baseline ÷ this |", "|---|---|---|"]
    for tool, total in totals.items():
        ratios = []
        for base in ("pandas", "duckdb"):
            b = totals.get(base)
            if b is not None and total:
                ratios.append(f"{base} {b / total:.2f}x")
        ratio_lines.append(f"| {tool} | {_fmt(total)} | {', '.join(ratios) or '—'} |")
    return "\n".join(lines), "\n".join(ratio_lines)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), default="small")
    parser.add_argument("--data", type=Path, help="data folder (default benchmarks/data/CASE)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, from {', '.join(TOOLS)}")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before one process is killed and reported as timeout")
    parser.add_argument("--check-registers", action="store_true",
                        help="also compare the registers the tools leave behind")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--note", default="", help="a line added to the RESULTS.md section")
    args = parser.parse_args()
    n_register, n_source = CASES[args.case]
    data = args.data or HERE / "data" / args.case
    if not (data / "expected.json").exists():
        print(f"generating {data} ...", file=sys.stderr, flush=True)
        subprocess.run([PYTHON, str(HERE / "generate.py"), "--register", str(n_register),
                        "--source", str(n_source), "--seed", str(args.seed), "--out",
                        str(data)], check=True, stdout=subprocess.DEVNULL)
    expected_doc = json.loads((data / "expected.json").read_text())
    expected = expected_doc["counts"]
    work = data / "work"
    work.mkdir(exist_ok=True)
    info = machine()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    started = datetime.now(UTC)
    steps: list[Step] = []
    digests: dict[str, str] = {}
    for tool in tools:
        steps.extend(run_tool(tool, data, work, args.runs, args.timeout, digests,
                              args.check_registers))
    results, ratios = table(steps, expected, args.timeout)
    settings = expected_doc["settings"]
    sizes = (f"register {settings['register']:,} customers "
             f"({(data / 'register.db').stat().st_size / 2**20:.0f} MiB SQLite), source "
             f"{settings['source']:,} rows ({(data / 'source.csv').stat().st_size / 2**20:.1f} "
             f"MiB CSV, headers {settings['language']}); expected {json.dumps(expected)}")
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    section = [
        f"## {started:%Y-%m-%d %H:%M} UTC — case {args.case}, {args.runs} run(s) each",
        "",
        f"- command: `{command}`",
        f"- data: {sizes}; generated with seed {settings['seed']}, damage "
        f"{settings['damage']}, no-number {settings['no_number']}, blank {settings['blank']}",
        "- machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        results,
        "",
        ratios,
    ]
    if digests:
        same = len(set(digests.values())) == 1
        section += ["", "Registers after the run: " + ("identical" if same else "DIFFERENT")
                    + " (" + ", ".join(f"{k} {v}" for k, v in digests.items()) + ")"]
    if args.note:
        section += ["", args.note]
    text = "\n".join(section) + "\n"
    print(text)
    if not args.no_record:
        results_md = HERE / "RESULTS.md"
        if not results_md.exists():
            results_md.write_text("# Benchmark results\n\nAppended by `benchmarks/run.py`; "
                                  "newest last. See README.md for how to reproduce.\n")
        with results_md.open("a") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()

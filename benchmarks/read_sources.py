"""Peak memory and time of `read_source` on a large XLSX and a large CSV.

    .venv/bin/python benchmarks/read_sources.py [--csv-mb 500] [--xlsx-mb 50] [--data DIR]
                                                [--repo CHECKOUT]

Generates the files (once) under benchmarks/data/ (not in git): a CSV, an XLSX with
inline strings and the same XLSX with shared strings (as Excel saves text). Then reads
each in a fresh subprocess and prints wall and CPU seconds, peak RSS (VmHWM of
that process), the frame's size in memory and the RSS of a process that only imports
everything (the baseline). `--repo` measures the reader of another checkout (e.g. the
main branch) on the same files.

The frame's size in memory counts what polars holds: a 16-byte view per text cell, plus
the bytes of cells longer than 12 bytes (shorter ones live inside their view), 8 bytes
per row number, and validity bits. polars' `estimated_size` (also shown) counts only the
text bytes, so it understates a text frame about two times. "Copies" = (peak RSS -
baseline) / frame in memory: 1.0 would mean the reader never held more than the result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ["Asiakasnumero", "Nimi", "Y-tunnus", "Postinumero", "Postitoimipaikka", "Puhelin",
           "Sähköposti", "Lisätiedot"]
CITIES = ["Helsinki", "Espoo", "Tampere", "Jyväskylä", "Oulu", "Turku", "Äkäslompolo"]
WORDS = ["Kahvila", "Aurinko", "Rakennus", "Kivi", "Pöllö", "Hämäläinen", "Virtanen",
         "Söderström", "Oy", "Ab", "Ky", "Tmi", "Laine", "Koski", "Järvinen"]

MEASURE = """
import json, resource, sys, time
from pathlib import Path
import polars as pl, fastexcel
from sync.readers import read_source

def in_memory(frame):
    total = 0
    for column in frame.get_columns():
        if column.dtype == pl.String:
            lengths = column.str.len_bytes()
            total += 16 * column.len() + int(lengths.filter(lengths > 12).sum() or 0)
        else:
            total += 8 * column.len()  # the Int64 row numbers
        total += (column.len() + 7) // 8 if column.null_count() else 0
    return total

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

if sys.argv[1] != "-":
    start, start_cpu = time.perf_counter(), cpu()
    table = read_source(Path(sys.argv[1]))
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
    frame = table.frame
    size, memory, rows = frame.estimated_size(), in_memory(frame), frame.height
else:
    seconds, cpu_seconds, size, memory, rows = 0.0, 0.0, 0, 0, 0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent.
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "peak": peak, "frame": size,
                  "memory": memory, "rows": rows}))
"""


def _row(rng: random.Random, number: int) -> list[str]:
    name = " ".join(rng.choice(WORDS) for _ in range(3))
    return [str(number), name, f"{rng.randrange(1000000, 9999999)}-{rng.randrange(10)}",
            f"{rng.randrange(0, 99999):05d}", rng.choice(CITIES),
            f"040{rng.randrange(1000000, 9999999)}", f"asiakas{number}@example.fi",
            " ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 6)))]


def make_csv(path: Path, megabytes: int) -> None:
    rng = random.Random(1)
    target = megabytes * 1_000_000
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(";".join(HEADERS) + "\n")
        number = 1000
        while out.tell() < target:
            block = []
            for _ in range(20_000):
                number += 1
                block.append(";".join(_row(rng, number)))
            out.write("\n".join(block) + "\n")


def _cell(value: str, shared: dict[str, int] | None) -> str:
    if value.isdigit() and not value.startswith("0"):
        return f"<c><v>{value}</v></c>"  # a number cell, as a spreadsheet stores 1001
    if shared is not None:
        return f'<c t="s"><v>{shared.setdefault(value, len(shared))}</v></c>'
    return f'<c t="inlineStr"><is><t>{escape(value)}</t></is></c>'


_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
    'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
    'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+'
    'xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
    'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
    'http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://'
    'schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Asiakkaat" '
    'sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships '
    'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
    'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def make_xlsx(path: Path, megabytes: int, rows: int | None = None) -> int:
    """A one-sheet workbook of about `megabytes` (compressed), written as raw XML.

    With `rows`, exactly that many data rows, text as shared strings (as Excel saves
    it); else inline strings. Returns the number of data rows.
    """
    rng = random.Random(2)
    target = megabytes * 1_000_000
    shared: dict[str, int] | None = {} if rows is not None else None
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            if shared is not None and name == "[Content_Types].xml":
                text = text.replace("</Types>", _SST_TYPE + "</Types>")
            if shared is not None and name == "xl/_rels/workbook.xml.rels":
                text = text.replace("</Relationships>", _SST_REL + "</Relationships>")
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                        b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            sheet.write(("<row>" + "".join(_cell(h, shared) for h in HEADERS)
                         + "</row>").encode())
            number = 1000
            while (archive.fp.tell() < target  # type: ignore[union-attr]
                   if rows is None else written < rows):
                block = []
                for _ in range(20_000 if rows is None else min(20_000, rows - written)):
                    number += 1
                    block.append("<row>" + "".join(_cell(v, shared)
                                                   for v in _row(rng, number)) + "</row>")
                written += len(block)
                sheet.write("".join(block).encode())
            sheet.write(b"</sheetData></worksheet>")
        if shared is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
                strings.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://'
                              b'schemas.openxmlformats.org/spreadsheetml/2006/main">')
                for text in shared:
                    strings.write(f"<si><t>{escape(text)}</t></si>".encode())
                strings.write(b"</sst>")
    return written


_SST_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
             'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_SST_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')


def measure(path: Path | None, repo: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path) if path else "-"],
                          capture_output=True, text=True, cwd=repo, check=True)
    return json.loads(done.stdout)


def _machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return f"{os.cpu_count()} CPUs (nproc), {int(memory) / 1024 ** 2:.1f} GiB RAM, " \
           f"Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mb", type=int, default=500)
    parser.add_argument("--xlsx-mb", type=int, default=50)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    parser.add_argument("--repo", type=Path, default=ROOT,
                        help="checkout whose reader is measured (default: this one)")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    files = {"xlsx, inline strings": args.data / f"customers_{args.xlsx_mb}mb.xlsx",
             "xlsx, shared strings": args.data / f"customers_{args.xlsx_mb}mb_shared.xlsx",
             "csv": args.data / f"customers_{args.csv_mb}mb.csv"}
    if not files["xlsx, inline strings"].exists() or not files["xlsx, shared strings"].exists():
        rows = make_xlsx(files["xlsx, inline strings"], args.xlsx_mb)
        make_xlsx(files["xlsx, shared strings"], args.xlsx_mb, rows=rows)
    if not files["csv"].exists():
        make_csv(files["csv"], args.csv_mb)
    baseline = measure(None, args.repo)["peak"]
    print(f"machine: {_machine()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"reader: {args.repo}")
    print(f"baseline (imports only): peak RSS {baseline / 2**20:.0f} MiB")
    print("| source | file MiB | rows | wall s | CPU s | peak RSS MiB | frame in memory MiB "
          "| estimated_size MiB | copies |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, path in files.items():
        got = measure(path, args.repo)
        copies = (got["peak"] - baseline) / got["memory"]
        print(f"| {kind} | {path.stat().st_size / 2**20:.0f} | {got['rows']:,} | "
              f"{got['seconds']:.1f} | {got['cpu']:.1f} | {got['peak'] / 2**20:.0f} | "
              f"{got['memory'] / 2**20:.0f} | {got['frame'] / 2**20:.0f} | {copies:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()

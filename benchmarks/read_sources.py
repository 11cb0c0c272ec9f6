"""Peak memory and time of `read_source` on a large XLSX and a large CSV.

    .venv/bin/python benchmarks/read_sources.py [--csv-mb 500] [--xlsx-mb 50] [--data DIR]

Generates the files (once) under benchmarks/data/ (not in git), then reads each in a
fresh subprocess and prints seconds, peak RSS (getrusage ru_maxrss), the size of the
frame read (polars estimated_size) and the RSS of a process that only imports
everything (the baseline). "Copies" = (peak RSS - baseline) / frame size: 1.0 would mean
the reader never held more than the result.
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
import polars, fastexcel
from sync.readers import read_source
if sys.argv[1] != "-":
    start = time.perf_counter()
    table = read_source(Path(sys.argv[1]))
    seconds = time.perf_counter() - start
    size, rows = table.frame.estimated_size(), table.frame.height
else:
    seconds, size, rows = 0.0, 0, 0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "frame": size, "rows": rows}))
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


def _cell(value: str) -> str:
    if value.isdigit() and not value.startswith("0"):
        return f"<c><v>{value}</v></c>"  # a number cell, as a spreadsheet stores 1001
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


def make_xlsx(path: Path, megabytes: int) -> None:
    """A one-sheet workbook of about `megabytes` (compressed), written as raw XML."""
    rng = random.Random(2)
    target = megabytes * 1_000_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                        b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            sheet.write(("<row>" + "".join(_cell(h) for h in HEADERS) + "</row>").encode())
            number = 1000
            while archive.fp.tell() < target:  # type: ignore[union-attr]
                block = []
                for _ in range(20_000):
                    number += 1
                    block.append("<row>" + "".join(_cell(v) for v in _row(rng, number))
                                 + "</row>")
                sheet.write("".join(block).encode())
            sheet.write(b"</sheetData></worksheet>")


def measure(path: Path | None) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path) if path else "-"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
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
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    files = {"xlsx": args.data / f"customers_{args.xlsx_mb}mb.xlsx",
             "csv": args.data / f"customers_{args.csv_mb}mb.csv"}
    if not files["xlsx"].exists():
        make_xlsx(files["xlsx"], args.xlsx_mb)
    if not files["csv"].exists():
        make_csv(files["csv"], args.csv_mb)
    baseline = measure(None)["peak"]
    print(f"machine: {_machine()}")
    print(f"baseline (imports only): peak RSS {baseline / 2**20:.0f} MiB")
    print("| source | file MiB | rows | seconds | peak RSS MiB | frame MiB | copies |")
    print("|---|---|---|---|---|---|---|")
    for kind, path in files.items():
        got = measure(path)
        copies = (got["peak"] - baseline) / got["frame"]
        print(f"| {kind} | {path.stat().st_size / 2**20:.0f} | {got['rows']:,} | "
              f"{got['seconds']:.1f} | {got['peak'] / 2**20:.0f} | {got['frame'] / 2**20:.0f} "
              f"| {copies:.2f} |")


if __name__ == "__main__":
    main()

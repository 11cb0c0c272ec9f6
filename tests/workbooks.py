"""Build small XLSX workbooks at test time, as a spreadsheet program would save them."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter


@dataclass(frozen=True)
class Formula:
    """A formula cell and the value the spreadsheet saved with it (openpyxl saves none)."""

    formula: str  # "=1+1"
    cached: str | int | float


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], *, sheet: str = "Taul1",
               more_sheets: dict[str, Sequence[Sequence[Any]]] | None = None,
               first_row: int = 1) -> Path:
    """Write `rows` to the first sheet of a new workbook, starting at row `first_row`.

    Cells keep their Python types (int and float become number cells, dates date cells);
    a Formula becomes a formula cell with its cached value.
    """
    workbook = openpyxl.Workbook()
    cached: dict[tuple[str, str], Formula] = {}
    for index, (name, sheet_rows) in enumerate([(sheet, rows), *(more_sheets or {}).items()]):
        ws = workbook.active if index == 0 else workbook.create_sheet(name)
        ws.title = name
        start = first_row if index == 0 else 1
        for r, row in enumerate(sheet_rows, start=start):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                ref = f"{get_column_letter(c)}{r}"
                if isinstance(value, Formula):
                    cached[(f"sheet{index + 1}", ref)] = value
                    value = value.formula
                ws[ref] = value
    workbook.save(path)
    if cached:
        _write_cached_values(path, cached)
    return path


def _write_cached_values(path: Path, cached: dict[tuple[str, str], Formula]) -> None:
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    for (sheet, ref), formula in cached.items():
        member = f"xl/worksheets/{sheet}.xml"
        xml = members[member].decode("utf-8")
        kind = ' t="str"' if isinstance(formula.cached, str) else ""
        pattern = re.compile(rf'(<c r="{ref}"[^>]*)><f>(.*?)</f><v\s*/>')
        xml, count = pattern.subn(
            lambda m, k=kind, v=formula.cached: f"{m.group(1)}{k}><f>{m.group(2)}</f><v>{v}</v>",
            xml)
        assert count == 1, f"formula cell {ref} not found in {member}"
        members[member] = xml.encode("utf-8")
    members["xl/workbook.xml"] = _computed(members["xl/workbook.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


def _computed(workbook_xml: bytes) -> bytes:
    """workbook.xml without `fullCalcOnLoad="1"`, which marks the formulas' saved values
    as not computed (openpyxl and xlsxwriter write it; Excel does not)."""
    return re.sub(rb'\sfullCalcOnLoad="(?:1|true)"', b"", workbook_xml)


def computed(path: Path) -> Path:
    """The workbook at `path` (xlsxwriter's, formulas written with their values) as a
    spreadsheet program saves it once it has computed them: the values are computed."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members["xl/workbook.xml"] = _computed(members["xl/workbook.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    return path

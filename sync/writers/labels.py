"""Address labels: a PDF of A4 sheets of 8x2 or 8x3 labels (reportlab).

Each label holds the customer's name and postal address in the order the destination
country's post expects (see `address_lines`); a line too long for the label is first
set in a smaller type, then wrapped.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import polars as pl
import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from sync.errors import ExportError
from sync.writers.vcard import country_name

# City line "POSTAL CITY" for most of Europe; these countries write it otherwise.
_CITY_THEN_POSTAL = {"US", "CA", "AU"}  # "City 12345" on one line
_POSTAL_OWN_LINE = {"GB", "IE"}  # city, then the postcode on a line of its own
_SPACED_POSTAL = {"SE", "CZ", "SK"}  # 11455 is written 114 55
_PADDING = 5 * mm
_LEADING = 1.2
_MIN_SIZE = 6.5
_SHRINK_FLOOR = 8.5  # below this, wrapping reads better than shrinking further
_START_SIZE = {2: 11.0, 3: 10.0}
# Fonts with Latin Extended-A (Czech ř, ů, ě); reportlab's own Vera lacks some letters.
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
)


def address_lines(row: dict[str, str | None], home_country: str,
                  language: str = "en") -> list[str]:
    """The lines of a customer's label: name, street, city line(s), country if abroad.

    FI, SE, CZ and the rest of continental Europe: "00100 Helsinki" (SE, CZ and SK
    codes spaced as "114 55"); GB and IE: city, then the postcode alone; US, CA and
    AU: "City 12345". The country's name in `language`, in capitals, ends the label
    when the country is not `home_country`; an empty country is the home country.
    """
    country = row.get("country") or home_country
    postal = row.get("postal_code") or ""
    city = row.get("city") or ""
    if country in _SPACED_POSTAL and len(postal) == 5 and postal.isdigit():
        postal = f"{postal[:3]} {postal[3:]}"
    if country in _POSTAL_OWN_LINE:
        place = [city, postal]
    elif country in _CITY_THEN_POSTAL:
        place = [f"{city} {postal}".strip()]
    else:
        place = [f"{postal} {city}".strip()]
    lines = [row.get("name") or "", row.get("street_address") or "", *place]
    if country != home_country:
        lines.append(country_name(country, language).upper())
    return [line for line in lines if line]


def write_labels(chunks: Iterable[pl.DataFrame], dest: Path, layout: str = "8x2",
                 language: str = "en", home_country: str = "FI") -> int:
    """Write a label per customer row to `dest` as A4 pages; return the number of labels.

    `layout` is "ROWSxCOLUMNS" (8x2: 105 x 37 mm labels, 8x3: 70 x 37 mm), filled row
    by row from the top left. Raises ExportError when the font lacks a character a
    label needs (set REGSYNC_LABEL_FONT to a TTF file that has it).
    """
    rows, columns = (int(n) for n in layout.split("x"))
    width, height = A4[0] / columns, A4[1] / rows
    font = _font()
    canvas = Canvas(str(dest), pagesize=A4, pageCompression=1)
    canvas.setTitle("Address labels")
    count = 0
    for chunk in chunks:
        for row in chunk.iter_rows(named=True):
            slot = count % (rows * columns)
            if count and slot == 0:
                canvas.showPage()
            lines = address_lines(row, home_country, language)
            _check_glyphs(font, lines, row.get("customer_number"))
            x = (slot % columns) * width
            y = A4[1] - (slot // columns + 1) * height
            _draw_label(canvas, font.fontName, lines, x, y, width, height,
                        _START_SIZE.get(columns, 10.0))
            count += 1
    canvas.save()
    return count


def _draw_label(canvas: Canvas, font: str, lines: list[str], x: float, y: float,
                width: float, height: float, start: float) -> None:
    room_w, room_h = width - 2 * _PADDING, height - 2 * _PADDING
    size, wrapped = _fit(font, lines, room_w, room_h, start)
    block = len(wrapped) * size * _LEADING
    top = y + height - _PADDING - (room_h - block) / 2  # the block centred vertically
    canvas.setFont(font, size)
    for number, line in enumerate(wrapped):
        canvas.drawString(x + _PADDING, top - (number + 1) * size * _LEADING + size * 0.25,
                          line)


def _fit(font: str, lines: list[str], room_w: float, room_h: float,
         start: float) -> tuple[float, list[str]]:
    """The largest type size at which the lines fit: unwrapped down to a readable size,
    else wrapped (a word wider than the label broken where it must); at the smallest
    size, the lines that do not fit are cut from the name, then the street, each cut
    line ending in an ellipsis, and from the postal lines only when they alone do not
    fit (only for addresses far longer than any post accepts)."""
    sizes = [start - 0.5 * i for i in range(int((start - _MIN_SIZE) / 0.5) + 1)]
    for size in (s for s in sizes if s >= _SHRINK_FLOOR):
        widest = max((pdfmetrics.stringWidth(t, font, size) for t in lines), default=0)
        if widest <= room_w and len(lines) * size * _LEADING <= room_h:
            return size, lines
    for size in sizes:
        wrapped = [part for t in lines for part in _wrap(t, font, size, room_w)]
        if len(wrapped) * size * _LEADING <= room_h:
            return size, wrapped
    parts = [_wrap(t, font, _MIN_SIZE, room_w) for t in lines]
    fits = max(1, int(room_h // (_MIN_SIZE * _LEADING)))
    over = sum(len(part) for part in parts) - fits
    for part in parts:  # the name first, then the street; each keeps one line
        cut = min(over, len(part) - 1)
        if cut > 0:
            del part[len(part) - cut:]
            part[-1] = part[-1][:-1] + "…"
            over -= cut
    wrapped = [line for part in parts for line in part]
    if len(wrapped) > fits:  # more lines than the label holds, one each: keep the first
        wrapped = wrapped[:fits]
        wrapped[-1] = wrapped[-1][:-1] + "…"
    return _MIN_SIZE, wrapped


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` wrapped at spaces to `width`, and a word wider than that broken where it
    reaches the edge (simpleSplit leaves it whole, running into the next label)."""
    out: list[str] = []
    for part in simpleSplit(text, font, size, width):
        if pdfmetrics.stringWidth(part, font, size) <= width:
            out.append(part)
            continue
        # Character by character, each width measured once (stringWidth adds the
        # glyphs' widths): shortening a piece and measuring it again took 29 s for one
        # 3,000-letter word (review).
        start, used = 0, 0.0
        for i, char in enumerate(part):
            w = pdfmetrics.stringWidth(char, font, size)
            if used + w > width and i > start:
                out.append(part[start:i])
                start, used = i, 0.0
            used += w
        out.append(part[start:])
    return out


def _font() -> TTFont:
    """The label font: REGSYNC_LABEL_FONT, else a system font with Czech letters, else
    reportlab's own Vera (Latin-1 and a little more)."""
    chosen = os.environ.get("REGSYNC_LABEL_FONT")
    if not chosen:
        vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
        chosen = next((p for p in _FONT_CANDIDATES if Path(p).is_file()), str(vera))
    return _load_font(chosen)


@cache
def _load_font(path: str) -> TTFont:
    try:
        font = TTFont(f"RegsyncLabel-{zlib.crc32(path.encode()):08x}", path)
    except Exception as exc:  # noqa: BLE001 - reportlab raises bare Exceptions for bad fonts
        raise ExportError(f"label font {path}: cannot be used ({exc}); set "
                          f"REGSYNC_LABEL_FONT to a TrueType (.ttf) file") from None
    pdfmetrics.registerFont(font)
    return font


def _check_glyphs(font: TTFont, lines: list[str], number: str | None) -> None:
    missing = {ch for line in lines for ch in line
               if ord(ch) not in font.face.charToGlyph and not ch.isspace()}
    if missing:
        name = font.face.name.decode(errors="replace")
        # Shown in the order the label has them (sorted, 東京 read 京東).
        shown = "".join(dict.fromkeys(c for line in lines for c in line if c in missing))
        other = ("" if name.startswith("DejaVu") else
                 "install DejaVu Sans (Debian: fonts-dejavu-core) or ")
        raise ExportError(
            f"customer {number}: the label font {name} cannot draw {shown!r}; "
            f"{other}set REGSYNC_LABEL_FONT to a TTF font that has it")

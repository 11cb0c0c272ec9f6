"""Readers: a source file in, every cell as text out (spec section 3).

`read_source` picks the reader by the file's first bytes; the extension only decides
for files whose content announces no format of its own.
"""

from __future__ import annotations

import codecs
import re
import stat
import zipfile
from pathlib import Path

from sync.errors import SourceError
from sync.readers.columnar import read_columnar
from sync.readers.csv import read_csv
from sync.readers.detect import read_head, sniff_format
from sync.readers.encoding_signs import iter_chunks
from sync.readers.table import UTF8_MARK_LEADS, SourceTable, compose_letters
from sync.readers.xlsx import read_xlsx

__all__ = ["SourceTable", "read_source"]

_REFUSED = {
    "xls": "is an old Excel (.xls) workbook, which regsync cannot read; "
           "save the sheet as .xlsx or CSV",
    "pdf": "is a PDF document, not a text (CSV), XLSX or Parquet file",
    "png": "is a PNG image, not a text (CSV), XLSX or Parquet file",
    "jpeg": "is a JPEG image, not a text (CSV), XLSX or Parquet file",
    **{kind: f"is compressed ({kind}), which regsync does not read; uncompress it "
             f"first and give the file inside" for kind in ("gzip", "xz", "7z")},
    "sqlite": "is an SQLite database (a register?), not a text (CSV), XLSX or Parquet "
              "file; to import a table of a database, use a job's [source] db and table",
    "ods": "is an OpenDocument spreadsheet (.ods), which regsync cannot read; save the "
           "sheet as .xlsx or CSV",
    "odf": "is an OpenDocument file, not a spreadsheet regsync reads; save the sheet as "
           ".xlsx or CSV",
    "docx": "is a Word document, not a text (CSV), XLSX or Parquet file",
    "pptx": "is a PowerPoint presentation, not a text (CSV), XLSX or Parquet file",
    "html": "is a web page (HTML), as a spreadsheet saves a sheet \"as .xls\" for the web; "
            "save the sheet as .xlsx or CSV",
    "xml-spreadsheet": "is an XML Spreadsheet 2003 file, which regsync cannot read; save "
                       "the sheet as .xlsx or CSV",
}
_EXTENSIONS = {".xlsx": "XLSX", ".xlsm": "XLSX", ".parquet": "Parquet",
               ".arrow": "Arrow IPC", ".feather": "Arrow IPC", ".ipc": "Arrow IPC"}
_IPC_STREAM = b"\xff\xff\xff\xff"  # an Arrow IPC stream starts with a continuation marker


# Excel saves a password-protected .xlsx inside an OLE2 file, as it did old .xls ones;
# the encrypted one holds a stream of this name (UTF-16 in the OLE2 directory).
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def _encrypted_workbook(path: Path) -> bool:
    """Whether an OLE2 file is a password-protected (encrypted) workbook."""
    try:
        with path.open("rb") as handle:
            return _ENCRYPTED_STREAM in handle.read(4 << 20)
    except OSError:
        return False


def _zip_kind(path: Path) -> str:
    """What a ZIP file holds: "xlsx" unless its parts name another format ("ods", "odf",
    "docx", "pptx"), which is refused by name instead of as a broken workbook. A ZIP
    that can't be opened is left to the XLSX reader, whose error says so."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = b""
            if "mimetype" in names and "xl/workbook.xml" not in names:
                with archive.open("mimetype") as entry:  # its first bytes, not all of it
                    mimetype = entry.read(100)
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, ValueError):
        return "xlsx"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return "odf"
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            return "docx"
        if "ppt/presentation.xml" in names:
            return "pptx"
    return "xlsx"


# Each comment matches one way only (possessive): with `(<!--.*?-->\s*)*` a run of
# comments not followed by a tag was tried in 2^k splits, and 40 of them hung (review).
_HTML = re.compile(rb"^\s*(?:<!--(?:(?!-->).)*-->\s*)*+<(!doctype\s+html|html|table|head|body)"
                   rb"[\s>]", re.IGNORECASE | re.DOTALL)
_XML_SPREADSHEET = b"urn:schemas-microsoft-com:office:spreadsheet"


def _markup_kind(head: bytes) -> str | None:
    """"html" or "xml-spreadsheet" when a text file's first bytes are one (a sheet saved
    "as .xls" for the web, or as XML Spreadsheet 2003), else None: read as CSV."""
    text = head.removeprefix(codecs.BOM_UTF8)
    if _HTML.match(text):
        return "html"
    if text.lstrip().startswith(b"<?xml") and _XML_SPREADSHEET in text:
        return "xml-spreadsheet"
    return None


def _check_plain_file(path: Path) -> None:
    """SourceError for a pipe, a device or a socket: a source is read more than once
    (its first bytes, then the whole), and a named pipe read twice waits forever for a
    second writer. Checked before any open: opening a pipe already waits for one."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: read_head says which
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise SourceError(f"{path}: is not a plain file (a pipe, a device or standard input); "
                          f"save the data to a file and name that file")


def read_source(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int = 1,
    sheet: str | None = None,
) -> SourceTable:
    """Read a source file into a SourceTable of text cells (spec section 3).

    XLSX, Parquet and Arrow IPC files are recognised by their content; anything else is
    read as delimited text (CSV, TSV, spreadsheet "Unicode text"), whatever its name.
    `encoding`, `delimiter`, `header_row` and `sheet` are the `--encoding`,
    `--delimiter`, `--header-row` and `--sheet` options; an option that does not apply to
    the file's format is refused. Raises SourceError with a one-line message naming the
    file when the file cannot be read at all.
    """
    path = Path(path)
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        # A name in another encoding than the system's (e.g. Latin-1 on a UTF-8 system):
        # the readers' libraries take names as UTF-8 text only.
        raise SourceError(f"{path!s}: the file's name is not UTF-8 text; rename the "
                          "file") from None
    _check_plain_file(path)
    kind = source_kind(path)
    if kind == "xls" and _encrypted_workbook(path):
        raise SourceError(f"{path}: is a password-protected workbook, which regsync cannot "
                          "read; save a copy without the password, or the sheet as CSV")
    if kind in _REFUSED:
        raise SourceError(f"{path}: {_REFUSED[kind]}")
    _check_options(path, kind, encoding, delimiter, sheet)
    if kind == "xlsx":
        table = read_xlsx(path, sheet=sheet, header_row=header_row)
    elif kind in ("parquet", "arrow", "arrow-stream"):
        table = read_columnar(path, kind, header_row=header_row)
    else:
        table = _read_text(path, encoding, delimiter, header_row)
    if _may_hold_decomposed_letters(table):
        compose_letters(table)
    return table


def source_kind(path: Path) -> str | None:
    """The format `read_source` takes `path` for, from its first bytes: "xlsx",
    "parquet", "arrow", "arrow-stream", the name of a format it refuses ("xls", "ods",
    "html", ...), or None for delimited text (CSV)."""
    head = read_head(path, 16)
    kind = sniff_format(head)
    if kind is None and path.suffix.lower() in (".arrow", ".feather", ".ipc") \
            and head.startswith(_IPC_STREAM):
        kind = "arrow-stream"
    if kind in _FOOTERS and path.suffix.lower() not in _EXTENSIONS \
            and not _ends_with(path, _FOOTERS[kind]):
        # Text that happens to start so (a first header 'PAR1'): a Parquet or Arrow file
        # ends with its magic too. One named .parquet or .arrow stays one, damaged.
        kind = None
    if kind == "xlsx":
        kind = _zip_kind(path)
    elif kind is None:
        kind = _markup_kind(read_head(path, 4096))
    return kind


# The magic bytes a Parquet or Arrow IPC file ends with, as it starts.
_FOOTERS = {"parquet": b"PAR1", "arrow": b"ARROW1"}


def _ends_with(path: Path, magic: bytes) -> bool:
    """Whether the file's last bytes are `magic`."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            if handle.tell() < len(magic):
                return False
            handle.seek(-len(magic), 2)
            return handle.read(len(magic)) == magic
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read_text(path: Path, encoding: str | None, delimiter: str | None,
               header_row: int) -> SourceTable:
    try:
        return read_csv(path, encoding=encoding, delimiter=delimiter, header_row=header_row)
    except SourceError as exc:
        named = _EXTENSIONS.get(path.suffix.lower())
        started = sniff_format(read_head(path, 16))
        if named is not None:
            said = f"is named like a {named} file but is not one"
        elif started in _FOOTERS:  # see source_kind
            said = (f"starts like a {'Parquet' if started == 'parquet' else 'Arrow IPC'} "
                    f"file but does not end like one (cut short?)")
        else:
            raise
        raise SourceError(f"{path}: {said}, and cannot be read as text either: "
                          f"{_reason(exc, path)}") from None


def _may_hold_decomposed_letters(table: SourceTable) -> bool:
    """Whether `table`'s cells may hold a letter written decomposed. Not when a CSV file
    in UTF-8 has neither first byte of such a mark (one pass over its bytes, where
    looking at every cell costs about 0.4 s per million rows of ten columns), nor when
    it is in a single-byte code page, which has no combining marks."""
    if table.format != "csv" or table.encoding is None:
        return True
    if codecs.lookup(table.encoding).name in ("utf-8", "utf-8-sig"):
        return any(lead in chunk for chunk in iter_chunks(table.path)
                   for lead in UTF8_MARK_LEADS)
    return table.encoding.startswith(("utf-16", "utf-32"))


def _check_options(path: Path, kind: str | None, encoding: str | None,
                   delimiter: str | None, sheet: str | None) -> None:
    if kind is not None:
        what = {"xlsx": "an XLSX workbook", "parquet": "a Parquet file"}.get(
            kind, "an Arrow IPC file")
        given = [flag for flag, value in (("--encoding", encoding), ("--delimiter", delimiter))
                 if value is not None]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            them = "them" if len(given) > 1 else "it"
            raise SourceError(f"{path}: is {what}: {' and '.join(given)} {verb} to text "
                              f"(CSV) sources only; leave {them} out")
    if sheet is not None and kind != "xlsx":
        raise SourceError(f"{path}: --sheet applies to XLSX sources only; leave it out")


def _reason(exc: SourceError, path: Path) -> str:
    prefix = f"{path}: "
    return exc.message[len(prefix):] if exc.message.startswith(prefix) else exc.message

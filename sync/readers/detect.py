"""Detect how a text source is written: its encoding and its delimiter.

Encoding (spec section 3): a BOM first, then strict UTF-8 over the whole file, then one of
the single-byte encodings in use here (Windows-1252, ISO-8859-15, Windows-1250,
ISO-8859-2). A single-byte answer is always one that decodes every byte of the file
strictly, so a read with it can never be lossy.
"""

from __future__ import annotations

import codecs
import csv as _csv
import io
from pathlib import Path

from sync.errors import SourceError
from sync.readers.encoding_signs import (
    code_page_850,
    code_page_850_unclear,
    iter_chunks,
    mac_roman,
    mixed_encodings,
    scan_single_byte,
)
from sync.readers.single_byte import (
    CODE_PAGE_850,
    MAC_ROMAN,
    choose_single_byte,
    encoding_doubt,
)

DELIMITERS: tuple[str, ...] = (";", ",", "\t", "|")
"""The delimiters detection may answer, in order of preference on a tie."""

_SAMPLE_BYTES = 64_000  # the head read to sniff a file's format and check it is text
_DELIMITER_SAMPLE_RECORDS = 20

# Bytes that are not C0 controls, or are controls text files hold (\x1a: DOS end of file).
_NOT_CONTROL = bytes(range(0x20, 0x100)) + b"\t\n\r\f\v\x1a"


def _binary_error(path: Path, what: str) -> SourceError:
    return SourceError(
        f"{path}: {what}; this does not look like a text (CSV) file. If it is text in an "
        "unusual encoding, pass --encoding"
    )


def _nul_error(path: Path, offset: int, head: bytes) -> SourceError:
    # Spreadsheet "Unicode text" saved without its byte-order mark is UTF-16: every other
    # byte of ASCII text is NUL.
    half = max(len(head) // 2, 1)
    if head[1::2].count(0) > 0.4 * half and head[0::2].count(0) < 0.05 * half:
        return SourceError(
            f"{path}: looks like UTF-16 text without a byte-order mark; pass --encoding utf-16-le"
        )
    if head[0::2].count(0) > 0.4 * half and head[1::2].count(0) < 0.05 * half:
        return SourceError(
            f"{path}: looks like UTF-16 text without a byte-order mark; pass --encoding utf-16-be"
        )
    return _binary_error(path, f"it holds a NUL byte at byte offset {offset}")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "xlsx"),  # any ZIP container; XLSX is the one users send
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"SQLite format 3\x00", "sqlite"),
)


def sniff_format(head: bytes) -> str | None:
    """The binary format the first bytes announce ("xlsx", "parquet", "xls", ...), or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def read_head(path: Path, size: int = _SAMPLE_BYTES) -> bytes:
    """The first `size` bytes of `path`; SourceError if it is missing, a folder or unreadable."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def check_text_head(path: Path, head: bytes) -> None:
    """Raise SourceError if `head` (the file's first bytes) is empty or looks binary.

    For files in a byte-oriented encoding (not UTF-16/32): NUL bytes or many control
    bytes mean binary.
    """
    if not head.strip() and len(head) < _SAMPLE_BYTES:
        raise SourceError(f"{path}: the file is empty")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise _nul_error(path, nul, head)
    controls = len(head.translate(None, _NOT_CONTROL))
    if controls > 0.05 * len(head):
        raise _binary_error(path, "it holds control bytes")


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of `head` announces, or None."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # UTF-32's little-endian mark begins with UTF-16's (FF FE): it is looked for first.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _scan_utf8(path: Path, head: bytes) -> bool:
    """Whether the file is UTF-8: strict UTF-8 throughout, or UTF-8 text (non-ASCII
    letters encoded as UTF-8) with a byte further on that is not. Such a file is a UTF-8
    file damaged there, not a single-byte one: read as Windows-1250 every letter before
    would turn into two wrong ones (Ä -> Ă„), so it is called UTF-8 and the strict
    decode that follows names the row of the bad byte. Raises SourceError on NUL bytes.

    Also raises SourceError for UTF-8 text cut off inside its last character: a truncated
    download or copy, which any single-byte decode would silently garble.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    is_utf8 = True
    multibyte = False
    for chunk in iter_chunks(path):
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise _nul_error(path, offset + nul, head)
        if is_utf8:
            try:
                decoder.decode(chunk)
                multibyte = multibyte or not chunk.isascii()
            except UnicodeDecodeError as exc:
                if (multibyte or not chunk[:exc.start].isascii()) and _mostly_utf8(path):
                    return True
                is_utf8 = False  # keep scanning for NUL bytes
        offset += len(chunk)
    if is_utf8:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            if multibyte and offset - pending > 0:
                raise SourceError(
                    f"{path}: is UTF-8 text cut off inside its last character (byte offset "
                    f"{offset - pending}): the file looks truncated; copy or export it again, "
                    "or pass --encoding to read it anyway") from None
            is_utf8 = False
    return is_utf8


def _mostly_utf8(path: Path) -> bool:
    """Whether the file's non-ASCII text is mostly valid UTF-8: at least 2 characters
    and 4 times as many as bytes that are not. A single-byte file has a few byte pairs
    that happen to be valid UTF-8 ("É’" in Windows-1252 is C9 92) among many that are
    not (ä before a letter); a damaged UTF-8 file has a few bad bytes among many
    good characters."""
    valid = invalid = 0
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for chunk in iter_chunks(path):
        text = decoder.decode(chunk)
        bad = text.count("\ufffd")
        invalid += bad
        # Characters past ASCII, counted in C (a 500 MB file is no per-character loop).
        valid += len(text) - len(text.encode("ascii", "ignore")) - bad
    return valid >= 2 and valid >= 4 * invalid


def undecodable_at(path: Path, codec: str) -> int | None:
    """Byte offset in the file of the first byte `codec` cannot decode (strictly), or None."""
    failure = decode_failure(path, codec)
    return None if failure is None else failure[0]


def decode_failure(path: Path, codec: str) -> tuple[int, bool] | None:
    """Where `codec` first fails to decode the file strictly: (byte offset in the file,
    whether it is a character cut off by the file's end), or None if it never fails."""
    if codecs.lookup(codec).name == "utf-8-sig":
        # The mark is valid UTF-8 (U+FEFF); utf-8-sig would count offsets after it.
        codec = "utf-8"
    decoder = codecs.getincrementaldecoder(codec)("strict")
    read = 0
    for chunk in iter_chunks(path):
        pending = len(decoder.getstate()[0])  # bytes held over from the last chunk
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return read - pending + exc.start, False
        read += len(chunk)
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # a character cut off by the end of the file
        return read - pending + exc.start, True
    return None


def detect_encoding(path: Path) -> str:
    """The Python codec name to read `path` with (see `detect_encoding_and_doubt`)."""
    return detect_encoding_and_doubt(path)[0]


def detect_encoding_and_doubt(path: Path) -> tuple[str, str | None]:
    """The Python codec name to read `path` with, decided without a lossy decode, and
    a doubt about it to show (see `single_byte.encoding_doubt`) or None.

    A BOM gives "utf-8-sig", "utf-16" or "utf-32"; a file that is strict UTF-8 throughout gives
    "utf-8"; otherwise one of SINGLE_BYTE_ENCODINGS that decodes every byte of the file,
    or CODE_PAGE_850 or MAC_ROMAN when the file is that beyond doubt (see
    `encoding_signs.code_page_850` and `encoding_signs.mac_roman`).
    Raises SourceError for a missing, empty or binary file (NUL or control bytes), and
    EncodingProblem for a file that holds UTF-8 text beside bytes that are not UTF-8, or
    a sign of code page 850 short of proof: no guess would read it right for sure.
    """
    head = read_head(path)
    bom = bom_encoding(head)
    if bom is not None:
        return bom, None
    check_text_head(path, head)
    if _scan_utf8(path, head):
        return "utf-8", None
    scan = scan_single_byte(path)
    if scan.utf8_at is not None:
        raise mixed_encodings(path, scan.utf8_at, undecodable_at(path, "utf-8"))
    chosen = choose_single_byte(scan.counts, scan.sample, scan.words)
    if scan.cp850_at is not None:
        if code_page_850(path, scan.counts):
            return CODE_PAGE_850, None
        raise code_page_850_unclear(path, scan.cp850_at, chosen)
    mac = mac_roman(path, scan.counts, chosen)
    if mac == "sure":
        return MAC_ROMAN, None
    return chosen, encoding_doubt(scan.words, scan.counts, chosen,
                                  mac_roman=mac == "possible")


def detect_delimiter(sample_text: str, preferred: str | None = None) -> str:
    """The delimiter among `;` `,` tab `|` that `sample_text` (header line first) uses.

    A candidate must split the header (counted outside quotes); the one whose cell count
    the following records repeat most consistently wins, then the one splitting the header
    into more cells, then `preferred`, then the order of DELIMITERS. When none splits the
    header (a one-column file), the one splitting the fewest records (a name such as
    "Virtanen, Matti" is one cell there), then `preferred`, then the order of DELIMITERS.
    """
    order = ([preferred] if preferred in DELIMITERS else []) + [
        d for d in DELIMITERS if d != preferred
    ]
    best: tuple[float, int, int] | None = None
    chosen = order[0]
    for rank, delimiter in enumerate(order):
        records = _sample_records(sample_text, delimiter)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        data = [r for r in records[1:] if any(r)]
        fits = sum(1 for r in data if len(r) == width or (len(r) > width and not any(r[width:])))
        consistency = fits / len(data) if data else 1.0
        key = (consistency, width, -rank)
        if best is None or key > best:
            best, chosen = key, delimiter
    if best is None:
        # One column: any delimiter would only split cells of it.
        split = [sum(1 for r in _sample_records(sample_text, d)[1:]
                     if len([c for c in r if c.strip()]) > 1) for d in order]
        chosen = order[split.index(min(split))]
    return chosen


def _sample_records(sample_text: str, delimiter: str) -> list[list[str]]:
    reader = _csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > _DELIMITER_SAMPLE_RECORDS:
                break
    except _csv.Error:
        pass  # a sample cut inside a quoted cell: judge by what was read
    return records


def normalise_delimiter(delimiter: str) -> str:
    """A user's `--delimiter` value as the one character to split on ("tab" -> "\\t").

    Raises ValueError for anything that is not one usable character.
    """
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    value = named.get(delimiter.lower(), delimiter)
    if len(value) != 1:
        raise ValueError(
            f"--delimiter {delimiter!r} is not a single character (use ';', ',', '|' or tab)"
        )
    if value in '"\r\n':
        raise ValueError(
            f"--delimiter {delimiter!r} can't be a delimiter: it quotes cells or ends lines "
            "(use ';', ',', '|' or tab)"
        )
    return value


def normalise_encoding(encoding: str) -> str:
    """A user's `--encoding` value as a Python codec name ("Windows-1252" -> "cp1252").

    Raises ValueError for a name Python does not know, or one of a codec that does not
    turn bytes into text (rot13, base64, zlib, ...).
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    # Python's own mark of text encodings: the bytes-to-bytes and text-to-text codecs
    # set it False.
    if info is None or not getattr(info, "_is_text_encoding", True):
        what = "a known encoding" if info is None else "an encoding of text"
        raise ValueError(
            f"--encoding {encoding!r} is not {what} "
            "(try utf-8, cp1252, iso8859-15, cp1250, iso8859-2 or utf-16)"
        )
    return info.name

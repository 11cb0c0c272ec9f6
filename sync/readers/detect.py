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
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import chardet
import numpy as np

from sync.errors import SourceError

SINGLE_BYTE_ENCODINGS: tuple[str, ...] = ("cp1252", "iso8859-15", "cp1250", "iso8859-2")
"""The single-byte encodings detection may answer, in order of preference on a tie."""

CODE_PAGE_850 = "cp850"
"""The DOS code page of Excel's "CSV (MS-DOS)": answered only on clear evidence (see
`_code_page_850`), never by the language model alone."""

DELIMITERS: tuple[str, ...] = (";", ",", "\t", "|")
"""The delimiters detection may answer, in order of preference on a tie."""

CHUNK_SIZE = 1 << 20
_SAMPLE_BYTES = 64_000  # what chardet sees: lines holding non-ASCII bytes, up to this much
_DELIMITER_SAMPLE_RECORDS = 20

_ASCII = bytes(range(0x80))
# Bytes that are not C0 controls, or are controls text files hold (\x1a: DOS end of file).
_NOT_CONTROL = bytes(range(0x20, 0x100)) + b"\t\n\r\f\v\x1a"

# Names chardet may give, mapped to the codec name we report.
_CHARDET_NAMES: dict[str, str] = {
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin_1": "cp1252",
    "iso-8859-15": "iso8859-15",
    "iso8859-15": "iso8859-15",
    "windows-1250": "cp1250",
    "cp1250": "cp1250",
    "iso-8859-2": "iso8859-2",
    "iso8859-2": "iso8859-2",
}


def _weights(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in spec.split(" "):
        chars, weight = item.rsplit("=", 1)
        for ch in chars:
            out[ch] = float(weight)
    return out


# Rough relative frequencies of non-ASCII characters in customer registers written in
# the languages of each encoding family: Finnish/Swedish (with German and French names)
# for the Western encodings, Czech (with Slovak and German names) for the Central ones.
# They only need to rank candidates, not be exact.
_PUNCTUATION = "€=1 –’\xa0=0.4 ”=0.3 —‘“„…•°§´=0.1 «»£©®½²³×=0.03"
_WESTERN = _weights(
    "ä=30 ö=15 å=6 ÄÖüé=2.5 ÅßÜÉ=0.8 èáøóšž=0.4 àçêôâîûëïíúñæØŠŽ=0.1 " + _PUNCTUATION
)
_CENTRAL = _weights(
    "á=10 í=8 é=6 ýě=5 čř=4 š=3.5 ž=3 ů=2 ú=0.8 ČŠ=0.6 ÁŘŽóňťďäüö=0.3 "
    "ÚÍßôľ=0.15 ÉÓÝĚŇŤĎŮÄÖÜĺŕĽ=0.02 " + _PUNCTUATION
)
_FAMILY = {"cp1252": _WESTERN, "iso8859-15": _WESTERN, "cp1250": _CENTRAL, "iso8859-2": _CENTRAL,
           CODE_PAGE_850: _WESTERN}
_UNKNOWN_LETTER = 0.01
_UNKNOWN_SYMBOL = 0.001
_CONTROL = 1e-7  # C1 control characters: an ISO decode of Windows bytes
_CHARDET_MARGIN = 2.0  # log-likelihood (nats) within which chardet's pick is trusted


def _log_probabilities(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {ch: math.log(w / total) for ch, w in weights.items()}


_LOGP = {enc: _log_probabilities(weights) for enc, weights in _FAMILY.items()}


def _char_logp(ch: str, logp: dict[str, float], total: float) -> float:
    if ch in logp:
        return logp[ch]
    if ch.isalpha():
        return math.log(_UNKNOWN_LETTER / total)
    if ch.isprintable():
        return math.log(_UNKNOWN_SYMBOL / total)
    return math.log(_CONTROL / total)


def _iter_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


def _undecodable(encoding: str) -> frozenset[int]:
    """Bytes 0x80-0xFF that `encoding` cannot decode."""
    bad = set()
    for b in range(0x80, 0x100):
        try:
            bytes([b]).decode(encoding)
        except UnicodeDecodeError:
            bad.add(b)
    return frozenset(bad)


_UNDECODABLE = {enc: _undecodable(enc) for enc in _FAMILY}


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
    for chunk in _iter_chunks(path):
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
    for chunk in _iter_chunks(path):
        text = decoder.decode(chunk)
        bad = text.count("\ufffd")
        invalid += bad
        # Characters past ASCII, counted in C (a 500 MB file is no per-character loop).
        valid += len(text) - len(text.encode("ascii", "ignore")) - bad
    return valid >= 2 and valid >= 4 * invalid


@dataclass
class _SingleByteScan:
    """What one pass over a file that is not UTF-8 found."""

    counts: Counter[int]  # every byte >= 0x80
    sample: bytes  # lines holding such bytes, for chardet
    utf8_at: int | None  # offset of the first UTF-8 letter or mark (see _utf8_sign)
    cp850_at: int | None  # offset of the first _CP850_SIGNS byte inside a word


def _scan_single_byte(path: Path) -> _SingleByteScan:
    """Count every byte >= 0x80 in the file, sample the lines that hold them, and note
    the first UTF-8 text and the first sign of code page 850 in it."""
    counts: Counter[int] = Counter()
    sample: list[bytes] = []
    sampled = 0
    utf8_at = cp850_at = None
    offset = 0
    tail = b""  # the end of the chunk before: a character split between two chunks
    for chunk in _iter_chunks(path):
        high = chunk.translate(None, _ASCII)
        if high:
            counts.update(high)
            # (each looked for only where the chunk's bytes past ASCII allow it)
            if utf8_at is None and high.translate(None, _NOT_UTF8_LEADS):
                found = _utf8_sign(tail + chunk)
                utf8_at = None if found is None else offset - len(tail) + found
            if cp850_at is None and high.translate(None, _NOT_CP850_SIGNS):
                found = _cp850_sign(tail + chunk)
                cp850_at = None if found is None else offset - len(tail) + found
            if sampled < _SAMPLE_BYTES:
                for line in chunk.splitlines():
                    if not line.isascii():
                        sample.append(line)
                        sampled += len(line) + 1
                        if sampled >= _SAMPLE_BYTES:
                            break
        tail = chunk[-3:]
        offset += len(chunk)
    return _SingleByteScan(counts, b"\n".join(sample), utf8_at, cp850_at)


# --- a file in more than one encoding, or in code page 850 -----------------------------

# UTF-8 text of the languages here, past ASCII: the letters and marks the language models
# know (ä, č, –, €, ...). Read as a single-byte encoding each is two or three characters no
# text holds (ä -> Ã¤, ž -> Å¾, – -> â€“). A no-break space is left out: its bytes C2 A0
# are "Â" and a no-break space in Windows-1252. (Š, C5 A0, is also "Å" and a no-break
# space there: a file that holds only that pair may be refused as mixed; an explicit
# --encoding reads it.)
_UTF8_SIGNS = frozenset(ch for ch in (*_WESTERN, *_CENTRAL) if ch != "\xa0")
# Bytes as classes, to find a sign's first two bytes (a lead byte, then a continuation
# byte) with bytes.find, which is many times faster than a regular expression.
_NOT_UTF8_LEADS = bytes(b for b in range(0x100) if b not in (0xC2, 0xC3, 0xC4, 0xC5, 0xE2))
_UTF8_CLASSES = bytes.maketrans(
    bytes(range(0x100)),
    bytes(ord("l") if b not in _NOT_UTF8_LEADS else ord("c") if 0x80 <= b <= 0xBF
          else ord(" ") for b in range(0x100)))


def _utf8_sign(data: bytes) -> int | None:
    """Offset in `data` of the first character of _UTF8_SIGNS encoded as UTF-8 (a whole
    character: no further continuation byte follows it), or None."""
    classes = data.translate(_UTF8_CLASSES)
    at = classes.find(b"lc")
    while at >= 0:
        end = at + (3 if data[at] == 0xE2 else 2)
        if end <= len(data) and classes[end:end + 1] != b"c":
            try:
                if data[at:end].decode("utf-8") in _UTF8_SIGNS:
                    return at
            except UnicodeDecodeError:
                pass
        at = classes.find(b"lc", at + 1)
    return None


def utf8_text_at(path: Path) -> int | None:
    """Byte offset of the first UTF-8 letter or mark of the languages here (ä, č, –, ...)
    in the file, or None: where a single-byte decode would garble UTF-8 text (ä -> Ã¤)."""
    offset = 0
    tail = b""
    for chunk in _iter_chunks(path):
        if not chunk.isascii():
            found = _utf8_sign(tail + chunk)
            if found is not None:
                return offset - len(tail) + found
        tail = chunk[-3:]
        offset += len(chunk)
    return None


def undecodable_at(path: Path, codec: str) -> int | None:
    """Byte offset of the first byte `codec` cannot decode (strictly), or None."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    read = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            pending = len(decoder.getstate()[0])  # bytes held over from the last chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return read - pending + exc.start
            read += len(chunk)
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # a character cut off by the end of the file
        return read - pending + exc.start
    return None


def _is_letter(byte: int, encoding: str) -> bool:
    try:
        return bytes([byte]).decode(encoding).isalpha()
    except UnicodeDecodeError:
        return False


# Windows-1252's ‘ ’ – —: code page 850's æ Æ û ù, rare in the languages here, while Windows
# text holds them between letters (O’Brien, Helsinki–Tampere). They are no evidence either
# way, nor letters around a sign.
_MARKS = b"\x91\x92\x96\x97"
# Bytes that code page 850 reads as letters and each of the four single-byte encodings as
# a symbol, a quote or nothing: ä is 0x84, „ in Windows-1252; ö is 0x94, ”. Between
# letters ("H„meenkatu") they are a sign of code page 850.
_CP850_SIGNS = bytes(
    b for b in range(0x80, 0xA0)
    if b not in _MARKS and _is_letter(b, CODE_PAGE_850)
    and not any(_is_letter(b, enc) for enc in SINGLE_BYTE_ENCODINGS))
# Every byte below 0xC0 that code page 850 reads as a letter (also Ä 0x8E, Ž in
# Windows-1252; Å 0x8F, Ź in Windows-1250).
_CP850_LETTERS = bytes(
    b for b in range(0x80, 0xC0) if b not in _MARKS and _is_letter(b, CODE_PAGE_850))
# Bytes as classes, to look at them a megabyte at a time with numpy: s a sign, a any
# other letter (ASCII, code page 850's, or one of the others' from 0xC0 up), space
# anything else.
_NOT_CP850_SIGNS = bytes(b for b in range(0x100) if b not in _CP850_SIGNS)
_CP850_CLASSES = bytes.maketrans(bytes(range(0x100)), bytes(
    ord("s") if b in _CP850_SIGNS
    else ord("a") if chr(b).isascii() and chr(b).isalpha() or b in _CP850_LETTERS or b >= 0xC0
    else ord(" ") for b in range(0x100)))
# The same with every code page 850 letter below 0xC0 (signs or not) as w.
_CP850_LETTER_CLASSES = bytes.maketrans(bytes(range(0x100)), bytes(
    ord("w") if b in _CP850_LETTERS else c for b, c in enumerate(_CP850_CLASSES)))


def _between_letters(classes: np.ndarray, kind: str) -> np.ndarray:
    """Whether each byte but the first and last is of class `kind` with a letter (a byte of
    any class but space) either side."""
    letters = classes != ord(" ")
    return (classes[1:-1] == ord(kind)) & letters[:-2] & letters[2:]


def _cp850_sign(data: bytes) -> int | None:
    """Offset in `data` of the first _CP850_SIGNS byte between letters, or None."""
    inside = _between_letters(np.frombuffer(data.translate(_CP850_CLASSES), np.uint8), "s")
    return int(inside.argmax()) + 1 if inside.any() else None


def _code_page_850(path: Path, counts: Counter[int]) -> bool:
    """Whether a file with a _CP850_SIGNS byte between letters is code page 850 beyond
    doubt: no byte from 0xC0 up (where the Windows and ISO encodings keep their letters
    and code page 850 mostly box drawing); at least two of its code page 850 letters, and
    a third of them, between letters (quotes and symbols sit at a word's edge); and the
    language model prefers code page 850 to every other candidate."""
    if any(b >= 0xC0 for b in counts):
        return False
    inside = total = 0
    for chunk in _iter_chunks(path):
        classes = np.frombuffer(chunk.translate(_CP850_LETTER_CLASSES), np.uint8)
        total += int(np.count_nonzero(classes == ord("w")))
        inside += int(np.count_nonzero(_between_letters(classes, "w")))
    if inside < 2 or 3 * inside < total:
        return False
    best = max(score_single_byte(counts, enc) for enc in SINGLE_BYTE_ENCODINGS)
    return score_single_byte(counts, CODE_PAGE_850) >= best


class EncodingProblem(SourceError):
    """A file that no one encoding reads for sure. The message names places in the file
    by byte offset; `at_rows` words it again with the row of each of `offsets`, which
    only a reader that splits records knows."""

    def __init__(self, offsets: Sequence[int], render: Callable[[list[str]], str]) -> None:
        self.offsets = tuple(offsets)
        self._render = render
        super().__init__(render([f"byte offset {o}" for o in self.offsets]))

    def at_rows(self, rows: Sequence[int | None]) -> SourceError:
        return SourceError(self._render([
            f"row {row}" if row is not None else f"byte offset {offset}"
            for offset, row in zip(self.offsets, rows, strict=True)]))


_SHOWN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         + bytes(range(0x80, 0x100)))


def word_at(path: Path, offset: int, reach: int = 30) -> bytes:
    """The run of letters (ASCII letters, bytes past ASCII) around byte `offset`, at most
    `reach` bytes either side: the word to show in a message."""
    start = max(offset - reach, 0)
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(offset - start + reach + 1)
    at = offset - start
    left, right = at, at + 1
    while left > 0 and data[left - 1] in _SHOWN_BYTES:
        left -= 1
    while right < len(data) and data[right] in _SHOWN_BYTES:
        right += 1
    return data[left:right]


def _byte_at(path: Path, offset: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(1)


def mixed_encodings(path: Path, utf8_at: int, other_at: int | None) -> EncodingProblem:
    """The error for a file with UTF-8 text at `utf8_at` and, at `other_at`, a byte that
    is not UTF-8: two encodings in one file (exports pasted together)."""
    word = word_at(path, utf8_at).decode("utf-8", "replace")
    if other_at is None:  # not expected: the caller found a byte that is not UTF-8
        other_at = utf8_at
    byte = _byte_at(path, other_at)

    def render(places: list[str]) -> str:
        utf8 = f"{places[0]} holds UTF-8 text ({word!r})"
        other = (f"{places[1]} holds a byte that is not UTF-8 (0x{byte.hex().upper()} at "
                 f"byte offset {other_at})")
        first, second = (utf8, other) if utf8_at <= other_at else (other, utf8)
        return (f"{path}: mixes encodings: {first} but {second}, so no single --encoding "
                "reads it right (any other would garble the UTF-8 letters); save the file "
                "again in one encoding (e.g. UTF-8) and import that")

    return EncodingProblem((utf8_at, other_at), render)


def _code_page_850_unclear(path: Path, offset: int, chosen: str) -> EncodingProblem:
    raw = word_at(path, offset)
    sign = _byte_at(path, offset).decode(chosen, "replace")
    as_chosen = raw.decode(chosen, "replace")
    as_dos = raw.decode(CODE_PAGE_850)

    def render(places: list[str]) -> str:
        return (f"{path}: {places[0]} holds {as_chosen!r} (read as {chosen}), which reads "
                f"{as_dos!r} in code page 850 (Excel's \"CSV (MS-DOS)\"), and which one "
                f"the file is can't be told for sure: pass --encoding {CODE_PAGE_850}, or "
                f"--encoding {chosen} if {sign!r} is meant")

    return EncodingProblem((offset,), render)


def _chardet_pick(sample: bytes) -> str | None:
    """chardet's answer for `sample`, mapped into SINGLE_BYTE_ENCODINGS (None if outside)."""
    # Restricted to our four: unrestricted, chardet 7 names exotic code pages
    # (hp-roman8, cp1257, mac-turkish) for short Finnish or Czech samples. Its "nothing
    # fit" answer is unchecked against the data, so make it one we ignore: utf-8 (the
    # file is not UTF-8, so a utf-8 answer means nothing fit). utf-8 must also be
    # included, or chardet warns and answers None.
    result = chardet.detect(
        sample,
        include_encodings=(*SINGLE_BYTE_ENCODINGS, "utf-8"),
        compat_names=False,
        no_match_encoding="utf-8",
    )
    name = (result.get("encoding") or "").lower()
    return _CHARDET_NAMES.get(name)


def score_single_byte(counts: Counter[int], encoding: str) -> float:
    """Log-likelihood of the file's non-ASCII bytes decoded with `encoding`.

    The model is a unigram of non-ASCII characters in the languages the encoding's family
    serves. Returns -inf when `encoding` cannot decode one of the bytes.
    """
    if any(b in _UNDECODABLE[encoding] for b in counts):
        return -math.inf
    logp = _LOGP[encoding]
    total = sum(_FAMILY[encoding].values())
    return sum(n * _char_logp(bytes([b]).decode(encoding), logp, total) for b, n in counts.items())


def choose_single_byte(counts: Counter[int], sample: bytes) -> str:
    """Pick the single-byte encoding for a file whose non-ASCII byte counts are `counts`.

    Candidates are the encodings that decode every byte; the best by the language model
    wins, unless chardet's pick (on `sample`) scores within a small margin of it.
    """
    scores = {enc: score_single_byte(counts, enc) for enc in SINGLE_BYTE_ENCODINGS}
    # max() keeps the first of equal scores, so ties go by SINGLE_BYTE_ENCODINGS order.
    best = max(SINGLE_BYTE_ENCODINGS, key=lambda enc: scores[enc])
    pick = _chardet_pick(sample) if sample else None
    if pick is not None and scores[pick] >= scores[best] - _CHARDET_MARGIN:
        return pick
    return best


def detect_encoding(path: Path) -> str:
    """The Python codec name to read `path` with, decided without a lossy decode.

    A BOM gives "utf-8-sig" or "utf-16"; a file that is strict UTF-8 throughout gives
    "utf-8"; otherwise one of SINGLE_BYTE_ENCODINGS that decodes every byte of the file,
    or CODE_PAGE_850 when the file is that beyond doubt (see `_code_page_850`).
    Raises SourceError for a missing, empty or binary file (NUL or control bytes), and
    EncodingProblem for a file that holds UTF-8 text beside bytes that are not UTF-8, or
    a sign of code page 850 short of proof: no guess would read it right for sure.
    """
    head = read_head(path)
    bom = bom_encoding(head)
    if bom is not None:
        return bom
    check_text_head(path, head)
    if _scan_utf8(path, head):
        return "utf-8"
    scan = _scan_single_byte(path)
    if scan.utf8_at is not None:
        raise mixed_encodings(path, scan.utf8_at, undecodable_at(path, "utf-8"))
    chosen = choose_single_byte(scan.counts, scan.sample)
    if scan.cp850_at is not None:
        if _code_page_850(path, scan.counts):
            return CODE_PAGE_850
        raise _code_page_850_unclear(path, scan.cp850_at, chosen)
    return chosen


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

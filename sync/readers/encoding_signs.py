"""Signs that a file is in more than one encoding, or in code page 850, found in one
pass over a file that is not UTF-8, and the errors that say so.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sync.errors import SourceError
from sync.readers.single_byte import (
    CODE_PAGE_850,
    DISPUTED_BYTES,
    DOUBT_MARGIN,
    KNOWN_CHARACTERS,
    MAC_ROMAN,
    SINGLE_BYTE_ENCODINGS,
    score_single_byte,
)

CHUNK_SIZE = 1 << 20
_SAMPLE_BYTES = 64_000  # what chardet sees: lines holding non-ASCII bytes, up to this much
_ASCII = bytes(range(0x80))


def iter_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of `path`, CHUNK_SIZE at a time."""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


@dataclass
class SingleByteScan:
    """What one pass over a file that is not UTF-8 found."""

    counts: Counter[int]  # every byte >= 0x80
    sample: bytes  # lines holding such bytes, for chardet
    utf8_at: int | None  # offset of the first UTF-8 letter or mark (see _utf8_sign)
    cp850_at: int | None  # offset of the first _CP850_SIGNS byte inside a word
    words: Counter[bytes]  # words holding a byte the candidates read differently


def scan_single_byte(path: Path) -> SingleByteScan:
    """Count every byte >= 0x80 in the file, sample the lines that hold them, and note
    the first UTF-8 text and the first sign of code page 850 in it."""
    counts: Counter[int] = Counter()
    words: Counter[bytes] = Counter()
    taken: Counter[int] = Counter()  # word occurrences counted for each disputed byte
    sample: list[bytes] = []
    sampled = 0
    utf8_at = cp850_at = None
    offset = 0
    tail = b""  # the end of the chunk before: a character split between two chunks
    for chunk in iter_chunks(path):
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
            if (disputed := high.translate(None, _UNDISPUTED)) and (
                    wanted := {b for b in set(disputed) if taken[b] < _WORDS_PER_BYTE}):
                _disputed_words(chunk, wanted, words, taken)
            if sampled < _SAMPLE_BYTES:
                for line in chunk.splitlines():
                    if not line.isascii():
                        sample.append(line)
                        sampled += len(line) + 1
                        if sampled >= _SAMPLE_BYTES:
                            break
        tail = chunk[-3:]
        offset += len(chunk)
    return SingleByteScan(counts, b"\n".join(sample), utf8_at, cp850_at, words)


# Word occurrences counted for each disputed byte: enough to tell the encodings apart,
# and a share of its own for each, so a frequent byte that tells nothing apart (€ in a
# price column: the Windows code pages read it alike) can't crowd out the one that does.
_WORDS_PER_BYTE = 2_000
_UNDISPUTED = bytes(b for b in range(0x100) if b not in DISPUTED_BYTES)
_WORD_BYTES = frozenset(b for b in range(0x100) if b >= 0x80 or chr(b).isalpha())


def _disputed_words(chunk: bytes, disputed: set[int], words: Counter[bytes],
                    taken: Counter[int]) -> None:
    """Add to `words` the words of `chunk` that hold one of the `disputed` bytes, at most
    _WORDS_PER_BYTE for each byte over the file (`taken` counts them). A word cut by
    the chunk's edge is counted cut."""
    hits: list[int] = []
    for b in disputed:  # bytes.find runs at memchr's speed; a regex was 4x slower
        room = _WORDS_PER_BYTE - taken[b]
        at = chunk.find(b)
        while at >= 0 and room > 0:
            hits.append(at)
            room -= 1
            at = chunk.find(b, at + 1)
        taken[b] = _WORDS_PER_BYTE - room
    end = 0
    for at in sorted(hits):
        if at < end:
            continue  # in the word just counted
        start = at
        while start > 0 and chunk[start - 1] in _WORD_BYTES:
            start -= 1
        end = at + 1
        while end < len(chunk) and chunk[end] in _WORD_BYTES:
            end += 1
        words[chunk[start:end]] += 1


# --- a file in more than one encoding, or in code page 850 -----------------------------

# UTF-8 text of the languages here, past ASCII: the letters and marks the language models
# know (ä, č, –, €, ...). Read as a single-byte encoding each is two or three characters no
# text holds (ä -> Ã¤, ž -> Å¾, – -> â€“). A no-break space is left out: its bytes C2 A0
# are "Â" and a no-break space in Windows-1252. (Š, C5 A0, is also "Å" and a no-break
# space there: a file that holds only that pair may be refused as mixed; an explicit
# --encoding reads it.)
_UTF8_SIGNS = frozenset(ch for ch in KNOWN_CHARACTERS if ch != "\xa0")
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
    for chunk in iter_chunks(path):
        if not chunk.isascii():
            found = _utf8_sign(tail + chunk)
            if found is not None:
                return offset - len(tail) + found
        tail = chunk[-3:]
        offset += len(chunk)
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


def code_page_850(path: Path, counts: Counter[int]) -> bool:
    """Whether a file with a _CP850_SIGNS byte between letters is code page 850 beyond
    doubt: no byte from 0xC0 up (where the Windows and ISO encodings keep their letters
    and code page 850 mostly box drawing); at least two of its code page 850 letters, and
    a third of them, between letters (quotes and symbols sit at a word's edge); and the
    language model prefers code page 850 to every other candidate."""
    if any(b >= 0xC0 for b in counts):
        return False
    inside = total = 0
    for chunk in iter_chunks(path):
        classes = np.frombuffer(chunk.translate(_CP850_LETTER_CLASSES), np.uint8)
        total += int(np.count_nonzero(classes == ord("w")))
        inside += int(np.count_nonzero(_between_letters(classes, "w")))
    if inside < 2 or 3 * inside < total:
        return False
    best = max(score_single_byte(counts, enc) for enc in SINGLE_BYTE_ENCODINGS)
    return score_single_byte(counts, CODE_PAGE_850) >= best


# Mac Roman reads every byte of 0x80-0x9F as a letter (Ä Å Ç É Ñ Ö Ü á à â ä ã å ç é
# è ...). Its signs are those the Windows code pages read as no lowercase letter: between
# two letters, "HŠmeenlinna" (ä read as Š) or "BorŒs" (å as Œ) is no Windows text, where
# "Dušan" (Mac ö as š) is. Windows' quotes, dashes and … sit between letters in O’Brien
# and Helsinki–Tampere: no sign either (review: both were read as Mac Roman).
_MAC_MARKS = b"\x85\x91\x92\x93\x94\x96\x97"
_WINDOWS = ("cp1252", "cp1250")


def _in_windows(byte: int, case: Callable[[str], bool]) -> bool:
    """Whether a Windows code page reads `byte` as a character `case` holds for."""
    for encoding in _WINDOWS:
        try:
            if case(bytes([byte]).decode(encoding)):
                return True
        except UnicodeDecodeError:
            pass
    return False


_MAC_SIGNS = bytes(b for b in range(0x80, 0xA0)
                   if b not in _MAC_MARKS and not _in_windows(b, str.islower))
# As classes: s a sign Windows reads as no letter, u one it reads as a capital (Š, Ž,
# Œ, ...: a sign only before a lowercase letter, "HŠmeenlinna"; "DUŠAN" in capitals is
# Windows text), l a lowercase letter (ASCII, or as Windows-1252 reads it), a any other
# letter (ASCII, Mac Roman's below 0xA0, or from 0xC0 up, where the Windows code pages
# keep theirs), space anything else.
_MAC_CLASSES = bytes.maketrans(bytes(range(0x100)), bytes(
    (ord("u") if _in_windows(b, str.isupper) else ord("s")) if b in _MAC_SIGNS
    else ord("l") if chr(b).isascii() and chr(b).islower()
    or b >= 0x80 and bytes([b]).decode("cp1252", "replace").islower()
    else ord("a") if chr(b).isascii() and chr(b).isalpha() or 0x80 <= b < 0xA0 or b >= 0xC0
    else ord(" ") for b in range(0x100)))
_MAC_MARGIN = 6.0  # log-likelihood (nats) by which Mac Roman must beat every other reading


def mac_roman(path: Path, counts: Counter[int], chosen: str) -> str | None:
    """How a file that is not UTF-8 reads in Mac Roman, for detection to answer it
    ("sure") or name it as a doubt ("possible"), else None.

    Sure: the language model prefers Mac Roman to every candidate by _MAC_MARGIN, and
    either no Windows code page reads the file (Mac Roman's Å is 0x81, which neither
    defines: the ISO encodings read C1 control characters there), or at least two of
    its signs (_MAC_SIGNS), and a third of them, sit between letters (one Windows reads
    as a capital: before a lowercase letter). Possible: one sign so, and the model
    finds Mac Roman nearly as likely (within single_byte's doubt margin) as `chosen`."""
    if not any(b in _MAC_SIGNS for b in counts):
        return None
    mac = score_single_byte(counts, MAC_ROMAN)
    best = max(score_single_byte(counts, enc) for enc in SINGLE_BYTE_ENCODINGS)
    if mac >= best + _MAC_MARGIN and all(
            score_single_byte(counts, enc) == -math.inf for enc in _WINDOWS):
        return "sure"
    inside = total = 0
    for chunk in iter_chunks(path):
        classes = np.frombuffer(chunk.translate(_MAC_CLASSES), np.uint8)
        capitals = classes[1:-1] == ord("u")
        total += int(np.count_nonzero(classes == ord("s")) + np.count_nonzero(
            classes == ord("u")))
        inside += int(np.count_nonzero(_between_letters(classes, "s")) + np.count_nonzero(
            capitals & (classes[:-2] != ord(" ")) & (classes[2:] == ord("l"))))
    if mac >= best + _MAC_MARGIN and inside >= 2 and 3 * inside >= total:
        return "sure"
    if inside and mac >= score_single_byte(counts, chosen) - DOUBT_MARGIN:
        return "possible"
    return None


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


def mixed_with_mark(path: Path, other_at: int) -> EncodingProblem:
    """The error for a file that starts with a UTF-8 byte-order mark and holds, at
    `other_at`, a byte that is not UTF-8: a single-byte export saved after (or pasted
    into) a UTF-8 one. No --encoding reads it: UTF-8 fails at the byte, and a
    single-byte encoding is refused, as it would read the mark into the first header."""
    byte = _byte_at(path, other_at)

    def render(places: list[str]) -> str:
        return (f"{path}: mixes encodings: it starts with a UTF-8 byte-order mark but "
                f"{places[0]} holds a byte that is not UTF-8 (0x{byte.hex().upper()} at "
                f"byte offset {other_at}), so no single --encoding reads it right; save "
                "the file again in one encoding (e.g. UTF-8) and import that")

    return EncodingProblem((other_at,), render)


def code_page_850_unclear(path: Path, offset: int, chosen: str) -> EncodingProblem:
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

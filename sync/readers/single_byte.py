"""Which single-byte encoding a file that is not UTF-8 is written in.

A unigram model of the non-ASCII characters of customer registers in each encoding's
languages ranks the candidates that decode every byte of the file; chardet's pick is
taken when the model scores it nearly as well.
"""

from __future__ import annotations

import math
from collections import Counter

import chardet

SINGLE_BYTE_ENCODINGS: tuple[str, ...] = ("cp1252", "iso8859-15", "cp1250", "iso8859-2")
"""The single-byte encodings detection may answer, in order of preference on a tie."""

CODE_PAGE_850 = "cp850"
"""The DOS code page of Excel's "CSV (MS-DOS)": answered only on clear evidence (see
`sync.readers.encoding_signs.code_page_850`), never by the language model alone."""

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

KNOWN_CHARACTERS = frozenset((*_WESTERN, *_CENTRAL))
"""The non-ASCII characters the models know (letters, marks and symbols)."""


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


def alike_encodings(high: bytes, encoding: str) -> tuple[str, ...]:
    """`encoding` and the other SINGLE_BYTE_ENCODINGS that read each of the bytes
    `high` (those past ASCII a file holds) as it does: the file's text can't tell them
    apart, so it may have been saved in any of them."""
    text = high.decode(encoding)
    alike = [encoding]
    for other in SINGLE_BYTE_ENCODINGS:
        try:
            if other != encoding and high.decode(other) == text:
                alike.append(other)
        except UnicodeDecodeError:
            continue
    return tuple(alike)

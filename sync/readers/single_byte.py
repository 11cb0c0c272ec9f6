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

MAC_ROMAN = "mac_roman"
"""Mac OS Roman, which Excel for Mac writes as plain "CSV": ä is 0x8A, Š in the Windows
code pages ("HŠmeenlinna"). Answered only on clear evidence (see
`sync.readers.encoding_signs.mac_roman`); otherwise named as a doubt when the language
model finds it nearly as likely as the encoding chosen."""

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
           CODE_PAGE_850: _WESTERN, MAC_ROMAN: _WESTERN}
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


def choose_single_byte(counts: Counter[int], sample: bytes,
                       words: Counter[bytes] | None = None) -> str:
    """Pick the single-byte encoding for a file whose non-ASCII byte counts are `counts`.

    Candidates are the encodings that decode every byte; the best by the language model
    wins, unless chardet's pick (on `sample`) scores within a small margin of it. Then
    `words`, the file's words that the candidates read differently (see
    `score_words`), overrule that pick when they clearly favour another candidate.
    """
    scores = {enc: score_single_byte(counts, enc) for enc in SINGLE_BYTE_ENCODINGS}
    # max() keeps the first of equal scores, so ties go by SINGLE_BYTE_ENCODINGS order.
    best = max(SINGLE_BYTE_ENCODINGS, key=lambda enc: scores[enc])
    pick = _chardet_pick(sample) if sample else None
    if pick is not None and scores[pick] >= scores[best] - _CHARDET_MARGIN:
        best = pick
    if not words:
        return best
    by_words = {enc: score_words(words, counts, enc) for enc in SINGLE_BYTE_ENCODINGS
                if scores[enc] > -math.inf}
    favourite = max(by_words, key=lambda enc: by_words[enc])
    if by_words[favourite] >= by_words[best] + _WORD_MARGIN:
        return favourite
    return best


# The bytes the candidate encodings read as different characters (or cannot read).
DISPUTED_BYTES = frozenset(
    b for b in range(0x80, 0x100)
    if len({bytes([b]).decode(enc, errors="replace") for enc in SINGLE_BYTE_ENCODINGS}) > 1)
_WORD_MARGIN = 1.5  # log-likelihood (nats) by which the words must favour another pick
DOUBT_MARGIN = 6.0  # below this, the words read otherwise are named (encoding_doubt)
_FAMILY_FLOOR = 0.02  # the least weight a language family gets in a file (score_words)


def score_words(words: Counter[bytes], counts: Counter[int], encoding: str) -> float:
    """Log-likelihood of `words` (each with its count) decoded with `encoding`.

    The unigram model above takes a file as written in one family's languages, so a
    Finnish register with a few Czech customers, saved in Windows-1250, read as
    Windows-1252: its many ä and ö (the same bytes in both) outweighed "Dvořák", and
    the customer became "Dvoøák". Here each word is from one family or the other (a
    mixture), with the mixture weighted by the file's other letters, the ones every
    candidate reads alike. A word keeps its letters together: "Dvořák" (ř beside á) is
    Czech, where "Dvoøák" fits no language, so the word decides what its bytes are.
    """
    western, central = _family_weights(counts)
    logp_w, logp_c = _LOGP["cp1252"], _LOGP["cp1250"]
    total_w, total_c = sum(_WESTERN.values()), sum(_CENTRAL.values())
    score = 0.0
    for word, n in words.items():
        text = word.decode(encoding, errors="replace")
        high = [ch for ch in text if not ch.isascii()]
        in_w = sum(_char_logp(ch, logp_w, total_w) for ch in high)
        in_c = sum(_char_logp(ch, logp_c, total_c) for ch in high)
        score += n * _log_add(math.log(western) + in_w, math.log(central) + in_c)
    return score


def _family_weights(counts: Counter[int]) -> tuple[float, float]:
    """How much of the file is in Western and in Central European languages, judged by
    its non-ASCII letters that every candidate reads alike (ä, ö, á, é, ...)."""
    logp_w, logp_c = _LOGP["cp1252"], _LOGP["cp1250"]
    total_w, total_c = sum(_WESTERN.values()), sum(_CENTRAL.values())
    western = central = 1.0  # one of each assumed: no evidence is an even split
    for b, n in counts.items():
        if b in DISPUTED_BYTES:
            continue
        ch = bytes([b]).decode("cp1252")
        if _char_logp(ch, logp_w, total_w) >= _char_logp(ch, logp_c, total_c):
            western += n
        else:
            central += n
    # A floor under each: thousands of Finnish rows would otherwise make a family of a
    # few Czech customers so unlikely that "Dvořák" lost to "Dvoøák" (review finding).
    share = max(_FAMILY_FLOOR, min(1 - _FAMILY_FLOOR, western / (western + central)))
    return share, 1 - share


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log1p(math.exp(low - high))


def encoding_doubt(words: Counter[bytes], counts: Counter[int], chosen: str,
                   mac_roman: bool = False) -> str | None:
    """One line naming the encoding that reads some of the file's `words` otherwise,
    with two of them as each reads them, when the words make it nearly as likely as
    `chosen` (within DOUBT_MARGIN); else None. A preview shows it beside the encoding:
    one Czech name among a thousand Finnish ones is thin evidence either way. With
    `mac_roman`, Mac Roman is one of the readings weighed."""
    if not words:
        return None
    candidates = [enc for enc in SINGLE_BYTE_ENCODINGS
                  if enc == chosen or score_single_byte(counts, enc) > -math.inf]
    # Mac Roman only where the file holds a sign of it (encoding_signs.mac_roman): it
    # reads a Windows file's ’ as a letter too (O’Brien as OíBrien).
    if mac_roman:
        candidates.append(MAC_ROMAN)
    scores = {enc: score_words(words, counts, enc) for enc in candidates}
    ranked = [w for w, _ in words.most_common()]
    for other in sorted((e for e in scores if e != chosen), key=lambda e: -scores[e]):
        differ = []
        for word in ranked:  # the two most frequent words the two read differently
            if word.decode(chosen, errors="replace") != word.decode(other, errors="replace"):
                differ.append(word)
                if len(differ) == 2:
                    break
        if not differ:
            continue
        if scores[chosen] - scores[other] >= DOUBT_MARGIN:
            return None
        shown = ", ".join(f"{w.decode(chosen)!r} as {w.decode(other)!r}" for w in differ)
        return f"{other} would read {shown}; pass --encoding {other} if that is right"
    return None

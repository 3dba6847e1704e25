"""Spoken forms: from what a recogniser (or a typist) writes to the words that were said.

Whisper punctuates, capitalises and writes "$40,000.", "Rs. 30,000/-", "40k" or
Devanagari; a typed answer says "dont" and "6lpa". Every other module of the package
reads the token list made here, so a written form is taught once, here, and the
grammar never sees a symbol, a contraction or a digit grouping comma. Also here: the
clause boundaries that scope negation and hedges, and the small token helpers every
reader shares (skipping words, matching a phrase index).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")

_SYMBOLS = [
    (re.compile(r"[\u2018\u2019\u02bc`´]"), "'"),
    (re.compile(r"\u2026"), "."),
    (re.compile(r"\bp\.\s?m\b\.?"), " pm "),
    (re.compile(r"\bp\.\s?a\b\.?"), " pa "),
    (re.compile(r"/-"), " "),
    (re.compile(r"/"), " per "),
    (re.compile(r"%"), " percent "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"&"), " and "),
    (re.compile(r"₹"), " inr "),
    (re.compile(r"\$"), " usd "),
    (re.compile(r"£"), " gbp "),
    (re.compile(r"€"), " eur "),
    (re.compile(r"(?<=\d),(?=\d)"), ""),  # digit grouping: 1,25,000 / 40,000
    (re.compile(r"(?<=\d)\s*[-\u2013\u2014]\s*(?=\d)"), " to "),  # 30-40k
    (re.compile(r"\bcan'?t\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"'s\b"), " is"),
    (re.compile(r"(\d)([a-z])"), r"\1 \2"),  # 40k, 2.5lakh, 6lpa
    (re.compile(r"([a-z])(\d)"), r"\1 \2"),  # rs30000, usd15
]

_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[\u0900-\u0963\u0966-\u097f]+|[?!.,;:\u0964]")

# Spellings without apostrophes (typed answers, some ASR output) and shorthands.
_EXPAND = {
    "dont": ("do", "not"), "doesnt": ("does", "not"), "didnt": ("did", "not"),
    "isnt": ("is", "not"), "arent": ("are", "not"), "wasnt": ("was", "not"),
    "werent": ("were", "not"), "havent": ("have", "not"), "hasnt": ("has", "not"),
    "hadnt": ("had", "not"), "cant": ("can", "not"), "cannot": ("can", "not"),
    "wont": ("will", "not"), "wouldnt": ("would", "not"), "couldnt": ("could", "not"),
    "shouldnt": ("should", "not"), "aint": ("is", "not"), "im": ("i", "am"),
    "ive": ("i", "have"), "thats": ("that", "is"), "whats": ("what", "is"),
    "ofcourse": ("of", "course"), "lpa": ("lakh", "per", "annum"),
    "yrs": ("years",), "yr": ("year",), "mos": ("months",), "wks": ("weeks",),
    "approx": ("about",), "hundreds": ("hundred",),
    "haanji": ("haan", "ji"), "hanji": ("haan", "ji"), "nahiji": ("nahi", "ji"),
    "alright": ("okay",),
    # Devanagari (Whisper in Hindi mode writes the script, not romanisation).
    "हाँ": ("haan",), "हां": ("haan",), "हा": ("haan",), "जी": ("ji",),
    "नहीं": ("nahi",), "नही": ("nahi",), "ना": ("na",), "बिल्कुल": ("bilkul",),
    "बिलकुल": ("bilkul",), "सही": ("sahi",), "हजार": ("hazaar",), "हज़ार": ("hazaar",),
    "लाख": ("lakh",), "करोड़": ("crore",), "करोड": ("crore",), "रुपये": ("rupees",),
    "रुपए": ("rupees",), "महीना": ("mahina",), "महीने": ("mahine",), "साल": ("saal",),
    "पता": ("pata",), "शायद": ("shayad",), "फिर": ("phir",), "से": ("se",),
    "दोबारा": ("dobara",), "क्या": ("kya",), "ज्यादा": ("zyada",), "ज़्यादा": ("zyada",),
    "कम": ("kam",), "मालूम": ("maloom",),
}

_PUNCT_MAP = {"?": "?", ",": ",", ".": ",", "!": ",", ";": ",", ":": ",", "\u0964": ","}


def tokenise(text: str) -> list[str]:
    """Normalised tokens; every clause punctuation mark becomes "," except "?"."""
    s = text.lower().translate(_DEVANAGARI_DIGITS)
    for pattern, repl in _SYMBOLS:
        s = pattern.sub(repl, s)
    s = s.replace("'", "")
    out: list[str] = []
    for tok in _TOKEN_RE.findall(s):
        if tok in _PUNCT_MAP:
            out.append(_PUNCT_MAP[tok])
        elif tok in _EXPAND:
            out.extend(_EXPAND[tok])
        else:
            out.append(tok)
    return out


# ---------------------------------------------------------------------------
# Clauses and token helpers
# ---------------------------------------------------------------------------

# Punctuation and contrastive words start a new clause: "yes, but not full time".
BOUNDARY = {",", "?", "but", "though", "although", "however", "so", "because", "cause"}


def clause_ids(toks: list[str]) -> list[int]:
    """Clause number of each token; punctuation and contrastive words start a new clause."""
    ids, c = [], 0
    for t in toks:
        if t in BOUNDARY:
            c += 1
        ids.append(c)
    return ids


def clause_end(toks: list[str], k: int) -> int:
    """Index of the first clause boundary at or after k (len(toks) if none)."""
    while k < len(toks) and toks[k] not in BOUNDARY:
        k += 1
    return k


def skip(toks: list[str], j: int, words: set[str], limit: int = 3) -> int:
    """Index after up to `limit` consecutive `words` starting at j."""
    k = 0
    while j < len(toks) and toks[j] in words and k < limit:
        j, k = j + 1, k + 1
    return j


V = TypeVar("V")
PhraseIndex = dict[str, list[tuple[tuple[str, ...], V]]]


def index_phrases(entries: Iterable[tuple[str, V]]) -> PhraseIndex[V]:
    """(phrase, value) pairs indexed by the phrase's first word, longest phrase first
    (equal lengths keep their order)."""
    index: PhraseIndex[V] = {}
    for phrase, value in entries:
        words = tuple(phrase.split())
        index.setdefault(words[0], []).append((words, value))
    for entries_of_word in index.values():
        entries_of_word.sort(key=lambda e: -len(e[0]))
    return index


def match_phrase(toks: list[str], i: int, index: PhraseIndex[V]) -> tuple[int, V] | None:
    """The longest indexed phrase starting at toks[i]: (its end, its value), or None."""
    for words, value in index.get(toks[i], ()):
        k = len(words)
        if tuple(toks[i:i + k]) == words:
            return i + k, value
    return None

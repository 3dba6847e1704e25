"""Answer understanding: what did the caller mean?

The dialogue engine asks scripted questions of two kinds: yes/no ("Are you a
salaried employee?") and threshold questions about a quantity ("Is your
monthly salary more than twenty-five thousand rupees?", "Are you planning to
start within the next three months?"). Callers answer in free speech, and the
text we get is an ASR transcript (Whisper punctuates, capitalises, writes
"$40,000." or "Rs. 30,000/-") or a typed line. This module turns one such
utterance into a `Reading`: yes/no polarity, a quantity normalised to the
question's period and unit, a relative answer ("more than that"), or the
caller asking to hear the question again.

Why a small grammar and not keyword lookup: answers are open-ended ("I don't
think so", "absolutely not", "of course I'm not", "one lakh twenty-five
thousand", "six lakh a year" to a monthly question, "a month or two"), and a
word list gets negation scope, hedges and number composition wrong. The
pipeline here is:

1. normalise: lower case, currency symbols to words, digit grouping commas
   removed, contractions expanded ("don't" -> "do not"), digits split from
   suffixes ("40k" -> "40 k"), a few Devanagari words transliterated;
2. tokenise into words, numbers and clause punctuation;
3. read quantities with a number grammar (digits, English number words,
   hundred/thousand/lakh/crore/million scales, "a", "half a", "and a half",
   "point five", ranges such as "30 to 40 thousand" taken at their midpoint);
4. find polarity events (particles such as "yes"/"nope"/"haan"/"nahi",
   intensifiers such as "of course" that a following "not" flips, auxiliary
   answers such as "I do" / "I'm not"), hedges ("maybe", "I'm not sure") and
   requests to repeat, each scoped to its clause;
5. for amount questions, choose the quantity that is the answer (see
   `_pick_money` for the rule), convert its period, or read a duration.

Everything is pure Python over short token lists, so one utterance takes a few
tens of microseconds (see bench/understanding.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

__all__ = ["Reading", "understand", "parse_number", "spoken_amount", "split_phrases", "split_places", "place_names"]


@dataclass(frozen=True)
class Reading:
    """What one caller utterance says, as far as the current question goes."""

    intent: Literal["answer", "repeat", "unclear"]
    yes_no: bool | None = None
    amount: float | None = None
    relation: Literal["above", "below"] | None = None


# ---------------------------------------------------------------------------
# Normalisation and tokens
# ---------------------------------------------------------------------------

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


def _tokens(text: str) -> list[str]:
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


_BOUNDARY = {",", "?", "but", "though", "although", "however", "so", "because", "cause"}


def _clause_ids(toks: list[str]) -> list[int]:
    """Clause number of each token; punctuation and contrastive words start a new clause."""
    ids, c = [], 0
    for t in toks:
        if t in _BOUNDARY:
            c += 1
        ids.append(c)
    return ids


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
# Hindi number words, read only right before a scale word ("pachas hazaar",
# "do lakh") because several are also English words ("do", "das").
_HINDI = {
    "ek": 1, "do": 2, "teen": 3, "char": 4, "chaar": 4, "paanch": 5, "panch": 5, "chhe": 6,
    "saat": 7, "aath": 8, "nau": 9, "das": 10, "bees": 20, "pachees": 25, "pachchis": 25,
    "tees": 30, "chalis": 40, "chaalis": 40, "pachas": 50, "pachaas": 50, "saath": 60,
    "sattar": 70, "assi": 80, "nabbe": 90, "dedh": 1.5, "derh": 1.5, "dhai": 2.5,
    "dhaai": 2.5, "sava": 1.25,
}
_VAGUE = {"couple": 2, "few": 3, "several": 4, "dozen": 12}
_HUNDRED = {"hundred", "sau"}
_SCALES = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3, "grand": 1e3, "thou": 1e3,
    "hazaar": 1e3, "hazar": 1e3, "hajar": 1e3, "hazzar": 1e3, "hazaaar": 1e3,
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "lack": 1e5, "lacks": 1e5,
    "lak": 1e5, "laakh": 1e5,
    "crore": 1e7, "crores": 1e7, "cr": 1e7, "karod": 1e7, "karor": 1e7,
    "million": 1e6, "millions": 1e6, "mil": 1e6, "mn": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9,
}
_DIGIT_SCALES = {"l": 1e5, "m": 1e6, "b": 1e9}  # only right after digits: "5L", "2M"
_RANGE_JOIN = {"to", "or", "till", "until", "and"}


class _Qty(NamedTuple):
    start: int
    end: int  # exclusive
    value: float
    scale: float  # largest scale word used (1 if none)


def _is_num_start(toks: list[str], i: int) -> bool:
    t = toks[i]
    return t[0].isdigit() or t in _SMALL


def _fits(current: float, v: float) -> bool:
    """May word-number `v` be added to `current` ("twenty" + "five", "hundred" + "ten")?"""
    if current != int(current) or v != int(v):
        return False
    c = int(current)
    if c % 100 == 0:
        return v < 100
    return c % 100 >= 20 and c % 10 == 0 and v < 10


def _scale_at(toks: list[str], j: int, after_digit: bool) -> float:
    t = toks[j]
    s = _SCALES.get(t, 0.0)
    if not s and after_digit:
        s = _DIGIT_SCALES.get(t, 0.0)
    return s


def _parse_at(toks: list[str], i: int) -> _Qty | None:
    """Read one quantity starting exactly at token i, or None."""
    n = len(toks)
    t = toks[i]
    nxt = toks[i + 1] if i + 1 < n else ""
    # "half a lakh", "half a million"
    if t == "half" and nxt in ("a", "an") and i + 2 < n and toks[i + 2] in _SCALES:
        s = _SCALES[toks[i + 2]]
        return _Qty(i, i + 3, 0.5 * s, s)
    total, current, last_scale, top_scale = 0.0, 0.0, float("inf"), 1.0
    have, prev = False, ""  # prev: "num" | "hundred" | "scale"
    j = i
    if t in ("a", "an"):
        if nxt in _SCALES or nxt in _HUNDRED:
            current, have, prev, j = 1.0, True, "num", i + 1
        elif nxt in _VAGUE:
            current, have, prev, j = float(_VAGUE[nxt]), True, "num", i + 2
        else:
            return None
    elif t in _VAGUE:
        current, have, prev, j = float(_VAGUE[t]), True, "num", i + 1
    if prev == "num" and j < n and toks[j] == "of" and j + 1 < n and (
        toks[j + 1] in _SCALES or toks[j + 1] in _HUNDRED
    ):
        j += 1  # "a couple of lakh"
    while j < n:
        t = toks[j]
        if t[0].isdigit():
            if have and (current != 0 or prev != "scale"):
                break
            current, have, prev = float(t), True, "digit"
            j += 1
        elif t in _SMALL or (t in _HINDI and j + 1 < n and (toks[j + 1] in _SCALES or toks[j + 1] in _HUNDRED)):
            v = float(_SMALL.get(t, _HINDI.get(t, 0)))
            if have and current != 0:
                if prev in ("num", "hundred") and _fits(current, v):
                    current += v
                else:
                    break
            else:
                current = v
            have, prev = True, "num"
            j += 1
        elif t in _HUNDRED:
            if not have or (current == 0 and prev == "scale"):
                break
            current = (current or 1.0) * 100
            prev = "hundred"
            j += 1
        elif have and (s := _scale_at(toks, j, prev == "digit")):
            if s >= last_scale or current == 0:
                break
            total += current * s
            current, last_scale, prev = 0.0, s, "scale"
            top_scale = max(top_scale, s)
            j += 1
        elif t == "and" and have:
            if j + 2 < n and toks[j + 1] == "a" and toks[j + 2] == "half":
                if prev == "scale":
                    total += 0.5 * last_scale
                else:
                    current += 0.5
                j += 3
                continue
            if prev == "hundred" and j + 1 < n and toks[j + 1] in _SMALL and _SMALL[toks[j + 1]] < 100:
                j += 1
                continue
            if prev == "scale" and j + 1 < n and _is_num_start(toks, j + 1):
                sub = _parse_at(toks, j + 1)
                if sub is not None and sub.value < last_scale:
                    total += sub.value
                    j = sub.end
            break
        elif t == "point" and have and j + 1 < n and toks[j + 1] in _SMALL and _SMALL[toks[j + 1]] < 10:
            k, frac, div = j + 1, 0.0, 10.0
            while k < n and toks[k] in _SMALL and _SMALL[toks[k]] < 10:
                frac += _SMALL[toks[k]] / div
                div *= 10
                k += 1
            current += frac
            prev, j = "num", k
        else:
            break
    if not have:
        return None
    return _Qty(i, j, total + current, top_scale)


def _scan(toks: list[str]) -> list[_Qty]:
    """All quantities in order, with ranges ("30 to 40 thousand") merged at their midpoint."""
    found: list[_Qty] = []
    i, n = 0, len(toks)
    while i < n:
        q = _parse_at(toks, i)
        if q is None or q.end == i:
            i += 1
            continue
        found.append(q)
        i = q.end
    merged: list[_Qty] = []
    for q in found:
        if merged:
            p = merged[-1]
            gap = [t for t in toks[p.end:q.start] if t not in _CURRENCY]
            k = p.start - 1
            while k >= 0 and toks[k] in _CURRENCY:
                k -= 1
            ok_gap = not gap or gap == [","] or (len(gap) == 1 and gap[0] in _RANGE_JOIN and (
                gap[0] != "and" or (k >= 0 and toks[k] == "between")))
            if ok_gap:
                low = p.value * q.scale if p.scale == 1 and q.scale > 1 else p.value
                if 0 < low <= q.value <= 10 * low:
                    merged[-1] = _Qty(p.start, q.end, (low + q.value) / 2, max(p.scale, q.scale))
                    continue
        merged.append(q)
    return merged


def parse_number(text: str) -> float | None:
    """The first quantity in `text` ("40k", "1.5 lakh", "twenty five thousand five hundred").

    A spoken range ("30 to 40 thousand") counts as one quantity, its midpoint.
    """
    found = _scan(_tokens(text))
    return found[0].value if found else None


# ---------------------------------------------------------------------------
# Phrase tables: polarity, hedges, requests to repeat
# ---------------------------------------------------------------------------

YES, NO, INT, HEDGE, REPEAT = "yes", "no", "int", "hedge", "repeat"

_PHRASES: dict[str, list[tuple[tuple[str, ...], str]]] = {}


def _add(tag: str, *phrases: str) -> None:
    for phrase in phrases:
        words = tuple(phrase.split())
        _PHRASES.setdefault(words[0], []).append((words, tag))


_add(YES, "yes", "yeah", "yea", "yeh", "yep", "yup", "ya", "yah", "yas", "yess", "yes yes",
     "yeap", "aye", "affirmative", "correct", "exactly", "indeed", "true", "that is right",
     "that is true", "you are right", "quite right", "that is it", "you bet", "you got it",
     "uh huh", "mhm", "mm hmm", "mm hm", "mmhmm", "haan", "han", "haa", "ha",
     "i think so", "think so", "i guess so", "i believe so", "i suppose so", "i would say so",
     "why not", "no doubt", "without a doubt", "agreed", "positive", "affirm", "yes please",
     "that is correct", "thats correct", "yessir", "yup yup", "i do indeed")
_add(INT, "of course", "definitely", "absolutely", "certainly", "surely", "sure", "obviously",
     "totally", "for sure", "bilkul", "sahi", "sahi hai", "100 percent", "hundred percent",
     "a hundred percent", "naturally", "most definitely", "most certainly", "clearly")
_add(NO, "no", "nope", "nah", "naw", "nay", "negative", "never", "not really", "not at all",
     "not quite", "not exactly", "not yet", "not now", "not me", "not anymore", "not currently",
     "not at the moment", "not at present", "not right now", "not really no",
     "no way", "nahi", "nahin", "nai", "nehi", "nahee", "na", "incorrect", "wrong", "false",
     "do not think so", "does not look like it", "not that i know", "i think not", "i guess not",
     "i suppose not", "i am afraid not", "afraid not", "probably not", "hopefully not",
     "sadly not", "unfortunately not", "sorry no", "nuh uh", "uh uh", "none", "neither",
     "do not believe so", "would not say so", "not likely", "unlikely", "not so")
_add(HEDGE, "maybe", "may be", "perhaps", "possibly", "might", "unsure", "undecided",
     "dunno", "no idea", "no clue", "not decided", "hard to say", "difficult to say",
     "can not say", "can not tell", "it depends", "depends", "depending", "kind of", "sort of",
     "kinda", "sorta", "let me think", "let me check", "need to check", "have to check",
     "we will see", "who knows", "fifty fifty", "50 50", "pata nahi", "pata nahin",
     "maloom nahi", "malum nahi", "shayad", "ho sakta", "i hope so", "hopefully", "not sure",
     "partly", "partially", "sometimes", "somewhat", "mostly", "more or less", "i wonder",
     "in between", "half and half", "i forget", "i forgot", "hmm let me see",
     "have not decided", "not certain", "yes and no")
_add(REPEAT, "repeat", "say that again", "say it again", "say again", "come again", "pardon",
     "beg your pardon", "what was that", "what did you say", "what was the question",
     "what is the question", "what question", "which question", "did not catch",
     "did not hear", "could not hear", "can not hear", "did not get that", "did not get you",
     "did not get the question", "did not understand", "do not understand", "one more time",
     "once more", "once again", "again please", "dobara", "dubara", "phir se", "fir se",
     "kya bola", "kya kaha", "kya bole", "what do you mean", "speak up", "louder", "slowly",
     "slower", "what did you ask", "missed that", "missed the question", "lost you",
     "breaking up", "ask again", "ask that again", "the question again", "tell me again",
     "could you say", "can you say", "not audible", "what were you saying", "you said what",
     "what are you asking", "what you said", "what is that", "what was it", "what is it",
     "what did you just say", "what is this about")

for _lst in _PHRASES.values():
    _lst.sort(key=lambda p: -len(p[0]))

_PRONOUNS = {"i", "we", "it", "that", "this", "he", "she", "they", "mine", "ours"}
_AUX = {"am", "are", "is", "do", "does", "did", "have", "has", "had", "will", "would", "can",
        "could", "shall", "should", "was", "were"}
_AUX_ADVERBS = {"really", "actually", "definitely", "certainly", "sure", "surely", "just",
                "also", "still", "currently", "already", "totally", "absolutely", "do"}
# Words that may follow a bare auxiliary answer without making it a statement.
_AUX_TAIL = {",", "?", "yes", "yeah", "yep", "indeed", "too", "actually", "really", "sir",
             "madam", "maam", "ji", "though", "definitely", "certainly", "absolutely", "sure",
             "of", "so", "but", "and", "thank", "thanks", "now", "right"}
_NEGATORS = {"not", "never", "nahi", "nahin", "no"}
# Negating these says "I don't know", not "no": "I'm not sure", "we haven't worked it out".
_HEDGE_OBJECTS = {"sure", "certain", "positive", "know", "remember", "recall", "decided",
                  "say", "confident", "worked", "figured", "thought", "planned", "calculated",
                  "finalised", "finalized", "checked", "fixed", "settled"}
_REPEAT_OBJECTS = {"understand", "hear", "catch", "follow"}
_WEAK_REPEAT = {"what", "sorry", "huh", "eh", "excuse", "me", "hello", "kya", "again", "hm",
                "hmm", "haan", "ji", "how", "much", "many", "long", "when", "which", "question"}
_WEAK_REPEAT_ALWAYS = {"sorry", "huh", "again", "excuse"}
_FILLERS = {"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "ahh", "oh", "well", "so",
            "like", "okay", "ok", "the", "a", "an", "and", "just", "hey", "hi", ",", "?",
            "mmm", "mm", "hmm", "hm", "you", "know", "i", "mean", "please", "sir", "madam",
            "maam", "yaar", "ji", "accha", "acha", "achha"}
_CORRECTIONS = {"actually", "wait", "sorry", "rather", "correction", "mean", "oops", "meant"}


class _Event(NamedTuple):
    pos: int
    end: int
    tag: str


def _match(toks: list[str], i: int) -> tuple[int, str] | None:
    for words, tag in _PHRASES.get(toks[i], ()):
        k = len(words)
        if tuple(toks[i:i + k]) == words:
            return i + k, tag
    return None


def _skip(toks: list[str], j: int, words: set[str], limit: int = 3) -> int:
    k = 0
    while j < len(toks) and toks[j] in words and k < limit:
        j, k = j + 1, k + 1
    return j


def _events(toks: list[str]) -> list[_Event]:
    """Polarity, hedge and repeat events, left to right, with negation applied."""
    out: list[_Event] = []
    n, i = len(toks), 0
    while i < n:
        t = toks[i]
        # Negated statements whose object is a hedge or a hearing problem:
        # "I'm not sure", "I don't really know", "I didn't understand".
        if t == "not":
            j = _skip(toks, i + 1, {"really", "quite", "too", "very", "so", "100", "percent",
                                   "completely", "totally", "entirely", "fully", "exactly",
                                   "that", "even", "yet"})
            if j < n and toks[j] in _HEDGE_OBJECTS:
                out.append(_Event(i, j + 1, HEDGE))
                i = j + 1
                continue
            if j < n and toks[j] in _REPEAT_OBJECTS:
                out.append(_Event(i, j + 1, REPEAT))
                i = j + 1
                continue
        m = _match(toks, i)
        if m is not None:
            end, tag = m
            if tag == INT:
                # "absolutely not", "of course no", "sahi nahi"; but "yeah, no" stays mixed
                k = _skip(toks, end, {","}, 1)
                if k < n and toks[k] in _NEGATORS and not (k + 1 < n and toks[k + 1] in ("doubt", "problem")):
                    out.append(_Event(i, k + 1, NO))
                    i = k + 1
                    continue
            if tag == NO and toks[i] in ("no", "never", "nahi", "na") and i + 1 < n and toks[i + 1] in _COMPARATIVE_WORDS:
                i = end  # "no more than that": a relation, not an answer
                continue
            if tag == NO and toks[i] == "no" and i + 1 < n and toks[i + 1] in ("problem", "worries"):
                i = end + 1
                continue
            out.append(_Event(i, end, tag))
            i = end
            continue
        if t == "not":
            nm = _match(toks, i + 1) if i + 1 < n else None
            if nm is not None and nm[1] in (YES, INT):
                out.append(_Event(i, nm[0], NO))  # "not true", "not correct", "not definitely"
                i = nm[0]
                continue
            if i + 1 >= n or toks[i + 1] in (",", "?"):
                out.append(_Event(i, i + 1, NO))  # clause-final "not": "hopefully not"
                i += 1
                continue
        if t == "right" and _alone_in_clause(toks, i):
            out.append(_Event(i, i + 1, YES))  # "Right." / "Yes, right." but not "right away"
            i += 1
            continue
        if t in _PRONOUNS:
            ev = _aux_answer(toks, i)
            if ev is not None:
                out.append(ev)
                i = ev.end
                continue
        i += 1
    return out


def _alone_in_clause(toks: list[str], i: int) -> bool:
    """Is toks[i] the only non-filler word of its clause?"""
    for step in (-1, 1):
        k = i + step
        while 0 <= k < len(toks) and toks[k] not in _BOUNDARY:
            if toks[k] not in _FILLERS:
                return False
            k += step
    return True


_DISCLOSE = {"share", "sharing", "say", "saying", "disclose", "disclosing", "tell", "telling",
             "answer", "answering", "discuss", "discussing", "reveal"}


def _clause_end(toks: list[str], k: int) -> int:
    while k < len(toks) and toks[k] not in _BOUNDARY:
        k += 1
    return k


def _aux_answer(toks: list[str], i: int) -> _Event | None:
    """ "I do" / "we are" -> yes; "I don't ..." / "I'm not ..." -> no; "I am an engineer" -> nothing."""
    n = len(toks)
    j = _skip(toks, i + 1, _AUX_ADVERBS - {"do"}, 2)
    if j >= n or toks[j] not in _AUX:
        return None
    m = _match(toks, j)  # "I didn't get that", "I do not understand"
    if m is not None and m[1] in (REPEAT, HEDGE):
        return _Event(i, m[0], m[1])
    j += 1
    if j < n and toks[j] in ("not", "never"):
        k = _skip(toks, j + 1, {"really", "even", "actually", "quite", "100", "percent", "very", "too"})
        if k + 1 < n and toks[k] in ("think", "believe", "say") and toks[k + 1] == "so":
            return _Event(i, k + 2, NO)  # "I don't think so", "I wouldn't say so"
        if k < n and toks[k] in _HEDGE_OBJECTS:
            return _Event(i, k + 1, HEDGE)
        if k < n and toks[k] in _REPEAT_OBJECTS:
            return _Event(i, k + 1, REPEAT)
        rest = set(toks[k:_clause_end(toks, k)])
        if rest & _DISCLOSE:
            return _Event(i, k + 1, HEDGE)  # "I'm not comfortable sharing that": a refusal, not a no
        m = _match(toks, k) if k < n else None
        if m is not None and m[1] in (YES, INT):
            return _Event(i, m[0], NO)  # "that's not correct", "it is not true"
        return _Event(i, j + 1, "no_weak")
    j = _skip(toks, j, {"do", "have", "am", "be"}, 1)  # "I do do", "I will be"
    if j >= n or toks[j] in _AUX_TAIL:
        return _Event(i, j, "yes_weak")
    return None


_ABOVE = {"more", "over", "above", "higher", "greater", "bigger", "exceed", "exceeds",
          "exceeding", "beyond", "plus", "upwards", "zyada", "jyada", "zada", "jada", "adhik",
          "upar", "excess", "minimum", "larger", "much"}
_BELOW = {"less", "under", "below", "lower", "fewer", "smaller", "beneath", "kam", "neeche",
          "lesser", "max", "maximum", "short"}
_TIME_ABOVE = {"later", "longer", "after", "beyond"}
_TIME_BELOW = {"sooner", "earlier", "before", "within", "quicker", "faster"}
_COMPARATIVE_WORDS = (_ABOVE | _BELOW | _TIME_ABOVE | _TIME_BELOW) - {"much", "short", "within", "before", "after"}
_INTENSIFIERS = {"much", "way", "a", "bit", "little", "lot", "any", "far", "slightly", "even",
                 "somewhat", "quite"}


def _relation(toks: list[str], duration: bool) -> Literal["above", "below"] | None:
    """Direction of a comparative in the utterance, negation applied; None if absent or mixed."""
    found: set[str] = set()
    n, i = len(toks), 0
    while i < n:
        t = toks[i]
        two = toks[i + 1] if i + 1 < n else ""
        if t == "more" and two == "or" and i + 2 < n and toks[i + 2] == "less":
            i += 3
            continue
        if t == "not" and two == "even":
            found.add("below")
            i += 2
            continue
        if t == "at" and two in ("least", "most"):
            found.add("above" if two == "least" else "below")
            i += 2
            continue
        if t in ("up", "upto") and (t == "upto" or two == "to"):
            found.add("below")
            i += 1 if t == "upto" else 2
            continue
        direction = None
        if t in _ABOVE and t != "much" or (duration and t in _TIME_ABOVE):
            direction = "above"
        elif t in _BELOW and t != "short" or (t == "short" and two == "of") or (duration and t in _TIME_BELOW):
            direction = "below"
        if t == "over" and two in ("the", "phone"):
            direction = None
        if t in ("after", "before", "within") and not (two in ("that", "this", "then", "those") or (
                i + 1 < n and _is_num_start(toks, i + 1))):
            direction = None  # "after Diwali" is a date, not a comparison
        if direction:
            k = i - 1
            while k >= 0 and toks[k] in _INTENSIFIERS:
                k -= 1
            negated = (k >= 0 and toks[k] in ("not", "no", "never")) or two in ("nahi", "nahin")
            if negated:
                direction = "below" if direction == "above" else "above"
            found.add(direction)
        i += 1
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]


_MODIFIER_HEDGES = {"maybe", "may", "perhaps", "possibly", "hopefully", "shayad", "more", "probably"}
_NOT_CONTENT = {",", "?", "yes", "yeah", "no", "not", "nope", "so", "haan", "nahi"}


def _blocking(toks: list[str], e: _Event) -> bool:
    """A hedge blocks the answer unless it only qualifies what follows it.

    "Maybe." / "Maybe not." / "I'm not sure" leave the answer open, but in
    "Not yet, maybe next year" or "Yes, more or less full time" the hedge is
    about a detail, so the answer before it stands.
    """
    if toks[e.pos] not in _MODIFIER_HEDGES:
        return True
    return e.end >= len(toks) or toks[e.end] in _NOT_CONTENT


def _polarity(toks: list[str], events: list[_Event]) -> bool | None:
    """Resolve polarity events into one yes/no, or None (absent, hedged or contradictory)."""
    clause = _clause_ids(toks)
    hedges = [e for e in events if e.tag == HEDGE and _blocking(toks, e)]
    cutoff = -1
    if hedges:
        last = hedges[-1]
        cutoff = clause[min(last.pos, len(toks) - 1)]
    pol = [e for e in events if e.tag in (YES, NO, INT, "yes_weak", "no_weak") and clause[e.pos] > cutoff]
    if not pol:
        if not events and [t for t in toks if t not in (",", "?")] == ["ji"]:
            return True  # a bare polite "ji" is a yes
        return None
    # An intensifier then a negated statement in its clause: "of course I'm not".
    resolved: list[tuple[int, bool, int]] = []
    for e in pol:
        if e.tag == INT and any(o.tag == "no_weak" and clause[o.pos] == clause[e.pos] and o.pos > e.pos for o in pol):
            resolved.append((e.pos, False, 2))
        else:
            strong = e.tag in (YES, NO, INT)
            resolved.append((e.pos, e.tag in (YES, INT, "yes_weak"), 2 if strong else 1))
    best = max(r[2] for r in resolved)
    chosen = [(p, v) for p, v, s in resolved if s == best]
    values = {v for _, v in chosen}
    if len(values) == 1:
        return values.pop()
    # Mixed: a self-correction ("yes, sorry, no") lets the part after it win.
    fixes = [k for k, t in enumerate(toks) if t in _CORRECTIONS and k > chosen[0][0]]
    if fixes:
        after = {v for p, v in chosen if p > fixes[-1]}
        if len(after) == 1:
            return after.pop()
    return None


def _is_weak_repeat(toks: list[str]) -> bool:
    """Only "what?", "sorry?", "huh", "hello?" and fillers."""
    words = [t for t in toks if t not in _FILLERS or t in _WEAK_REPEAT]
    if not words or any(t not in _WEAK_REPEAT and t not in (",", "?") for t in words):
        return False
    if any(t in _WEAK_REPEAT_ALWAYS for t in words):
        return True
    return "?" in toks


# ---------------------------------------------------------------------------
# Amounts: money with periods, and durations
# ---------------------------------------------------------------------------

_CURRENCY = {"usd", "inr", "rs", "rupees", "rupee", "dollars", "dollar", "bucks", "rupaye",
             "rupaiye", "rupay", "rupiya", "rupya", "eur", "euros", "euro", "gbp", "pounds",
             "rupes", "ruppees"}
_MONEY_CUES = {"earn", "earning", "earnings", "make", "making", "salary", "income", "get",
               "getting", "paid", "pay", "take", "taking", "budget", "spend", "spending", "ctc",
               "package", "afford", "invest", "around", "about", "roughly", "approximately",
               "nearly", "almost", "drawing", "draw", "gross", "net", "home", "hand", "is",
               "of", "than", "like", "set", "aside", "saved", "earns", "makes", "gets", "be"}
_NOT_MONEY_AFTER = {"year", "years", "old", "month", "months", "week", "weeks", "day", "days",
                    "percent", "people", "kids", "children", "times", "hours", "hour", "members",
                    "employees", "oclock", "minutes", "km", "kilometers", "miles", "sq",
                    "square", "feet", "ft", "bhk", "bedroom", "bedrooms", "rooms", "floors",
                    "saal", "mahine", "mahina", "din", "hafte", "of"}
_AGE_BEFORE = {"age", "aged"}

# Period phrases for money, and how many of them make a month.
_PER_MONTH = {"month": 1.0, "year": 1 / 12, "week": 52 / 12, "day": 30.0, "hour": 40 * 52 / 12}
_PERIOD_WORDS = {
    "month": "month", "months": "month", "mahina": "month", "mahine": "month", "mensem": "month",
    "year": "year", "annum": "year", "saal": "year", "week": "week", "day": "day", "hour": "hour",
}
_PERIOD_ADVERBS = {"monthly": "month", "pm": "month", "yearly": "year", "annually": "year",
                   "annual": "year", "pa": "year", "weekly": "week", "daily": "day",
                   "hourly": "hour", "salana": "year"}
_PERIOD_LEADS = {"a", "an", "per", "every", "each", "one", "in"}
_YEAR_HINTS = {"ctc", "package"}  # Indian salary talk: CTC and "package" are annual


def _periods(toks: list[str]) -> list[tuple[int, str]]:
    out = []
    for k, t in enumerate(toks):
        if t in _PERIOD_ADVERBS:
            out.append((k, _PERIOD_ADVERBS[t]))
        elif t in _PERIOD_WORDS and k > 0 and (toks[k - 1] in _PERIOD_LEADS or toks[k - 1] == "the"
                                               and k > 1 and toks[k - 2] in ("per", "in")):
            out.append((k, _PERIOD_WORDS[t]))
    return out


def _convert_period(value: float, said: str, wanted: str) -> float:
    if not wanted or not said or said == wanted or wanted not in _PER_MONTH:
        return value
    return value * _PER_MONTH[said] / _PER_MONTH[wanted]


def _pick_money(toks: list[str], qtys: list[_Qty]) -> _Qty | None:
    """The quantity that answers a money question.

    Rule: drop quantities that are plainly something else (followed by a time
    or count noun such as "years", "people", "percent"); score the rest by
    evidence that they are money: a currency word or symbol next to them (+3),
    a scale word such as thousand/k/lakh (+2), a money verb or noun just
    before ("earn", "salary", "budget", "about") (+2); an unscaled bare number
    right after "I am" / "age" is an age (-3). Highest score wins, ties go to
    the larger value (amounts asked about dwarf incidental small numbers).
    """
    best, best_key = None, None
    for q in qtys:
        after = toks[q.end] if q.end < len(toks) else ""
        if after in _NOT_MONEY_AFTER:
            continue
        before = toks[max(0, q.start - 3):q.start]
        score = 0
        if after in _CURRENCY or (q.start > 0 and toks[q.start - 1] in _CURRENCY):
            score += 3
        if q.scale > 1:
            score += 2
        if any(b in _MONEY_CUES for b in before):
            score += 2
        if q.scale == 1 and score < 3 and (before[-2:] == ["i", "am"] or any(b in _AGE_BEFORE for b in before)):
            score -= 3
        key = (score, q.value)
        if best_key is None or key > best_key:
            best, best_key = q, key
    return best


_AMOUNT_CORRECTIONS = {"no", "sorry", "actually", "mean", "wait", "rather", "correction"}


def _corrected(toks: list[str], qtys: list[_Qty]) -> list[_Qty]:
    """After a self-correction ("thirty thousand... no, thirty-two") only later amounts count.

    A corrected figure said without its scale inherits the scale of the one it
    replaces when that makes them comparable ("thirty-two" -> 32,000).
    """
    if len(qtys) < 2:
        return qtys
    cut = [k for k, t in enumerate(toks) if t in _AMOUNT_CORRECTIONS and qtys[0].end <= k < qtys[-1].start]
    if not cut:
        return qtys
    before = [q for q in qtys if q.end <= cut[-1]]
    after = [q for q in qtys if q.start > cut[-1]]
    prev = before[-1]
    out = []
    for q in after:
        if q.scale == 1 and prev.scale > 1 and 0.5 <= q.value * prev.scale / prev.value <= 2:
            q = _Qty(q.start, q.end, q.value * prev.scale, prev.scale)
        out.append(q)
    return out


def _money(toks: list[str], qtys: list[_Qty], period: str) -> float | None:
    q = _pick_money(toks, _corrected(toks, qtys))
    if q is None:
        return None
    periods = _periods(toks)
    said = ""
    if periods:
        # the period phrase nearest after the amount, else the nearest before it
        after = [p for p in periods if p[0] >= q.end]
        said = (after[0] if after else min(periods, key=lambda p: abs(p[0] - q.start)))[1]
    elif any(t in _YEAR_HINTS for t in toks):
        said = "year"
    return _convert_period(q.value, said, period)


_DAYS = {"day": 1.0, "days": 1.0, "din": 1.0, "week": 7.5, "weeks": 7.5, "hafta": 7.5,
         "hafte": 7.5, "fortnight": 15.0, "fortnights": 15.0, "month": 30.0, "months": 30.0,
         "mahina": 30.0, "mahine": 30.0, "mahino": 30.0, "year": 360.0, "years": 360.0,
         "saal": 360.0}
# A month is four weeks / thirty days when people talk about start dates
# ("six weeks" ~ one and a half months); a year is twelve months.
_WHEN = [  # (phrase, days from now)
    ("right away", 0), ("straight away", 0), ("straightaway", 0), ("immediately", 0),
    ("asap", 0), ("as soon as possible", 0), ("right now", 0), ("now", 0), ("today", 0),
    ("tonight", 0), ("at once", 0), ("tomorrow", 1), ("this week", 7.5), ("next week", 7.5),
    ("this month", 15), ("end of the month", 15), ("end of this month", 15),
    ("next month", 30), ("next year", 360), ("turant", 0), ("abhi", 0),
    ("next few weeks", 22.5), ("next few months", 90), ("next couple of weeks", 15),
    ("next couple of months", 60), ("couple of weeks", 15), ("couple weeks", 15),
    ("couple of months", 60), ("couple months", 60), ("few weeks", 22.5), ("few months", 90),
    ("few days", 3), ("couple of days", 2), ("half a year", 180), ("half year", 180),
    ("six months time", 180), ("a year and a half", 540), ("year and a half", 540),
    ("a month and a half", 45), ("month and a half", 45), ("half a month", 15),
    ("a week or two", 11.25), ("a month or two", 45), ("a year or two", 540),
    ("a day or two", 1.5), ("a week or so", 7.5), ("a month or so", 30), ("a year or so", 360),
]
_WHEN_INDEX: dict[str, list[tuple[tuple[str, ...], float]]] = {}
for _p, _d in _WHEN:
    _w = tuple(_p.split())
    _WHEN_INDEX.setdefault(_w[0], []).append((_w, float(_d)))
for _lst2 in _WHEN_INDEX.values():
    _lst2.sort(key=lambda p: -len(p[0]))


def _duration(toks: list[str], qtys: list[_Qty], unit: str) -> float | None:
    """Earliest time span stated, in the question's unit (months, weeks, days or years)."""
    target = _DAYS[unit]
    cands: list[tuple[int, int, float]] = []  # (priority, position, days)
    n = len(toks)
    taken: set[int] = set()
    for i, t in enumerate(toks):
        for words, days in _WHEN_INDEX.get(t, ()):
            if tuple(toks[i:i + len(words)]) == words and i not in taken:
                cands.append((2, i, days))
                taken.update(range(i, i + len(words)))
                break
        else:
            if t in ("a", "an") and i + 1 < n and toks[i + 1] in _DAYS and i not in taken:
                days = _DAYS[toks[i + 1]]
                if i + 4 < n and toks[i + 2:i + 5] == ["and", "a", "half"]:
                    days *= 1.5
                cands.append((2, i, days))
    for q in qtys:
        if q.start in taken:
            continue
        j = _skip(toks, q.end, {"more", "full", "whole", "odd", "of"}, 2)
        after = toks[j] if j < n else ""
        before = toks[q.start - 1] if q.start > 0 else ""
        if after in _DAYS:
            days = q.value * _DAYS[after]
            if j + 3 < n and toks[j + 1:j + 4] == ["and", "a", "half"]:
                days += 0.5 * _DAYS[after]
            cands.append((2, q.start, days))
        elif after in _SCALES or after in _CURRENCY or before in _CURRENCY or q.scale > 1:
            continue
        elif after not in ("percent", "people", "times", "oclock"):
            cands.append((1, q.start, q.value * target))
    if not cands:
        return None
    cands.sort(key=lambda c: (-c[0], c[1]))
    return cands[0][2] / target


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Answers in the question's own terms ("I'm self-employed", "we rent")
# ---------------------------------------------------------------------------

_Phrases = dict[str, tuple[tuple[tuple[str, ...], bool], ...]]


def split_phrases(text: str) -> tuple[str, ...]:
    """A staff-written phrase list (one per line, or comma-separated) as a tuple."""
    return tuple(p.strip() for p in re.split(r"[\n,;]+", text or "") if p.strip())


def split_places(text: str) -> tuple[tuple[str, ...], ...]:
    """A staff-written place list: one place a line, its other names after commas
    ("Bengaluru, Bangalore"), as (name, alias, ...) tuples."""
    places = []
    for line in (text or "").splitlines():
        names = tuple(n.strip() for n in re.split(r"[,;/|]+", line) if n.strip())
        if names:
            places.append(names)
    return tuple(places)


def place_names(places: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Every name of every place, once each, in order."""
    return tuple(dict.fromkeys(n for names in places for n in names))


def _forms(word: str) -> tuple[str, ...]:
    """A listed word and its plural / third-person forms: "own" also matches "owns"."""
    return (word, word + "s", word + "es") if len(word) > 2 else (word,)


WILDCARD = "*"
_WILD_WORD = "zzwildcardzz"  # survives tokenising, then becomes WILDCARD
_WILD_MAX = 3  # words one "*" stands for


def _phrase_words(phrase: str) -> tuple[str, ...]:
    """A phrase's tokens; "*" stands for one to three words ("my own *", "i am a * at")."""
    words = _tokens(phrase.replace(WILDCARD, f" {_WILD_WORD} "))
    words = [WILDCARD if w == _WILD_WORD else w for w in words if w not in (",", "?")]
    while words and words[0] == WILDCARD:
        words.pop(0)
    return tuple(words)


@lru_cache(maxsize=256)
def _compile_phrases(yes: tuple[str, ...], no: tuple[str, ...]) -> _Phrases:
    """Phrases indexed by every form of their first word, longest first."""
    index: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    for phrases, value in ((yes, True), (no, False)):
        for phrase in phrases:
            words = _phrase_words(phrase)
            for first in _forms(words[0]) if words else ():
                index.setdefault(first, []).append((words, value))
    return {k: tuple(sorted(v, key=lambda e: -len(e[0]))) for k, v in index.items()}


def _phrase_end(toks: list[str], i: int, words: tuple[str, ...]) -> int | None:
    """Where `words` (matched from toks[i], first word already equal) ends, or None.

    A wildcard inside a phrase takes as few words as it can, one to three, within the
    clause ("i am a * at"); at its end it takes up to three, to the clause's end
    ("retired *" covers "retired army officer", so "officer" does not count as well)."""
    j = i + 1
    for m in range(1, len(words)):
        w = words[m]
        if w == WILDCARD:
            if m == len(words) - 1:
                k = j
                while k < len(toks) and k - j < _WILD_MAX and toks[k] not in _BOUNDARY:
                    k += 1
                return k if k > j else None
            continue
        if words[m - 1] == WILDCARD:
            for k in range(j + 1, min(len(toks), j + 1 + _WILD_MAX)):
                if toks[k - 1] in _BOUNDARY:
                    return None
                if toks[k] in _forms(w):
                    j = k + 1
                    break
            else:
                return None
        elif j < len(toks) and toks[j] in _forms(w):
            j += 1
        else:
            return None
    return j


_CONTENT_NEGATORS = {"not", "never", "no", "nahi", "nahin", "neither", "nor", "non", "without"}
# "No" (or "nahi") with a subject between it and the phrase is the answer word, not a
# negation of the phrase: "no we rent", "no my parents own it" (but "no fixed job").
_INTERJECTION_NEGATORS = {"no", "nahi", "nahin"}
_SUBJECTS = {"i", "we", "you", "he", "she", "they", "it", "my", "our", "your", "his", "her", "their", "the", "me", "us"}


def _negates(toks: list[str], j: int, start: int) -> bool:
    if toks[j] not in _CONTENT_NEGATORS:
        return False
    return toks[j] not in _INTERJECTION_NEGATORS or not any(t in _SUBJECTS for t in toks[j + 1 : start + 1])


def _content_events(toks: list[str], phrases: _Phrases) -> list[_Event]:
    """Events for the question's answer phrases, negation in the clause applied.

    "I'm not salaried", "I don't rent", "no fixed job", "naukri nahi hai" flip
    the phrase's meaning; the negator must sit within four words before it (or
    a Hindi "nahi" right after it) and in the same clause.
    """
    if not phrases:
        return []
    n = len(toks)
    hits: list[tuple[int, int, bool]] = []
    for i, tok in enumerate(toks):
        for words, value in phrases.get(tok, ()):  # longest first
            end = _phrase_end(toks, i, words)
            if end is not None:
                hits.append((i, end, value))
                break
    # Overlapping phrases: the longer wins; at equal length the "no" phrase, which
    # is usually the exception carved out of a "yes" ("work for myself" in
    # "I work for myself", "landlord owns" in "my landlord owns it").
    hits.sort(key=lambda h: (h[0] - h[1], h[2], h[0]))
    taken = [False] * n
    chosen = []
    for start, end, value in hits:
        if not any(taken[start:end]):
            taken[start:end] = [True] * (end - start)
            chosen.append((start, end, value))
    clause = _clause_ids(toks)
    out: list[_Event] = []
    for start, end, value in sorted(chosen):
        before = [j for j in range(max(0, start - 4), start) if clause[j] == clause[start]]
        negated = any(_negates(toks, j, start) for j in before)
        negated ^= any(toks[j] in ("nahi", "nahin") for j in range(end, min(n, end + 2)))
        out.append(_Event(start, end, YES if value != negated else NO))
    return out


# "I live in X", "I'm based out of X", "we stay near X": a statement of where the caller
# lives. To a place question, X must be a place the question knows (or one of its
# phrases, "a small town"); anything else ("I live in tune": speech turned a city into a
# word) leaves the answer open, whatever else was said ("Yes, I live in <unknown>").
_LOCATION_VERBS = {"live", "living", "lives", "lived", "stay", "staying", "stays", "based", "reside",
                   "residing", "resides", "located", "settled", "from", "moved", "shifted"}
_LOCATION_PREPS = {"in", "at", "near", "around", "out", "of", "to", "close", "outside", "inside",
                   "right", "just", "somewhere", "currently", "now", "presently", "the", "a", "an"}


def _unknown_place(toks: list[str], content: list[_Event]) -> bool:
    """Does the caller name where they live without naming a place the question knows?"""
    clause = _clause_ids(toks)
    n = len(toks)
    for i, t in enumerate(toks):
        if t not in _LOCATION_VERBS:
            continue
        j = _skip(toks, i + 1, _LOCATION_PREPS, 4)
        if j == i + 1 and t != "from" or j >= n or toks[j] in _BOUNDARY:
            continue  # "I live" alone, or a verb not followed by a place
        if not any(e.pos >= j and clause[e.pos] == clause[j] for e in content):
            return True
    return False


def _misheard_tens(toks: list[str]) -> list[str]:
    """Whisper writes a spoken "forty thousand" as "for the thousand" often enough to
    matter; before a scale word in an amount answer it can only be forty."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] == "for" and toks[i + 1 : i + 2] == ["the"] and i + 2 < len(toks) and toks[i + 2] in _SCALES:
            out.append("forty")
            i += 2
            continue
        out.append(toks[i])
        i += 1
    return out


def understand(text: str, *, kind: str = "yes_no", period: str = "", unit: str = "",
               language: str = "en", yes_phrases: tuple[str, ...] = (),
               no_phrases: tuple[str, ...] = (), accepted_places: tuple[str, ...] = (),
               other_places: tuple[str, ...] = ()) -> Reading:
    """Read one caller utterance for a question of `kind` ("yes_no" or "amount").

    For amount questions `period` ("month", "year" or "") and `unit`
    ("rupees", "dollars", "months", ...) say what the amount is measured in;
    a stated amount in another period is converted, a duration is converted
    to `unit` when that is a time unit. A place question names its
    `accepted_places` (each alias a name of its own) and the `other_places`
    it knows: "I live in X" is yes for an accepted X, no for another known
    X, and unclear for a place it does not know. `language` is accepted for the
    engine's convenience: Hinglish words are understood in every language
    because they never clash with an English answer.
    """
    toks = _tokens(text or "")
    if not toks:
        return Reading("unclear")
    if kind == "amount":
        toks = _misheard_tens(toks)
    events = _events(toks)
    if any(e.tag == REPEAT for e in events):
        return Reading("repeat")
    content = _content_events(toks, _compile_phrases(tuple(yes_phrases) + tuple(accepted_places),
                                                     tuple(no_phrases) + tuple(other_places)))
    if accepted_places and _unknown_place(toks, content):
        return Reading("unclear")
    if content:  # merged in order; their strength equals an explicit "yes" / "no"
        events = sorted(events + content, key=lambda e: e.pos)
    yes_no = _polarity(toks, events)
    amount: float | None = None
    relation: Literal["above", "below"] | None = None
    if kind == "amount":
        unit_key = (unit or "").lower().strip()
        duration = unit_kind(unit_key) == "duration"
        qtys = _scan(toks)
        amount = _duration(toks, qtys, unit_key) if duration else _money(toks, qtys, period)
        relation = _relation(toks, duration)
    if yes_no is None and amount is None and relation is None:
        return Reading("repeat" if _is_weak_repeat(toks) else "unclear")
    return Reading("answer", yes_no=yes_no, amount=amount, relation=relation)


# ---------------------------------------------------------------------------
# Saying an amount back
# ---------------------------------------------------------------------------

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_MONEY_UNITS = {"rupees", "rupee", "inr", "rs", "dollars", "dollar", "usd", "euros", "pounds"}
_INDIAN_UNITS = {"rupees", "rupee", "inr", "rs"}


def unit_kind(unit: str) -> str:
    """How amounts in `unit` are read and said: "duration" (months, weeks, saal...),
    "indian" (rupees: lakh and crore), "other" (dollars, kg...), or "" for no unit."""
    key = (unit or "").lower().strip()
    if key in _DAYS:
        return "duration"
    if key in _INDIAN_UNITS:
        return "indian"
    return "other" if key else ""


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS_WORDS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def _int_words(n: int, indian: bool) -> str:
    if n < 1000:
        return _below_thousand(n)
    scales = [(10**7, "crore"), (10**5, "lakh"), (1000, "thousand")] if indian else [
        (10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
    parts = []
    for size, name in scales:
        if n >= size:
            parts.append(f"{_int_words(n // size, indian)} {name}")
            n %= size
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") and not unit.endswith("ss") else unit


def spoken_amount(value: float, unit: str = "") -> str:
    """Words for the bot to say: (125000, "rupees") -> "one lakh twenty-five thousand rupees".

    Rupee amounts use lakh/crore, others thousand/million; money is rounded
    to whole units; other units keep halves ("one and a half months") or two
    decimals ("one point two five months").
    """
    unit = unit.strip()
    sign = "minus " if value < 0 else ""
    value = abs(value)
    indian = unit_kind(unit) == "indian"
    if unit.lower() in _MONEY_UNITS:
        value = float(round(value))
    whole = int(value)
    frac = round(value - whole, 2)
    if frac >= 0.995:
        whole, frac = whole + 1, 0.0
    if frac == 0:
        words = _int_words(whole, indian)
        noun = _singular(unit) if whole == 1 else unit
    elif frac == 0.5:
        if whole == 0:
            return f"{sign}half a {_singular(unit)}".strip() if unit else f"{sign}a half"
        words, noun = f"{_int_words(whole, indian)} and a half", unit
    else:
        decimals = " ".join(_ONES[int(d)] for d in f"{frac:.2f}"[2:].rstrip("0"))
        words, noun = f"{_int_words(whole, indian)} point {decimals}", unit
    return f"{sign}{words} {noun}".strip()

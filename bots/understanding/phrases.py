"""Answer phrases: answers in the question's own terms ("I'm self-employed", "we rent").

Staff give each question phrases that mean yes and phrases that mean no ("salaried",
"work for myself", "my own *"); a place question's place names are such phrases too.
This module compiles them (word forms, a "*" wildcard) and finds them in an
answer with negation in their clause applied ("I'm not salaried", "no fixed job",
"naukri nahi hai"); a hit counts like an explicit "yes" or "no" (`polarity.Event`).
"""
from __future__ import annotations

import re
from functools import lru_cache

from bots.understanding.evidence import DOUBT, FLIPPED, PERSONS
from bots.understanding.polarity import NO, YES, Event
from bots.understanding.tokens import BOUNDARY, clause_ids, tokenise

# Each form of a phrase's first word -> (its words, True for a yes phrase), longest first.
CompiledPhrases = dict[str, tuple[tuple[tuple[str, ...], bool], ...]]


def split_phrases(text: str) -> tuple[str, ...]:
    """A staff-written phrase list (one per line, or comma-separated) as a tuple."""
    return tuple(p.strip() for p in re.split(r"[\n,;]+", text or "") if p.strip())


def _forms(word: str) -> tuple[str, ...]:
    """A listed word and its plural / third-person forms: "own" also matches "owns"."""
    return (word, word + "s", word + "es") if len(word) > 2 else (word,)


WILDCARD = "*"
_WILD_WORD = "zzwildcardzz"  # survives tokenising, then becomes WILDCARD
_WILD_MAX = 3  # words one "*" stands for


def _phrase_words(phrase: str) -> tuple[str, ...]:
    """A phrase's tokens; "*" stands for one to three words ("my own *", "i am a * at")."""
    words = tokenise(phrase.replace(WILDCARD, f" {_WILD_WORD} "))
    words = [WILDCARD if w == _WILD_WORD else w for w in words if w not in (",", "?")]
    while words and words[0] == WILDCARD:
        words.pop(0)
    return tuple(words)


@lru_cache(maxsize=256)
def compile_phrases(yes: tuple[str, ...], no: tuple[str, ...]) -> CompiledPhrases:
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
                while k < len(toks) and k - j < _WILD_MAX and toks[k] not in BOUNDARY:
                    k += 1
                return k if k > j else None
            continue
        if words[m - 1] == WILDCARD:
            for k in range(j + 1, min(len(toks), j + 1 + _WILD_MAX)):
                if toks[k - 1] in BOUNDARY:
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


def content_events(toks: list[str], phrases: CompiledPhrases) -> list[Event]:
    """Events for the question's answer phrases, negation in the clause applied.

    "I'm not salaried", "no fixed job", "naukri nahi hai" flip the phrase's meaning;
    the negator must sit within four words before it (or a Hindi "nahi" right after
    it) and in the same clause. A phrase that means no, negated ("I don't rent"), is
    `FLIPPED`, not a yes; a phrase after a "not" with a person between them ("Not I
    run my own shot") is a `DOUBT` (bots.understanding.evidence).
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
        # A one-word phrase the recogniser wrote as two ("home maker", "free lancer").
        joined = tok + toks[i + 1] if i + 1 < n and len(tok) > 2 and len(toks[i + 1]) > 2 else ""
        for words, value in phrases.get(joined, ()):
            if len(words) == 1:
                hits.append((i, i + 2, value))
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
    clause = clause_ids(toks)
    out: list[Event] = []
    for start, end, value in sorted(chosen):
        before = [j for j in range(max(0, start - 4), start) if clause[j] == clause[start]]
        if any(toks[j] == "not" and PERSONS.intersection(toks[j + 1:start + 1]) for j in before):
            out.append(Event(start, end, DOUBT))
            continue
        negated = any(_negates(toks, j, start) for j in before)
        negated ^= any(toks[j] in ("nahi", "nahin") for j in range(end, min(n, end + 2)))
        out.append(Event(start, end, FLIPPED if negated and not value else YES if value != negated else NO))
    return out

"""Places: staff-written place lists, and "I live in X" naming a place nobody listed.

A place question ("Do you live in a metro city?") lists the places that qualify and
the known places that do not, each with its other names ("Bengaluru, Bangalore").
Their names are answer phrases (see `phrases`); this module reads the lists and
catches the caller who says where they live without naming any known place
(a recogniser turning a city into a word), so that answer stays open rather than
taking a "yes" said alongside it.
"""
from __future__ import annotations

import re

from bots.understanding.polarity import Event
from bots.understanding.tokens import BOUNDARY, clause_ids, skip


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


# "I live in X", "I'm based out of X", "we stay near X": a statement of where the caller
# lives. To a place question, X must be a place the question knows (or one of its
# phrases, "a small town"); anything else ("I live in tune": speech turned a city into a
# word) leaves the answer open, whatever else was said ("Yes, I live in <unknown>").
_LOCATION_VERBS = {"live", "living", "lives", "lived", "stay", "staying", "stays", "based", "reside",
                   "residing", "resides", "located", "settled", "from", "moved", "shifted"}
_LOCATION_PREPS = {"in", "at", "near", "around", "out", "of", "to", "close", "outside", "inside",
                   "right", "just", "somewhere", "currently", "now", "presently", "the", "a", "an"}


def unknown_place(toks: list[str], content: list[Event]) -> bool:
    """Does the caller name where they live without naming a place the question knows?"""
    clause = clause_ids(toks)
    n = len(toks)
    for i, t in enumerate(toks):
        if t not in _LOCATION_VERBS:
            continue
        j = skip(toks, i + 1, _LOCATION_PREPS, 4)
        if j == i + 1 and t != "from" or j >= n or toks[j] in BOUNDARY:
            continue  # "I live" alone, or a verb not followed by a place
        if not any(e.pos >= j and clause[e.pos] == clause[j] for e in content):
            return True
    return False


# Words that may stand beside a place said alone ("Nope, Jhansi." / "Near Jhansi, sir.").
_AROUND_A_PLACE = {"yes", "yeah", "no", "nope", "nah", "sir", "madam", "maam", "ji", "near", "in", "at", "from",
                   "city", "the", "um", "uh", "well", "oh", "okay", "ok", ",", "?"}
NEAR_NAME = 0.8  # difflib ratio a heard word needs to a known place's name
NEAR_MARGIN = 0.15  # ... and its lead over the nearest name of a place that qualifies


def sounds_like_other_place(toks: list[str], accepted: tuple[str, ...], other: tuple[str, ...]) -> int | None:
    """Where the caller names, as a recogniser misspells it, a known place that does not
    qualify ("I live in Paranasi." for Varanasi, "Nashuk." for Nashik), or None.

    Only a word said where a place is said (after "live in", "from", ...; or alone but
    for words like "no", "sir") counts, and only when it is much nearer to a place that
    does not qualify than to any that does: a misspelt name is no evidence for a place
    that qualifies the caller (those need the name itself), and one that might be either
    stays open."""
    import difflib

    n = len(toks)
    spots = []
    for i, t in enumerate(toks):
        if t in _LOCATION_VERBS:
            j = skip(toks, i + 1, _LOCATION_PREPS, 4)
            if j < n and toks[j] not in BOUNDARY:
                spots.append(j)
    if not spots and all(t in _AROUND_A_PLACE or len(t) >= 4 for t in toks):
        spots = [i for i, t in enumerate(toks) if t not in _AROUND_A_PLACE]
        if len(spots) > 2:
            return None
    for j in spots:
        heard = toks[j] if j + 1 >= n or toks[j + 1] in BOUNDARY else toks[j] + toks[j + 1]
        if len(heard) < 5:
            continue

        def nearest(names: tuple[str, ...]) -> float:
            return max((difflib.SequenceMatcher(None, heard, n.lower().replace(" ", "")).ratio() for n in names),
                       default=0.0)

        best_other = nearest(other)
        if best_other >= NEAR_NAME and best_other - nearest(accepted) >= NEAR_MARGIN:
            return j
    return None

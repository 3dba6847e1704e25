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

"""A caller who asks never to be called again ("don't call me again", "take me off your
list", "dobara call mat karo"): whatever the question, the call ends and the number goes
on the do-not-call list (campaigns). Phrases are matched on tokens (contractions are
already expanded: "don't" is "do not"), so a "no" to a question is never read as one.
"""
from __future__ import annotations

from bots.understanding.tokens import tokenise

OPT_OUT_PHRASES = (
    ("do", "not", "call", "me"), ("do", "not", "call", "again"), ("do", "not", "ever", "call"),
    ("never", "call", "me"), ("never", "call", "again"), ("stop", "calling"),
    ("no", "more", "calls"), ("not", "want", "any", "more", "calls"), ("not", "want", "your", "calls"),
    ("take", "me", "off"), ("remove", "me", "from"), ("remove", "my", "number"), ("delete", "my", "number"),
    ("put", "me", "on", "your", "do", "not", "call"), ("call", "mat", "karo"), ("phone", "mat", "karo"),
    ("call", "mat", "kijiye"), ("call", "nahi", "karna"),
)


def opts_out(text: str) -> bool:
    """Whether the utterance asks not to be called again."""
    toks = [t for t in tokenise(text or "") if t.isalnum()]
    for phrase in OPT_OUT_PHRASES:
        size = len(phrase)
        if any(tuple(toks[i : i + size]) == phrase for i in range(len(toks) - size + 1)):
            return True
    return False

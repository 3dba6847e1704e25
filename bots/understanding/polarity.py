"""Polarity: does the caller say yes, no, "I'm not sure", or "say that again"?

What counts as a yes lives here, whole: the answer words and phrases ("yep", "haan
ji", "I guess so"), intensifiers that a following "not" flips ("of course" / "of
course not"), bare auxiliary answers ("I do", "I'm not"), negation in its clause
("not true"), hedges that leave the answer open ("maybe", "I'm not sure"), a
self-correction ("yes, sorry, no"), and the requests to hear the question again
("pardon?", "kya bola"), which are found by the same scan. `find_events` finds these
left to right; `polarity` resolves them into one answer.
"""
from __future__ import annotations

from typing import NamedTuple

from bots.understanding.comparisons import COMPARATIVE_WORDS
from bots.understanding.tokens import BOUNDARY, clause_end, clause_ids, index_phrases, match_phrase, skip

# Event tags. INT is an intensifier ("of course", "absolutely"): a yes unless a "not"
# follows; the weak tags come from bare auxiliary answers ("I do", "I'm not ...") and
# lose to an explicit answer word.
YES, NO, INT, HEDGE, REPEAT = "yes", "no", "int", "hedge", "repeat"
YES_WEAK, NO_WEAK = "yes_weak", "no_weak"

_YES_PHRASES = (
    "yes", "yeah", "yea", "yeh", "yep", "yup", "ya", "yah", "yas", "yess", "yes yes",
    "yeap", "aye", "affirmative", "correct", "exactly", "indeed", "true", "that is right",
    "that is true", "you are right", "quite right", "that is it", "you bet", "you got it",
    "uh huh", "mhm", "mm hmm", "mm hm", "mmhmm", "haan", "han", "haa", "ha",
    "i think so", "think so", "i guess so", "i believe so", "i suppose so", "i would say so",
    "why not", "no doubt", "without a doubt", "agreed", "positive", "affirm", "yes please",
    "that is correct", "thats correct", "yessir", "yup yup", "i do indeed"
)
_INTENSIFIER_PHRASES = (
    "of course", "definitely", "absolutely", "certainly", "surely", "sure", "obviously",
    "totally", "for sure", "bilkul", "sahi", "sahi hai", "100 percent", "hundred percent",
    "a hundred percent", "naturally", "most definitely", "most certainly", "clearly"
)
_NO_PHRASES = (
    "no", "nope", "nah", "naw", "nay", "negative", "never", "not really", "not at all",
    "not quite", "not exactly", "not yet", "not now", "not me", "not anymore", "not currently",
    "not at the moment", "not at present", "not right now", "not really no",
    "no way", "nahi", "nahin", "nai", "nehi", "nahee", "na", "incorrect", "wrong", "false",
    "do not think so", "does not look like it", "not that i know", "i think not", "i guess not",
    "i suppose not", "i am afraid not", "afraid not", "probably not", "hopefully not",
    "sadly not", "unfortunately not", "sorry no", "nuh uh", "uh uh", "none", "neither",
    "do not believe so", "would not say so", "not likely", "unlikely", "not so"
)
_HEDGE_PHRASES = (
    "maybe", "may be", "perhaps", "possibly", "might", "unsure", "undecided",
    "dunno", "no idea", "no clue", "not decided", "hard to say", "difficult to say",
    "can not say", "can not tell", "it depends", "depends", "depending", "kind of", "sort of",
    "kinda", "sorta", "let me think", "let me check", "need to check", "have to check",
    "we will see", "who knows", "fifty fifty", "50 50", "pata nahi", "pata nahin",
    "maloom nahi", "malum nahi", "shayad", "ho sakta", "i hope so", "hopefully", "not sure",
    "partly", "partially", "sometimes", "somewhat", "mostly", "more or less", "i wonder",
    "in between", "half and half", "i forget", "i forgot", "hmm let me see",
    "have not decided", "not certain", "yes and no"
)
_REPEAT_PHRASES = (
    "repeat", "say that again", "say it again", "say again", "come again", "pardon",
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
    "what did you just say", "what is this about"
)

# Each phrase's first word -> (its words, its tag), longest first; a phrase listed
# under two tags keeps the first (YES, INT, NO, HEDGE, REPEAT).
_PHRASES = index_phrases((phrase, tag) for tag, phrases in (
    (YES, _YES_PHRASES), (INT, _INTENSIFIER_PHRASES), (NO, _NO_PHRASES), (HEDGE, _HEDGE_PHRASES),
    (REPEAT, _REPEAT_PHRASES)) for phrase in phrases)

_PRONOUNS = {"i", "we", "it", "that", "this", "he", "she", "they", "mine", "ours"}
_AUX = {"am", "are", "is", "do", "does", "did", "have", "has", "had", "will", "would", "can",
        "could", "shall", "should", "was", "were"}
_AUX_ADVERBS = {"really", "actually", "definitely", "certainly", "sure", "surely", "just",
                "also", "still", "currently", "already", "totally", "absolutely", "do"}
# Words that may follow a bare auxiliary answer without making it a statement.
# Not "right": "I'm right, sir." was a recogniser's "Amritsar." (issue 27).
_AUX_TAIL = {",", "?", "yes", "yeah", "yep", "indeed", "too", "actually", "really", "sir",
             "madam", "maam", "ji", "though", "definitely", "certainly", "absolutely", "sure",
             "of", "so", "but", "and", "thank", "thanks", "now"}
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


class Event(NamedTuple):
    """toks[pos:end] say `tag` (YES, NO, INT, HEDGE, REPEAT, YES_WEAK or NO_WEAK)."""

    pos: int
    end: int
    tag: str


def _match(toks: list[str], i: int) -> tuple[int, str] | None:
    return match_phrase(toks, i, _PHRASES)


def find_events(toks: list[str]) -> list[Event]:
    """Polarity, hedge and repeat events, left to right, with negation applied."""
    out: list[Event] = []
    n, i = len(toks), 0
    while i < n:
        t = toks[i]
        # Negated statements whose object is a hedge or a hearing problem:
        # "I'm not sure", "I don't really know", "I didn't understand".
        if t == "not":
            j = skip(toks, i + 1, {"really", "quite", "too", "very", "so", "100", "percent",
                                   "completely", "totally", "entirely", "fully", "exactly",
                                   "that", "even", "yet"})
            if j < n and toks[j] in _HEDGE_OBJECTS:
                out.append(Event(i, j + 1, HEDGE))
                i = j + 1
                continue
            if j < n and toks[j] in _REPEAT_OBJECTS:
                out.append(Event(i, j + 1, REPEAT))
                i = j + 1
                continue
        m = _match(toks, i)
        if m is not None:
            end, tag = m
            if tag == INT:
                # "absolutely not", "of course no", "sahi nahi"; but "yeah, no" stays mixed
                k = skip(toks, end, {","}, 1)
                if k < n and toks[k] in _NEGATORS and not (k + 1 < n and toks[k + 1] in ("doubt", "problem")):
                    out.append(Event(i, k + 1, NO))
                    i = k + 1
                    continue
            if tag == NO and toks[i] in ("no", "never", "nahi", "na") and i + 1 < n and toks[i + 1] in COMPARATIVE_WORDS:
                i = end  # "no more than that": a relation, not an answer
                continue
            if tag == NO and toks[i] == "no" and i + 1 < n and toks[i + 1] in ("problem", "worries"):
                i = end + 1
                continue
            out.append(Event(i, end, tag))
            i = end
            continue
        if t == "not":
            nm = _match(toks, i + 1) if i + 1 < n else None
            if nm is not None and nm[1] in (YES, INT):
                out.append(Event(i, nm[0], NO))  # "not true", "not correct", "not definitely"
                i = nm[0]
                continue
            if (i + 1 >= n or toks[i + 1] in (",", "?")) and _alone_in_clause(toks, i):
                # "Not." / "Well, not." ("hopefully not" is a phrase); not after words the
                # bot does not know: "Try not." and "Do not." were a recogniser's "Chennai."
                # and "Pune." (issue 27)
                out.append(Event(i, i + 1, NO))
                i += 1
                continue
        if t == "right" and _alone_in_clause(toks, i) and not (i + 1 < n and toks[i + 1] == "?"):
            # "Right." / "Yes, right." but not "right away", nor a tag question ("..., right?")
            out.append(Event(i, i + 1, YES))
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
        while 0 <= k < len(toks) and toks[k] not in BOUNDARY:
            if toks[k] not in _FILLERS:
                return False
            k += step
    return True


_DISCLOSE = {"share", "sharing", "say", "saying", "disclose", "disclosing", "tell", "telling",
             "answer", "answering", "discuss", "discussing", "reveal"}


_BEFORE_AUX = _FILLERS | {"yes", "yeah", "yep", "yup", "no", "nope", "nah", "haan", "nahi", "but", "actually",
                          "of", "course", "sure", "definitely", "absolutely", "certainly", "really", "think",
                          "guess", "believe", "suppose"}


def _aux_answer(toks: list[str], i: int) -> Event | None:
    """ "I do" / "we are" -> yes; "I don't ..." / "I'm not ..." -> no; "I am an engineer" -> nothing.
    Only where a clause begins ("Yes, I am", "Well, I do"): "Any time I am." (a recogniser's
    "I'm not really sure ...") answers nothing (issue 27)."""
    k = i - 1
    while k >= 0 and toks[k] not in BOUNDARY:
        if toks[k] not in _BEFORE_AUX:
            return None
        k -= 1
    n = len(toks)
    j = skip(toks, i + 1, _AUX_ADVERBS - {"do"}, 2)
    if j >= n or toks[j] not in _AUX:
        return None
    m = _match(toks, j)  # "I didn't get that", "I do not understand"
    if m is not None and m[1] in (REPEAT, HEDGE):
        return Event(i, m[0], m[1])
    j += 1
    if j < n and toks[j] in ("not", "never"):
        k = skip(toks, j + 1, {"really", "even", "actually", "quite", "100", "percent", "very", "too"})
        if k + 1 < n and toks[k] in ("think", "believe", "say") and toks[k + 1] == "so":
            return Event(i, k + 2, NO)  # "I don't think so", "I wouldn't say so"
        if k < n and toks[k] in _HEDGE_OBJECTS:
            return Event(i, k + 1, HEDGE)
        if k < n and toks[k] in _REPEAT_OBJECTS:
            return Event(i, k + 1, REPEAT)
        rest = set(toks[k:clause_end(toks, k)])
        if rest & _DISCLOSE:
            return Event(i, k + 1, HEDGE)  # "I'm not comfortable sharing that": a refusal, not a no
        m = _match(toks, k) if k < n else None
        if m is not None and m[1] in (YES, INT):
            return Event(i, m[0], NO)  # "that's not correct", "it is not true"
        return Event(i, j + 1, NO_WEAK)
    j = skip(toks, j, {"do", "have", "am", "be"}, 1)  # "I do do", "I will be"
    if j >= n or toks[j] in _AUX_TAIL:
        return Event(i, j, YES_WEAK)
    return None


_MODIFIER_HEDGES = {"maybe", "may", "perhaps", "possibly", "hopefully", "shayad", "more", "probably"}
_NOT_CONTENT = {",", "?", "yes", "yeah", "no", "not", "nope", "so", "haan", "nahi"}


def blocking(toks: list[str], e: Event) -> bool:
    """A hedge blocks the answer unless it only qualifies what follows it.

    "Maybe." / "Maybe not." / "I'm not sure" leave the answer open, but in
    "Not yet, maybe next year" or "Yes, more or less full time" the hedge is
    about a detail, so the answer before it stands.
    """
    if toks[e.pos] not in _MODIFIER_HEDGES:
        return True
    return e.end >= len(toks) or toks[e.end] in _NOT_CONTENT


def answered_after_hedge(toks: list[str], events: list[Event]) -> bool:
    """Is there an answer word ("yes", "no", "I am", "of course") after the last hedge that
    leaves the answer open? Without one, what follows a hedge is no answer: "It's hard to
    say, I do two jobs." (the question's own words after it) stays open (issue 27)."""
    hedges = [e for e in events if e.tag == HEDGE and blocking(toks, e)]
    if not hedges:
        return True
    clause = clause_ids(toks)
    cutoff = clause[min(hedges[-1].pos, len(toks) - 1)]
    return any(e.tag in (YES, NO, INT, YES_WEAK, NO_WEAK) and clause[e.pos] > cutoff for e in events)


def polarity(toks: list[str], events: list[Event]) -> bool | None:
    """Resolve polarity events into one yes/no, or None (absent, hedged or contradictory)."""
    clause = clause_ids(toks)
    hedges = [e for e in events if e.tag == HEDGE and blocking(toks, e)]
    cutoff = -1
    if hedges:
        last = hedges[-1]
        cutoff = clause[min(last.pos, len(toks) - 1)]
    pol = [e for e in events if e.tag in (YES, NO, INT, YES_WEAK, NO_WEAK) and clause[e.pos] > cutoff]
    if not pol:
        if not events and [t for t in toks if t not in (",", "?")] == ["ji"]:
            return True  # a bare polite "ji" is a yes
        return None
    # An intensifier then a negated statement in its clause: "of course I'm not".
    resolved: list[tuple[int, bool, int]] = []
    for e in pol:
        if e.tag == INT and any(o.tag == NO_WEAK and clause[o.pos] == clause[e.pos] and o.pos > e.pos for o in pol):
            resolved.append((e.pos, False, 2))
        else:
            strong = e.tag in (YES, NO, INT)
            resolved.append((e.pos, e.tag in (YES, INT, YES_WEAK), 2 if strong else 1))
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


def is_weak_repeat(toks: list[str]) -> bool:
    """Only "what?", "sorry?", "huh", "hello?" and fillers."""
    words = [t for t in toks if t not in _FILLERS or t in _WEAK_REPEAT]
    if not words or any(t not in _WEAK_REPEAT and t not in (",", "?") for t in words):
        return False
    if any(t in _WEAK_REPEAT_ALWAYS for t in words):
        return True
    return "?" in toks

"""What the recogniser is primed with while a question is answered, and example answers.

Whisper writes what it was primed with; these hints were measured (bench/short_answers.py,
bench/phone.py) and are kept short because the prompt holds 224 tokens.
"""
from __future__ import annotations

from bots.dialogue.script import QuestionSpec

_HINT_EXAMPLES = {
    "indian": "For example: 40,000 rupees, 1 lakh, 1.5 lakh.",
    "duration": "For example: next month, in 2 months, 6 months.",
    "other": "For example: 15,000 {unit}, 50,000 {unit}.",
    "": "For example: 40,000.",
}


# Whisper's prompt holds 224 tokens; a place list beyond this many names is cut.
HINT_MAX_PLACES = 40
# Short answers primed for yes/no questions: unprimed, an unfamiliar voice's "Yep." came
# back as "You write", "Haan." as "Done" and "Nope." as "Note". Measured with
# bench/short_answers.py on the held-out set's yes/no answers (4 flite voices): with these
# sentences one-word answers were right 76/104 instead of 73/104, but longer answers
# (places, occupations) 200/320 instead of 207/320, so only an utterance short enough to
# be a word or two (SHORT_ANSWER_S) is primed with them.
YES_NO_HINT = "Yes, I am. No, I'm not. Yep. Nope. Haan ji. Nahi."
SHORT_ANSWER_S = 1.5


def asr_hint(q: QuestionSpec, seconds: float | None = None) -> str:
    """The text the speech recogniser is primed with while this question is answered:
    its prompt; for a yes/no question the names of a place question's accepted places
    (so "Bombay" is not heard as "bombe") and, when the utterance lasts under
    SHORT_ANSWER_S `seconds` (or its length is unknown), short answers (YES_NO_HINT);
    for an amount question examples of answers in its unit."""
    from bots.understanding import place_names, unit_kind

    if q.kind != "amount":
        names = place_names(q.accepted_places)[:HINT_MAX_PLACES]
        places = f" {', '.join(names)}." if names else ""
        short = f" {YES_NO_HINT}" if seconds is None or seconds < SHORT_ANSWER_S else ""
        return f"{q.prompt}{places}{short}"
    unit = (q.unit or "").lower().strip()
    examples = _HINT_EXAMPLES[unit_kind(unit)].format(unit=unit)
    return f"{q.prompt} {examples}"



def period_words(period: str) -> str:
    return {"month": " a month", "year": " a year"}.get(period, "")


def _round_example(value: float) -> float:
    """A round figure near `value` for an example answer: 30,000 rather than 30,017."""
    if value <= 0:
        return 1.0
    from math import floor, log10

    step = 10 ** max(0, floor(log10(value)) - 1)
    return round(value / step) * step


def example_answer(q: QuestionSpec) -> str:
    """An answer in the question's terms, said when an amount was out of range:
    "thirty thousand rupees a month" (the threshold and a fifth, rounded)."""
    from bots.understanding import spoken_amount

    base = (q.threshold or q.plausible_min or 1.0) * 1.2
    if q.plausible_max is not None:
        base = min(base, q.plausible_max)
    return f"{spoken_amount(_round_example(base), q.unit)}{period_words(q.period)}"

"""A bot's script as the dialogue engine runs it: its questions and its lines.

Immutable dataclasses built from the admin's rows (bots.models) or by tests; nothing
here knows Django. Imported by every other module of bots.dialogue and by callers of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QuestionSpec:
    key: str
    prompt: str
    kind: str = "yes_no"  # "yes_no" | "amount"
    expected: bool = True  # yes/no: the answer that qualifies
    threshold: float | None = None  # amount: compared against, in `period` units
    comparison: str = "gt"  # "gt" | "gte" | "lt" | "lte"
    unit: str = ""  # "rupees", "dollars"
    period: str = ""  # "" (one-off) | "month" | "year"
    reask_prompt: str = ""
    confirm_margin: float = 0.2  # amounts this close to the threshold are confirmed
    yes_phrases: tuple[str, ...] = ()  # answers in the question's terms that mean yes
    no_phrases: tuple[str, ...] = ()  # ... and no ("self employed", "we rent")
    accepted_places: tuple[tuple[str, ...], ...] = ()  # places that qualify, each (name, alias, ...)
    other_places: tuple[tuple[str, ...], ...] = ()  # known places that do not
    plausible_min: float | None = None  # amount: smaller answers are taken as misheard
    plausible_max: float | None = None  # ... and larger ones


@dataclass(frozen=True)
class Script:
    slug: str
    name: str
    greeting: str
    qualified_message: str
    rejected_message: str
    incomplete_message: str
    questions: tuple[QuestionSpec, ...] = field(default_factory=tuple)
    max_reasks: int = 2
    language: str = "en"
    still_there_prompt: str = "Are you still there?"  # said before the question again after a silence
    silence_message: str = ""  # closing line when the caller stays silent; "" -> incomplete_message
    confirm_below: float = 0.0  # recognition confidence under which a rejection or a qualifying yes is checked
    record: bool = False  # the call is recorded: the consent line is said first, and a "no" stops it
    consent_line: str = ""  # "" with record=True: DEFAULT_CONSENT_LINE

"""The dialogue engine: pure Python, no I/O.

From a bot's script, the answers so far and a new caller utterance it decides
what to record and what the bot says next. It is tested without sockets or
databases; the voice pipeline and the typed-answer path both drive it.
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

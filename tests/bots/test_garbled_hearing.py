"""A garbled hearing never becomes a qualifying value (issue 27).

A qualifying answer needs evidence that does not contradict itself: a "no" beside an
amount, a date or a "more than that" that would qualify the caller is asked again (the
"no" may be a misheard "now", the amount a misheard one), while a "yes" beside an amount
that does not qualify is the acknowledgement callers start with. Two independent listens
that agree are better evidence than one hearing's confidence, and a preview of a decision
leaves the dialogue as it was.
"""
from __future__ import annotations

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script

SALARIED = QuestionSpec(key="salaried", prompt="Are you a salaried employee?")
SALARY = QuestionSpec(key="salary", prompt="Is your monthly salary more than twenty-five thousand rupees?",
                      kind="amount", threshold=25000, unit="rupees", period="month", plausible_min=1000)
START = QuestionSpec(key="start", prompt="Are you planning to start within the next three months?", kind="amount",
                     threshold=3, comparison="lte", unit="months", confirm_margin=0.0)
LOW, HIGH = 0.2, 0.9


def dialogue(*questions: QuestionSpec) -> Dialogue:
    d = Dialogue(Script(slug="t", name="T", greeting="Hi.", qualified_message="Eligible!", rejected_message="Bye.",
                        incomplete_message="Sorry.", questions=questions, confirm_below=0.5))
    d.start()
    return d


@pytest.mark.parametrize("question, text", [
    (SALARY, "No, 30,000."),
    (SALARY, "No, more than that."),
    (SALARY, "No, it's more than fifty thousand."),
    (START, "No, next month."),
    (START, "No, right away."),
])
def test_a_no_beside_a_qualifying_value_is_asked_again(question: QuestionSpec, text: str) -> None:
    decision = dialogue(question).handle(text, confidence=HIGH)
    assert decision.act == "reask" and not decision.ended
    assert decision.answer is not None and not decision.answer.understood


@pytest.mark.parametrize("question, text, outcome", [
    (SALARY, "Yes, about twelve thousand.", "rejected"),  # the "yes" acknowledges; the amount decides
    (SALARY, "No, about twelve thousand.", "rejected"),
    (SALARY, "Yes, about forty thousand.", "qualified"),
    (START, "Yes, next month.", "qualified"),
    (START, "No, in six months.", "rejected"),
])
def test_an_answer_that_agrees_with_itself_decides(question: QuestionSpec, text: str, outcome: str) -> None:
    assert dialogue(question).handle(text, confidence=HIGH).outcome == outcome


def test_a_preview_leaves_the_dialogue_as_it_was() -> None:
    d = dialogue(SALARIED, SALARY)
    assert d.preview("Yes.", confidence=HIGH).act == "question"
    assert d.preview("Yes.", confidence=LOW).act == "confirm"
    assert d.preview("Pardon?").act == "repeat"
    assert (d.index, d.turns, d.attempts, d.repeats, d.answers, d.checked, d.rechecking) == (0, 0, 0, 0, {}, set(), None)
    assert d.handle("Yes.", confidence=LOW).act == "confirm"  # the real one is still the first hearing


def test_two_listens_that_agree_need_no_check() -> None:
    d = dialogue(SALARIED, SALARY)
    moved_on = d.handle("Yes.", confidence=LOW, agreed=True)
    assert moved_on.act == "question" and moved_on.answer.value is True
    assert moved_on.answer.confidence is None  # no single hearing's confidence stands for it
    assert dialogue(SALARY).handle("twelve thousand", confidence=LOW, agreed=True).outcome == "rejected"


# ---------------------------------------------------------------------------------------
# The shipped bots' questions, heard the way a recogniser garbles them
# ---------------------------------------------------------------------------------------

def shipped(slug: str, key: str) -> QuestionSpec:
    """A shipped question as a fresh install has it (bots/seed.py), without a database."""
    from decimal import Decimal

    from bots.seed import BOTS
    from bots.understanding import split_phrases, split_places

    spec = next(q for b in BOTS if b["slug"] == slug for q in b["questions"] if q["key"] == key)
    number = lambda v: float(v) if isinstance(v, Decimal) else v  # noqa: E731
    return QuestionSpec(
        key=key, prompt=spec["prompt"], kind=spec.get("kind", "yes_no"), threshold=number(spec.get("threshold")),
        comparison=spec.get("comparison", "gt"), unit=spec.get("unit", ""), period=spec.get("period", ""),
        confirm_margin=spec.get("confirm_margin", 0.2), yes_phrases=split_phrases(spec.get("yes_phrases", "")),
        no_phrases=split_phrases(spec.get("no_phrases", "")),
        accepted_places=split_places(spec.get("accepted_places", "")),
        other_places=split_places(spec.get("other_places", "")),
        plausible_min=number(spec.get("plausible_min")), plausible_max=number(spec.get("plausible_max")),
    )


@pytest.mark.parametrize("slug, key, text", [
    ("quickrupee-loan", "salaried", "Not I run my own shot."),  # "Nah, I run my own shop."
    ("quickrupee-loan", "salaried", "Not my own shot."),
    ("quickrupee-loan", "salaried", "I'm not self-employed."),  # a negated "no" is not a yes
    ("quickrupee-loan", "salaried", "Not I work for a company."),
    ("home-renovation", "owns_home", "Not we rent."),
    ("home-renovation", "owns_home", "Not rented."),
    ("quickrupee-loan", "metro_city", "Not a village."),
    ("quickrupee-loan", "metro_city", "I live in tune."),  # "Pune"
    ("quickrupee-loan", "monthly_salary", "6. like a year."),  # "six lakh a year"
    ("quickrupee-loan", "monthly_salary", "Not six lakh a year."),
    ("quickrupee-loan", "monthly_salary", "No, 30,000."),
    ("home-renovation", "budget", "Not 20,000."),
    ("home-renovation", "budget", "No less than ten thousand."),  # "No, less than ten thousand." without its comma
    ("home-renovation", "start_soon", "Not right away."),
    ("home-renovation", "start_soon", "Not next month."),
    ("home-renovation", "start_soon", "No, next month."),
    ("quickrupee-loan", "salaried", "Seen not."),  # a "not" after words the bot does not know
    ("quickrupee-loan", "metro_city", "Go not."),
    ("quickrupee-loan", "metro_city", "It's just by the river, right?"),  # a tag question is no yes
    ("quickrupee-loan", "metro_city", "I'm right, ma'am."),  # "I am right" answers nothing
    ("quickrupee-loan", "salaried", "Not sure, I'm in sales at a bank."),  # a hedge, then no answer word
    ("quickrupee-loan", "salaried", "Difficult to say. My job is seasonal."),
    ("quickrupee-loan", "monthly_salary", "Four lakhs altogether."),  # a lakh figure whose period was lost
    ("quickrupee-loan", "monthly_salary", "Five lakh lucky."),
    ("quickrupee-loan", "metro_city", "I live in Bangalor."),  # a misspelt name is no evidence for a metro
    ("quickrupee-loan", "metro_city", "Hyderbad."),
    ("quickrupee-loan", "metro_city", "I'm from Kolkata originally."),  # where the caller was, not lives
    ("quickrupee-loan", "salaried", "Every time I am."),  # "I am" mid-clause answers nothing
    ("quickrupee-loan", "monthly_salary", "4 lakh or your..."),
    ("quickrupee-loan", "monthly_salary", "Around 30, 2k."),  # one number cut in two ("32k")
    ("quickrupee-loan", "monthly_salary", "If 21,500, 21 rupees a month."),
    ("home-renovation", "budget", "For 3000 dollars."),  # "Forty-three thousand dollars"
    ("quickrupee-loan", "monthly_salary", "30,000 rupees, 15,000."),  # two sums: which one?  # "or" and no range: the period lost
])
def test_a_garbled_hearing_is_asked_again_never_taken_as_a_value(slug: str, key: str, text: str) -> None:
    d = Dialogue(Script(slug=slug, name="T", greeting="Hi.", qualified_message="Eligible!", rejected_message="Bye.",
                        incomplete_message="Sorry.", questions=(shipped(slug, key),), confirm_below=0.5))
    d.start()
    decision = d.handle(text, confidence=HIGH)
    assert decision.act == "reask" and not decision.answer.understood


@pytest.mark.parametrize("slug, key, text, outcome", [
    ("quickrupee-loan", "salaried", "Nah, I run my own shop.", "rejected"),
    ("quickrupee-loan", "salaried", "I'm not self-employed, I work at a bank.", "qualified"),  # a yes said for itself
    ("home-renovation", "owns_home", "We don't rent, we own it.", "qualified"),
    ("home-renovation", "start_soon", "Not for another six months.", "rejected"),
    ("quickrupee-loan", "monthly_salary", "Not even 20,000.", "rejected"),
    ("quickrupee-loan", "salaried", "Not sure, but yes, I'm on the payroll.", "qualified"),
    ("home-renovation", "owns_home", "Hard to say. No, we rent it.", "rejected"),
    ("home-renovation", "start_soon", "Now early next year.", "rejected"),  # "now": the recogniser's "no"
    ("home-renovation", "start_soon", "Right now.", "qualified"),
    ("quickrupee-loan", "monthly_salary", "Two lakh rupees a month.", "qualified"),
    ("quickrupee-loan", "metro_city", "I live in Jabalpoor.", "rejected"),  # near a known town that is no metro
    ("quickrupee-loan", "metro_city", "Vadodra.", "rejected"),
    ("home-renovation", "owns_home", "It belongs to my uncle.", "rejected"),
    ("home-renovation", "owns_home", "The flat belongs to my own lords.", "rejected"),  # "... my in-laws": not "my own"
    ("home-renovation", "owns_home", "It's my own house.", "qualified"),
    ("quickrupee-loan", "salaried", "I paint houses, I'm a painter.", "rejected"),
    ("quickrupee-loan", "salaried", "I'm a driver in a government department.", "qualified"),
    ("quickrupee-loan", "monthly_salary", "I work for 12,000 a month.", "rejected"),
])
def test_a_negation_that_says_something_still_decides(slug: str, key: str, text: str, outcome: str) -> None:
    d = Dialogue(Script(slug=slug, name="T", greeting="Hi.", qualified_message="Eligible!", rejected_message="Bye.",
                        incomplete_message="Sorry.", questions=(shipped(slug, key),), confirm_below=0.5))
    d.start()
    assert d.handle(text, confidence=HIGH).outcome == outcome


def test_words_over_the_start_of_a_question_do_not_answer_it() -> None:
    """Issue 27: the caller's late "yes" (to the question before) began as the bot began
    "Is your monthly salary more than twenty-five thousand rupees?"; it must not answer it."""
    d = dialogue(SALARIED, SALARY)
    assert d.handle("Yes, I work for a software company.", confidence=HIGH).act == "question"
    again = d.overlapped()
    assert again.act == "repeat" and again.say == SALARY.prompt and again.answer is None
    assert d.question is SALARY and d.attempts == 0 and "salary" not in d.answers
    assert d.handle("Twelve thousand.", confidence=HIGH).outcome == "rejected"


@pytest.mark.parametrize("text", ["Yup.", "More than that."])
def test_a_doubtful_bare_yes_to_an_amount_question_is_checked_before_it_qualifies(text: str) -> None:
    """A "No," heard as a doubtful "Yup" answered the salary question with a yes (issue 27):
    an answer without an amount qualifies the caller only when it was heard well."""
    d = dialogue(SALARY)
    check = d.handle(text, confidence=LOW)
    assert check.act == "confirm" and not check.ended
    assert d.handle("twelve thousand", confidence=HIGH).outcome == "rejected"
    assert dialogue(SALARY).handle(text, confidence=HIGH).outcome == "qualified"


def test_a_doubtful_ty_amount_that_qualifies_where_its_teen_would_not_is_said_back() -> None:
    """ "Fourteen thousand rupees." was heard "40,000 rupees." (held-out set 3): heard with
    doubt, such an amount is said back before it qualifies the caller; heard well, it decides."""
    d = dialogue(SALARY)
    said_back = d.handle("40,000 rupees.", confidence=LOW)
    assert said_back.act == "confirm" and not said_back.ended
    assert d.handle("no", confidence=HIGH).act == "reask"
    assert dialogue(SALARY).handle("40,000 rupees.", confidence=HIGH).outcome == "qualified"
    assert dialogue(SALARY).handle("45,000 rupees.", confidence=LOW).outcome == "qualified"  # no teen twin

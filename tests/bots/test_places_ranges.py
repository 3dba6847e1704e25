"""Places as data, plausible ranges, occupations in the shipped bot, wildcard phrases.

"I live in X" is yes only for a place the question accepts, no for another place it
knows, re-asked otherwise (speech turned the city into a word: "I live in tune"). An
amount outside the question's plausible range is a mishearing, re-asked with an example,
and no amount is ever said back as "zero".
"""
from __future__ import annotations

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script, asr_hint, example_answer
from bots.understanding import place_names, split_places, understand

CITY = QuestionSpec(
    key="metro", prompt="Do you live in a metro city?",
    yes_phrases=("metro",), no_phrases=("village", "small town"),
    accepted_places=split_places("Mumbai, Bombay\nBengaluru, Bangalore\nNew Delhi, Delhi"),
    other_places=split_places("Jaipur\nNagpur\nKochi, Cochin"),
)
SALARY = QuestionSpec(key="salary", prompt="Is your monthly salary more than twenty-five thousand rupees?",
                      kind="amount", threshold=25000, unit="rupees", period="month",
                      reask_prompt="How much is your monthly salary?", plausible_min=1000, plausible_max=1_000_000)
BUDGET = QuestionSpec(key="budget", prompt="Is your budget over ten thousand dollars?", kind="amount",
                      threshold=10000, unit="dollars", plausible_min=100, plausible_max=10_000_000)


def script(*questions: QuestionSpec) -> Script:
    return Script(slug="t", name="T", greeting="Hi.", qualified_message="Yes!", rejected_message="Bye.",
                  incomplete_message="Sorry.", questions=questions)


def reading(text: str, q: QuestionSpec = CITY):
    return understand(text, yes_phrases=q.yes_phrases, no_phrases=q.no_phrases,
                      accepted_places=place_names(q.accepted_places), other_places=place_names(q.other_places))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live in Bombay.", True),  # an alias
        ("Bangalore.", True),
        ("We stay in New Delhi.", True),  # longest name wins over "Delhi"
        ("I'm based out of Mumbai.", True),
        ("I live in Jaipur.", False),  # another known place
        ("I'm from Cochin.", False),
        ("I live in a small town near Nagpur.", False),
        ("I don't live in Mumbai any more.", False),  # a negated accepted place
        ("Yes, I live in Jaipur.", None),  # contradiction: asked again
        ("I live in Trichy.", None),  # a place neither list knows
        ("Yes, I live in Trichy.", None),  # ... even after a yes: it would qualify a stranger
        ("I live in tune.", None),  # speech turned the city into a word
        ("Yes.", True),  # a plain answer is still an answer
        ("No.", False),
    ],
)
def test_where_the_caller_lives(text: str, expected: bool | None) -> None:
    r = reading(text)
    assert (r.yes_no if r.intent == "answer" else None) is expected


def test_split_places_keeps_aliases_together() -> None:
    places = split_places("Bengaluru, Bangalore\n\n  Chennai / Madras \nPune")
    assert places == (("Bengaluru", "Bangalore"), ("Chennai", "Madras"), ("Pune",))
    assert place_names(places) == ("Bengaluru", "Bangalore", "Chennai", "Madras", "Pune")


def test_the_recognition_hint_names_the_accepted_places() -> None:
    hint = asr_hint(CITY)
    assert hint.startswith(CITY.prompt)
    assert all(name in hint for name in ("Mumbai", "Bombay", "Bangalore", "New Delhi"))
    assert "Jaipur" not in hint


def test_a_place_question_decides_the_call() -> None:
    d = Dialogue(script(CITY))
    d.start()
    assert d.handle("Yes, I live in Trichy.").act == "reask"
    assert d.handle("I live in Bombay.").outcome == "qualified"


@pytest.mark.parametrize(
    ("q", "text"),
    [
        (SALARY, "about five hundred"),  # below ₹1,000 a month
        (SALARY, "fifty lakh a month"),  # above ₹10,00,000
        (BUDGET, "seven dollars"),
        (BUDGET, "twenty million dollars"),
    ],
)
def test_an_implausible_amount_is_asked_again_with_an_example(q: QuestionSpec, text: str) -> None:
    d = Dialogue(script(q))
    d.start()
    decision = d.handle(text)
    assert decision.act == "reask" and decision.answer is not None and not decision.answer.understood
    assert decision.say.endswith(f"For example, {example_answer(q)}.")


def test_example_answers_read_naturally() -> None:
    assert example_answer(SALARY) == "thirty thousand rupees a month"
    assert example_answer(BUDGET) == "twelve thousand dollars"


def test_a_plausible_amount_is_decided_and_a_corrected_one_checked_again() -> None:
    d = Dialogue(script(SALARY))
    d.start()
    assert d.handle("six lakh a year").outcome == "qualified"  # 50,000 a month
    d = Dialogue(script(SALARY))
    d.start()
    assert d.handle("about twenty six thousand").act == "confirm"  # near the threshold
    assert d.handle("no, sixty rupees").act == "reask"  # the correction is implausible too


def test_no_amount_is_ever_said_back_as_zero() -> None:
    """Without a range, a fraction of a rupee is still a mishearing, not 'zero rupees'."""
    bare = QuestionSpec(key="s", prompt="Salary?", kind="amount", threshold=25000, unit="rupees", period="month")
    for text in ("four like a year", "point three", "zero"):
        d = Dialogue(script(bare))
        d.start()
        decision = d.handle(text)
        assert "zero" not in decision.say
        assert decision.act in ("reask", "confirm", "closing")


def test_the_silence_reminder_and_the_cache_know_the_example_line() -> None:
    lines = Dialogue(script(SALARY)).scripted_lines()
    assert "How much is your monthly salary? For example, thirty thousand rupees a month." in lines


# -- the shipped bot's occupations ------------------------------------------------


@pytest.fixture(scope="module")
def shipped_salaried() -> dict:
    from bots.seed import BOTS
    from bots.understanding import split_phrases

    q = next(q for b in BOTS for q in b["questions"] if q["key"] == "salaried")
    return {"yes_phrases": split_phrases(q["yes_phrases"]), "no_phrases": split_phrases(q["no_phrases"])}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I run my own shop.", False),
        ("I run my own business.", False),
        ("I'm a freelancer.", False),
        ("I'm a consultant.", False),
        ("I'm a shop owner.", False),
        ("I have my own dental practice.", False),  # "my own *": owning something
        ("I run a small printing press.", False),
        ("I'm a retired school principal.", False),  # "retired *" covers the title after it
        ("I drive an auto rickshaw in the city.", False),
        ("I'm a sales officer at HDFC.", True),  # a post at an employer: "I am a * at"
        ("I'm a receptionist in a hotel.", True),
        ("I work as a pharmacist at a hospital.", True),
        ("I'm a government teacher.", True),
    ],
)
def test_occupations_in_the_shipped_bot(shipped_salaried: dict, text: str, expected: bool) -> None:
    assert understand(text, **shipped_salaried).yes_no is expected


def test_wildcards_stay_inside_their_clause() -> None:
    phrases = {"yes_phrases": ("i am a * at",), "no_phrases": ("my own *",)}
    assert understand("I am a nurse at Apollo", **phrases).yes_no is True
    assert understand("I am a bit, at least", **phrases).intent == "unclear"  # the clause ends first
    assert understand("I am a very tired and hungry person at home", **phrases).intent == "unclear"  # > 3 words


# -- the data migration ------------------------------------------------------------


@pytest.mark.django_db
def test_shipped_bot_has_places_ranges_and_occupations(loan_bot, renovation_bot) -> None:
    metro = loan_bot.questions.get(key="metro_city").to_spec()
    names = place_names(metro.accepted_places)
    for name in ("Mumbai", "Bombay", "Bengaluru", "Bangalore", "Kolkata", "Calcutta", "Chennai", "Madras",
                 "New Delhi", "Gurgaon", "Hyderabad"):
        assert name in names
    assert {"Jaipur", "Lucknow", "Kochi", "Cochin"} <= set(place_names(metro.other_places))
    assert "Bombay" in asr_hint(metro)
    salary = loan_bot.questions.get(key="monthly_salary").to_spec()
    assert (salary.plausible_min, salary.plausible_max) == (1000.0, 1_000_000.0)
    budget = renovation_bot.questions.get(key="budget").to_spec()
    assert (budget.plausible_min, budget.plausible_max) == (100.0, 10_000_000.0)
    salaried = loan_bot.questions.get(key="salaried").to_spec()
    assert "shop owner" in salaried.no_phrases


@pytest.mark.django_db
def test_upgrade_replaces_shipped_values_and_keeps_staff_edits(loan_bot) -> None:
    import importlib

    from bots.models import Bot, Question
    from bots.seed import upgrade_shipped_questions

    previous = importlib.import_module("bots.migrations.0005_places_ranges").PREVIOUS
    metro = loan_bot.questions.get(key="metro_city")
    salaried = loan_bot.questions.get(key="salaried")
    salary = loan_bot.questions.get(key="monthly_salary")
    old_yes = previous[("quickrupee-loan", "metro_city", "yes_phrases")]
    Question.objects.filter(pk=metro.pk).update(yes_phrases=old_yes, accepted_places="", other_places="")
    Question.objects.filter(pk=salaried.pk).update(no_phrases="student\nself employed")  # a staff edit
    Question.objects.filter(pk=salary.pk).update(plausible_min=None, plausible_max=5000000)  # a staff edit
    upgrade_shipped_questions(Bot, Question, previous)
    metro.refresh_from_db()
    salaried.refresh_from_db()
    salary.refresh_from_db()
    assert "mumbai" not in metro.yes_phrases and "Bombay" in metro.accepted_places
    assert salaried.no_phrases == "student\nself employed"
    assert (salary.plausible_min, salary.plausible_max) == (1000, 5000000)


@pytest.mark.parametrize(("text", "act"), [("fourteen thousand", "confirm"), ("15,000 rupees", "confirm"),
                                            ("twelve thousand", "closing"), ("forty thousand", "closing")])
def test_a_teen_that_rejects_where_its_ty_twin_qualifies_is_said_back(text: str, act: str) -> None:
    """'Forty thousand' heard as '14,000' would reject a qualified caller: said back first."""
    d = Dialogue(script(SALARY))
    d.start()
    decision = d.handle(text)
    assert decision.act == act
    if act == "confirm":
        assert d.handle("no, forty thousand").outcome == "qualified"

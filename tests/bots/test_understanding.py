"""Answer understanding: the tricky cases one by one, then the labelled corpus as a whole.

The corpus test is the guard against regressions across hundreds of
phrasings; the parametrized cases pin down the rules (negation scope, hedges,
number grammar, periods, durations) so a failure points at the broken rule.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.understanding import evaluate, load  # the bench's scoring rule, shared
from bots.understanding import Reading, parse_number, spoken_amount, understand

CORPUS = Path(__file__).resolve().parent.parent / "data" / "understanding_corpus.jsonl"

SALARY = {"kind": "amount", "period": "month", "unit": "rupees", "language": "en-IN"}
BUDGET = {"kind": "amount", "period": "", "unit": "dollars"}
START = {"kind": "amount", "period": "", "unit": "months"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yeah, definitely.", True),
        ("of course", True),
        ("I do.", True),
        ("Yes I am", True),
        ("That's right.", True),
        ("Right.", True),
        ("I think so.", True),
        ("I work at Infosys as a software engineer, so yes", True),
        ("No wait, yes.", True),  # self-correction: the later answer wins
        ("Not yet, maybe next year.", False),  # the hedge is about the date, not the answer
        ("not really", False),
        ("I don't think so", False),
        ("I wouldn't say so.", False),
        ("nope, I'm self-employed", False),
        ("absolutely not", False),
        ("Of course not.", False),
        ("Of course I'm not.", False),  # intensifier, then a negated statement
        ("That's not correct.", False),
        ("I'm not.", False),
        ("I don't own it, I rent.", False),
        ("dont think so", False),  # typed without apostrophes
        ("Yes... actually no.", False),
    ],
)
def test_yes_no_polarity(text: str, expected: bool) -> None:
    reading = understand(text)
    assert reading == Reading("answer", yes_no=expected)


@pytest.mark.parametrize(
    "text",
    [
        "I'm not sure.", "maybe", "I don't know", "hmm", "yes and no", "Maybe, maybe not.",
        "I think so, but I'm not sure.", "I rent.", "I am self employed.", "", "the", "what",
        "...", "I'm not 100% sure.", "we haven't really worked that out",
        "I'm not comfortable sharing that.",
    ],
)
def test_unclear(text: str) -> None:
    assert understand(text).intent == "unclear"
    assert understand(text, **SALARY).intent == "unclear"


@pytest.mark.parametrize(
    "text",
    [
        "can you repeat that?", "Sorry, what?", "pardon?", "come again?", "say that again",
        "What?", "Sorry?", "Huh?", "I didn't get that.", "What's that?", "Phir se boliye?",
        "Sorry, how much?",
    ],
)
def test_repeat(text: str) -> None:
    assert understand(text).intent == "repeat"


@pytest.mark.parametrize(
    "text, expected, language",
    [
        ("haan", True, "en-IN"), ("Ji haan.", True, "hi"), ("bilkul", True, "en-IN"),
        ("sahi hai", True, "en-IN"), ("haan ji", True, "en"), ("nahi", False, "en-IN"),
        ("Ji nahi.", False, "en-IN"), ("bilkul nahi", False, "en-IN"), ("na", False, "hi"),
        ("हाँ", True, "hi"), ("नहीं", False, "hi"),
    ],
)
def test_hinglish(text: str, expected: bool, language: str) -> None:
    assert understand(text, language=language).yes_no is expected


def test_pata_nahi_is_a_hedge_not_a_no() -> None:
    assert understand("Pata nahi.", language="en-IN").intent == "unclear"


@pytest.mark.parametrize(
    "text, value",
    [
        ("40k", 40000), ("25,500", 25500), ("$15,000", 15000), ("forty thousand", 40000),
        ("twenty five thousand five hundred", 25500), ("one lakh", 100000), ("1.5 lakh", 150000),
        ("2.5 lakhs", 250000), ("fifteen grand", 15000), ("a crore", 10_000_000),
        ("thirty-five thousand", 35000), ("half a lakh", 50000), ("40 thousand", 40000),
        ("Rs. 1,25,000/-", 125000), ("one lakh twenty-five thousand", 125000),
        ("one hundred and fifty thousand", 150000), ("a lakh and a half", 150000),
        ("seven and a half thousand", 7500), ("twenty five hundred", 2500),
        ("one point five million", 1_500_000), ("2 lakh 50 thousand", 250000),
        ("30 to 40 thousand", 35000), ("between $20k and $30k", 25000), ("pachas hazaar", 50000),
        ("40,000.", 40000), ("nine", 9),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "no", "the money is good", "a month"])
def test_parse_number_none(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    "text, amount",
    [
        ("Yeah, about $40,000 a month.", 40000),
        ("Rs. 30,000", 30000),
        ("six lakh a year", 50000),  # converted to the question's monthly period
        ("12 LPA", 100000),
        ("My CTC is 12 lakhs.", 100000),  # CTC is annual in Indian salary talk
        ("10,000 a week.", 10000 * 52 / 12),
        ("I'm 25 and earn 40,000", 40000),  # the age is not the salary
        ("I've worked for 6 years and I get 38k.", 38000),
        ("Thirty thousand... no, thirty-two.", 32000),  # correction inherits the scale
        ("Something like 22,000, 23,000.", 22500),
    ],
)
def test_salary_amounts(text: str, amount: float) -> None:
    reading = understand(text, **SALARY)
    assert reading.intent == "answer"
    assert reading.amount == pytest.approx(amount, rel=0.005)


def test_period_converts_to_a_yearly_question() -> None:
    assert understand("50k a month", kind="amount", period="year", unit="rupees").amount == 600000


def test_one_off_question_keeps_the_amount_as_said() -> None:
    assert understand("about 20k a month", **BUDGET).amount == 20000


@pytest.mark.parametrize(
    "text, yes_no, relation",
    [
        ("yes, more than that", True, "above"),
        ("less than that", None, "below"),
        ("No, less than that.", False, "below"),
        ("not more than that", None, "below"),
        ("no more than that", None, None),  # or "No, more than that." with the comma lost: asked again
        ("not less than that", None, "above"),
        ("over that", None, "above"),
        ("Us se zyada.", None, "above"),
        ("zyada nahi", False, "below"),
        ("more or less", None, None),
    ],
)
def test_relations(text: str, yes_no: bool | None, relation: str | None) -> None:
    reading = understand(text, **SALARY)
    assert (reading.yes_no, reading.relation) == (yes_no, relation)


@pytest.mark.parametrize(
    "text, months",
    [
        ("in two months", 2), ("six weeks", 1.5), ("next month", 1), ("next week", 0.25),
        ("right away", 0), ("immediately", 0), ("as soon as possible", 0), ("ASAP", 0),
        ("now", 0), ("next year", 12), ("in a year", 12), ("half a year", 6),
        ("a couple of months", 2), ("a month or two", 1.5), ("2-3 months", 2.5),
        ("a year and a half", 18), ("in ten days", 1 / 3), ("two", 2),
    ],
)
def test_durations(text: str, months: float) -> None:
    reading = understand(text, **START)
    assert reading.amount == pytest.approx(months, abs=0.01)


@pytest.mark.parametrize("text", ["in the spring", "After Diwali.", "We're planning for September."])
def test_dates_without_a_span_are_unclear(text: str) -> None:
    assert understand(text, **START) == Reading("unclear")


def test_duration_with_yes() -> None:
    assert understand("Yes, next month.", **START) == Reading("answer", yes_no=True, amount=1.0)


def test_yes_no_question_ignores_amounts() -> None:
    reading = understand("yes, for 5 years")
    assert reading == Reading("answer", yes_no=True)


@pytest.mark.parametrize(
    "value, unit, words",
    [
        (15000, "dollars", "fifteen thousand dollars"),
        (125000, "rupees", "one lakh twenty-five thousand rupees"),
        (2, "months", "two months"),
        (1, "months", "one month"),
        (1.5, "months", "one and a half months"),
        (0.5, "months", "half a month"),
        (12_500_000, "rupees", "one crore twenty-five lakh rupees"),
        (1_250_000, "dollars", "one million two hundred fifty thousand dollars"),
        (25000.4, "rupees", "twenty-five thousand rupees"),
        (0, "", "zero"),
        (305, "", "three hundred five"),
    ],
)
def test_spoken_amount(value: float, unit: str, words: str) -> None:
    assert spoken_amount(value, unit) == words


def test_spoken_amount_round_trips_through_parse_number() -> None:
    for value in (7, 40, 999, 25500, 125000, 3_400_000, 12_500_000):
        assert parse_number(spoken_amount(value, "rupees")) == value
        assert parse_number(spoken_amount(value, "dollars")) == value


def test_long_and_odd_inputs_are_handled() -> None:
    """Speed sanity: long, noisy or hostile input returns a Reading, not an exception."""
    long_text = "um " * 2000 + "yes"
    assert understand(long_text).yes_no is True
    for text in ["$", "₹", "--", "1,2,3", "k k k", "lakh", ". . .", "0", "??", "१२ हजार"]:
        assert isinstance(understand(text, **SALARY), Reading)
        parse_number(text)


def test_corpus_is_big_and_varied() -> None:
    items = load(CORPUS)
    assert len(items) >= 350
    assert len({item["text"] for item in items}) >= 300
    kinds = {(i["kind"], i["unit"]) for i in items}
    assert {("yes_no", ""), ("amount", "rupees"), ("amount", "dollars"), ("amount", "months")} <= kinds


def test_corpus_accuracy() -> None:
    accuracy, misses = evaluate(load(CORPUS))
    described = [(item["text"], item["expect"], reading) for item, reading in misses]
    assert accuracy >= 0.98, f"accuracy {accuracy:.1%}; misses: {described[:20]}"

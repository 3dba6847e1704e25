"""Answers in a question's own terms: "I'm self-employed" to "Are you salaried?".

Each question carries staff-editable yes/no phrases; understanding applies
negation and longest-match rules to them, so they read as answers, not as a
lookup table of whole utterances.
"""
from __future__ import annotations

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script
from bots.understanding import split_phrases, understand

SALARIED = {
    "yes_phrases": ("salaried", "employed", "job", "i work for"),
    "no_phrases": ("self employed", "business", "work for myself", "student"),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm self-employed.", False),  # longest match: "self employed" over "employed"
        ("I'm employed by a bank.", True),
        ("I am not employed.", False),  # negation in the clause flips a yes phrase
        ("I don't have a job at the moment.", False),
        ("I don't run a business, I'm salaried.", True),  # ... and a no phrase
        ("I work for myself.", False),  # equal length overlap: the carved-out "no" wins
        ("I work for Tata Motors.", True),
        ("We're both students.", False),  # plural forms match
        ("No, I'm self employed.", False),
    ],
)
def test_question_phrases_answer_the_question(text: str, expected: bool) -> None:
    assert understand(text, **SALARIED).yes_no is expected


def test_a_phrase_that_contradicts_an_explicit_answer_is_re_asked() -> None:
    assert understand("Yes, I'm self-employed.", **SALARIED).intent == "unclear"


def test_a_hedge_still_leaves_the_answer_open() -> None:
    assert understand("Maybe, I'm not sure if I'm salaried.", **SALARIED).intent == "unclear"


def test_without_phrases_a_statement_is_not_guessed_at() -> None:
    assert understand("I'm self-employed.").intent == "unclear"


def test_split_phrases_takes_lines_and_commas() -> None:
    assert split_phrases("rent, renting\n tenant \n\n lease;") == ("rent", "renting", "tenant", "lease")


def test_staff_phrases_work_for_a_new_bot_without_code() -> None:
    roof = QuestionSpec(key="roof", prompt="Do you own the roof?",
                        yes_phrases=split_phrases("own the roof\nit is ours"),
                        no_phrases=split_phrases("shared roof, the building owns"))
    script = Script(slug="solar", name="Solar", greeting="Hi.", qualified_message="Great.",
                    rejected_message="Bye.", incomplete_message="Sorry.", questions=(roof,))
    d = Dialogue(script)
    d.start()
    assert d.handle("It's a shared roof, the building owns it.").outcome == "rejected"


@pytest.mark.django_db
def test_shipped_loan_bot_reads_occupations_and_cities(loan_bot) -> None:
    d = Dialogue(loan_bot.to_script())
    d.start()
    assert d.handle("I'm working at Infosys.").act == "question"
    assert d.handle("About fifty thousand a month.").act == "question"
    end = d.handle("I live in Pune.")
    assert (end.outcome, d.answers["metro_city"].value) == ("qualified", True)

    d = Dialogue(loan_bot.to_script())
    d.start()
    end = d.handle("I'm self-employed, I run a small shop.")
    assert (end.outcome, end.reason) == ("rejected", "not_qualified:salaried")


@pytest.mark.django_db
def test_shipped_renovation_bot_reads_renters(renovation_bot) -> None:
    d = Dialogue(renovation_bot.to_script())
    d.start()
    assert d.handle("We're renting at the moment.").outcome == "rejected"


@pytest.mark.django_db
def test_fill_keeps_staff_edits_and_fills_blanks(loan_bot) -> None:
    from bots.models import Bot, Question
    from bots.seed import fill_answer_phrases

    salaried = loan_bot.questions.get(key="salaried")
    metro = loan_bot.questions.get(key="metro_city")
    assert "self employed" in split_phrases(salaried.no_phrases)
    salaried.no_phrases = "student"
    salaried.save()
    Question.objects.filter(pk=metro.pk).update(yes_phrases="", no_phrases="")
    fill_answer_phrases(Bot, Question)
    salaried.refresh_from_db()
    metro.refresh_from_db()
    assert salaried.no_phrases == "student"
    assert "metro city" in split_phrases(metro.yes_phrases)

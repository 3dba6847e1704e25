"""Recognition confidence in the dialogue: a doubtful hearing is checked before it costs a lead.

A decision that would reject the caller on a low-confidence hearing is confirmed first, and
so is a low-confidence yes that would qualify them; a confident hearing, a typed answer
(no confidence) and a doubtful hearing that only moves the call on are decided at once.
"""
from __future__ import annotations

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script

SALARIED = QuestionSpec(key="salaried", prompt="Are you a salaried employee?")
SALARY = QuestionSpec(key="salary", prompt="Is your monthly salary more than twenty-five thousand rupees?",
                      kind="amount", threshold=25000, unit="rupees", period="month", plausible_min=1000)
LOW, HIGH = 0.2, 0.9


def dialogue(*questions: QuestionSpec, confirm_below: float = 0.5) -> Dialogue:
    d = Dialogue(Script(slug="t", name="T", greeting="Hi.", qualified_message="Eligible!", rejected_message="Bye.",
                        incomplete_message="Sorry.", questions=questions, confirm_below=confirm_below))
    d.start()
    return d


def test_a_doubtful_no_is_checked_and_the_reply_decides() -> None:
    d = dialogue(SALARIED, SALARY)
    check = d.handle("No.", confidence=LOW)
    assert check.act == "confirm" and check.answer is None and not check.ended
    assert check.say == "Just to be sure, are you a salaried employee?"
    moved_on = d.handle("Yes, I am.", confidence=LOW)  # checked once: the reply stands
    assert moved_on.act == "question"
    assert moved_on.answer.value is True and moved_on.answer.transcript == "No. / Yes, I am."
    assert moved_on.answer.confidence == LOW


def test_a_doubtful_yes_that_qualifies_is_checked_and_a_confirmed_no_rejects() -> None:
    d = dialogue(SALARIED)
    assert d.handle("Yep.", confidence=LOW).act == "confirm"
    assert d.handle("No.", confidence=HIGH).outcome == "rejected"


def test_a_doubtful_rejecting_amount_is_said_back() -> None:
    d = dialogue(SALARY)
    check = d.handle("twelve thousand", confidence=LOW)
    assert check.act == "confirm" and check.say == "Just to confirm, did you say twelve thousand rupees a month?"
    end = d.handle("yes", confidence=LOW)
    assert end.outcome == "rejected" and end.answer.value == 12000 and end.answer.confidence == LOW


def test_a_doubtful_amount_corrected_by_the_caller() -> None:
    d = dialogue(SALARY)
    assert d.handle("twelve thousand", confidence=LOW).act == "confirm"
    assert d.handle("no, forty two thousand", confidence=HIGH).outcome == "qualified"


def test_a_doubtful_qualifying_amount_is_not_held_up() -> None:
    """Only rejections and yes/no answers are checked; a qualifying amount moves the call on
    (the next answers still have to qualify, and an agent calls back), but for a round
    "-ty" amount whose "-teen" twin would reject (tests/bots/test_garbled_hearing.py)."""
    assert dialogue(SALARY).handle("forty-two thousand", confidence=LOW).outcome == "qualified"


@pytest.mark.parametrize("confidence", [HIGH, None])
def test_confident_and_typed_answers_are_decided_at_once(confidence: float | None) -> None:
    assert dialogue(SALARIED).handle("No.", confidence=confidence).outcome == "rejected"
    d = dialogue(SALARIED)
    end = d.handle("Yes.", confidence=confidence)
    assert end.outcome == "qualified" and end.answer.confidence == confidence


def test_a_threshold_of_zero_turns_checking_off() -> None:
    assert dialogue(SALARIED, confirm_below=0.0).handle("No.", confidence=LOW).outcome == "rejected"


def test_silence_after_a_check_repeats_the_check() -> None:
    d = dialogue(SALARIED)
    d.handle("No.", confidence=LOW)
    assert d.silence().say == "Are you still there? Just to be sure, are you a salaried employee?"


def test_an_unclear_reply_to_a_check_is_re_asked_as_usual() -> None:
    d = dialogue(SALARIED)
    d.handle("No.", confidence=LOW)
    assert d.handle("hmm, let me think", confidence=HIGH).act == "reask"
    assert d.handle("no", confidence=LOW).outcome == "rejected"  # this question was already checked once


def test_check_lines_are_cached_with_the_other_scripted_lines() -> None:
    assert "Just to be sure, are you a salaried employee?" in dialogue(SALARIED).scripted_lines()


@pytest.mark.django_db
def test_the_threshold_comes_from_settings(loan_bot, settings) -> None:
    settings.ASR_CONFIRM_BELOW = 0.65
    assert loan_bot.to_script().confirm_below == 0.65

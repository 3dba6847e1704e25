"""Phone keypad answers in the dialogue: 1 is yes, 2 is no, on yes/no questions and confirmations only."""
from __future__ import annotations

from bots.dialogue import Dialogue, QuestionSpec, Script


def script() -> Script:
    return Script(
        slug="s", name="S", greeting="Hi.", qualified_message="Great.", rejected_message="Bye.", incomplete_message="Sorry.",
        questions=(
            QuestionSpec(key="owns", prompt="Own?"),
            QuestionSpec(key="budget", prompt="Budget?", kind="amount", threshold=10000, unit="dollars"),
            QuestionSpec(key="rent", prompt="Rent?", expected=False),
        ),
    )


def test_keys_answer_yes_no_questions_like_words():
    d = Dialogue(script())
    d.start()
    decision = d.keypad("1")
    assert decision.answer.value is True and decision.answer.transcript == "keypad 1" and decision.say == "Budget?"
    assert d.keypad_answer("1") is None and d.keypad("1") is None  # an amount is not a key press
    d.handle("twenty thousand dollars")
    decision = d.keypad("2")
    assert decision.outcome == "qualified" and decision.answer.value is False and decision.answer.qualifies is True


def test_other_keys_mean_nothing():
    d = Dialogue(script())
    d.start()
    for key in ("0", "3", "9", "*", "#", ""):
        assert d.keypad(key) is None
    assert d.question.key == "owns" and d.attempts == 0


def test_keys_confirm_an_amount_near_the_threshold():
    d = Dialogue(script())
    d.start()
    d.handle("yes")
    assert d.handle("about ten thousand five hundred dollars").act == "confirm"
    decision = d.keypad("1")
    assert decision.answer.value == 10500 and decision.answer.transcript.endswith("/ keypad 1")
    d2 = Dialogue(script())
    d2.start()
    d2.handle("yes")
    d2.handle("about ten thousand five hundred dollars")
    assert d2.keypad("2").act == "reask"

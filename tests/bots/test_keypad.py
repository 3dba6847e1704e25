"""Phone keypad answers in the dialogue: 1 is yes, 2 is no, on yes/no questions and confirmations only;
9 (or saying so) asks never to be called again."""
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
    for key in ("0", "3", "*", "#", ""):
        assert d.keypad(key) is None and not d.takes_key(key)
    assert d.question.key == "owns" and d.attempts == 0


def test_nine_asks_never_to_be_called_again_on_any_question():
    d = Dialogue(script())
    d.start()
    d.keypad("1")
    assert d.question.key == "budget" and d.takes_key("9") and not d.takes_key("1")
    decision = d.keypad("9")
    assert (decision.outcome, decision.reason, decision.answer) == ("rejected", "do_not_call", None)
    assert "not call you again" in decision.say


def test_saying_so_ends_the_call_the_same_way():
    for said in ["Please don't call me again", "stop calling me", "take me off your list", "dobara call mat karo"]:
        d = Dialogue(script())
        d.start()
        decision = d.handle(said)
        assert (decision.outcome, decision.reason) == ("rejected", "do_not_call"), said
    for answer in ["no", "I don't", "no I do not own it", "call me later"]:
        d = Dialogue(script())
        d.start()
        assert d.handle(answer).reason != "do_not_call", answer


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

"""Recording consent in the dialogue (pure, no Django): the line comes first, the caller's
reply decides whether the rest of the call is recorded, and the call goes on either way.
The last test reads a bot from the database: RECORD_CALLS and the bot's own choice, as the
admin's script flow shows them."""
from __future__ import annotations

import dataclasses

import pytest

from bots.dialogue import (
    CONSENT_REASK,
    DEFAULT_CONSENT_LINE,
    Dialogue,
    QuestionSpec,
    Script,
    StoredAnswer,
)

SCRIPT = Script(
    slug="loan", name="Loan", greeting="Hello from QuickRupee.",
    qualified_message="Eligible.", rejected_message="Not eligible.", incomplete_message="Sorry.",
    questions=(
        QuestionSpec(key="salary", prompt="What is your monthly salary?", kind="amount", threshold=25000,
                     unit="rupees", period="month", confirm_margin=0),
        QuestionSpec(key="metro", prompt="Do you live in a metro city?"),
    ),
    record=True,
)


def test_a_bot_that_does_not_record_asks_its_first_question_at_once() -> None:
    d = Dialogue(dataclasses.replace(SCRIPT, record=False))
    first = d.start()
    assert first.say == "Hello from QuickRupee. What is your monthly salary?"
    assert first.recording is None and not d.asking_consent
    no = d.handle("no")  # an answer to the question, not to recording
    assert no.answer is not None and no.answer.key == "salary" and no.recording is None


def test_the_consent_line_is_said_before_the_first_question() -> None:
    d = Dialogue(SCRIPT)
    first = d.start()
    assert first.say.startswith("Hello from QuickRupee. " + DEFAULT_CONSENT_LINE)
    assert first.say.endswith("?") and "monthly salary" not in first.say
    assert first.act == "consent"


@pytest.mark.parametrize("reply", ["yes", "sure, go ahead", "I don't mind", "that's fine", "haan"])
def test_agreeing_goes_on_recorded(reply: str) -> None:
    d = Dialogue(SCRIPT)
    d.start()
    decision = d.handle(reply)
    assert decision.recording is True and d.consent is True
    assert decision.say.endswith("What is your monthly salary?")
    assert decision.answer is None  # consent is not an answer to the script


@pytest.mark.parametrize("reply", ["no", "I do not agree", "please don't record this", "no thanks",
                                   "I'd rather not", "I don't want to be recorded"])
def test_refusing_stops_the_recording_and_the_call_goes_on(reply: str) -> None:
    d = Dialogue(SCRIPT)
    d.start()
    decision = d.handle(reply)
    assert decision.recording is False and d.consent is False
    assert not decision.ended and decision.say.endswith("What is your monthly salary?")
    salary = d.handle("fifty thousand a month")
    assert salary.answer is not None and salary.answer.value == 50000 and salary.recording is None
    assert d.handle("yes, Mumbai").outcome == "qualified"


def test_keypad_2_refuses_and_1_agrees() -> None:
    d = Dialogue(SCRIPT)
    d.start()
    assert d.keypad_answer("2") is False  # taken even though the first question is an amount
    assert d.keypad("2").recording is False
    assert d.keypad_answer("2") is None  # now the amount question: keys mean nothing
    d = Dialogue(SCRIPT)
    d.start()
    assert d.keypad("1").recording is True


def test_an_unclear_reply_is_asked_once_then_the_call_goes_on_unrecorded() -> None:
    d = Dialogue(SCRIPT)
    d.start()
    assert d.handle("sorry, can you repeat that?").act == "consent"  # said again, costs nothing
    again = d.handle("banana bread")
    assert again.say == CONSENT_REASK and again.recording is None and d.asking_consent
    settled = d.handle("purple")
    assert settled.recording is False and settled.say.endswith("What is your monthly salary?")


def test_silence_reminds_with_the_consent_line() -> None:
    d = Dialogue(SCRIPT)
    d.start()
    reminder = d.silence()
    assert reminder.act == "reminder" and DEFAULT_CONSENT_LINE in reminder.say


def test_an_edited_consent_line_that_asks_is_said_as_it_is() -> None:
    line = "We record calls for quality. Do you agree?"
    d = Dialogue(dataclasses.replace(SCRIPT, consent_line=line))
    assert d.start().say == f"Hello from QuickRupee. {line}"
    assert line in d.scripted_lines()[0]


def test_a_resumed_call_keeps_the_consent_it_had() -> None:
    salary = StoredAnswer(key="salary", value=50000.0, understood=True, qualifies=True, attempts=1)
    refused = Dialogue(SCRIPT)
    assert refused.resume([salary], consent=False).say == "Do you live in a metro city?"
    assert refused.consent is False and not refused.asking_consent
    undecided = Dialogue(SCRIPT)
    assert undecided.resume([salary]).act == "consent"  # dropped before replying: asked again
    assert undecided.handle("yes").say.endswith("Do you live in a metro city?")


def test_the_consent_lines_are_cached_prompts() -> None:
    lines = Dialogue(SCRIPT).scripted_lines()
    assert CONSENT_REASK in lines
    assert any(line.startswith("Understood") and line.endswith("monthly salary?") for line in lines)


@pytest.mark.django_db
def test_the_admins_script_flow_shows_the_consent_step(loan_bot, settings):
    from bots.admin import script_flow

    assert "Recording consent" not in script_flow(loan_bot)  # off by default
    settings.RECORD_CALLS = True  # a bot left to the server follows it
    flow = script_flow(loan_bot)
    assert "Recording consent" in flow and DEFAULT_CONSENT_LINE in flow and "keypad 2" in flow
    loan_bot.record_calls = False  # ... unless it says otherwise
    assert "Recording consent" not in script_flow(loan_bot)
    assert Dialogue(loan_bot.to_script()).start().act == "question"

"""The dialogue engine on its own: text in, decisions out, no sockets or database."""
from __future__ import annotations

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script


@pytest.fixture
def loan_script() -> Script:
    return Script(
        slug="loan",
        name="Loan",
        greeting="Hello.",
        qualified_message="Eligible! An agent will call you within 10 minutes.",
        rejected_message="Sorry, not eligible.",
        incomplete_message="Sorry, I could not understand.",
        max_reasks=2,
        language="en-IN",
        questions=(
            QuestionSpec(key="salaried", prompt="Are you salaried?", reask_prompt="Salaried, yes or no?"),
            QuestionSpec(
                key="salary",
                prompt="Is your monthly salary more than 25,000 rupees?",
                kind="amount",
                threshold=25000,
                comparison="gt",
                unit="rupees",
                period="month",
            ),
            QuestionSpec(key="metro", prompt="Do you live in a metro city?"),
        ),
    )


def run(script: Script, *utterances: str) -> tuple[Dialogue, list]:
    d = Dialogue(script)
    decisions = [d.start()] + [d.handle(u) for u in utterances]
    return d, decisions


def test_opening_line_is_greeting_then_first_question(loan_script):
    d = Dialogue(loan_script)
    first = d.start()
    assert first.say == "Hello. Are you salaried?"
    assert first.act == "question" and not first.ended


def test_all_yes_qualifies_with_the_qualified_line(loan_script):
    d, decisions = run(loan_script, "yes I am", "yeah, about forty thousand a month", "yes, Mumbai")
    last = decisions[-1]
    assert last.outcome == "qualified" and last.reason == "all_answers_qualify"
    assert "within 10 minutes" in last.say
    assert d.answers["salary"].value == pytest.approx(40000)
    assert [decisions[i].answer.key for i in (1, 2, 3)] == ["salaried", "salary", "metro"]


def test_first_failing_answer_ends_the_call_without_more_questions(loan_script):
    d, decisions = run(loan_script, "nope, I'm self-employed")
    last = decisions[-1]
    assert last.outcome == "rejected" and last.reason == "not_qualified:salaried"
    assert last.say == "Sorry, not eligible."
    assert last.answer.value is False and last.answer.qualifies is False
    assert d.question is None
    # Nothing more happens after the end.
    assert d.handle("yes").answer is None


def test_low_salary_rejects(loan_script):
    _, decisions = run(loan_script, "yes", "around twelve thousand")
    assert decisions[-1].outcome == "rejected"
    assert decisions[-1].answer.value == pytest.approx(12000)


def test_a_rejecting_teen_is_confirmed_before_it_rejects(loan_script):
    """'Fifteen' may have been 'fifty': said back first, then the caller's yes rejects."""
    _, decisions = run(loan_script, "yes", "around fifteen thousand", "yes")
    assert decisions[-2].act == "confirm"
    assert decisions[-1].outcome == "rejected"
    assert decisions[-1].answer.value == pytest.approx(15000)


def test_yearly_amount_is_compared_per_month(loan_script):
    _, decisions = run(loan_script, "yes", "six lakh a year")  # 50,000 a month
    assert decisions[-1].act == "question" and decisions[-1].say == "Do you live in a metro city?"
    assert decisions[-1].answer.value == pytest.approx(50000)


def test_relative_answers_to_threshold_question(loan_script):
    _, up = run(loan_script, "yes", "yes, more than that")
    assert up[-1].answer.qualifies is True and up[-1].act == "question"
    _, down = run(loan_script, "yes", "less than that")
    assert down[-1].outcome == "rejected"


def test_unclear_answer_is_reasked_then_incomplete(loan_script):
    d, decisions = run(loan_script, "I'm not sure", "hmm", "banana")
    assert [x.act for x in decisions[1:]] == ["reask", "reask", "closing"]
    assert decisions[1].say == "Salaried, yes or no?"
    assert [x.answer.attempt for x in decisions[1:]] == [1, 2, 3]
    assert all(x.answer.understood is False and x.answer.value is None for x in decisions[1:])
    assert decisions[-1].outcome == "incomplete" and decisions[-1].reason == "unclear:salaried"


def test_reask_limit_comes_from_the_script(loan_script):
    from dataclasses import replace

    strict = replace(loan_script, max_reasks=0)
    _, decisions = run(strict, "maybe")
    assert decisions[-1].outcome == "incomplete"


def test_unclear_then_clear_answer_counts_attempts(loan_script):
    d, decisions = run(loan_script, "I don't know", "yes")
    assert decisions[-1].answer.attempt == 2 and decisions[-1].answer.value is True
    assert decisions[-1].say == "Is your monthly salary more than 25,000 rupees?"


def test_repeat_request_repeats_without_using_an_attempt(loan_script):
    d, decisions = run(loan_script, "can you repeat that?", "hmm", "what?", "uh", "yes")
    assert decisions[1].act == "repeat" and decisions[1].say.endswith("Are you salaried?")
    assert decisions[1].answer is None
    assert decisions[-1].answer.attempt == 3 and decisions[-1].answer.value is True


def test_amount_near_threshold_is_confirmed_first(loan_script):
    d, decisions = run(loan_script, "yes", "twenty seven thousand")
    confirm = decisions[-1]
    assert confirm.act == "confirm" and confirm.answer is None
    assert "twenty-seven thousand rupees" in confirm.say.replace("twenty seven", "twenty-seven")
    yes = d.handle("yes, that's right")
    assert yes.answer.value == pytest.approx(27000) and yes.answer.qualifies is True
    assert yes.say == "Do you live in a metro city?"


def test_confirmation_can_be_corrected_with_a_new_amount(loan_script):
    d, _ = run(loan_script, "yes", "twenty three thousand")
    corrected = d.handle("no, I said seventy thousand")
    assert corrected.answer.value == pytest.approx(70000) and corrected.answer.qualifies is True


def test_denied_confirmation_asks_again(loan_script):
    d, _ = run(loan_script, "yes", "twenty six thousand")
    again = d.handle("no")
    assert again.act == "reask" and again.answer.understood is False


def test_hangup_is_incomplete(loan_script):
    d, _ = run(loan_script, "yes")
    decision = d.hangup()
    assert decision.outcome == "incomplete" and decision.reason == "caller_hangup"


def test_lte_duration_question():
    script = Script(
        slug="r", name="R", greeting="Hi.", qualified_message="Transfer.", rejected_message="Bye.",
        incomplete_message="?",
        questions=(
            QuestionSpec(key="start", prompt="Start within three months?", kind="amount", threshold=3,
                         comparison="lte", unit="months", confirm_margin=0.0),
        ),
    )
    assert run(script, "in about two months")[1][-1].outcome == "qualified"
    assert run(script, "probably next year")[1][-1].outcome == "rejected"
    assert run(script, "yes")[1][-1].outcome == "qualified"
    assert run(script, "no, not that soon")[1][-1].outcome == "rejected"


def test_scripted_lines_cover_what_the_engine_says(loan_script):
    d = Dialogue(loan_script)
    lines = set(d.scripted_lines())
    said = [d.start().say, d.handle("what?").say, d.handle("hmm").say, d.handle("yes").say]
    assert set(said) <= lines


def test_script_without_questions_is_refused(loan_script):
    from dataclasses import replace

    with pytest.raises(ValueError):
        Dialogue(replace(loan_script, questions=()))


def test_amount_with_a_direction_decides_by_the_range(loan_script):
    _, over = run(loan_script, "yes", "just over twenty five thousand")
    assert over[-1].answer.qualifies is True and over[-1].act == "question"
    _, under = run(loan_script, "yes", "less than twenty thousand")
    assert under[-1].outcome == "rejected"
    _, straddles = run(loan_script, "yes", "less than thirty thousand")
    assert straddles[-1].act == "reask" and straddles[-1].answer.understood is False


def test_a_suspiciously_small_amount_is_confirmed(loan_script):
    d, decisions = run(loan_script, "yes", "around 25")
    assert decisions[-1].act == "confirm"
    assert "twenty-five rupees" in decisions[-1].say


# ---------------------------------------------------------------------------- a silent caller
def test_silence_reminds_once_with_the_question_then_ends_incomplete(loan_script: Script) -> None:
    d, _ = run(loan_script)
    reminder = d.silence()
    assert reminder.act == "reminder" and not reminder.ended and reminder.answer is None
    assert reminder.say == "Are you still there? Are you salaried?"
    end = d.silence()
    assert end.ended and end.outcome == "incomplete" and end.reason == "caller_silent"
    assert end.say == "Sorry, I could not understand."  # no silence line set: the incomplete line
    assert d.silence().say == ""  # after the end nothing more is said


def test_an_answer_resets_the_silence_reminders(loan_script: Script) -> None:
    d, _ = run(loan_script)
    d.silence()
    assert d.handle("yes").say.startswith("Is your monthly salary")
    again = d.silence()
    assert again.act == "reminder" and again.say.endswith("Is your monthly salary more than 25,000 rupees?")
    assert d.attempts == 0  # reminders cost no re-ask


def test_silence_during_a_confirmation_repeats_the_confirmation(loan_script: Script) -> None:
    from dataclasses import replace

    script = replace(loan_script, still_there_prompt="Hello?", silence_message="Goodbye for now.")
    d, _ = run(script, "yes", "about 26,000")
    assert d.pending is not None
    assert d.silence().say == "Hello? Just to confirm, did you say twenty-six thousand rupees a month?"
    assert d.silence().say == "Goodbye for now."


def test_reminder_lines_are_prefetched(loan_script: Script) -> None:
    lines = Dialogue(loan_script).scripted_lines()
    assert "Are you still there? Are you salaried?" in lines
    assert "Are you still there? Do you live in a metro city?" in lines


def test_recogniser_hint_primes_amount_answers_in_their_unit() -> None:
    from bots.dialogue import asr_hint

    yes_no = QuestionSpec(key="own", prompt="Do you own your home?")
    rupees = QuestionSpec(key="pay", prompt="Salary?", kind="amount", threshold=25000, unit="rupees", period="month")
    dollars = QuestionSpec(key="budget", prompt="Budget?", kind="amount", threshold=10000, unit="dollars")
    months = QuestionSpec(key="start", prompt="When?", kind="amount", threshold=3, unit="months")
    assert asr_hint(yes_no).startswith("Do you own your home? ")
    assert all(word in asr_hint(yes_no) for word in ("Yep.", "Nope.", "Haan"))  # short answers primed
    assert asr_hint(rupees).startswith("Salary? ") and "lakh" in asr_hint(rupees)
    assert "15,000 dollars" in asr_hint(dollars) and "$" not in asr_hint(dollars) and "lakh" not in asr_hint(dollars)
    assert "next month" in asr_hint(months)


def test_only_a_short_utterance_is_primed_with_short_answers() -> None:
    from bots.dialogue import SHORT_ANSWER_S, YES_NO_HINT, QuestionSpec, asr_hint

    q = QuestionSpec(key="salaried", prompt="Are you a salaried employee?")
    assert asr_hint(q, SHORT_ANSWER_S / 2).endswith(YES_NO_HINT)
    assert asr_hint(q, SHORT_ANSWER_S * 2) == q.prompt  # longer answers hear the question alone
    amount = QuestionSpec(key="s", prompt="Salary?", kind="amount", unit="rupees")
    assert YES_NO_HINT not in asr_hint(amount, 0.5)

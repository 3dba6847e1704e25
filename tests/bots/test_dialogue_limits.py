"""Dialogue limits against floods of valid messages, and picking a call up again (resume)."""
from __future__ import annotations

from bots.dialogue import FREE_REPEATS, REASON_TOO_MANY_TURNS, Dialogue, StoredAnswer
from tests.bots.test_dialogue import loan_script  # noqa: F401  (fixture)


def test_repeats_are_free_twice_then_count_as_attempts(loan_script):
    d = Dialogue(loan_script)
    d.start()
    acts = [d.handle("can you repeat that").act for _ in range(FREE_REPEATS)]
    assert acts == ["repeat"] * FREE_REPEATS and d.attempts == 0
    third = d.handle("can you repeat that")
    assert third.act == "reask" and third.answer is not None and third.answer.attempt == 1
    decisions = [d.handle("say that again") for _ in range(1000)]
    ended = [x for x in decisions if x.ended]
    assert ended and ended[0].outcome == "incomplete" and ended[0].reason == "unclear:salaried"
    assert d.ended and sum(1 for x in decisions if x.say) <= loan_script.max_reasks + 1


def test_a_hard_cap_on_turns(loan_script):
    d = Dialogue(loan_script, max_turns=3)
    d.start()
    assert d.handle("yes").act == "question"
    d.handle("repeat please")
    d.handle("repeat please")
    fourth = d.handle("yes")
    assert fourth.ended and fourth.outcome == "incomplete" and fourth.reason == REASON_TOO_MANY_TURNS


def test_resume_continues_at_the_question_where_the_caller_was(loan_script):
    d = Dialogue(loan_script)
    again = d.resume([
        StoredAnswer("salaried", True, True, True, 1, "yes"),
        StoredAnswer("salary", None, False, None, 1, "mumble"),
    ])
    assert again.say == "Is your monthly salary more than 25,000 rupees?"
    assert d.question.key == "salary" and d.attempts == 1
    nxt = d.handle("forty thousand a month")
    assert nxt.answer.key == "salary" and nxt.answer.attempt == 2 and nxt.say == "Do you live in a metro city?"
    assert d.handle("yes").outcome == "qualified"
    assert set(d.answers) == {"salaried", "salary", "metro"}


def test_resume_before_any_answer_asks_the_first_question(loan_script):
    d = Dialogue(loan_script)
    assert d.resume([]).say == "Are you salaried?"


def test_resume_of_a_call_already_decided_ends_as_its_answers_decided(loan_script):
    rejected = Dialogue(loan_script).resume([StoredAnswer("salaried", False, True, False, 1, "no")])
    assert (rejected.outcome, rejected.reason, rejected.say) == ("rejected", "not_qualified:salaried", loan_script.rejected_message)
    all_in = [StoredAnswer(q.key, True, True, True, 1, "yes") for q in loan_script.questions]
    qualified = Dialogue(loan_script).resume(all_in)
    assert (qualified.outcome, qualified.say) == ("qualified", loan_script.qualified_message)
    unclear = Dialogue(loan_script).resume([StoredAnswer("salaried", None, False, None, loan_script.max_reasks + 1, "?")])
    assert (unclear.outcome, unclear.reason) == ("incomplete", "unclear:salaried")

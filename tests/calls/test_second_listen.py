"""The second listen's choice between two hearings of one answer (calls.runtime.second_listen).

The hearings are given (no audio here: tests/calls/test_local_engines.py hears real
speech again); what is asserted is what the dialogue then decides.
"""
from __future__ import annotations

import asyncio

import pytest

from bots.dialogue import Dialogue, QuestionSpec, Script
from calls.providers.base import Transcript
from calls.runtime.second_listen import choose, hear, needs_second_listen

SALARIED = QuestionSpec(key="salaried", prompt="Are you a salaried employee?", yes_phrases=("salaried",),
                        no_phrases=("my own *", "self employed"))
SALARY = QuestionSpec(key="salary", prompt="Is your monthly salary more than twenty-five thousand rupees?",
                      kind="amount", threshold=25000, unit="rupees", period="month", plausible_min=1000)
SURE, DOUBTFUL = -0.1, -1.5  # average log-probabilities: confidence 0.9 and 0.22


def dialogue() -> Dialogue:
    d = Dialogue(Script(slug="t", name="T", greeting="Hi.", qualified_message="Eligible!", rejected_message="Bye.",
                        incomplete_message="Sorry.", questions=(SALARIED, SALARY), confirm_below=0.5))
    d.start()
    return d


def heard(text: str, logprob: float = SURE) -> Transcript:
    return Transcript(text, logprob, 0.01)


@pytest.mark.parametrize("first, needed", [
    (heard(""), True),  # nothing heard: the bot would re-ask
    (heard("Second robot."), True),  # words the dialogue cannot use
    (heard("Yes.", DOUBTFUL), True),  # a doubtful yes would be checked
    (heard("Yes."), False),
    (heard("No.", SURE), False),
    (heard("Sorry, can you repeat that?"), False),  # a request to repeat is not misheard
])
def test_a_second_listen_comes_before_a_reask_or_a_check(first: Transcript, needed: bool) -> None:
    assert needs_second_listen(dialogue(), first) is needed


def test_a_reasked_hearing_gives_way_to_an_answer_heard_the_second_time() -> None:
    """Instead of "Sorry, I did not catch that": a value that does not qualify the caller
    is decided, one that would is asked again first (the second listen alone heard it)."""
    d = dialogue()
    chosen = choose(d, heard(""), heard("No, I'm self-employed."))
    assert chosen.relistened and chosen.unsure
    assert d.handle(chosen.text, chosen.confidence, unsure=chosen.unsure).outcome == "rejected"
    d = dialogue()
    chosen = choose(d, heard(""), heard("Yep."))
    check = d.handle(chosen.text, chosen.confidence, unsure=chosen.unsure)
    assert check.act == "confirm" and check.say == "Just to be sure, are you a salaried employee?"
    assert d.handle("Yes.", SURE).answer.value is True


def test_an_amount_heard_only_the_second_time_is_said_back_before_it_qualifies() -> None:
    """A second listen primed with "For example: 40,000 rupees" must not make a garble 40,000."""
    d = dialogue()
    d.handle("Yes.", 0.9)
    chosen = choose(d, heard("Uh, the plan for you."), heard("40,000 rupees."))
    said_back = d.handle(chosen.text, chosen.confidence, unsure=chosen.unsure)
    assert said_back.act == "confirm" and "forty thousand" in said_back.say


def test_a_second_hearing_that_is_no_better_leaves_the_reask() -> None:
    d = dialogue()
    chosen = choose(d, heard("Second robot."), heard("Sec and robot."))
    assert d.handle(chosen.text, chosen.confidence).act == "reask"


def test_a_doubtful_second_hearing_is_still_checked() -> None:
    d = dialogue()
    chosen = choose(d, heard(""), heard("No.", DOUBTFUL))
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed, unsure=chosen.unsure).act == "confirm"


def test_two_listens_that_agree_need_no_check() -> None:
    d = dialogue()
    chosen = choose(d, heard("Absolutely, yes.", -0.9), heard("Absolutely yes", -0.4))  # confidence 0.41, then 0.67
    assert chosen.agreed
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed).act == "question"


def test_two_doubtful_listens_that_agree_are_still_checked() -> None:
    """The same model twice agrees on a garble as readily as on the words: agreement
    counts only when the second listen is sure enough to stand on its own."""
    d = dialogue()
    chosen = choose(d, heard("Absolutely, yes.", -0.9), heard("Absolutely yes", -0.9))  # confidence 0.41 each
    assert not chosen.agreed
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed).act == "confirm"


def test_two_listens_that_differ_are_checked() -> None:
    d = dialogue()
    chosen = choose(d, heard("Yes.", DOUBTFUL), heard("No.", DOUBTFUL))
    assert not chosen.agreed
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed).act == "confirm"


def test_hear_asks_for_the_second_listen_only_when_it_is_needed() -> None:
    asked: list[bool] = []

    async def relisten() -> Transcript:
        asked.append(True)
        return heard("Yes, I am salaried.")

    d = dialogue()
    assert asyncio.run(hear(d, heard("Yes."), relisten)).text == "Yes."
    assert asked == []
    chosen = asyncio.run(hear(d, heard(""), relisten))
    assert len(asked) == 1
    assert d.handle(chosen.text, chosen.confidence, unsure=chosen.unsure).act == "confirm"  # heard the second time only


@pytest.mark.parametrize("text, unfinished", [
    ("Yes,", True), ("Yes, I work for a", True), ("Um", True), ("and", True),
    ("Yes.", False), ("No", False), ("I run my own shop.", False), ("", False),
])
def test_a_part_that_stops_where_a_sentence_goes_on_sounds_unfinished(text: str, unfinished: bool) -> None:
    from calls.runtime.second_listen import sounds_unfinished

    assert sounds_unfinished(text) is unfinished


def test_a_part_waits_for_the_rest_when_it_would_cost_a_turn_or_sounds_unfinished() -> None:
    from calls.runtime.second_listen import waits_for_more

    d = dialogue()
    assert waits_for_more(d, heard("Yes,"))
    assert waits_for_more(d, heard("Yes.", DOUBTFUL))  # it would be checked
    assert not waits_for_more(d, heard("Yes."))
    assert not waits_for_more(d, heard(""))  # a noise blip: nothing to join


def test_two_very_doubtful_listens_that_agree_are_still_checked() -> None:
    d = dialogue()
    chosen = choose(d, heard("Yeah.", -1.3), heard("Yeah.", -1.3))  # confidence 0.27 each
    assert not chosen.agreed
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed).act == "confirm"


class _Engine:
    """An ASRProvider's second-listen side, for the fallback order (real engines hear real
    speech in tests/calls/test_local_engines.py)."""

    def __init__(self, name: str, answer: Transcript | None) -> None:
        self.name, self.answer, self.asked = name, answer, 0

    async def listen_again(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        from calls.providers.base import ProviderError

        self.asked += 1
        if self.answer is None:
            raise ProviderError("down", provider=self.name)
        return self.answer


def test_a_failed_second_listen_falls_back_and_then_leaves_the_first_hearing() -> None:
    from calls.runtime.second_listen import SecondListener

    down, local = _Engine("cloud", None), _Engine("local", heard("Yes."))
    d = dialogue()
    chosen = asyncio.run(SecondListener([down, local], language="en", hint=lambda s: "").hear(d, heard(""), b"\0\0" * 800))
    assert (down.asked, local.asked) == (1, 1) and d.handle(chosen.text, chosen.confidence).act == "question"
    chosen = asyncio.run(SecondListener([down], language="en", hint=lambda s: "").hear(dialogue(), heard(""), b"\0\0" * 800))
    assert dialogue().handle(chosen.text, chosen.confidence).act == "reask"
    off = SecondListener([local], language="en", hint=lambda s: "", enabled=False)
    assert asyncio.run(off.hear(dialogue(), heard(""), b"\0\0" * 800)).text == "" and local.asked == 1


class _EarlyEngine(_Engine):
    """A second listen that says when it started (the test awaits that, never the clock)."""

    def __init__(self, answer: Transcript) -> None:
        super().__init__("local", answer)
        self.started = asyncio.Event()

    async def listen_again(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        self.started.set()
        return await super().listen_again(pcm, language=language, hint=hint)


async def _early_then_turn(early_words: str, turn_words: str, engine: _Engine | None = None,
                           ended_at: float = 0.0) -> tuple[int, str]:
    """The listener's early recognition hears `early_words` at the caller's pause; the turn
    then decides on `turn_words`. Returns how many second listens were made and what the
    dialogue decided."""
    from types import SimpleNamespace

    from calls.runtime.answer_hearing import AnswerHearing
    from calls.runtime.latency import TurnTiming
    from calls.runtime.listener import Utterance
    from calls.runtime.second_listen import SecondListener
    from calls.runtime.tasks import CallTasks
    from calls.runtime.turns import TurnQueue

    d, pcm = dialogue(), b"\1\0" * 1600
    engine = engine or _EarlyEngine(heard("Yes."))
    hearing = AnswerHearing(d, TurnQueue("c"), CallTasks("c"), mode="push_to_talk", caller_left=lambda: False)
    listener = SimpleNamespace(in_speech=False, on_early_heard=None)
    hearing.listen_with(listener, SecondListener([engine], language="en", hint=lambda s: ""))
    listener.on_early_heard(heard(early_words), pcm)
    if not early_words and isinstance(engine, _EarlyEngine):
        await engine.started.wait()  # under way before the turn ends
    chosen = await hearing.hear_out(Utterance(turn=1, ended_at=ended_at, pcm=pcm), heard(turn_words), TurnTiming())
    return engine.asked, d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed, unsure=chosen.unsure).act


def test_a_second_listen_started_at_the_pause_is_the_one_the_turn_takes() -> None:
    """Nothing usable heard at the caller's pause: the second listen starts there, and the
    turn (the same words at the same question) takes it instead of listening again."""
    asked, act = asyncio.run(_early_then_turn("", ""))
    assert asked == 1 and act == "confirm"  # heard only the second time: checked before it qualifies


def test_an_early_second_listen_for_other_words_is_not_taken() -> None:
    asked, act = asyncio.run(_early_then_turn("", "Second robot."))  # the caller's turn heard other words
    assert asked == 2 and act == "confirm"
    asked, act = asyncio.run(_early_then_turn("Yes.", "Yes."))  # a clear hearing needs no second listen at all
    assert asked == 0 and act == "question"


class _StuckEngine(_Engine):
    """A second listen that never comes back (a worker with no CPU to spare)."""

    async def listen_again(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        self.asked += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_second_listen_past_its_budget_is_not_waited_for(settings) -> None:
    """Past ASR_SECOND_LISTEN_BUDGET_MS after the end of speech the first hearing stands:
    the bot re-asks in time instead of deciding better too late."""
    import time

    settings.ASR_SECOND_LISTEN_BUDGET_MS = 850
    _, act = asyncio.run(_early_then_turn("x", "", _StuckEngine("local", None), ended_at=time.perf_counter() - 5))
    assert act == "reask"


def test_a_second_listen_that_only_says_the_prompt_back_is_no_agreement() -> None:
    """A short utterance is primed with short answers ("Yes, I am. ... Haan ji."); a whole
    window decode that says just those back for a place it could not make out is no
    evidence that the doubtful yes before it was right: the yes is checked."""
    d = dialogue()
    chosen = choose(d, heard("Yes, I got him.", -0.9), heard("Yes, haan ji.", -0.3))  # 0.41, then 0.74
    assert not chosen.agreed
    assert d.handle(chosen.text, chosen.confidence, agreed=chosen.agreed).act == "confirm"
    chosen = choose(dialogue(), heard("Yes, I work there.", -0.9), heard("Yes, I work there.", -0.3))
    assert chosen.agreed  # words of its own: agreement stands

"""The dialogue engine: pure Python, no I/O.

From a bot's script, the answers so far and a new caller utterance it decides
what to record and what the bot says next. It is tested without sockets or
databases; the voice pipeline and the typed-answer path both drive it.
"""
from __future__ import annotations

import copy

from bots.dialogue.consent import (CONSENT_NO, CONSENT_REASK, CONSENT_REASKS, CONSENT_REFUSED, CONSENT_THANKS,
                                   CONSENT_YES, consent_text)
from bots.dialogue.decisions import (REASON_DO_NOT_CALL, REASON_HANGUP, REASON_QUALIFIED, REASON_SILENT,
                                     REASON_TOO_MANY_TURNS, AnswerRecord, Decision, StoredAnswer)
from bots.dialogue.hints import example_answer, period_words
from bots.dialogue.script import QuestionSpec, Script
from bots.dialogue.thresholds import bound_meets, meets, relation_meets, teen_for_ty, ty_for_teen

# Phone keypad answers to yes/no questions (and to "Just to confirm ...?", and to recording).
KEYPAD_ANSWERS = {"1": True, "2": False}
# The key that asks never to be called again, on any question (like saying "don't call me again").
OPT_OUT_KEY = "9"
OPT_OUT_LINE = "Of course. We will not call you again. Sorry to have troubled you. Goodbye."

# A silent caller is reminded this many times (the question asked again), then the call ends.
SILENCE_REMINDERS = 1
# Requests to repeat a question that cost nothing; each one after these counts as an
# unclear answer (so "can you repeat that" forever cannot keep a call open).
FREE_REPEATS = 2
# Caller utterances in one call after which it ends incomplete (a script of a few
# questions needs far fewer, even with every re-ask and repeat).
MAX_TURNS = 40


class Dialogue:
    """Runs one call's script. Feed it caller utterances; it returns Decisions.

    Rules: every question must qualify and the first failing answer ends the
    call; an unclear answer is re-asked up to `max_reasks` times, then the call
    ends incomplete; asking to repeat costs no attempt the first
    FREE_REPEATS times per question, then counts as unclear; after `max_turns`
    caller utterances the call ends incomplete; an amount outside the
    question's plausible range is taken as misheard and asked again with an
    example; an amount within the question's `confirm_margin` of its threshold
    is confirmed before deciding;
    a caller who says nothing is reminded once ("Are you still there?" and the
    question), and if the silence goes on the call ends incomplete.
    """

    def __init__(self, script: Script, *, max_turns: int = MAX_TURNS) -> None:
        if not script.questions:
            raise ValueError(f"bot {script.slug!r} has no questions")
        self.script = script
        self.max_turns = max_turns
        self.turns = 0  # caller utterances handled
        self.repeats = 0  # requests to repeat the current question
        self.index = 0
        self.attempts = 0  # utterances spent on the current question
        self.pending: tuple[float, str] | None = None  # amount awaiting confirmation, transcript
        self.rechecking: tuple[bool | float, str] | None = None  # a doubtful value and transcript, its question asked again
        self.checked: set[str] = set()  # questions already confirmed for a doubtful hearing
        self._heard: float | None = None  # confidence of the utterance being handled
        self._unsure = False  # ... which a second listen heard after a first gave nothing
        self._value_heard: float | None = None  # ... of the one whose value is pending
        self.answers: dict[str, AnswerRecord] = {}
        self.outcome: str | None = None
        self.reason = ""
        self.last_said = ""
        self.silences = 0  # reminders since the caller last said anything
        self.consent: bool | None = None  # recording consent: None while not (yet) given or refused
        self.asking_consent = script.record  # the consent line is said first; its reply is awaited
        self._consent_reasks = 0

    # -- queries ---------------------------------------------------------
    @property
    def question(self) -> QuestionSpec | None:
        if self.outcome is not None or self.index >= len(self.script.questions):
            return None
        return self.script.questions[self.index]

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    def scripted_lines(self) -> list[str]:
        """Every fixed line this script can say, for the prompt-audio cache."""
        s = self.script
        lines = [self.opening_line(), s.qualified_message, s.rejected_message, s.incomplete_message]
        if s.record:
            first = s.questions[0].prompt
            lines += [CONSENT_REASK, f"{CONSENT_THANKS} {first}", f"{CONSENT_REFUSED} {first}",
                      self._reminder_text(self.consent_text())]
        lines.append(s.silence_message)
        for q in s.questions:
            lines += [q.prompt, self._reask_text(q), f"Sure. {q.prompt}", self._reminder_text(q.prompt),
                      self._check_text(q)]
            if q.kind == "amount":
                lines.append(self._reask_text(q, implausible=True))
        return list(dict.fromkeys(line for line in lines if line))

    def opening_line(self) -> str:
        if self.script.record:
            return f"{self.script.greeting} {self.consent_text()}".strip()
        return f"{self.script.greeting} {self.script.questions[0].prompt}".strip()

    def consent_text(self) -> str:
        return consent_text(self.script.consent_line)

    # -- events ----------------------------------------------------------
    def start(self) -> Decision:
        return self._say(self.opening_line(), "consent" if self.asking_consent else "question")

    def resume(self, stored: list[StoredAnswer], *, consent: bool | None = None) -> Decision:
        """Pick the call up where it was after the caller reconnected: answers already
        given stay given, attempts spent stay spent, and the bot asks the question the
        caller was on (no question is asked twice once answered). A call whose answers
        had already decided it (the line dropped during the closing words) ends as
        they decided, with its closing line. `consent`: the recording consent the caller
        already gave or refused (None: not yet, so the consent line is said again)."""
        if consent is not None:
            self.consent, self.asking_consent = consent, False
        by_key = {a.key: a for a in stored}
        self.index, self.attempts, self.pending = 0, 0, None
        self.turns = sum(a.attempts for a in stored)
        for q in self.script.questions:
            answer = by_key.get(q.key)
            if answer is None:
                break
            self.answers[q.key] = AnswerRecord(
                key=q.key, question=q.prompt, order=self.index + 1, transcript=answer.transcript,
                value=answer.value, understood=answer.understood, qualifies=answer.qualifies, attempt=answer.attempts,
            )
            if not answer.understood:
                self.attempts = answer.attempts
                break
            if not answer.qualifies:
                return self._end("rejected", f"not_qualified:{q.key}", self.script.rejected_message, None)
            self.index += 1
        q = self.question
        if q is None:
            return self._end("qualified", REASON_QUALIFIED, self.script.qualified_message, None)
        if self.attempts > self.script.max_reasks:
            return self._end("incomplete", f"unclear:{q.key}", self.script.incomplete_message, None)
        if self.asking_consent:
            return self._say(self.consent_text(), "consent")
        return self._say(q.prompt, "question")

    def hangup(self, reason: str = REASON_HANGUP) -> Decision:
        if self.outcome is None:
            self.outcome, self.reason = "incomplete", reason
        return Decision(say="", act="none", outcome=self.outcome, reason=self.reason)

    def silence(self) -> Decision:
        """The caller said nothing for a while after the bot finished speaking."""
        q = self.question
        if q is None:
            return Decision(say="", act="none", outcome=self.outcome, reason=self.reason)
        if self.silences < SILENCE_REMINDERS:
            self.silences += 1
            asked = self._confirm_text(q, self.pending[0]) if self.pending is not None else (
                self._check_text(q) if self.rechecking is not None else q.prompt)
            if self.asking_consent:
                asked = self.consent_text()
            return self._say(self._reminder_text(asked), "reminder")
        return self._end("incomplete", REASON_SILENT, self.script.silence_message or self.script.incomplete_message, None)

    def keypad_answer(self, digit: str) -> bool | None:
        """What a phone key means now: 1 yes, 2 no on a yes/no question or a confirmation;
        None when the key means nothing here (an amount question, another key)."""
        q = self.question
        if q is None or digit not in KEYPAD_ANSWERS:
            return None
        if q.kind != "yes_no" and self.pending is None and not self.asking_consent:
            return None
        return KEYPAD_ANSWERS[digit]

    def takes_key(self, digit: str) -> bool:
        """Whether a phone key means something now: an answer (`keypad_answer`) or OPT_OUT_KEY."""
        return self.question is not None and (digit == OPT_OUT_KEY or self.keypad_answer(digit) is not None)

    def opt_out(self) -> Decision:
        """The caller asked never to be called again: the call ends (not qualified), politely."""
        return self._end("rejected", REASON_DO_NOT_CALL, OPT_OUT_LINE, None)

    def keypad(self, digit: str) -> Decision | None:
        """A key pressed on a phone, recorded like a spoken answer ("keypad 1"); None if it
        means nothing now (see `keypad_answer`). OPT_OUT_KEY ends the call (`opt_out`)."""
        if digit == OPT_OUT_KEY and self.question is not None:
            return self.opt_out()
        value = self.keypad_answer(digit)
        q = self.question
        if value is None or q is None:
            return None
        self.silences = 0
        self._heard = None  # a key press is not misheard
        self._unsure = False
        text = f"keypad {digit}"
        if self.asking_consent:
            return self._consent_reply(value)
        if self.pending is not None:  # "Just to confirm, did you say ...?"
            amount, first_transcript = self.pending
            self.pending = None
            if value:
                self._heard = self._value_heard
                return self._decide(q, f"{first_transcript} / {text}", amount, meets(amount, q.threshold or 0, q.comparison))
            return self._unclear(q, text)
        return self._decide(q, text, value, value == q.expected)

    def preview(self, text: str, confidence: float | None = None, *, agreed: bool = False,
                unsure: bool = False) -> Decision:
        """What `handle` would decide, with this dialogue left as it was (the voice
        pipeline asks before it decides whether to listen to an answer again)."""
        twin = copy.copy(self)
        twin.answers = dict(self.answers)
        twin.checked = set(self.checked)
        return twin.handle(text, confidence, agreed=agreed, unsure=unsure)

    def handle(self, text: str, confidence: float | None = None, *, agreed: bool = False,
               unsure: bool = False) -> Decision:
        """One caller utterance (typed, or a transcript of speech with the recogniser's
        `confidence` in it, 0-1). A hearing below the script's `confirm_below` that
        would reject the caller, or a yes that would qualify them, is checked first:
        an amount is said back ("did you say ...?"), a yes/no question asked again
        ("Just to be sure, ..."), once per question. `agreed`: a second, independent
        listen to the same audio came to the same answer, which is better evidence
        than one hearing's confidence: no check. `unsure`: the words come from a second
        listen after a first that gave nothing to go on; a value that would qualify the
        caller is then said back or asked again first, whatever the confidence (a second
        listen primed with the question's words can hear them in a garble: "Coimbatore."
        came back as "Kolkata." at 0.71)."""
        from bots.understanding import opts_out, place_names, understand

        self.silences = 0
        self._heard = None if agreed else confidence
        self._unsure = unsure
        q = self.question
        if q is None:
            return Decision(say="", act="none", outcome=self.outcome, reason=self.reason)
        self.turns += 1
        if self.turns > self.max_turns:
            return self._end("incomplete", REASON_TOO_MANY_TURNS, self.script.incomplete_message, None)
        if opts_out(text):
            return self.opt_out()
        if self.asking_consent:
            consent = understand(text, kind="yes_no", language=self.script.language,
                                 yes_phrases=CONSENT_YES, no_phrases=CONSENT_NO)
            if consent.intent == "repeat":
                return self._say(self.consent_text(), "consent")
            return self._consent_reply(consent.yes_no)
        reading = understand(
            text, kind=q.kind, period=q.period, unit=q.unit, language=self.script.language,
            yes_phrases=q.yes_phrases, no_phrases=q.no_phrases,
            accepted_places=place_names(q.accepted_places), other_places=place_names(q.other_places),
        )
        if self.pending is not None:
            return self._handle_confirmation(q, text, reading)
        if reading.intent == "repeat":
            return self._repeat(q, text, f"Sure. {q.prompt}")
        if q.kind == "yes_no":
            if reading.yes_no is None:
                return self._unclear(q, text)
            return self._decide(q, text, reading.yes_no, reading.yes_no == q.expected)
        # Amount question: a stated amount wins, then "more/less than that", then yes/no.
        # A "no" beside an amount or a relation that would qualify the caller ("No,
        # 30,000", "No, next month", "No, more than that") contradicts itself: a
        # qualifying value needs evidence that does not (the "no" may be a misheard
        # "now", the amount a misheard one), so it is asked again. A "yes" beside an
        # amount that does not qualify is the acknowledgement callers start with
        # ("Yes, about eighteen thousand"): the amount stands.
        if reading.amount is not None:
            amount = float(reading.amount)
            if not self._plausible(q, amount):
                return self._unclear(q, text, implausible=True)
            if reading.relation is not None:  # "just over 25,000", "less than 30k"
                ok = bound_meets(reading.relation, amount, q.threshold or 0, q.comparison)
                if ok is None or (ok and reading.yes_no is False):
                    return self._unclear(q, text)
                return self._decide(q, text, amount, ok)
            qualifies = meets(amount, q.threshold or 0, q.comparison)
            if qualifies and reading.yes_no is False:
                return self._unclear(q, text)
            if self._needs_confirmation(q, amount):
                return self._confirm_amount(q, text, amount)
            return self._decide(q, text, amount, qualifies, said_amount=True)
        if reading.relation is not None:
            ok = relation_meets(reading.relation, q.comparison)
            if ok and reading.yes_no is False:
                return self._unclear(q, text)
            return self._decide(q, text, ok, ok)
        if reading.yes_no is not None:
            return self._decide(q, text, reading.yes_no, reading.yes_no)
        return self._unclear(q, text)

    def overlapped(self) -> Decision:
        """Caller words that began as the bot began asking the current question: they
        answer the question before it (its answer is already decided), not this one,
        which the caller has not heard. The question is asked again; nothing is recorded
        and no attempt is spent (a caller who keeps talking over it runs into max_turns)."""
        q = self.question
        if q is None:
            return Decision(say="", act="none", outcome=self.outcome, reason=self.reason)
        self.silences = 0
        self.turns += 1
        if self.turns > self.max_turns:
            return self._end("incomplete", REASON_TOO_MANY_TURNS, self.script.incomplete_message, None)
        return self._say(q.prompt, "repeat")

    # -- internals -------------------------------------------------------
    def _consent_reply(self, agreed: bool | None) -> Decision:
        """The caller's reply to the consent line: yes goes on recorded, no (or a reply that
        stays unclear) goes on unrecorded; either way the first question follows."""
        if agreed is None and self._consent_reasks < CONSENT_REASKS:
            self._consent_reasks += 1
            return self._say(CONSENT_REASK, "consent")
        self.asking_consent = False
        self.consent = bool(agreed)
        q = self.question
        prompt = q.prompt if q is not None else ""
        line = f"{CONSENT_THANKS if agreed else CONSENT_REFUSED} {prompt}".strip()
        return Decision(say=line, act="question", recording=self.consent)

    def _handle_confirmation(self, q: QuestionSpec, text: str, reading) -> Decision:
        amount, first_transcript = self.pending  # type: ignore[misc]
        self.checked.add(q.key)  # the caller's reply settles it: no second check
        if reading.intent == "repeat":
            return self._repeat(q, text, self._confirm_text(q, amount))
        if reading.amount is not None:  # the caller restated or corrected the amount
            self.pending = None
            new = float(reading.amount)
            if not self._plausible(q, new):
                return self._unclear(q, text, implausible=True)
            return self._decide(q, text, new, meets(new, q.threshold or 0, q.comparison))
        if reading.yes_no is True:
            self.pending = None
            self._heard = self._value_heard
            transcript = f"{first_transcript} / {text}"
            return self._decide(q, transcript, amount, meets(amount, q.threshold or 0, q.comparison))
        self.pending = None
        return self._unclear(q, text)  # "no" or unclear: ask the question again

    def _plausible(self, q: QuestionSpec, amount: float) -> bool:
        """Within the question's plausible range, and (money) not an amount that would be
        said back as "zero": "four like a year" (a lost "lakh") is 0.33 rupees a month."""
        from bots.understanding import unit_kind

        if q.plausible_min is not None and amount < q.plausible_min:
            return False
        if q.plausible_max is not None and amount > q.plausible_max:
            return False
        return unit_kind(q.unit) == "duration" or round(amount) != 0

    def _repeat(self, q: QuestionSpec, text: str, line: str) -> Decision:
        self.repeats += 1
        if self.repeats > FREE_REPEATS:
            self.pending = None
            return self._unclear(q, text)
        return self._say(line, "repeat")

    def _needs_confirmation(self, q: QuestionSpec, amount: float) -> bool:
        if not q.threshold or q.confirm_margin <= 0:
            return False
        if amount < q.threshold / 100:  # "around 25" for a salary: a lost "thousand"?
            return True
        if teen_for_ty(amount, q.threshold, q.comparison):
            return True
        doubtful = self._heard is not None and self._heard < self.script.confirm_below
        if doubtful and ty_for_teen(amount, q.threshold, q.comparison):
            return True  # a doubtful "40,000" that qualifies where "14,000" would not: said back
        return abs(amount - q.threshold) <= q.confirm_margin * q.threshold

    def _confirm_amount(self, q: QuestionSpec, text: str, amount: float) -> Decision:
        self.pending = (amount, text)
        self._value_heard = self._heard
        return self._say(self._confirm_text(q, amount), "confirm")

    def _doubtful(self, q: QuestionSpec, qualifies: bool, value: object = None) -> bool:
        """A low-confidence hearing that would reject the caller, or qualify them on a yes/no
        (a yes/no question's, or a bare "yes" or "more than that" to an amount question: a
        doubtful "Yup" was a caller's "No," before "it's around eighteen thousand", issue 27);
        an `unsure` one (see `handle`) that would qualify them at all."""
        if q.key in self.checked:
            return False
        if self._unsure and qualifies:
            return True
        c = self._heard
        if c is None or c >= self.script.confirm_below:
            return False
        return not qualifies or q.kind == "yes_no" or isinstance(value, bool)

    def _check_text(self, q: QuestionSpec) -> str:
        prompt = q.prompt.strip()
        return f"Just to be sure, {prompt[:1].lower()}{prompt[1:]}" if prompt else prompt

    def _confirm_text(self, q: QuestionSpec, amount: float) -> str:
        from bots.understanding import spoken_amount

        return f"Just to confirm, did you say {spoken_amount(amount, q.unit)}{period_words(q.period)}?"

    def _reminder_text(self, asked: str) -> str:
        return f"{self.script.still_there_prompt} {asked}".strip()

    def _reask_text(self, q: QuestionSpec, implausible: bool = False) -> str:
        line = q.reask_prompt or f"Sorry, I did not catch that. {q.prompt}"
        return f"{line} For example, {example_answer(q)}." if implausible else line

    def _record(self, q: QuestionSpec, text: str, value, understood: bool, qualifies: bool | None) -> AnswerRecord:
        self.attempts += 1
        record = AnswerRecord(
            key=q.key,
            question=q.prompt,
            order=self.index + 1,
            transcript=text,
            value=value,
            understood=understood,
            qualifies=qualifies,
            attempt=self.attempts,
            confidence=self._heard,
        )
        self.answers[q.key] = record
        return record

    def _decide(self, q: QuestionSpec, text: str, value, qualifies: bool, *, said_amount: bool = False) -> Decision:
        if self._doubtful(q, qualifies, value):
            self.checked.add(q.key)
            if said_amount:
                return self._confirm_amount(q, text, value)
            self.rechecking = (value, text)
            return self._say(self._check_text(q), "confirm")
        if self.rechecking is not None:
            text, self.rechecking = f"{self.rechecking[1]} / {text}", None
        record = self._record(q, text, value, True, qualifies)
        if not qualifies:
            return self._end("rejected", f"not_qualified:{q.key}", self.script.rejected_message, record)
        self.index += 1
        self.attempts = self.repeats = 0
        nxt = self.question
        if nxt is None:
            return self._end("qualified", REASON_QUALIFIED, self.script.qualified_message, record)
        return self._say(nxt.prompt, "question", record)

    def _unclear(self, q: QuestionSpec, text: str, *, implausible: bool = False) -> Decision:
        self.rechecking = None
        record = self._record(q, text, None, False, None)
        if self.attempts > self.script.max_reasks:
            return self._end("incomplete", f"unclear:{q.key}", self.script.incomplete_message, record)
        return self._say(self._reask_text(q, implausible), "reask", record)

    def _say(self, text: str, act: str, record: AnswerRecord | None = None) -> Decision:
        self.last_said = text
        return Decision(say=text, act=act, answer=record)

    def _end(self, outcome: str, reason: str, line: str, record: AnswerRecord | None) -> Decision:
        self.outcome, self.reason = outcome, reason
        self.last_said = line
        return Decision(say=line, act="closing", answer=record, outcome=outcome, reason=reason)

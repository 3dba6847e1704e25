"""A campaign driven end to end in this process: the outbox runner with the dialer's queue
on an injected clock, the fake Twilio REST API, and the callees answering through signed
callbacks to this process's views. People's calls are decided the way a real call's are
stored (`lifecycle.end_call`), then the server hangs up through the REST API."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from calls.http.tokens import token_call_id
from django.db.models import Min

from calls.models import Call
from calls.outbox.items import Status
from calls.outbox.runner import Runner
from calls.persistence import lifecycle
from calls.transport.phone import twilio_rest
from campaigns import clock
from campaigns.dialer import DialQueue
from campaigns.models import FINAL_STATES, Campaign, Dial, Lead
from devtools.fakecallee import QUALIFIES, Callees, django_sender, token_of
from devtools.faketwilio import FakeCall, FakeTwilio

START = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # a Wednesday, 15:00 in London, 20:30 in Kolkata


class FakeNow:
    """The campaigns' clock (campaigns.clock): moves only when the test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)


def decide_by_script(call: FakeCall, behaviour: str) -> None:
    """A person answered: the bot's call ends qualified or rejected (as the pipeline stores
    it), then the server hangs up through Twilio's REST API, as after a bot's last line."""
    call_id = token_call_id(token_of(call))
    assert call_id is not None, "the dial's TwiML carries no valid call token"
    if behaviour == QUALIFIES:
        lifecycle.end_call(call_id, Call.Outcome.QUALIFIED, "qualified")
    else:
        lifecycle.end_call(call_id, Call.Outcome.REJECTED, "not_qualified:salaried")
    twilio_rest.hang_up(call.sid)


class Drive:
    def __init__(self, fake: FakeTwilio, now: FakeNow, *, decide: Callable[[FakeCall, str], None] | None = decide_by_script):
        self.now = now
        self.runner = Runner([DialQueue()], owner="test-dialer", clock=clock.now, concurrency=16)
        self.callees = Callees(fake, django_sender())
        self.callees.on_person = decide

    def round(self) -> int:
        """Plan and place what is due now, then let every callee answer; how many dials."""
        placed = self.runner.run_once()
        self.callees.pump()
        return placed

    def burst(self) -> int:
        """Rounds until every dial planned now is placed (the clock moved to each slot); how many."""
        placed = self.round()
        while (due := self.next_dial()) is not None and due - self.now.t <= timedelta(seconds=2):
            self.now.t = due
            placed += self.round()
        return placed

    def next_dial(self) -> datetime | None:
        """When the next planned dial's slot comes (a dial planned a little ahead, TWILIO_CPS)."""
        return Dial.objects.filter(status=Status.PENDING, next_attempt_at__gt=self.now.t).aggregate(
            t=Min("next_attempt_at"))["t"]

    def until_settled(self, *, step: timedelta = timedelta(minutes=1), limit: int = 2000,
                      check: Callable[[], None] | None = None) -> int:
        """Rounds, moving the clock `step` whenever a round dials nobody, until every lead is final."""
        for rounds in range(limit):
            placed = self.round()
            if check is not None:
                check()
            if not Lead.objects.exclude(state__in=FINAL_STATES).exists():
                return rounds
            if not placed:
                self.now.t = min(self.now.t + step, self.next_dial() or self.now.t + step)
        raise AssertionError(f"leads not final after {limit} rounds: {list(Lead.objects.exclude(state__in=FINAL_STATES).values_list('phone', 'state', 'next_try_at'))}")


def campaign(bot, **fields) -> Campaign:
    defaults = dict(name="Spring loans", time_zone="Europe/London", hours_start=time(9), hours_end=time(20),
                    days=list(range(7)), max_lines=5, max_attempts=3, state=Campaign.State.RUNNING)
    return Campaign.objects.create(bot=bot, **{**defaults, **fields})

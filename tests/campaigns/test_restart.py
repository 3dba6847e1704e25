"""A server that stops mid-campaign resumes with no double dial.

In process: a dial claimed by a runner that died before or after Twilio took it is claimed
again at the restart of the same WORKER_ID; the dialer asks Twilio before dialling, so it is
placed exactly once. Across processes: a real server (`python -m config.server`) running a
campaign against the fake Twilio and its callees is killed with SIGKILL mid-campaign and
started again; every lead reaches a final state, no number is ever dialled while a call to
it is up, and no attempt is dialled twice.
"""
from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time as wall
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from calls.outbox.items import Status
from calls.outbox.runner import Runner
from campaigns import clock
from campaigns.dialer import DialQueue
from campaigns.models import Attempt, Dial, Lead
from devtools.fakecallee import BUSY, FAILED, NO_ANSWER, QUALIFIES, VOICEMAIL, Callees, http_sender
from devtools.liveserver import PYTHON, ROOT, Worker, server_env
from tests.campaigns.support import Drive, campaign


def creates_to(fake, number: str) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/Calls.json") and r.one("To") == number)


@pytest.mark.usefixtures("dialling")
@pytest.mark.parametrize("reached_twilio", [True, False])
def test_a_dial_in_flight_when_the_server_died_is_placed_exactly_once(dialling, fake_now, loan_bot, reached_twilio):
    c = campaign(loan_bot, max_attempts=1)
    Lead.objects.create(campaign=c, phone="+919876500061", next_try_at=clock.now(), created_at=clock.now())
    drive = Drive(dialling, fake_now)  # the callees, and (below) the restarted worker-a
    drive.callees.script("+919876500061", NO_ANSWER)
    queue = DialQueue()
    dead = Runner([queue], owner="worker-a", clock=clock.now)
    dead._prepare(clock.now())
    (item,) = dead.claim(queue, clock.now(), 10)  # leased to worker-a, which dies ...
    if reached_twilio:
        assert queue.perform(item).ok  # ... after Twilio took the dial, before recording it
    drive.runner.owner = "worker-a"
    assert drive.runner.release_own_leases() == 1
    drive.until_settled()
    assert creates_to(dialling, "+919876500061") == 1
    dial = Dial.objects.get()
    assert (dial.status, dial.attempts, dial.carrier_sid != "") == (Status.DONE, 2, True)
    assert Attempt.objects.get().carrier_sid == dial.carrier_sid
    assert Lead.objects.get().state == "no_answer"


def manage(var_dir, env, *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.speech  # starts server processes (slow)
@pytest.mark.backend
def test_a_server_killed_mid_campaign_resumes_with_no_double_dial(tmp_path, fake_twilio):
    settings = {
        **fake_twilio.settings(public="https://bot.example.com"), "TWILIO_CPS": "40", "OUTBOX_POLL_S": "0.2",
        "WORKER_ID": "campaign-worker-1", "CAMPAIGN_RECONCILE_S": "5", "OUTBOUND_API_KEY": "k" * 20,
    }
    env = server_env(tmp_path, **settings)
    manage(tmp_path, env, "migrate", "-v0")
    created = json.loads(manage(tmp_path, env, "campaign", "create", "--bot", "quickrupee-loan", "--name", "Kill test",
                                "--hours", "00:00-23:59", "--days", "all", "--max-lines", "8", "--max-attempts", "2",
                                "--retry-no-answer", "0", "--retry-busy", "0", "--retry-failed", "0",
                                "--retry-voicemail", "0", "--json"))
    rng = random.Random(7)
    numbers = [f"+9198765{i:05d}" for i in range(60)]
    (tmp_path / "leads.csv").write_text("phone,name\n" + "".join(f"{n},Lead {i}\n" for i, n in enumerate(numbers)))
    manage(tmp_path, env, "campaign", "add-leads", str(created["id"]), str(tmp_path / "leads.csv"))
    manage(tmp_path, env, "campaign", "start", str(created["id"]))

    server = Worker(tmp_path, **settings)
    callees = Callees(fake_twilio, http_sender(server.url), ring_s=0.3, amd_s=0.2)
    for number in numbers:
        callees.script(number, *(rng.choice([NO_ANSWER, BUSY, VOICEMAIL, FAILED, QUALIFIES]) for _ in range(2)))
    callees.on_person = lambda call, behaviour: callees.complete(call.sid, after=0.5)  # they hang up on the bot
    callees.start()
    restarted = None
    try:
        asyncio.run(server.ready())
        deadline = wall.monotonic() + 120
        while len(callees.dials) < 25 and wall.monotonic() < deadline:
            wall.sleep(0.02)
        assert len(callees.dials) >= 25, server.log()[-3000:]
        server.kill()  # SIGKILL: nothing recorded after this
        killed_at = len(callees.dials)
        restarted = Worker(tmp_path, **settings)
        callees.send = http_sender(restarted.url)
        asyncio.run(restarted.ready())
        deadline = wall.monotonic() + 180
        while wall.monotonic() < deadline:
            waiting = restarted.query("select count(*) from campaigns_lead where state in ('queued', 'dialling', 'in_call')")
            if waiting[0][0] == 0:
                break
            wall.sleep(0.2)
        states = Counter(state for (state,) in restarted.query("select state from campaigns_lead"))
        assert sum(states.values()) == 60 and not {"queued", "dialling", "in_call"} & set(states), (states, restarted.log()[-3000:])
    finally:
        callees.stop()
        server.kill()
        if restarted is not None:
            restarted.kill()
    assert not callees.violations, callees.violations
    assert len(callees.dials) > killed_at  # the restarted server went on dialling
    per_attempt = Counter(
        parse_qs(urlsplit(r.one("StatusCallback")).query)["attempt"][0]
        for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json")
    )
    assert max(per_attempt.values()) == 1, per_attempt.most_common(3)
    per_number = Counter(number for _, number, _ in callees.dials)
    assert max(per_number.values()) <= 2
    dials = restarted.query("select count(*), sum(attempts) from campaigns_dial")
    assert dials[0][0] == len(per_attempt)

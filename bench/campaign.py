"""An outbound campaign of 2,000 leads at 100 lines through the Twilio simulator, with web
leads arriving meanwhile. Prints calls placed per minute, the time from a web lead's arrival
(its POST answered) to its first ring (Twilio accepting the dial), p50 / p95 / max, and the
server's CPU while it dialled.

A production worker (`python -m config.server`, devtools/liveserver.py) runs the campaign
as it would in production: the dialer on the outbox runner thread, Twilio's status and AMD
callbacks over HTTP. Twilio and the people it calls are local (devtools/faketwilio.py,
devtools/fakecallee.py): each dial rings for `--ring-s`; people (60 %) talk for `--talk-s`
then hang up, the rest are no answer, busy, voicemail (AMD hangs up on it) or fail. The
server's CPU is its whole process (the dialer, the callbacks, the calls' rows), read from
/proc before and after, so it is an upper bound on the dialer's own cost.

    .venv/bin/python bench/campaign.py [--leads 2000] [--lines 100]
        [--cps 20] [--web-leads 50] [--database-url postgres://...scratch-db]   # default: SQLite
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calls.percentile import percentile  # noqa: E402
from devtools.fakecallee import BUSY, FAILED, NO_ANSWER, QUALIFIES, VOICEMAIL, Callees, http_sender  # noqa: E402
from devtools.faketwilio import FakeTwilio  # noqa: E402
from devtools.liveserver import PYTHON, Worker, server_env  # noqa: E402

API_KEY = "bench-campaign-key-0123456789"
MIX = [(QUALIFIES, 60), (NO_ANSWER, 15), (BUSY, 10), (VOICEMAIL, 10), (FAILED, 5)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--cps", type=float, default=20.0)
    parser.add_argument("--web-leads", type=int, default=50)
    parser.add_argument("--ring-s", type=float, default=3.0)
    parser.add_argument("--talk-s", type=float, default=6.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--timeout-s", type=float, default=900)
    args = parser.parse_args()

    fake = FakeTwilio()
    settings = {**fake.settings(public="https://bot.example.com"), "TWILIO_CPS": str(args.cps),
                "OUTBOUND_API_KEY": API_KEY, "WORKER_ID": "bench-campaign", "OUTBOX_POLL_S": "1",
                "MAX_CALLS_PER_WORKER": str(args.lines * 3), "LOG_LEVEL": "warning"}
    if args.database_url:
        settings["DATABASE_URL"] = args.database_url
    var_dir = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    env = server_env(var_dir, **settings)
    manage(env, "migrate", "-v0")
    if args.database_url:
        manage(env, "flush", "--no-input")
        manage(env, "migrate", "-v0")
    common = ["--bot", "quickrupee-loan", "--hours", "00:00-23:59", "--days", "all", "--max-attempts", "1", "--json"]
    bulk = json.loads(manage(env, "campaign", "create", "--name", "bulk", "--max-lines", str(args.lines), *common))["id"]
    web = json.loads(manage(env, "campaign", "create", "--name", "web", "--max-lines", "20", *common))["id"]
    rng = random.Random(30)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    numbers = [f"+9198{i:08d}" for i in range(args.leads)]
    (var_dir / "leads.csv").write_text("phone,name,source\n" + "".join(f"{n},Lead {i},bench\n" for i, n in enumerate(numbers)))
    manage(env, "campaign", "add-leads", str(bulk), str(var_dir / "leads.csv"))
    # The web campaign starts with one lead (nobody answers); once it is final the campaign is
    # finished, and each web lead makes it run again (campaigns.leads_in.reopen).
    (var_dir / "seed.csv").write_text("phone,name\n+919600000000,Seed\n")
    manage(env, "campaign", "add-leads", str(web), str(var_dir / "seed.csv"))

    server = Worker(var_dir, **settings)
    callees = Callees(fake, http_sender(server.url), ring_s=args.ring_s, amd_s=1.0)
    for number in numbers:
        callees.script(number, rng.choice(kinds))
    callees.on_person = lambda call, behaviour: callees.complete(call.sid, after=args.talk_s)
    callees.start()
    web_numbers = [f"+9197{i:08d}" for i in range(args.web_leads)]
    for number in web_numbers:
        callees.script(number, QUALIFIES)
    arrivals: dict[str, float] = {}
    try:
        asyncio.run(server.ready())
        manage(env, "campaign", "start", str(web))  # fed by the API below
        cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()
        manage(env, "campaign", "start", str(bulk))

        def post_web_leads() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                time.sleep(5)  # the bulk campaign is at full lines by then
                for number in web_numbers:
                    answer = http.post(f"/api/campaigns/{web}/leads/", json={"phone": number, "name": "Web lead"},
                                       headers={"Authorization": f"Bearer {API_KEY}"})
                    arrivals[number] = time.monotonic()
                    assert answer.status_code == 201, answer.text
                    time.sleep(1.0)

        poster = threading.Thread(target=post_web_leads, daemon=True)
        poster.start()
        total = args.leads + args.web_leads + 1
        deadline = t0 + args.timeout_s
        while time.monotonic() < deadline:
            done = server.query("select count(*) from campaigns_lead where state not in ('queued', 'dialling', 'in_call')")
            if done[0][0] >= total and not poster.is_alive():
                break
            time.sleep(1)
        elapsed, cpu = time.monotonic() - t0, cpu_seconds(server.process.pid) - cpu0
        states = dict(server.query("select state, count(*) from campaigns_lead group by state"))
    finally:
        callees.stop()
        server.kill()
        fake.close()

    dials = sorted(at for at, _, _ in callees.dials)
    first = {number: at for at, number, _ in sorted(callees.dials, reverse=True)}
    waits = [first[n] - arrivals[n] for n in web_numbers if n in first and n in arrivals]
    span = (dials[-1] - dials[0]) if len(dials) > 1 else 1.0
    per_minute = [sum(1 for at in dials if start <= at < start + 60) for start in [dials[0] + 60 * k for k in range(int(span // 60) + 1)]]
    print(f"campaign: {args.leads} leads + {args.web_leads} web leads, {args.lines} lines, TWILIO_CPS {args.cps}, "
          f"ring {args.ring_s} s, talk {args.talk_s} s, db {'PostgreSQL' if args.database_url else 'SQLite'}")
    print(f"lead states: {states}")
    print(f"dials: {len(dials)} in {span:.1f} s = {len(dials) / span * 60:.0f} calls placed / minute "
          f"(full minutes: {per_minute[:-1] or per_minute}); peak lines {callees.peak_live}; "
          f"violations {len(callees.violations)}")
    if waits:
        print(f"web lead arrival -> first ring (n={len(waits)}): p50 {percentile(waits, 50):.2f} s, "
              f"p95 {percentile(waits, 95):.2f} s, max {max(waits):.2f} s")
    print(f"server CPU: {cpu:.1f} s over {elapsed:.0f} s = {cpu / elapsed * 100:.0f} % of one core, "
          f"{cpu / max(1, len(dials)) * 1000:.1f} ms per dial (dialer, callbacks and call rows together)")


if __name__ == "__main__":
    main()

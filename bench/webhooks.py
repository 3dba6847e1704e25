"""Lead webhooks under a burst: N calls end within S seconds (default 1,000 in 60 s) and
their events go to a receiver that answers in 300 ms. Prints the time from each call's
end (its transaction committed) to its webhook reaching the receiver and to the 2xx
being recorded (p50 / p95 / max, per event type), and what sending cost in CPU.

The server side runs as in production: `calls.persistence.lifecycle.end_call` writes
the events in the call's end transaction, and the outbox runner thread of the same
process (`calls.outbox.runner.start_runner`, OUTBOX_CONCURRENCY attempts in flight)
sends them. The receiver (tests/delivery/receiver.py) is another process, so its CPU
is not counted. The CPU cost is the process's CPU time with a destination minus a
baseline run that ends the same calls with no destination.

    .venv/bin/python bench/webhooks.py [--calls 1000] [--seconds 60] [--reply-ms 300]
        [--qualified 0.4] [--database-url postgres://...scratch-db]   # default: SQLite in a temp dir
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calls.percentile import percentile  # noqa: E402

SECRET = "whsec_" + "QmVuY2hXZWJob29rU2VjcmV0S2V5MTIzNDU2Nzg5MA=="  # a bench-only key


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime



# ---------------------------------------------------------------- the receiver process


def serve_receiver(port_out, log_path: str, reply_ms: int) -> None:
    from devtools.webhook_receiver import Receiver, Reply

    receiver = Receiver(default=Reply(200, delay_s=reply_ms / 1000)).__enter__()
    port_out.send(receiver.url)
    seen = 0
    with open(log_path, "a") as log:
        while True:
            with receiver.changed:
                receiver.changed.wait(1.0)
                fresh = receiver.requests[seen:]
            for r in fresh:  # arrival on the wall clock: comparable with the server process's
                log.write(f"{r.webhook_id} {time.time() - (time.monotonic() - r.at):.6f}\n")
            seen += len(fresh)
            log.flush()


# ---------------------------------------------------------------- one run of the server side


def run_phase(args: argparse.Namespace) -> dict:
    """In a fresh process: migrate, prepare the calls, end them on schedule, wait for delivery."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from bots.models import Bot
    from calls.delivery.models import Delivery
    from calls.outbox.runner import start_runner
    from calls.persistence import lifecycle
    from devtools.stored_calls import start_call  # a call in progress with its turns and answers

    bot = Bot.objects.get(slug="quickrupee-loan")
    ids = [str(start_call(bot).pk) for _ in range(args.calls)]
    connection.close()
    start_runner()
    every = args.seconds / args.calls
    qualified_every = max(1, round(1 / args.qualified)) if args.qualified > 0 else 0
    ended: dict[str, float] = {}
    cpu_start, t0 = cpu_seconds(), time.time()
    for i, call_id in enumerate(ids):
        time.sleep(max(0.0, t0 + i * every - time.time()))
        if qualified_every and i % qualified_every == 0:
            lifecycle.end_call(call_id, "qualified", "all_answers_qualify")
        else:
            lifecycle.end_call(call_id, "rejected", "not_qualified:monthly_salary")
        ended[call_id] = time.time()
    ending_s = time.time() - t0
    expected = Delivery.objects.count()
    deadline = time.time() + 600
    while Delivery.objects.filter(status="done").count() < expected and time.time() < deadline:
        time.sleep(0.2)
    cpu = cpu_seconds() - cpu_start
    rows = list(Delivery.objects.values_list("event__webhook_id", "event__call_id", "event__type", "done_at", "status"))
    return {
        "cpu_s": cpu, "ending_s": ending_s, "ended": ended,
        "deliveries": [(w, str(c), t, d.timestamp() if d else None, s) for w, c, t, d, s in rows],
    }


def phase_process(args: argparse.Namespace, var_dir: str, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=var_dir, SECRET_KEY="bench-" + "x" * 40,
               WEBHOOK_ALLOW_PRIVATE="1", OUTBOX_WORKER="1", SPEECH_WARMUP="0", STALE_SWEEP_S="0",
               LEAD_WEBHOOK_URL=url, LEAD_WEBHOOK_SECRET=SECRET if url else "")
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.concurrency:
        env["OUTBOX_CONCURRENCY"] = str(args.concurrency)
    out = Path(var_dir) / "result.json"
    command = [sys.executable, __file__, "--phase-out", str(out), "--calls", str(args.calls),
               "--seconds", str(args.seconds), "--qualified", str(args.qualified)]
    subprocess.run(command, env=env, cwd=ROOT, check=True)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--reply-ms", type=int, default=300)
    parser.add_argument("--qualified", type=float, default=0.5, help="share of calls that end qualified")
    parser.add_argument("--concurrency", type=int, default=0, help="OUTBOX_CONCURRENCY (default: the setting's)")
    parser.add_argument("--database-url", default="", help="a scratch database (default: SQLite in a temp dir)")
    parser.add_argument("--phase-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_out:
        Path(args.phase_out).write_text(json.dumps(run_phase(args)))
        return

    with tempfile.TemporaryDirectory(prefix="voicebot-bench-webhooks-") as tmp:
        arrivals_log = Path(tmp) / "arrivals.log"
        ours, theirs = multiprocessing.Pipe()
        receiver = multiprocessing.Process(target=serve_receiver, args=(theirs, str(arrivals_log), args.reply_ms),
                                           daemon=True)
        receiver.start()
        url = ours.recv()
        try:
            print(f"{args.calls} calls ending over {args.seconds:.0f} s; receiver answers in {args.reply_ms} ms "
                  f"({args.database_url.split('@')[-1] if args.database_url else 'SQLite'})")
            baseline = phase_process(args, str(Path(tmp) / "baseline"), "")
            result = phase_process(args, str(Path(tmp) / "webhooks"), url)
            time.sleep(1.5)  # the receiver process flushes its log every second
        finally:
            receiver.terminate()
        arrived = {}
        for line in arrivals_log.read_text().splitlines():
            webhook_id, at = line.split()
            arrived.setdefault(webhook_id, float(at))
    report(args, baseline, result, arrived)


def report(args: argparse.Namespace, baseline: dict, result: dict, arrived: dict[str, float]) -> None:
    ended = result["ended"]
    deliveries = result["deliveries"]
    print(f"ending the calls took {result['ending_s']:.1f} s; {len(deliveries)} deliveries, "
          f"{sum(1 for d in deliveries if d[4] == 'done')} delivered, {len(arrived)} distinct webhook-ids received")
    for kind in ("call.ended", "lead.qualified"):
        rows = [d for d in deliveries if d[2] == kind]
        to_receiver = [(arrived[w] - ended[c]) * 1000 for w, c, _, _, _ in rows if w in arrived]
        to_recorded = [(done - ended[c]) * 1000 for _, c, _, done, _ in rows if done]
        if not to_receiver:
            continue
        print(f"  {kind:15} n={len(rows):4}  end->received p50 {percentile(to_receiver, 50):7.0f} ms  "
              f"p95 {percentile(to_receiver, 95):7.0f} ms  max {max(to_receiver):7.0f} ms   "
              f"end->2xx recorded p95 {percentile(to_recorded, 95):7.0f} ms")
    extra = result["cpu_s"] - baseline["cpu_s"]
    print(f"server CPU: {result['cpu_s']:.1f} s with webhooks, {baseline['cpu_s']:.1f} s ending the same calls "
          f"without: {extra:.1f} s for {len(deliveries)} deliveries = {1000 * extra / max(1, len(deliveries)):.1f} ms "
          f"CPU per delivery ({100 * extra / result['ending_s']:.0f} % of one core while the calls ended)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(shared with other work: figures are noisy)")


if __name__ == "__main__":
    main()

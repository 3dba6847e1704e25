"""Phone calls obey the same limits as web calls: the drain, admission and the call rate limit.

A carrier cannot read our `busy` error, so a phone call that may not start is told in
its own terms: at Twilio's Voice webhook with TwiML `<Reject reason="busy"/>` (a busy
tone, and the call is never answered), and on a stream (Exotel's, or a Twilio stream
that reached a full worker) with a short spoken line and a hang-up
(`calls.transport.phone.streams`).

- Drain: a worker that is stopping takes no new phone call.
- Admission: the webhook asks for a free line anywhere on the server
  (`server_free_slots`, as `POST /api/calls/` does); a stream takes one of this
  worker's lines (`take_line`), refused when MAX_CALLS_PER_WORKER are taken.
- Rate limit: CALL_RATE_LIMIT calls per CALL_RATE_WINDOW per caller number; callers
  whose number is withheld share one count per source (the carrier's address).
"""
from __future__ import annotations

import re

from calls import metrics
from calls.http.ratelimit import PHONE_CALLS, call_wait_seconds
from calls.worker import admission
from calls.worker.registry import LiveCall, live_calls

BUSY = "busy"
RATE_LIMITED = "rate_limited"
MIN_DIGITS = 5  # fewer digits than this is not a number anyone can call back ("anonymous", "", "restricted")


def caller_key(number: str, source: str) -> str:
    """What the rate limit counts a phone caller by: its number's digits, else its source."""
    digits = re.sub(r"\D", "", number or "")
    return f"number:{digits}" if len(digits) >= MIN_DIGITS else f"withheld:{source or 'unknown'}"


def refusal(number: str, source: str, *, lines_anywhere: bool) -> str | None:
    """Why a phone call from `number` may not start now (BUSY, RATE_LIMITED), or None.
    Counts the call against the rate limit. Blocking (the cache): async code uses a thread.
    `lines_anywhere`: also refuse when no worker of the server has a free line."""
    reason = None
    if live_calls.draining:
        reason = BUSY
    elif call_wait_seconds(PHONE_CALLS, caller_key(number, source)):
        reason = RATE_LIMITED
    elif lines_anywhere and admission.server_free_slots() <= 0:
        reason = BUSY
    if reason is not None:
        metrics.refused(reason)
    return reason


def take_line(key: str) -> LiveCall | None:
    """One of this worker's lines for a phone stream, or None (full or draining: counted busy).
    Like `calls.worker.registry.LiveCalls.enter`, the line also goes with the call's
    pipeline: a carrier's stream may stay open after the call ended."""
    line = admission.admit(key)
    if line is None:
        metrics.refused(BUSY)
        return None
    line.held = False
    return line

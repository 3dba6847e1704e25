"""One typed call played to its end against a running server, for smoke tests.

    python -m devtools.typed_call http://127.0.0.1:8000 [--bot SLUG] [ANSWER ...]

answers every question by typing, reads the call as the server stored it
(`GET /api/calls/<id>/`) and prints it as JSON; exit 1 unless the call ended with
a stored outcome. `scripts/image-smoke.sh` runs it against the container image.
It only ever connects to the loopback address it is given.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from devtools.callclient import CallClient, stored_call
from devtools.servers import Network

LOAN_BOT = "quickrupee-loan"
QUALIFYING_ANSWERS = ("yes I am salaried", "fifty thousand a month", "I live in Mumbai")


async def typed_call(
    base_url: str, bot: str = LOAN_BOT, answers: tuple[str, ...] = QUALIFYING_ANSWERS
) -> dict[str, Any]:
    """Play one typed call to its end; the call as the server stored it, with the
    `call.ended` event (`ended_event`) and the socket's `close_code`."""
    server = Network(base_url)
    call = await CallClient.start(bot, "push_to_talk", server=server)
    for text in answers:
        await call.say_text(text)
    ended = await call.ended()
    stored = await stored_call(call.created, server=server)
    stored["ended_event"] = ended
    stored["close_code"] = call.close_code
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8000 (loopback only)")
    parser.add_argument("--bot", default=LOAN_BOT)
    parser.add_argument("answers", nargs="*", default=list(QUALIFYING_ANSWERS))
    args = parser.parse_args(argv)
    if urlsplit(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("only loopback addresses are allowed")
    stored = asyncio.run(typed_call(args.url, args.bot, tuple(args.answers)))
    print(json.dumps({k: stored[k] for k in ("call_id", "status", "outcome", "reason", "answers", "close_code")}, indent=2))
    return 0 if stored["status"] == "ended" and stored["outcome"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The line a phone caller hears when the call cannot start: "all lines are busy".

A carrier's stream has no way to show our `busy` error, so a refused phone caller is
told in words, then hung up (`calls.transport.phone.streams`). The line is a scripted
one, the same for every caller, so the prompt cache makes it once and replays it: a
full worker spends no synthesis on refusing.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

BUSY_LINE = "Sorry, all our lines are busy just now. Please call again in a few minutes."


async def busy_audio() -> tuple[bytes, int]:
    """The busy line as PCM and its sample rate; (b"", 0) when no voice can say it
    (the caller is then hung up without it)."""
    from calls.providers import registry
    from calls.runtime.prompt_cache import prompt_cache

    try:
        tts = registry.get_tts()
        chunks = [chunk async for chunk in prompt_cache.synthesize_cached(tts, BUSY_LINE)]
    except Exception:
        log.exception("the busy line could not be synthesized; hanging up without it")
        return b"", 0
    return b"".join(chunks), tts.sample_rate

"""Load and warm the speech engines once per server process, off the event loop,
then synthesize every active bot's scripted lines into the prompt cache, so the
first caller pays neither for model loading nor for synthesis.

`state` says how far the warm-up got; `/readyz` answers 200 only once both
parts are `ready` (or warm-up is `off`), so a load balancer sends no caller to a
cold worker."""
from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings

from config import heap

log = logging.getLogger(__name__)
_started = False

PENDING, READY, FAILED, OFF = "pending", "ready", "failed", "off"


class WarmupState:
    """Progress of this process's warm-up: `engines` and `prompt_cache`, each pending/ready/failed/off."""

    def __init__(self) -> None:
        self.engines = PENDING
        self.prompt_cache = PENDING

    def as_dict(self) -> dict[str, str]:
        if not settings.SPEECH_WARMUP:
            return {"speech_engines": OFF, "prompt_cache": OFF}
        return {"speech_engines": self.engines, "prompt_cache": self.prompt_cache}


state = WarmupState()


def scripted_lines() -> list[tuple[str, list[str]]]:
    """(voice, lines) of every active bot with questions."""
    from bots.dialogue import Dialogue
    from bots.models import Bot

    out = []
    for bot in Bot.objects.filter(active=True).prefetch_related("questions"):
        if bot.questions.all():
            out.append((bot.voice, Dialogue(bot.to_script()).scripted_lines()))
    return out


async def warm(lines: list[tuple[str, list[str]]]) -> None:
    from calls.providers import registry
    from calls.runtime.prompt_cache import prompt_cache

    try:
        await registry.warmup_all()
    except BaseException:
        state.engines = state.prompt_cache = FAILED
        raise
    state.engines = READY
    tts = registry.get_tts()
    try:
        for voice, texts in lines:
            await prompt_cache.prefetch(tts, texts, voice)
    except BaseException:
        state.prompt_cache = FAILED
        raise
    heap.freeze()  # what the engines loaded lives as long as the process (before ready: the pass stops the loop)
    state.prompt_cache = READY


def start_warmup() -> None:
    global _started
    if _started or not settings.SPEECH_WARMUP:
        return
    _started = True

    def run() -> None:
        try:
            lines = scripted_lines()
        except Exception:  # e.g. not migrated yet: engines still warm
            log.warning("could not read bot scripts for the prompt cache", exc_info=True)
            lines = []
        try:
            asyncio.run(warm(lines))
            log.info("speech engines ready; %d scripted lines cached", sum(len(t) for _, t in lines),
                     extra={"event": "warmup.ready"})
        except Exception:
            log.exception("speech engine warm-up failed; engines will load on first use",
                          extra={"event": "warmup.failed"})

    threading.Thread(target=run, name="speech-warmup", daemon=True).start()

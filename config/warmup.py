"""Load and warm the speech engines once per server process, off the event loop,
then synthesize every active bot's scripted lines into the prompt cache, so the
first caller pays neither for model loading nor for synthesis."""
from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)
_started = False


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
    from calls.prompt_cache import prompt_cache
    from calls.providers import registry

    await registry.warmup_all()
    tts = registry.get_tts()
    for voice, texts in lines:
        await prompt_cache.prefetch(tts, texts, voice)


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
            log.info("speech engines ready; %d scripted lines cached", sum(len(t) for _, t in lines))
        except Exception:
            log.exception("speech engine warm-up failed; engines will load on first use")

    threading.Thread(target=run, name="speech-warmup", daemon=True).start()

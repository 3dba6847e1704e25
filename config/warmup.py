"""Load and warm the speech engines once per server process, off the event loop."""
from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)
_started = False


def start_warmup() -> None:
    global _started
    if _started or not settings.SPEECH_WARMUP:
        return
    _started = True

    def run() -> None:
        from calls.providers import registry

        try:
            asyncio.run(registry.warmup_all())
            log.info("speech engines ready")
        except Exception:
            log.exception("speech engine warm-up failed; engines will load on first use")

    threading.Thread(target=run, name="speech-warmup", daemon=True).start()

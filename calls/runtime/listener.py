"""The caller's side of one call: audio in → utterances out.

Resampling to 16 kHz, voice activity detection, endpointing (hands-free) or
button releases (push-to-talk), and early recognition: at the caller's first
pause recognition starts on what was said so far, and is kept if the caller
does not go on. The turn coordinator (`calls.runtime.pipeline`) gets `ListenerEvents`.

VAD runs on the event loop, never through a hop to a worker thread per frame
(that made every call queue behind the executor): the windows every call
delivers within 10 ms go through Silero as one batch
(`calls.providers.silero_vad`), which costs about half as much per window.
Each call's VAD runs in its own task, beside the socket's frame handling: had
each frame waited for its batch, a call could take at most one frame per batch
cycle, and once a loaded worker's cycle passed 20 ms (the frame interval)
frames queued up by the second (bench/load, 300 calls: a frame waited 1 s
p50 before the pipeline saw it). The task takes every window pending at once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings

from calls import metrics
from calls.audio import StreamResampler, window_rms
from calls.providers.base import ASRProvider, ProviderError, Transcript, VADProvider
from calls.runtime.endpointing import Endpointer, PauseLevel, VadEvent
from calls.runtime.ports import ListenerEvents
from calls.runtime.tasks import Spawn, unowned

log = logging.getLogger(__name__)

ENGINE_RATE = 16000
PREROLL_MS = 300  # audio kept before detected speech start (VAD needs a few windows)
MAX_UTTERANCE_S = 30  # an utterance is ended here even if the VAD still hears speech (a TV)
IDLE_KEEP_S = 10  # hands-free: audio kept since the last utterance, for an end_of_speech the VAD did not hear
QUIET_RMS = 30  # below this RMS (about -60 dBFS) buffered audio holds nothing to recognise
MIN_PTT_BYTES = int(ENGINE_RATE * 2 * 0.1)  # under 100 ms between releases: nothing was said
MAX_VAD_BACKLOG_S = 2.0  # audio a call's VAD task may fall behind before feeding waits for it
MARKS_KEEP_S = 2  # how far back frames' receive times are kept (well past the VAD hangover)
EOS_VAD_WAIT_S = 0.15  # push-to-talk: a VAD further behind than this at end_of_speech gets recognition started without it

Recognised = tuple[Transcript, str, float]  # what was heard, provider, milliseconds


@dataclass
class Utterance:
    """One caller turn: audio to recognise, or typed text."""

    turn: int
    ended_at: float  # perf_counter when the server received the end of caller speech
    pcm: bytes = b""
    text: str | None = None
    early_asr: asyncio.Task[Recognised] | None = None
    silence: bool = False  # not caller words: the caller has said nothing for SILENCE_TIMEOUT_S
    keypad: str = ""  # a phone key pressed (DTMF) instead of words


class Listener:
    def __init__(
        self,
        events: ListenerEvents,
        *,
        vad: VADProvider,
        asr: list[ASRProvider],
        mode: str,
        language: str = "en",
        hint: Callable[[float], str] = lambda seconds: "",
        call_id: str = "",
        max_utterance_s: float = MAX_UTTERANCE_S,
        spawn: Spawn = unowned,
    ) -> None:
        """`spawn` starts this listener's tasks (VAD, early recognitions): the call's `CallTasks`."""
        self.events = events
        self.spawn = spawn
        self.max_utterance_samples = int(max_utterance_s * ENGINE_RATE)
        self.asr = asr
        self.mode = mode
        self.language = language
        self.call_id = call_id
        self.input_rate = 16000
        self.audio_started = False
        self._resampler = StreamResampler(self.input_rate, ENGINE_RATE)
        self._vad_stream = vad.new_stream()
        self._endpointer = Endpointer(
            window_samples=vad.window_samples, threshold=settings.VAD_THRESHOLD, hangover_ms=settings.VAD_HANGOVER_MS
        )
        self._window_bytes = vad.window_samples * 2
        self._pause_level = PauseLevel()  # push-to-talk: pauses after the model heard the start
        self._model_behind = False  # push-to-talk: windows went by the level, not through the model
        self._vad_pending = bytearray()  # 16 kHz audio not yet run through VAD
        self._vad_task: asyncio.Task[None] | None = None  # runs the pending windows through VAD
        self._vad_taken = 0  # samples taken off _vad_pending so far
        # Each frame's end (in samples put on _vad_pending, less any dropped: _vad_taken plus
        # what is pending) and when it was received, for the frames of the last MARKS_KEEP_S:
        # an utterance's end is dated by the frame that held it.
        self._mark_ends: list[int] = []
        self._mark_times: list[float] = []
        self._vad_failed = False
        self._max_backlog_bytes = int(MAX_VAD_BACKLOG_S * ENGINE_RATE * 2)
        self._buffer = bytearray()  # 16 kHz audio of the current (or next) utterance
        self._buffer_origin = 0  # absolute sample index of _buffer[0]
        self._speech_started_at = 0  # absolute sample of the current utterance's start
        self._early: asyncio.Task[Recognised] | None = None
        self._heard_speech = False  # push-to-talk: the VAD heard speech since the last release
        self.hint = hint  # the question being answered, as a decoding prompt
        # Told of each early recognition as it comes back (what was heard, the audio heard),
        # so that a second listen can start before the caller's turn ends (answer_hearing).
        self.on_early_heard: Callable[[Transcript, bytes], None] | None = None

    @property
    def in_speech(self) -> bool:
        return self._endpointer.in_speech

    def set_input_rate(self, rate: int) -> None:
        self.input_rate = rate
        self._resampler = StreamResampler(rate, ENGINE_RATE)

    # ------------------------------------------------------------------ input
    async def feed(self, data: bytes, received_at: float) -> None:
        """One well-formed binary frame (`calls.runtime.protocol.parse_audio_frame` checked
        it before the call's audio pace counts it): caller PCM s16le mono at the input rate.

        The frame is buffered and handed to this call's VAD task; the caller's next
        frame is not held up by the VAD (only when the task is more than
        MAX_VAD_BACKLOG_S behind does feeding wait for it)."""
        self.audio_started = True
        pcm = self._resampler.process(data)
        if not pcm:
            return
        self._buffer += pcm
        self._vad_pending += pcm
        self._mark_ends.append(self._vad_taken + len(self._vad_pending) // 2)
        self._mark_times.append(received_at)
        if len(self._vad_pending) >= self._window_bytes and (self._vad_task is None or self._vad_task.done()):
            self._vad_task = self.spawn(self._run_vad(), "vad")
        if len(self._vad_pending) > self._max_backlog_bytes:
            await self.settle()

    async def settle(self) -> None:
        """Until every whole window fed so far has been through the VAD (and its events
        handled). Cancelling the waiter does not stop the VAD task."""
        task = self._vad_task
        if task is not None and not task.done():
            await asyncio.wait([task])

    async def _run_vad(self) -> None:
        """This call's VAD task: all the whole windows pending go through the model in one
        submission (`probabilities`, batched with other calls'), again until none are
        left. Each window's events carry the receive time of the frame that completed it.
        A failure in what the events set off is logged here (nobody awaits this task);
        the next frame starts the task again."""
        try:
            await self._vad_windows()
        except Exception:
            log.exception("call %s: handling the caller's audio failed", self.call_id, extra={"event": "vad.task_failed"})

    async def _vad_windows(self) -> None:
        while len(self._vad_pending) >= self._window_bytes:
            usable = len(self._vad_pending) - len(self._vad_pending) % self._window_bytes
            view = bytes(self._vad_pending[:usable])
            del self._vad_pending[:usable]
            first = self._vad_taken
            self._vad_taken += usable // 2
            try:
                probabilities = await self._score(view)
            except Exception as exc:  # a broken VAD must not end the call: its windows count as silence
                probabilities = [0.0] * (usable // self._window_bytes)
                log.error("VAD failed", exc_info=exc, extra={"event": "vad.failed"})
                if not self._vad_failed:  # told once; end_of_speech still ends a turn
                    self._vad_failed = True
                    await self.events.error("vad_failed", "Voice detection failed on the server; send end_of_speech to end a turn.")
            window = self._window_bytes // 2
            for k, probability in enumerate(probabilities):
                events = self._endpointer.push(probability)
                if events:  # dated by the frame that completed this window
                    received_at = self._received_at(first + (k + 1) * window)
                    for event in events:
                        await self._on_vad(event, received_at)
                if self.mode == "vad" and self._endpointer.in_speech and (
                    self._endpointer.position - self._speech_started_at >= self.max_utterance_samples
                ):  # speech that never pauses (a TV, a crowd) must not hold the turn open
                    await self._force_end(self._received_at(first + (k + 1) * window))
            self._trim_buffer()
            self._forget_marks()

    async def _score(self, view: bytes) -> list[float]:
        """Speech probabilities of whole windows. Hands-free: the model's, always. Push-to-talk:
        the model's until it hears the caller begin (barge-in, `user.speech.started`); then,
        until the speech ends or the button is released, the level's (`PauseLevel`): past
        the start, the model would only look for a pause at which to start recognition
        early, and its cost per window was a third of a loaded worker's event loop
        (bench/load, 300 push-to-talk calls)."""
        if self.mode == "vad":
            return await self._vad_stream.probabilities(view)
        levels = window_rms(np.frombuffer(view, dtype="<i2").reshape(-1, self._window_bytes // 2)).tolist()
        if self._endpointer.in_speech:
            self._model_behind = True
            return self._pause_level.scores(levels)
        if self._model_behind:  # its state is from before the speech it did not hear: start afresh
            self._vad_stream.reset()
            self._model_behind = False
        probabilities = await self._vad_stream.probabilities(view)
        self._pause_level.observe(levels)
        return probabilities

    def _received_at(self, sample: int) -> float:
        """When the frame holding VAD sample `sample` - 1 (counted from the call's start) came in."""
        i = bisect_left(self._mark_ends, sample)
        if i < len(self._mark_times):
            return self._mark_times[i]
        return self._mark_times[-1] if self._mark_times else time.perf_counter()

    def _forget_marks(self) -> None:
        """Keep the marks of the last MARKS_KEEP_S of audio the VAD has seen (an utterance
        ends a hangover after its last words; a max-length cut looks back no further)."""
        horizon = self._vad_taken - MARKS_KEEP_S * ENGINE_RATE
        drop = bisect_left(self._mark_ends, horizon)
        if drop > 64:  # in steps, not per frame
            del self._mark_ends[:drop]
            del self._mark_times[:drop]

    async def end_of_speech(self, received_at: float) -> None:
        """The client's `end_of_speech`: what was buffered is recognised, whatever the VAD made of it.

        The VAD's verdict on the audio already in decides whether recognition started at
        the caller's last pause still holds, so it is awaited. In push-to-talk, when it is
        more than EOS_VAD_WAIT_S behind (a loaded worker: bench/load, 300 calls, had it
        450 ms behind for the slowest tenth of answers), the whole utterance goes to
        recognition at once, beside the VAD catching up, and the first of the two
        recognitions that may stand is the answer (`_first_heard`)."""
        fresh: asyncio.Task[Recognised] | None = None
        if self.mode != "vad" and self._vad_task is not None and not self._vad_task.done():
            await asyncio.wait([self._vad_task], timeout=EOS_VAD_WAIT_S)
            if not self._vad_task.done() and len(self._buffer) >= MIN_PTT_BYTES:
                fresh = self.spawn(self.recognise(bytes(self._buffer)), "asr-at-release")
        await self.settle()
        if self.mode == "vad":
            if not await self._force_end(received_at):
                await self._unheard_utterance(received_at)
            return
        # Push-to-talk: everything since the last release is the utterance.
        pcm = bytes(self._buffer)
        # Recognition started at the caller's last pause still holds if no speech followed it.
        early = self._early if (not self._endpointer.in_speech or self._endpointer.tentative) else None
        if early is None:
            self._discard_early()
        self._early = None
        self._heard_speech = False
        self._buffer.clear()
        self._vad_pending.clear()
        self._mark_ends.clear()
        self._mark_times.clear()
        self._endpointer.reset_position(self._endpointer.position)
        self._pause_level.reset()
        self._buffer_origin = self._endpointer.position
        if len(pcm) < MIN_PTT_BYTES:
            if early is not None:
                early.cancel()
            await self.events.nothing_said()
            return
        if fresh is not None:
            early = fresh if early is None else self.spawn(_first_heard(early, fresh), "asr-first")
        await self.events.utterance_ended(Utterance(turn=0, ended_at=received_at, pcm=pcm, early_asr=early))

    async def flush(self, received_at: float) -> None:
        """The caller left: speech under way (hands-free) or not yet released (push-to-talk)
        ends here as an utterance, so it is still recognised and stored."""
        await self.settle()
        if self.mode == "vad":
            await self._force_end(received_at)
        elif self._heard_speech:
            await self.end_of_speech(received_at)

    async def _force_end(self, received_at: float) -> bool:
        """Hands-free: end the utterance under way now; False if there was none."""
        event = self._endpointer.force_end()
        if event is None:
            return False
        await self._end_utterance(event.sample, received_at)
        return True

    async def _unheard_utterance(self, received_at: float) -> None:
        """Hands-free `end_of_speech` with no speech the VAD heard (a faint voice, a client
        with its own endpointing): the audio since the last utterance is the utterance."""
        end = self._endpointer.position
        pcm = self._slice(self._speech_started_at, end)
        self._speech_started_at = end
        if len(pcm) < MIN_PTT_BYTES or _rms(pcm) < QUIET_RMS:
            await self.events.nothing_said()
            return
        await self.events.speech_started()
        await self.events.utterance_ended(Utterance(turn=0, ended_at=received_at, pcm=pcm))

    # ------------------------------------------------------------------ endpointing
    async def _on_vad(self, event: VadEvent, received_at: float) -> None:
        """Both modes start recognition early on a tentative end (discarded if the
        caller goes on); only `vad` mode ends utterances itself."""
        ptt = self.mode != "vad"
        if event.kind == "start":
            self._heard_speech = True
            self._discard_early()
            if not ptt:
                self._speech_started_at = max(self._buffer_origin, event.sample - PREROLL_MS * ENGINE_RATE // 1000)
            await self.events.speech_started()
        elif event.kind == "tentative_end":
            # Push-to-talk: through the window that made the pause (a soft last sound below
            # the pause level is kept); hands-free: the speech as the VAD bounded it.
            start, end = (self._buffer_origin, self._endpointer.position) if ptt else (self._speech_started_at, event.sample)
            pcm = self._slice(start, end)
            self._discard_early()
            self._early = self.spawn(self._recognise_early(pcm), "early-asr")
        elif event.kind == "resume":
            self._discard_early()
        elif event.kind == "end" and not ptt:
            await self._end_utterance(event.sample, received_at)

    async def _end_utterance(self, end_sample: int, received_at: float) -> None:
        # The end was seen `hangover` after the last speech, in the frame received at
        # `received_at`; the speech ended when the frame that held its last window came in.
        ended_at = min(received_at, self._received_at(end_sample))
        pcm = self._slice(self._speech_started_at, end_sample)
        early, self._early = self._early, None
        self._speech_started_at = end_sample
        await self.events.utterance_ended(Utterance(turn=0, ended_at=ended_at, pcm=pcm, early_asr=early))

    def _slice(self, start_sample: int, end_sample: int) -> bytes:
        lo = max(0, (start_sample - self._buffer_origin) * 2)
        hi = max(lo, (end_sample - self._buffer_origin) * 2)
        return bytes(self._buffer[lo:hi])[: self.max_utterance_samples * 2]

    def _trim_buffer(self) -> None:
        """Keep only the pre-roll while nobody speaks; cap a runaway utterance."""
        if self.mode != "vad":
            limit = self.max_utterance_samples * 2
            if len(self._buffer) > limit:
                drop = len(self._buffer) - limit
                del self._buffer[:drop]
                self._buffer_origin += drop // 2
            return
        # Idle, the audio since the last utterance is kept (IDLE_KEEP_S at most) for an
        # end_of_speech the VAD did not hear; the pre-roll of the next utterance is in it.
        position = self._endpointer.position
        if self._endpointer.in_speech:
            keep_from = max(self._speech_started_at, position - self.max_utterance_samples)
        else:
            keep_from = max(self._speech_started_at, position - IDLE_KEEP_S * ENGINE_RATE)
            keep_from = min(keep_from, position - PREROLL_MS * ENGINE_RATE // 1000)
        drop = (keep_from - self._buffer_origin) * 2
        if drop > 0:
            del self._buffer[:drop]
            self._buffer_origin = keep_from

    def _discard_early(self) -> None:
        if self._early is not None:
            self._early.cancel()
            self._early = None

    # ------------------------------------------------------------------ recognition
    async def transcript(self, utt: Utterance) -> Recognised:
        """The utterance's transcript: the early recognition if it holds, else now."""
        if utt.early_asr is not None:
            try:
                return await utt.early_asr
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        return await self.recognise(utt.pcm)

    async def _recognise_early(self, pcm: bytes) -> Recognised:
        """Recognition started at the caller's pause; `on_early_heard` is told what it heard."""
        recognised = await self.recognise(pcm)
        if self.on_early_heard is not None:
            self.on_early_heard(recognised[0], pcm)
        return recognised

    async def recognise(self, pcm: bytes) -> Recognised:
        """Transcript, provider name and ASR milliseconds; falls back on provider failure."""
        started = time.perf_counter()
        for i, engine in enumerate(self.asr):
            try:
                heard = await engine.transcribe(pcm, language=self.language, hint=self.hint(len(pcm) / 2 / ENGINE_RATE))
                return replace(heard, text=heard.text.strip()), engine.name, round((time.perf_counter() - started) * 1000, 1)
            except ProviderError as exc:
                log.warning("ASR %s failed: %s", engine.name, exc, extra={"event": "asr.failed", "provider": engine.name})
                more = i + 1 < len(self.asr)
                metrics.provider_failed(engine.name, exc.kind, self.asr[i + 1].name if more else None)
                await self.events.error(
                    "asr_failed",
                    f"Speech recognition ({engine.name}) failed" + (f"; using {self.asr[i + 1].name} for this turn." if more else "."),
                )
        return Transcript(""), "none", round((time.perf_counter() - started) * 1000, 1)

    def close(self) -> None:
        self._discard_early()
        if self._vad_task is not None:
            self._vad_task.cancel()


async def _first_heard(*recognitions: asyncio.Task[Recognised]) -> Recognised:
    """The first of several recognitions of the same utterance to finish; the others are
    cancelled. One that failed or was cancelled leaves it to the rest."""
    pending = set(recognitions)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is None:
                    return task.result()
        return await recognitions[-1]  # every one failed: the last one's error
    finally:
        for task in pending:
            task.cancel()


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0

"""Per-turn latency of one call: stage timings in, one row, the metrics and a `latency` event out.

The coordinator stamps a turn at stage boundaries it already has (recognition
done, the dialogue decided, the first bot audio sent), never inside a provider,
into a `TurnTiming`; when the reply's first audio leaves, `LatencyRecorder.report`
turns it into the four stages of protocol §3 (`asr`, `nlu`, `tts_first_audio`,
`response`), queues the `LatencySample` row, observes the Prometheus histogram
and tells the client. `response` runs from when the server received the end of
the caller's words (the frame's receive stamp, `perf_counter`) to the moment the
first frame of the reply was sent, so time a frame waited inside the server counts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from calls import metrics
from calls.runtime.ports import CallRecords, Output


def ms_since(started: float) -> float:
    """Milliseconds from `started` (perf_counter) to now, to 0.1 ms."""
    return round((time.perf_counter() - started) * 1000, 1)


@dataclass
class TurnTiming:
    """What one turn's stages took so far, and which provider served each."""

    asr_ms: float | None = None
    nlu_ms: float | None = None
    providers: dict[str, str] = field(default_factory=dict)


class LatencyRecorder:
    """Reports each answered turn's latency for one call (`mode`: the histogram's label)."""

    def __init__(self, records: CallRecords, out: Output, mode: str) -> None:
        self.records = records
        self.out = out
        self.mode = mode

    async def report(self, turn: int, timing: TurnTiming, ended_at: float, tts_provider: str, tts_ms: float) -> None:
        """The reply to `turn` sent its first audio just now (`tts_ms` after it was asked for)."""
        stages = {"asr": timing.asr_ms, "nlu": timing.nlu_ms, "tts_first_audio": tts_ms, "response": ms_since(ended_at)}
        providers = {**timing.providers, "tts_first_audio": tts_provider, "response": timing.providers.get("asr", "text")}
        self.records.latency(turn, stages, providers)
        metrics.turn_latency(self.mode, stages, providers)
        await self.out.send_event({"type": "latency", "turn": turn, **{f"{k}_ms": v for k, v in stages.items()}})

"""The one registry of the calls this worker process is running.

Three things need to know which calls are live here, and they used to keep three
sets that could disagree: admission control (how many lines are taken, protocol
§3, `calls.worker.admission`), the graceful drain (which calls to wait for or end,
`calls.worker.drain`) and the liveness janitor (which call ids to stamp with a
heartbeat, `calls.worker.heartbeat`). They now read one `LiveCalls`.

A call enters when a socket takes a line for it (`admit`, refused when the
worker is full or not admitting; a phone stream `enter`s without a check, a
carrier cannot be told "busy") and leaves when that socket lets go (`release`;
a phone call's line also goes with its pipeline).
Its pipeline joins the entry once the call has started (`add`, called by
`calls.runtime.call_lifecycle`) and leaves when it is torn down (`discard`). Whether the worker
takes new calls lives here too, because it changes together with the set: a
drain stops admissions and then watches the set empty.

Watchers (`watch`) hear of every change: the admission publisher and a drain in
progress. Thread-safe: the janitor and publisher threads read it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Watcher = Callable[[], None]


class Running(Protocol):
    """A started call (`calls.runtime.pipeline.CallPipeline`): what the registry and the drain use."""

    ctx: Any  # .call_id

    async def end_for_shutdown(self) -> None: ...


@dataclass(eq=False)
class LiveCall:
    """One call's place in the registry: its line, and its pipeline once started."""

    call_id: str
    pipeline: Running | None = None
    held: bool = True  # the line stays after its pipeline leaves, until the socket releases it


class LiveCalls:
    """This worker's live calls, and whether it takes new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LiveCall] = []
        self._watchers: list[Watcher] = []
        self._paused = False  # stopped by hand (`stop_admitting`)
        self._draining = False  # stopping for good (calls.worker.drain, SIGTERM)

    # ------------------------------------------------------------------ taking new calls
    @property
    def draining(self) -> bool:
        return self._draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self._draining = value
        self._changed()

    @property
    def admitting(self) -> bool:
        """False once stopped by hand, or while the worker drains."""
        return not self._paused and not self._draining

    @admitting.setter
    def admitting(self, value: bool) -> None:
        self._paused = not value
        self._changed()

    def stop_admitting(self) -> None:
        """Take no new calls (the calls in progress go on)."""
        self.admitting = False

    # ------------------------------------------------------------------ lines
    def admit(self, call_id: str, capacity: int) -> LiveCall | None:
        """A line for `call_id`, or None when `capacity` lines are taken or the worker is not admitting."""
        with self._lock:
            if not self.admitting or len(self._entries) >= capacity:
                return None
            entry = LiveCall(call_id)
            self._entries.append(entry)
        self._changed()
        return entry

    def enter(self, call_id: str) -> LiveCall:
        """A line for `call_id` without a check (a phone stream cannot be refused "busy").

        The line goes when the socket releases it or when the call's pipeline, once
        joined, shuts down, whichever comes first (a carrier's stream may stay open
        after the call ended)."""
        entry = LiveCall(call_id, held=False)
        with self._lock:
            self._entries.append(entry)
        self._changed()
        return entry

    def release(self, entry: LiveCall) -> None:
        """The socket is done with its line (idempotent)."""
        with self._lock:
            found = entry in self._entries
            if found:
                self._entries.remove(entry)
                if entry.pipeline is not None:  # another socket for this call (two raced) may own it
                    self._pipeline_joins(entry.call_id, entry.pipeline, create=False)
            entry.held = False
        if found:
            self._changed()

    # ------------------------------------------------------------------ pipelines
    def add(self, pipeline: Running) -> None:
        """The call has started: its pipeline joins its line (or takes one, if no socket holds it)."""
        with self._lock:
            self._pipeline_joins(str(pipeline.ctx.call_id), pipeline, create=True)
        self._changed()

    def _pipeline_joins(self, call_id: str, pipeline: Running, *, create: bool) -> None:
        entry = next((e for e in self._entries if e.call_id == call_id and e.pipeline is None), None)
        if entry is None and create:
            entry = LiveCall(call_id, held=False)
            self._entries.append(entry)
        if entry is not None:
            entry.pipeline = pipeline

    def discard(self, pipeline: Running) -> None:
        """The pipeline has shut down (idempotent); a line nobody holds goes with it."""
        with self._lock:
            entry = next((e for e in self._entries if e.pipeline is pipeline), None)
            if entry is None:
                return
            entry.pipeline = None
            if not entry.held:
                self._entries.remove(entry)
        self._changed()

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        """Lines taken (admission control counts these)."""
        return len(self._entries)

    def call_ids(self) -> list[str]:
        """The calls alive here (the janitor's heartbeat)."""
        with self._lock:
            return sorted({e.call_id for e in self._entries})

    def running(self) -> list[Running]:
        """The started calls' pipelines (what a drain waits for, then ends)."""
        with self._lock:
            return [e.pipeline for e in self._entries if e.pipeline is not None]

    # ------------------------------------------------------------------ watching
    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call `watcher()` after every change (any thread); returns the way to stop."""
        with self._lock:
            self._watchers.append(watcher)

        def unwatch() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return unwatch

    def _changed(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher()


live_calls = LiveCalls()

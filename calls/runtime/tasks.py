"""One owner for every task a call starts, and the call's timers on its `Clock`.

Why: a call starts tasks from many places (the turn worker, each bot line, the
recognitions started early, the caller's last turns after a hang-up, its timers).
When each part kept its own, teardown had to remember every one of them, and a
task it forgot outlived the call (a timer that ended a call already over, a
recognition nobody would read). Here they all go through one `CallTasks`:
`spawn()` starts and keeps a task, `later()` runs an action after a delay on the
call's clock (so a test moves time with a fake clock, never the wall clock), and
`close()` at the end of the call cancels every one but the task calling it.

While an owner holds tasks, a process-level set holds the owner: a call whose
socket handler is gone (daphne cancels it after a disconnect) still finishes its
last turns and its teardown. A task that fails is logged with its call id.

Not owned here, on purpose, because they must outlive the call: the prompt
prefetch (the process's `PromptCache` owns it: the cache serves every call) and
the database writes (`calls.persistence.write_queue` holds them through an outage).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from calls.runtime.ports import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")
Action = Callable[[], "Awaitable[None] | None"]


class Spawn(Protocol):
    """How a part of a call starts a task: `CallTasks.spawn` in a call, `unowned` alone (tests, benches)."""

    def __call__(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]: ...


def unowned(coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """A plain task, for a part used outside a call (the caller keeps its reference)."""
    return asyncio.get_running_loop().create_task(coro, name=name)


# Owners with tasks running: a strong reference, so no call's task is collected mid-flight.
_busy: set[CallTasks] = set()


class Timer:
    """An action due after a delay on the call's clock; `cancel()` stops it."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    def cancel(self) -> None:
        if self._task is not asyncio.current_task():  # an action that re-arms its own timer
            self._task.cancel()


class CallTasks:
    """Every task of one call (`call_id`, for the log). `close()` once the call is over."""

    def __init__(self, call_id: str = "") -> None:
        self.call_id = call_id
        self.closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Run `coro` as a task of this call. After `close()` it is cancelled before it starts."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        _busy.add(self)
        task.add_done_callback(self._done)
        if self.closed:
            task.cancel()
        return task

    def later(self, clock: Clock, delay: float, action: Action, name: str) -> Timer:
        """`action()` (awaited if it returns an awaitable) `delay` seconds from now on `clock`."""
        return Timer(self.spawn(_after(clock, delay, action), name))

    def close(self) -> None:
        """The call is over: cancel every task but the one calling (it is finishing the call)."""
        self.closed = True
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            _busy.discard(self)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "call %s: task %s failed", self.call_id, task.get_name(), exc_info=task.exception(),
                extra={"event": "call.task_failed", "call_id": self.call_id},
            )


async def _after(clock: Clock, delay: float, action: Action) -> None:
    await clock.sleep(delay)
    result = action()
    if inspect.isawaitable(result):
        await result

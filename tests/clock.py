"""A fake clock for code that takes a `calls.runtime.ports.Clock`: time moves only when a test says so."""
from __future__ import annotations

import asyncio
import heapq
import itertools


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), future))
        await future

    @property
    def sleeping(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())

    async def settle(self) -> None:
        """Let every task run until it waits on this clock (or on something else)."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order (each runs before time moves on)."""
        end = self.t + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            when, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.t = end
        await self.settle()

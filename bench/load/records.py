"""Records lost: each ended call as the server stored it, against what its socket said."""
from __future__ import annotations

import asyncio

from bench.load.caller import CallResult
from devtools.servers import Network


async def verify(base: str, results: list[CallResult]) -> list[str]:
    """Compare each ended call's stored record with what its socket said; one line per call that differs."""
    import httpx

    lost: list[str] = []
    sem = asyncio.Semaphore(20)
    async with httpx.AsyncClient(timeout=30) as http:
        server = Network(base, http)

        async def check(r: CallResult) -> None:
            async with sem:
                answer = await server.get_json(f"/api/calls/{r.call_id}/", {"Authorization": f"Bearer {r.token}"})
            if answer.status != 200:
                lost.append(f"{r.call_id}: GET {answer.status}")
                return
            stored = answer.body
            problems = []
            if stored["status"] != "ended" or stored["outcome"] != r.seen["outcome"]:
                problems.append(f"status {stored['status']}/{stored['outcome']}")
            for key, name in (("answers", "answers"), ("turns", "turns"), ("latency", "latency rows")):
                if len(stored[key]) != r.seen[key]:
                    problems.append(f"{name} {len(stored[key])}/{r.seen[key]}")
            if problems:
                lost.append(f"{r.call_id}: " + ", ".join(problems))

        await asyncio.gather(*(check(r) for r in results if r.seen))
    return lost

"""CPU, memory and scheduling of a process tree, read from /proc (Linux).

The server under test is a process tree (scripts/serve.sh, haproxy, the workers);
its CPU and memory are the sums over the tree, and where its event loops' time went
(on a CPU, or waiting for one) tells a machine short of CPU from slow code.
"""
from __future__ import annotations

import os
import time


def proc_stats() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields from the state on (index 1 is the parent)."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            stats[int(entry)] = raw[raw.rindex(")") + 2 :].split()
    return stats


def descendants(pid: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    """`pid` and every process below it (from `stats`, read now if not given)."""
    children: dict[int, list[int]] = {}
    for child, fields in (proc_stats() if stats is None else stats).items():
        children.setdefault(int(fields[1]), []).append(child)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class Scheduling:
    """Where the CPU went while the calls ran: the workers' event-loop threads' time on a
    CPU and waiting in the run queue for one (/proc/<pid>/schedstat, nanoseconds), and the
    whole machine's split (/proc/stat). Waiting shows a machine short of CPU, which the
    server's own latency figures cannot tell from slow code."""

    def __init__(self, server_pid: int) -> None:
        self.loops = [p for p in descendants(server_pid) if b"config.server" in _cmdline(p)]
        self.start = (self._loops(), self._machine(), time.monotonic())

    def _loops(self) -> tuple[int, int]:
        on_cpu = waiting = 0
        for pid in self.loops:  # a worker's main thread runs its event loop
            try:
                with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
                    ran, waited, _ = (int(x) for x in f.read().split())
            except OSError:  # a worker replaced (rolling restart): not counted
                continue
            on_cpu, waiting = on_cpu + ran, waiting + waited
        return on_cpu, waiting

    @staticmethod
    def _machine() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal

    def report(self) -> dict[str, float]:
        (ran0, waited0), machine0, t0 = self.start
        ran1, waited1 = self._loops()
        machine1, t1 = self._machine(), time.monotonic()
        wall = max(t1 - t0, 1e-9) * max(len(self.loops), 1)
        ticks = [b - a for a, b in zip(machine0, machine1)]
        cores = (os.cpu_count() or 1) / max(sum(ticks), 1)
        user, nice, system, idle, iowait, irq, softirq, steal = (t * cores for t in ticks)
        return {
            "loop_on_cpu": (ran1 - ran0) / 1e9 / wall, "loop_waiting_for_cpu": (waited1 - waited0) / 1e9 / wall,
            "machine_user": user + nice, "machine_system": system + irq + softirq, "machine_idle": idle + iowait,
            "machine_steal": steal,
        }


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def tree_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds used, RSS bytes) summed over `pid` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    stats = proc_stats()
    total_cpu, total_rss = 0.0, 0
    for p in descendants(pid, stats):
        fields = stats.get(p)
        if fields is not None:
            total_cpu += (int(fields[11]) + int(fields[12])) / tick
            total_rss += int(fields[21]) * page
    return total_cpu, total_rss

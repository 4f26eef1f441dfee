"""How many threads the local model gets: one per core that other programs leave free,
measured from the CPU counters between replies (Linux /proc; a fixed fallback elsewhere).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

# -- threads --------------------------------------------------------------------------
# llama.cpp splits every step of the model across its threads and makes them wait for
# each other (a barrier) many times per token. When another program holds a core, the
# thread that lands on it is preempted for a whole time slice while the others spin at
# the barrier: on 2 cores with one busy, 2 threads answered "Say OK" in 51 s against
# 6.5 s with 1 thread (issue 12). So Rung counts only the cores that other programs
# leave free, measured between replies (bench/local_threads.py, docs/PERFORMANCE.md).

# A CPU counts as taken when other programs kept it busy at least this share of the
# time: llama.cpp's threads wait for the slowest one, so a half-free core is worth
# less than none.
BUSY_SHARE = 0.4
# The shortest stretch of time over which CPU use is judged (/proc/stat counts in
# 10 ms ticks, so shorter windows are mostly rounding).
MIN_WINDOW_S = 0.1
# While idle, the worker re-reads the CPU counters this often, so the load a reply sees
# is at most a few seconds old (two small file reads; nothing else runs).
WINDOW_REFRESH_S = 5.0


@dataclass(frozen=True)
class CpuTimes:
    """One reading of the CPU counters, in seconds."""

    at: float  # time.monotonic()
    busy: float  # CPU time used on the CPUs we may run on, by anyone (incl. VM steal)
    own: float  # CPU time used by this process and its finished children (the probe)


def read_cpu_times(cpus: frozenset[int] | None = None) -> CpuTimes | None:
    """The counters now, from /proc (Linux); None where there is no /proc."""
    try:
        stat = Path("/proc/stat").read_text()
        own_stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in stat.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal: all but idle and iowait is busy.
        values = [int(v) for v in fields[:8]]
        busy += sum(values) - values[3] - values[4]
    # Fields after the command name (which may hold spaces): utime is the 14th field.
    rest = own_stat[own_stat.rfind(")") + 2 :].split()
    own = sum(int(v) for v in rest[11:15])  # utime, stime, cutime, cstime
    return CpuTimes(time.monotonic(), busy / tick, own / tick)


def others_busy(before: CpuTimes, after: CpuTimes) -> float | None:
    """How many CPUs' worth of work other programs did between two readings (None when
    the readings are too close together to say)."""
    wall = after.at - before.at
    if wall < MIN_WINDOW_S:
        return None
    return max(0.0, (after.busy - before.busy) - (after.own - before.own)) / wall


def choose_threads(cores: int, cpus: int, others: float | None) -> int:
    """llama.cpp threads for the next reply.

    ``cores``: usable physical cores; ``cpus``: logical CPUs we may run on; ``others``:
    CPUs' worth of work other programs are doing (None: unknown). One thread per core
    that other programs leave free, and always at least one.
    """
    if others is None:
        return fallback_threads(cores)
    taken = math.floor(others + 1 - BUSY_SHARE)
    return max(1, min(cores, cpus - taken))


def fallback_threads(cores: int) -> int:
    """Where CPU use cannot be read (no /proc: macOS, Windows)."""
    return max(1, cores - 1) if cores > 2 else cores

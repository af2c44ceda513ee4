"""Where the time of an analysis went: named phases, recorded cheaply, read by
``veriscope analyze --timings FILE`` and by ``benchmarks/e2e_speed.py``.

A phase is timed with ``with phase("write.maps"): ...``; :func:`take` returns the phases
recorded since the last call (in order; a name seen twice is summed) and starts afresh. The
record is per process (worker processes send theirs back with each outcome).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_PHASES: dict[str, float] = {}


@contextmanager
def phase(name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - t0)


def add(name: str, seconds: float) -> None:
    _PHASES[name] = _PHASES.get(name, 0.0) + float(seconds)


def take() -> dict[str, float]:
    """The phases recorded so far (seconds, rounded to 0.1 ms), and a fresh record."""
    out = {k: round(v, 4) for k, v in _PHASES.items()}
    _PHASES.clear()
    return out

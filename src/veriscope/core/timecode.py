"""Time as people read it in reports: ``mm:ss.s``."""

from __future__ import annotations


def clock(t: float) -> str:
    """Seconds as ``mm:ss.s`` (``00:03.2``), ``h:mm:ss.s`` from one hour on."""
    t = max(0.0, float(t))
    tenths = int(round(t * 10))
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    sec = f"{rest // 10:02d}.{rest % 10}"
    return f"{h}:{m:02d}:{sec}" if h else f"{m:02d}:{sec}"

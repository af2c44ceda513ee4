"""Where the bench keeps what it can rebuild: detector outputs, generated sets, perturbed
copies (``$VERISCOPE_CACHE``, default ``~/.cache/veriscope``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("VERISCOPE_CACHE") or Path.home() / ".cache" / "veriscope")

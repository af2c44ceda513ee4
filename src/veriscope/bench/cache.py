"""Where the bench keeps what it can rebuild: detector outputs, generated sets, perturbed
copies (``$VERISCOPE_CACHE``, default ``~/.cache/veriscope``)."""

from __future__ import annotations

import os
from pathlib import Path

from veriscope.core.media import file_sha256  # noqa: F401 (the key of cached outputs; bench modules import it here)


def cache_root() -> Path:
    return Path(os.environ.get("VERISCOPE_CACHE") or Path.home() / ".cache" / "veriscope")



"""Where the bench keeps what it can rebuild: detector outputs, generated sets, perturbed
copies (``$VERISCOPE_CACHE``, default ``~/.cache/veriscope``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("VERISCOPE_CACHE") or Path.home() / ".cache" / "veriscope")


def file_sha256(path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks: the key of cached outputs."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

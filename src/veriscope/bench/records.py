"""What a dataset is made of: :class:`Record` (one medium, its label, mask, segments...),
the file extensions of each kind, the mask rules and :func:`read_mask`. Adapters
(:mod:`veriscope.bench.datasets`, :mod:`veriscope.bench.adapters`) and the generated sets
(:mod:`veriscope.bench.synth`) build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm"}
AUDIO_EXTS = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus"}

# How a mask file is turned into a boolean "manipulated" map (see read_mask).
MASK_RULES = {
    "gt127": "grey level > 127: binary masks, white = manipulated (the default)",
    "nonblack": "grey level > 32: 3-level maps where grey (collateral change) and white both count",
    "inverted": "grey level < 128: black = manipulated (DSO-1)",
    "green": "green > 127 and red < 128: Columbia edge masks, green = spliced, red = authentic",
}


@dataclass
class Record:
    media: Path
    label: int
    mask: Path | None = None
    segments: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    split: str | None = None
    group: str | None = None
    kind: str | None = None  # e.g. the forgery type
    meta: dict = field(default_factory=dict)
    mask_rule: str | None = None  # a key of MASK_RULES; None = "gt127"


def read_manifest(path) -> list[list[str]]:
    """The rows of a tab-separated file list kept in the repository (e.g.
    benchmarks/data/camera_fit.tsv); lines starting with ``#`` are its header."""
    lines = Path(path).read_text().splitlines()
    return [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]


def file_matches(path, sha256: str) -> bool:
    """True when ``path`` exists and its bytes have this SHA-256."""
    from veriscope.bench.cache import file_sha256

    return Path(path).is_file() and file_sha256(path) == sha256


def read_mask(record_or_path, rule: str | None = None):
    """The mask as a boolean array (True = manipulated), applying the record's ``mask_rule``."""
    import numpy as np
    from PIL import Image

    if isinstance(record_or_path, Record):
        path, rule = record_or_path.mask, rule or record_or_path.mask_rule
    else:
        path = record_or_path
    if path is None:
        raise ValueError("record has no mask")
    rule = rule or "gt127"
    if rule not in MASK_RULES:
        raise ValueError(f"{path}: unknown mask rule {rule!r} (known: {', '.join(MASK_RULES)})")
    try:
        with Image.open(path) as im:
            if rule == "green":
                a = np.asarray(im.convert("RGB"))
                return (a[..., 1] > 127) & (a[..., 0] < 128)
            g = np.asarray(im.convert("L"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read mask ({e})") from e
    if rule == "nonblack":
        return g > 32
    if rule == "inverted":
        return g < 128
    return g > 127


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)

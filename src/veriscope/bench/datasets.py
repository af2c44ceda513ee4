"""Dataset adapters: every layout becomes a list of :class:`Record`.

A record's ``label`` is 1 for manipulated or synthetic media and 0 for media
with no known manipulation; ``mask`` (if any) is a path to an image of the same
size as the media, read by :func:`read_mask` under the record's ``mask_rule``
(default: luminance > 127 = manipulated). Each adapter's expected layout is
described in docs/datasets.md; the adapters for the public sets live in
``veriscope.bench.adapters`` and are registered here (imported on first use).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path

from veriscope.bench.records import (  # noqa: F401 (re-exported: adapters and tests use them here)
    AUDIO_EXTS,
    IMAGE_EXTS,
    MASK_RULES,
    VIDEO_EXTS,
    Record,
    _images,
    read_mask,
)


def noso(root: Path) -> list[Record]:
    """NoSo copy-move: NN.png originals (0), NN_mod*.png forgeries (1) with NN_mod*_gt.png masks."""
    out = []
    for p in sorted(root.glob("*.png")):
        stem = p.stem
        if stem.endswith("_gt"):
            continue
        if "_mod" in stem:
            gt = p.with_name(stem + "_gt.png")
            out.append(Record(p, 1, gt if gt.exists() else None, group=stem[:2], kind="copy_move"))
        else:
            out.append(Record(p, 0, group=stem[:2]))
    return out


def micc_f220(root: Path) -> list[Record]:
    """MICC-F220 image-level labels from groundtruthDB_220.txt (no masks)."""
    base = root / "MICC-F220" if (root / "MICC-F220").is_dir() else root
    gt = base / "groundtruthDB_220.txt"
    if not gt.is_file():
        raise ValueError(f"{gt}: MICC-F220 ground-truth list not found")
    out = []
    with open(gt, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = [x.strip() for x in line.replace("\t", ",").split(",") if x.strip()]
            if len(parts) < 2:
                continue
            p = base / parts[0]
            if p.exists():
                out.append(Record(p, int(parts[1]), kind="copy_move" if parts[1] == "1" else None))
    return out


def all_real(root: Path) -> list[Record]:
    return [Record(p, 0, group=p.parent.name) for p in _images(root)]


def all_fake(root: Path) -> list[Record]:
    return [Record(p, 1, group=p.parent.name) for p in _images(root)]


def pristine(root: Path) -> list[Record]:
    """pristine-kodak24-cbsd68-mcmaster: all real; split = subfolder (kodak24 is the FIT split)."""
    return [Record(p, 0, split="fit" if p.parent.name == "kodak24" else "eval", group=p.parent.name)
            for p in _images(root)]


def folder(root: Path) -> list[Record]:
    """Generic: labels.csv (columns file,label[,mask][,split][,group]) or real/ and fake/ subfolders."""
    csv_path = root / "labels.csv"
    if csv_path.exists():
        out = []
        with open(csv_path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                lab = str(row.get("label", "")).strip().lower()
                y = 1 if lab in ("1", "fake", "manipulated", "synthetic", "tampered", "ai") else 0
                mask = row.get("mask") or None
                out.append(Record(root / row["file"], y, root / mask if mask else None,
                                  split=row.get("split") or None, group=row.get("group") or None))
        return out
    out = []
    for sub, y in (("real", 0), ("authentic", 0), ("fake", 1), ("tampered", 1), ("manipulated", 1)):
        if (root / sub).is_dir():
            out += [Record(p, y, group=sub) for p in _images(root / sub)]
    if not out:
        raise ValueError(f"{root}: no labels.csv and no real/ fake/ subfolders")
    return out


def _synth(split: str):
    def adapter(root: Path) -> list[Record]:
        from veriscope.bench import synth
        from veriscope.bench.cache import cache_root

        return synth.build(root, cache_root() / "synth" / split, split=split)

    adapter.__doc__ = f"Forgeries synthesized from the {split.upper()} split of the pristine set (synth/1)."
    return adapter


def _lazy(module: str, func: str) -> Callable[..., list[Record]]:
    """An adapter from ``veriscope.bench.adapters.<module>``, imported when first called."""

    def adapter(root: Path, **kw) -> list[Record]:
        mod = importlib.import_module(f"veriscope.bench.adapters.{module}")
        return getattr(mod, func)(Path(root), **kw)

    adapter.__name__ = adapter.__qualname__ = func
    adapter.__doc__ = f"See veriscope.bench.adapters.{module}.{func} and docs/datasets.md."
    return adapter


ADAPTERS: dict[str, Callable[[Path], list[Record]]] = {
    "noso": noso,
    "micc-f220": micc_f220,
    "exif-samples": all_real,
    "pristine": pristine,
    "comfyui": _lazy("shared", "comfyui"),
    "folder": folder,
    "synth-fit": _synth("fit"),
    "synth-eval": _synth("eval"),
    # public image-forgery sets
    "casia1": _lazy("forgery", "casia1"),
    "casia2": _lazy("forgery", "casia2"),
    "columbia": _lazy("forgery", "columbia"),
    "coverage": _lazy("forgery", "coverage"),
    "comofod": _lazy("forgery", "comofod"),
    "dso1": _lazy("forgery", "dso1"),
    "korus": _lazy("forgery", "korus"),
    "imd2020": _lazy("forgery", "imd2020"),
    "defacto": _lazy("forgery", "defacto"),
    "micc-f2000": _lazy("forgery", "micc_f2000"),
    # synthetic images
    "genimage": _lazy("synthetic", "genimage"),
    "ai-image-eval": _lazy("shared", "ai_image_eval"),
    # face / audio-visual video sets
    "ffpp": _lazy("video", "ffpp"),
    "dfdc": _lazy("video", "dfdc"),
    "celebdf": _lazy("video", "celebdf"),
    "lavdf": _lazy("video", "lavdf"),
    "avdeepfake1m": _lazy("video", "avdeepfake1m"),
    # image + caption
    "dgm4": _lazy("multimodal", "dgm4"),
    "dgm4-image": _lazy("multimodal", "dgm4_image"),
    # speech anti-spoofing
    "asvspoof2019la": _lazy("audio", "asvspoof2019la"),
    # the sets in ../shared/data (see each README.txt)
    "micc-f8multi": _lazy("shared", "micc_f8multi"),
    "icpr2020dfdc-video-samples": _lazy("shared", "icpr2020dfdc"),
    "espnet-tts-real-vs-synth": _lazy("shared", "espnet_tts"),
    "fsdd-spoken-digits-subset": _lazy("shared", "fsdd"),
    "resemblyzer-trump-real-fake": _lazy("shared", "resemblyzer"),
    "talking-face-videoretalking-examples": _lazy("shared", "talking_face"),
}


def load(spec: str) -> tuple[str, list[Record]]:
    """``NAME:PATH`` -> (name, records). NAME picks the adapter."""
    if ":" not in spec:
        raise ValueError(f"dataset must be NAME:PATH, got {spec!r} (names: {', '.join(ADAPTERS)})")
    name, path = spec.split(":", 1)
    if name not in ADAPTERS:
        raise ValueError(f"unknown dataset adapter {name!r} (known: {', '.join(ADAPTERS)})")
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    return name, ADAPTERS[name](root)


def fingerprint(records: list[Record]) -> str:
    """sha256 over (relative name, size, label, mask name) of every record: detects a changed set."""
    h = hashlib.sha256()
    for r in records:
        rule = f"|{r.mask_rule}" if r.mask_rule else ""  # absent for the default rule
        h.update(f"{r.media.name}|{r.media.stat().st_size}|{r.label}|"
                 f"{r.mask.name if r.mask else ''}{rule}\n".encode())
    return h.hexdigest()

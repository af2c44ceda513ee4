"""Where the ``ai_image`` model's pictures come from, and which of them it may learn from.

Every picture is an :class:`Item` with a *source* (one folder of one origin: a shared data set,
or one fetched repository listed in ``manifests/ai_image/*.tsv``), a label (1 = made by a
generator, 0 = a real photograph) and a *family* (the generator family, or ``photo``).

Sources are split by role, never by picture, so that no EVAL source is ever read by training:

- :data:`EVAL_SOURCES`: third-party real-vs-AI sets the committed model is measured on and never
  trained on: the RAISE realness test split (both classes, the same PNG format and size), the
  ML72 AI pictures, the camera JPEGs of exif-samples and the CBSD68 / McMaster pristine photos
  (the last two for false alarms on camera photos and scans);
- every other source is TRAIN. Inside TRAIN a fixed fifth of each source's pictures (by the hash
  of the file's bytes) is the CAL split: never used to fit the CNN or the trace classifier, only
  to fit the combination of the two and the thresholds.

Fetched sources are read from ``--extra DIR`` (``DIR/<owner+name>/<path>``), each listed with its
SHA-256 in a manifest; a file whose bytes differ is skipped and counted, never used.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from veriscope.core.media import file_sha256
from veriscope.train import common

MANIFEST_DIR = Path(__file__).with_name("manifests") / "ai_image"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

EVAL_SOURCES = ("raise", "ml72", "camera_jpegs", "pristine_eval")
"""Never trained on (docs/detectors/ai_image.md, "Data")."""

CAL_SHARE = 5
"""One picture in CAL_SHARE of each TRAIN source (by content hash) is the CAL split."""


@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    source: str
    family: str
    sha256: str = ""

    @property
    def key(self) -> str:
        return self.sha256 or hashlib.sha256(str(self.path).encode()).hexdigest()

    @property
    def role(self) -> str:
        if self.source in EVAL_SOURCES:
            return "eval"
        return "cal" if int(self.key[:8], 16) % CAL_SHARE == 0 else "fit"


def find_data_root(given: str | Path | None = None) -> Path:
    """The shared data folder that holds the ComfyUI sets (see train.common)."""
    return common.find_data_root(given, ("comfyui-generated-with-metadata",))


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def _labels_csv(folder: Path) -> list[tuple[Path, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return [(folder / row["file"], str(row.get("label", "")).strip().lower())
                for row in csv.DictReader(fh)]


def shared_items(root: Path) -> list[Item]:
    """The shared sets, each with its source name and role (see the module text)."""
    out: list[Item] = []
    for sub in ("comfyui-generated-with-metadata", "comfyui-generated-extra-subset"):
        out += [Item(p, 1, "comfyui", "diffusion") for p in _images(root / sub)]
    r = root / "raise-realness-test"
    if (r / "labels.csv").is_file():
        for p, lab in _labels_csv(r):
            out.append(Item(p, 1 if lab == "ai" else 0, "raise",
                            "diffusion" if lab == "ai" else "photo"))
    out += [Item(p, 1, "ml72", "mixed") for p in _images(root / "ml72-ai-images-559px")]
    out += [Item(p, 1, "gan_faces", "gan") for p in _images(root / "gan-faces-stylegan-basemax-subset")]
    out += [Item(p, 0, "real_faces", "photo") for p in _images(root / "deepface-real-faces-subset")]
    out += [Item(p, 0, "camera_jpegs", "photo") for p in _images(root / "exif-samples-camera-jpegs")]
    pr = root / "pristine-kodak24-cbsd68-mcmaster"
    for p in _images(pr):
        src = "pristine_kodak" if "kodak" in p.parent.name.lower() else "pristine_eval"
        out.append(Item(p, 0, src, "photo"))
    micc = root / "micc-f220" / "MICC-F220"
    gt = micc / "groundtruthDB_220.txt"
    if gt.is_file():
        for line in gt.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = [x.strip() for x in line.replace("\t", ",").split(",") if x.strip()]
            if len(parts) >= 2 and parts[1] == "0" and (micc / parts[0]).is_file():
                out.append(Item(micc / parts[0], 0, "micc_originals", "photo"))
    noso = root / "noso-copymove"
    out += [Item(p, 0, "noso_originals", "photo") for p in sorted(noso.glob("[0-9][0-9].png"))]
    return out


def manifest_items(extra: Path, manifest_dir: Path = MANIFEST_DIR,
                   check: bool = True) -> tuple[list[Item], dict]:
    """Items of every fetched source found under ``extra``; counts of missing / mismatched."""
    out: list[Item] = []
    stats = {"missing": 0, "mismatch": 0, "sources": {}}
    for m in sorted(manifest_dir.glob("*.tsv")):
        meta, rows = common.read_manifest(m)
        base = extra / m.stem
        n = 0
        for row in rows:
            p = base / row["path"]
            if not p.is_file():
                stats["missing"] += 1
                continue
            if check and file_sha256(p) != row["sha256"]:
                stats["mismatch"] += 1
                continue
            label = 1 if row["label"].strip().lower() == "ai" else 0
            out.append(Item(p, label, m.stem, row["family"], row["sha256"]))
            n += 1
        stats["sources"][m.stem] = {"found": n, "listed": len(rows),
                                    "commit": meta.get("commit", "")}
    return out, stats


def with_hashes(items: list[Item]) -> list[Item]:
    """Items with their content hash filled in (the CAL split and de-duplication use it)."""
    out, seen = [], set()
    for it in items:
        h = it.sha256 or file_sha256(it.path)
        if h in seen:
            continue
        seen.add(h)
        out.append(Item(it.path, it.label, it.source, it.family, h))
    return out

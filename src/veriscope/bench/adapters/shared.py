"""Adapters for the offline sets in ``../shared/data`` (each folder's README.txt is the source).

noso, micc-f220, exif-samples and pristine live in ``veriscope.bench.datasets``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from veriscope.bench.adapters._common import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    VIDEO_EXTS,
    Record,
    files,
    need_dir,
    nonempty,
    read_lines,
)
from veriscope.bench.adapters.video import dfdc, ffpp


def micc_f8multi(root: Path) -> list[Record]:
    """MICC-F8multi: 8 JPEGs, all copy-move with several cloned regions (no masks, no originals).
    The root may be the micc-f220 folder that holds ``MICC-F8multi/``."""
    base = root / "MICC-F8multi" if (root / "MICC-F8multi").is_dir() else root
    return nonempty([Record(p, 1, kind="copy_move") for p in files(base, IMAGE_EXTS)],
                    base, "MICC-F8multi JPEGs")


def comfyui(root: Path) -> list[Record]:
    """ComfyUI example outputs: every image is AI-generated (1). ``labels.csv`` (file, folder,
    width, height, model files) gives ``group``/``kind`` = the generator folder."""
    rows: dict[str, dict] = {}
    lab = root / "labels.csv"
    if lab.is_file():
        with open(lab, newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), 2):
                if not row.get("file"):
                    raise ValueError(f"{lab}:{n}: row without 'file'")
                if not (root / row["file"]).is_file():
                    raise ValueError(f"{root / row['file']}: listed in labels.csv but missing")
                rows[row["file"]] = row
    out = []
    for p in files(root, IMAGE_EXTS):
        row = rows.get(p.name, {})
        gen = row.get("folder") or p.stem.split("__", 1)[0]
        meta = {"generator_folder": gen}
        if row.get("model_files_in_prompt_metadata"):
            meta["model_files"] = [m.strip() for m in row["model_files_in_prompt_metadata"].split("|")]
        out.append(Record(p, 1, group=gen, kind=gen, meta=meta))
    return nonempty(out, root, "ComfyUI PNGs")


def icpr2020dfdc(root: Path) -> list[Record]:
    """icpr2020dfdc test fixtures: ``test/data/ffpp`` (FF++ c23 layout) + ``test/data/dfdc``
    (DFDC part folders; videos listed in metadata.json but absent are skipped, per README)."""
    base = root / "test" / "data" if (root / "test" / "data").is_dir() else root
    return ffpp(need_dir(base / "ffpp", "FF++ samples")) + dfdc(
        need_dir(base / "dfdc", "DFDC samples"), missing="skip")


def _transcripts(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for n, line in read_lines(path, "transcripts"):
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected '<utterance id> <text>'")
        out[parts[0]] = parts[1]
    return out


def espnet_tts(root: Path) -> list[Record]:
    """ESPnet TTS demo: ``<corpus>/real/<utt>.wav`` (0), ``<corpus>/synthetic/<system>/<utt>.wav``
    (1). ``group`` = corpus/utterance (pairs each synthetic file with its real recording)."""
    out = []
    for corpus in sorted(d for d in root.iterdir() if d.is_dir()):
        real, syn = corpus / "real", corpus / "synthetic"
        if not (real.is_dir() or syn.is_dir()):
            continue
        text = _transcripts(corpus / "transcripts.txt")

        def meta(p, c=corpus, t=text):
            return {"corpus": c.name, "utterance": p.stem, "text": t.get(p.stem)}

        if real.is_dir():
            out += [Record(p, 0, group=f"{corpus.name}/{p.stem}", meta=meta(p))
                    for p in files(real, AUDIO_EXTS)]
        if syn.is_dir():
            for sysdir in sorted(d for d in syn.iterdir() if d.is_dir()):
                out += [Record(p, 1, group=f"{corpus.name}/{p.stem}", kind=sysdir.name,
                               meta={**meta(p), "system": sysdir.name})
                        for p in files(sysdir, AUDIO_EXTS)]
    return nonempty(out, root, "<corpus>/real/*.wav, <corpus>/synthetic/<system>/*.wav")


def fsdd(root: Path) -> list[Record]:
    """Free Spoken Digit Dataset: ``recordings/<digit>_<speaker>_<take>.wav``, all real (0).
    ``group`` = speaker."""
    rec = root / "recordings" if (root / "recordings").is_dir() else root
    out = []
    for p in files(rec, AUDIO_EXTS, recursive=False):
        mt = re.fullmatch(r"(\d)_([A-Za-z]+)_(\d+)", p.stem)
        if not mt:
            raise ValueError(f"{p}: name is not <digit>_<speaker>_<take>.wav")
        d, spk, take = mt.groups()
        out.append(Record(p, 0, group=spk, meta={"digit": int(d), "speaker": spk, "take": int(take)}))
    return nonempty(out, rec, "FSDD recordings")


def resemblyzer(root: Path) -> list[Record]:
    """Resemblyzer demo: ``<speaker>/real/*.mp3`` (0) and ``<speaker>/fake/*.mp3`` (1,
    voice-cloned/TTS). ``group`` = speaker; ``meta['youtube_id']`` = file name."""
    out = []
    for spk in sorted(d for d in root.iterdir() if d.is_dir()):
        for sub, y in (("real", 0), ("fake", 1)):
            if (spk / sub).is_dir():
                out += [Record(p, y, group=spk.name, kind="synthetic_speech" if y else None,
                               meta={"speaker": spk.name, "youtube_id": p.stem})
                        for p in files(spk / sub, AUDIO_EXTS)]
    return nonempty(out, root, "<speaker>/real/*.mp3, <speaker>/fake/*.mp3")


def talking_face(root: Path) -> list[Record]:
    """video-retalking examples: ``face_video/*.mp4`` talking heads and ``audio/*.wav`` driving
    speech, all labelled 0 on the README's assumption that they are unmodified
    (``meta['label_assumed']``)."""
    vids = files(need_dir(root / "face_video", "talking-head videos"), VIDEO_EXTS)
    auds = files(root / "audio", AUDIO_EXTS) if (root / "audio").is_dir() else []
    out = [Record(p, 0, group="face_video", meta={"role": "talking_head", "label_assumed": True})
           for p in vids]
    out += [Record(p, 0, group="audio", meta={"role": "driving_audio", "label_assumed": True})
            for p in auds]
    return nonempty(out, root, "face_video/*.mp4")


def ai_image_eval(root: Path) -> list[Record]:
    """The EVAL sources of the ``ai_image`` model (never trained on; docs/detectors/ai_image.md):
    RAISE realness test (21 real 0, 69 AI 1), ML72 AI pictures (1), the exif-samples camera
    JPEGs (0) and the CBSD68 / McMaster pristine photos (0). ``root`` is the shared data folder;
    ``group`` = the source."""
    out: list[Record] = []
    ra = need_dir(root / "raise-realness-test", "RAISE realness test folder")
    with open(ra / "labels.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(Record(ra / row["file"], int(row["label"].strip().lower() == "ai"),
                              group="raise"))
    out += [Record(p, 1, group="ml72") for p in files(root / "ml72-ai-images-559px", IMAGE_EXTS)]
    out += [Record(p, 0, group="camera_jpegs")
            for p in files(root / "exif-samples-camera-jpegs", IMAGE_EXTS)]
    pr = root / "pristine-kodak24-cbsd68-mcmaster"
    for sub in ("cbsd68", "mcmaster"):
        out += [Record(p, 0, group="pristine_eval") for p in files(pr / sub, IMAGE_EXTS)]
    return nonempty(out, root, "ai_image EVAL pictures")

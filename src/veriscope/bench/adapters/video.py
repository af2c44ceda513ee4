"""Face-manipulation and audio-visual deepfake video sets.

FaceForensics++, DFDC, Celeb-DF (v2), LAV-DF, AV-Deepfake1M. Layouts and sources:
docs/datasets.md. ``segments`` are (start, end) in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

from veriscope.bench.adapters._common import (
    VIDEO_EXTS,
    Record,
    files,
    need_dir,
    nonempty,
    read_json,
    read_lines,
)

# --------------------------------------------------------------------------- FaceForensics++

FFPP_SKIP = {"DeepFakeDetection"}  # actor videos with another naming scheme


def _ffpp_splits(root: Path) -> dict[str, str]:
    """pair key -> split, from the official ``{train,val,test}.json`` lists of id pairs."""
    out: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for cand in (root / "splits" / f"{split}.json", root / f"{split}.json"):
            if cand.is_file():
                data = read_json(cand, "FF++ split list")
                if not isinstance(data, list):
                    raise ValueError(f"{cand}: expected a JSON list of [id, id] pairs")
                for i, pair in enumerate(data):
                    if not (isinstance(pair, list) and len(pair) == 2):
                        raise ValueError(f"{cand}: entry {i} is not an [id, id] pair")
                    out["_".join(sorted(map(str, pair)))] = split
                break
    return out


def ffpp(root: Path, compression: str = "c23") -> list[Record]:
    """FaceForensics++: ``original_sequences/youtube/<c>/videos/NNN.mp4`` (0) and
    ``manipulated_sequences/<method>/<c>/videos/TTT_SSS.mp4`` (1, target_source).

    ``group`` = the id pair ``AAA_BBB`` (sorted), shared by both originals and their
    manipulations; ``split`` from ``splits/{train,val,test}.json`` when present.
    """
    orig = need_dir(root / "original_sequences" / "youtube" / compression / "videos",
                    "FF++ original videos")
    man = need_dir(root / "manipulated_sequences", "FF++ manipulated videos")
    split_of = _ffpp_splits(root)
    pair: dict[str, str] = {}
    for key in split_of:
        a, b = key.split("_")
        pair[a] = pair[b] = key
    fakes = []
    for mdir in sorted(d for d in man.iterdir() if d.is_dir() and d.name not in FFPP_SKIP):
        vdir = mdir / compression / "videos"
        if not vdir.is_dir():
            continue
        for p in files(vdir, VIDEO_EXTS, recursive=False):
            mt = re.fullmatch(r"(\d+)_(\d+)", p.stem)
            if not mt:
                raise ValueError(f"{p}: FF++ manipulated video name is not <target>_<source>")
            t, s = mt.groups()
            key = "_".join(sorted((t, s)))
            pair.setdefault(t, key)
            pair.setdefault(s, key)
            fakes.append((p, mdir.name, t, s, key))
    out = []
    for p in files(orig, VIDEO_EXTS, recursive=False):
        g = pair.get(p.stem, p.stem)
        out.append(Record(p, 0, split=split_of.get(g), group=g,
                          meta={"video": p.stem, "compression": compression}))
    for p, method, t, s, key in fakes:
        out.append(Record(p, 1, split=split_of.get(key), group=key, kind=method,
                          meta={"target": t, "source": s, "method": method,
                                "compression": compression}))
    return nonempty(out, root, "FF++ videos")


# --------------------------------------------------------------------------- DFDC


def dfdc(root: Path, missing: str = "error") -> list[Record]:
    """DFDC: part folders with ``metadata.json`` = {file: {label: REAL|FAKE, split, original}}.

    ``group`` = the original's name for fakes, the own name for reals (so a fake and its
    source share a group). ``missing='skip'`` drops listed videos that are not on disk.
    """
    metas = sorted(root.rglob("metadata.json"))
    if not metas:
        raise ValueError(f"{root}: no metadata.json (DFDC part folders)")
    out = []
    for mpath in metas:
        data = read_json(mpath, "DFDC metadata")
        if not isinstance(data, dict):
            raise ValueError(f"{mpath}: expected a JSON object {{file: {{label, ...}}}}")
        for name, e in sorted(data.items()):
            lab = str(e.get("label", "")).upper() if isinstance(e, dict) else ""
            if lab not in ("REAL", "FAKE"):
                raise ValueError(f"{mpath}: entry {name!r} has no label REAL or FAKE")
            p = mpath.parent / name
            if not p.is_file():
                if missing == "skip":
                    continue
                raise ValueError(f"{p}: listed in {mpath} but missing")
            y = int(lab == "FAKE")
            orig = e.get("original")
            group = Path(orig).stem if (y and orig) else p.stem
            out.append(Record(p, y, split=e.get("split"), group=group,
                              meta={"original": orig, "part": mpath.parent.name}))
    return nonempty(out, root, "DFDC videos listed in metadata.json")


# --------------------------------------------------------------------------- Celeb-DF

CELEBDF = {"Celeb-real": 0, "YouTube-real": 0, "Youtube-real": 0, "Celeb-synthesis": 1}


def celebdf(root: Path) -> list[Record]:
    """Celeb-DF v2: ``Celeb-real/`` and ``YouTube-real/`` (0), ``Celeb-synthesis/`` (1).

    ``List_of_testing_videos.txt`` lines ``<1 real|0 fake> <folder>/<file>.mp4`` give the test
    split (everything else is train). ``group`` = the target video ``idX_NNNN``.
    """
    test: dict[str, int] = {}
    lst = root / "List_of_testing_videos.txt"
    if lst.is_file():
        for n, line in read_lines(lst, "Celeb-DF test list"):
            parts = line.split()
            if len(parts) != 2 or parts[0] not in ("0", "1"):
                raise ValueError(f"{lst}:{n}: expected '<1|0> <folder>/<file>', got {line!r}")
            test[parts[1].replace("Youtube-real/", "YouTube-real/")] = 1 - int(parts[0])
    dirs = [(root / d, y) for d, y in CELEBDF.items() if (root / d).is_dir()]
    if not dirs:
        raise ValueError(f"{root}: expected Celeb-real/, YouTube-real/, Celeb-synthesis/")
    out, seen = [], set()
    for d, y in dirs:
        canon = "YouTube-real" if d.name == "Youtube-real" else d.name
        for p in files(d, VIDEO_EXTS):  # also finds <folder>/videos/*.mp4
            rel = f"{canon}/{p.name}"
            if rel in test and test[rel] != y:
                raise ValueError(f"{lst}: {rel} is listed as {'real' if test[rel] == 0 else 'fake'}")
            seen.add(rel)
            parts = p.stem.split("_")
            meta = {"source_folder": canon}
            if y and len(parts) == 3:
                group = f"{parts[0]}_{parts[2]}"
                meta.update(target=parts[0], source=parts[1])
            else:
                group = p.stem if canon == "Celeb-real" else f"yt_{p.stem}"
            split = ("test" if rel in test else "train") if test else None
            out.append(Record(p, y, split=split, group=group, meta=meta))
    for rel in test:
        if rel not in seen:
            raise ValueError(f"{root / rel}: listed in {lst.name} but missing")
    return nonempty(out, root, "Celeb-DF videos")


# --------------------------------------------------------------------------- LAV-DF / AV-Deepfake1M


def _segments(periods, where: str) -> list[tuple[float, float]]:
    try:
        segs = [(float(a), float(b)) for a, b in periods or []]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: fake periods must be [[start, end], ...] ({e})") from e
    if any(b < a for a, b in segs):
        raise ValueError(f"{where}: a fake period ends before it starts")
    return segs


def _av_kind(video: bool, audio: bool) -> str | None:
    return "audio_visual" if video and audio else "visual" if video else "audio" if audio else None


def lavdf(root: Path) -> list[Record]:
    """LAV-DF: ``metadata.json`` (or ``metadata.min.json``) list of {file, n_fakes,
    fake_periods, modify_video, modify_audio, split, original}; videos at ``<root>/<file>``."""
    mpath = root / "metadata.json"
    if not mpath.is_file() and (root / "metadata.min.json").is_file():
        mpath = root / "metadata.min.json"
    data = read_json(mpath, "LAV-DF metadata")
    if not isinstance(data, list):
        raise ValueError(f"{mpath}: expected a JSON list of entries")
    out = []
    for i, e in enumerate(data):
        if not isinstance(e, dict) or "file" not in e:
            raise ValueError(f"{mpath}: entry {i} has no 'file'")
        p = root / e["file"]
        if not p.is_file():
            raise ValueError(f"{p}: listed in {mpath} but missing")
        segs = _segments(e.get("fake_periods"), f"{mpath}: entry {i}")
        n = e.get("n_fakes", len(segs))
        mv, ma = bool(e.get("modify_video")), bool(e.get("modify_audio"))
        orig = e.get("original")
        out.append(Record(p, int(bool(n) or bool(segs)), segments=segs, split=e.get("split"),
                          group=Path(orig).stem if orig else p.stem, kind=_av_kind(mv, ma),
                          meta={"original": orig, "modify_video": mv, "modify_audio": ma,
                                "duration": e.get("duration")}))
    return nonempty(out, root, "LAV-DF entries")


def avdeepfake1m(root: Path) -> list[Record]:
    """AV-Deepfake1M: ``{train,val}_metadata.json`` lists of {file, original, fake_segments,
    modify_type | modify_video/modify_audio, ...}; videos at ``<root>/<subset>/<file>``.
    The unlabelled test set (``test_files.txt``) is not loaded."""
    out, found = [], False
    for subset in ("train", "val"):
        mpath = root / f"{subset}_metadata.json"
        if not mpath.is_file():
            continue
        found = True
        data = read_json(mpath, "AV-Deepfake1M metadata")
        if not isinstance(data, list):
            raise ValueError(f"{mpath}: expected a JSON list of entries")
        for i, e in enumerate(data):
            if not isinstance(e, dict) or "file" not in e:
                raise ValueError(f"{mpath}: entry {i} has no 'file'")
            p = root / subset / e["file"]
            if not p.is_file():
                raise ValueError(f"{p}: listed in {mpath} but missing")
            where = f"{mpath}: entry {i}"
            segs = _segments(e.get("fake_segments", e.get("fake_periods")), where)
            mt = e.get("modify_type")
            if mt is not None:
                mt = str(mt).replace("-", "_")
                mv, ma = mt in ("visual_modified", "both_modified"), mt in ("audio_modified",
                                                                            "both_modified")
            else:
                mv, ma = bool(e.get("modify_video")), bool(e.get("modify_audio"))
            orig = e.get("original")
            meta = {"original": orig, "modify_type": mt, "modify_video": mv, "modify_audio": ma,
                    "audio_model": e.get("audio_model")}
            for k in ("visual_fake_segments", "audio_fake_segments"):
                if k in e:
                    meta[k] = _segments(e[k], where)
            out.append(Record(p, int(bool(segs) or mv or ma), segments=segs,
                              split=e.get("split", subset), group=orig or e["file"],
                              kind=_av_kind(mv, ma), meta=meta))
    if not found:
        raise ValueError(f"{root}: no train_metadata.json or val_metadata.json (AV-Deepfake1M)")
    return nonempty(out, root, "AV-Deepfake1M entries")

"""Image-forgery sets with pixel masks or image-level labels.

CASIA v1/v2, Columbia uncompressed, COVERAGE, CoMoFoD, DSO-1, Korus (realistic
tampering), IMD2020, DEFACTO, MICC-F2000. Layouts and sources: docs/datasets.md.
Adapters never decode images; they only read names and label files.
"""

from __future__ import annotations

import re
from pathlib import Path

from veriscope.bench.adapters._common import (
    IMAGE_EXTS,
    Record,
    by_stem,
    files,
    find_dir,
    find_dirs,
    need_dir,
    need_file,
    nonempty,
    read_lines,
)

# --------------------------------------------------------------------------- CASIA


def _casia_group(stem: str) -> str | None:
    """The host (target) image id, shared by an authentic image and the forgeries built on it.

    ``Au_pla_0023`` -> ``pla0023``; ``Sp_D_CND_A_pla0005_pla0023_0281`` -> ``pla0023``
    (CASIA v2: ``Tp_D_CRN_S_N_cha00063_art00014_11818`` -> ``art00014``).
    """
    parts = stem.split("_")
    if parts[0] == "Au" and len(parts) >= 3:
        return parts[1] + parts[2]
    if parts[0] in ("Sp", "Tp") and len(parts) >= 4:
        return parts[-2]
    return None


def _casia_kind(stem: str) -> str | None:
    parts = stem.split("_")
    return {"S": "copy_move", "D": "splice"}.get(parts[1]) if len(parts) > 1 else None


def _gt_masks(dirs: list[Path]) -> dict[str, Path]:
    """``<stem>_gt.<ext>`` files under ``dirs``, keyed by ``<stem>``."""
    out: dict[str, Path] = {}
    for g in dirs:
        for p in files(g, IMAGE_EXTS):
            if p.stem.endswith("_gt"):
                out.setdefault(p.stem[:-3], p)
    return out


def _inside(p: Path, dirs: set[Path]) -> bool:
    return any(par in dirs for par in p.parents)


def casia1(root: Path) -> list[Record]:
    """CASIA v1.0: ``Au_*`` authentic (0) and ``Sp_*`` tampered (1) JPEGs anywhere under root,
    masks ``<name>_gt.png`` from the community "CASIA 1.0 groundtruth" folder (CM/, Sp/)."""
    gt_dirs = find_dirs(root, lambda d: "groundtruth" in d.name.lower(), 3)
    if not gt_dirs:
        raise ValueError(f"{root}: no 'CASIA 1.0 groundtruth' folder (masks from "
                         "github.com/namtpham/casia1groundtruth)")
    skip = set(gt_dirs)
    if find_dirs(root, lambda d: d.name == "Modified Tp", 2):  # both zips of the mask repo
        skip |= set(find_dirs(root, lambda d: d.name == "Original Tp", 2))
    masks = _gt_masks(gt_dirs)
    out = []
    for p in files(root, IMAGE_EXTS):
        if _inside(p, skip) or p.stem.endswith("_gt"):
            continue
        stem = p.stem
        if stem.startswith("Au_"):
            out.append(Record(p, 0, group=_casia_group(stem)))
        elif stem.startswith("Sp_"):
            m = masks.get(stem)
            out.append(Record(p, 1, m, group=_casia_group(stem), kind=_casia_kind(stem),
                              meta={} if m else {"mask_missing": True}))
    return nonempty(out, root, "CASIA v1: Au_*.jpg / Sp_*.jpg")


def casia2(root: Path) -> list[Record]:
    """CASIA v2.0: ``Au/`` authentic (0), ``Tp/`` tampered (1), masks ``<name>_gt.png`` in
    "CASIA 2 Groundtruth" (matched by name, else by the trailing 5-digit image id)."""
    tp = find_dir(root, ["Tp"], 2)
    au = find_dir(root, ["Au"], 2)
    if tp is None or au is None:
        raise ValueError(f"{root}: expected Au/ and Tp/ folders (CASIA v2 layout)")
    gt_dirs = find_dirs(root, lambda d: "groundtruth" in d.name.lower(), 2)
    if not gt_dirs:
        raise ValueError(f"{root}: no 'CASIA 2 Groundtruth' folder (masks from "
                         "github.com/namtpham/casia2groundtruth)")
    masks = _gt_masks(gt_dirs)
    ids: dict[str, list[Path]] = {}
    for stem, p in masks.items():
        ids.setdefault(stem.rsplit("_", 1)[-1], []).append(p)
    out = [Record(p, 0, group=_casia_group(p.stem)) for p in files(au, IMAGE_EXTS)]
    for p in files(tp, IMAGE_EXTS):
        stem = p.stem
        m = masks.get(stem)
        meta = {}
        if m is None:
            cand = ids.get(stem.rsplit("_", 1)[-1], [])
            if len(cand) == 1:
                m, meta = cand[0], {"mask_matched_by": "image id"}
            else:
                meta = {"mask_missing": True}
        out.append(Record(p, 1, m, group=_casia_group(stem), kind=_casia_kind(stem), meta=meta))
    return nonempty(out, root, "CASIA v2: Au/, Tp/")


# --------------------------------------------------------------------------- Columbia


def columbia(root: Path) -> list[Record]:
    """Columbia uncompressed splicing: ``4cam_auth/*.tif`` (0), ``4cam_splc/*.tif`` (1) with
    ``4cam_splc/edgemask/<name>_edgemask.jpg`` (green = spliced region, red = authentic)."""
    auth = find_dir(root, ["4cam_auth"], 2)
    splc = find_dir(root, ["4cam_splc"], 2)
    if auth is None or splc is None:
        raise ValueError(f"{root}: expected 4cam_auth/ and 4cam_splc/ (Columbia layout)")
    auth = auth / auth.name if (auth / auth.name).is_dir() else auth  # zip-nested copy
    splc = splc / splc.name if (splc / splc.name).is_dir() else splc
    edge = need_dir(splc / "edgemask", "Columbia edge masks")
    masks = {p.name.lower(): p for p in files(edge, IMAGE_EXTS, recursive=False)}
    out = [Record(p, 0, group=None, meta={"cameras": p.stem.split("_")[:1]})
           for p in files(auth, IMAGE_EXTS, recursive=False)]
    for p in files(splc, IMAGE_EXTS, recursive=False):
        m = masks.get(f"{p.stem}_edgemask.jpg".lower())
        out.append(Record(p, 1, m, kind="splice", mask_rule="green",
                          meta={"cameras": p.stem.split("_")[:2], **({} if m else {"mask_missing": True})}))
    return nonempty(out, root, "Columbia: 4cam_auth/*.tif, 4cam_splc/*.tif")


# --------------------------------------------------------------------------- COVERAGE


def coverage(root: Path) -> list[Record]:
    """COVERAGE: ``image/NN.tif`` original (0), ``image/NNt.tif`` copy-move forgery (1),
    ``mask/NNforged.tif`` the pasted region (``NNcopy.tif``/``NNpaste.tif`` are not used)."""
    img = need_dir(root / "image", "COVERAGE images")
    mdir = need_dir(root / "mask", "COVERAGE masks")
    masks = {p.stem: p for p in files(mdir, IMAGE_EXTS, recursive=False)}
    out = []
    for p in files(img, IMAGE_EXTS, recursive=False):
        mt = re.fullmatch(r"(\d+)(t?)", p.stem)
        if not mt:
            continue
        num, tampered = mt.group(1), bool(mt.group(2))
        if tampered:
            m = masks.get(f"{num}forged")
            out.append(Record(p, 1, m, group=num, kind="copy_move",
                              meta={} if m else {"mask_missing": True}))
        else:
            out.append(Record(p, 0, group=num))
    return nonempty(out, root, "COVERAGE: image/NN.tif, image/NNt.tif")


# --------------------------------------------------------------------------- CoMoFoD

_COMOFOD = re.compile(r"(\d{2,3})_([FOMB])(?:_([A-Z]{2})(\d+))?")
COMOFOD_POST = {"JC": "jpeg", "IB": "blur", "NA": "noise", "BC": "brightness",
                "CR": "color_reduction", "CA": "contrast"}


def comofod(root: Path) -> list[Record]:
    """CoMoFoD: ``NNN_F.png`` forged (1), ``NNN_O.png`` original (0), ``NNN_B.png`` binary mask
    (``NNN_M.png`` colour mask unused); post-processed copies ``NNN_F_JC3.jpg`` etc. are
    separate records sharing the mask, with ``meta['post']``/``meta['level']``."""
    by_set: dict[tuple[Path, str], dict[str, list]] = {}
    for p in files(root, IMAGE_EXTS):
        mt = _COMOFOD.fullmatch(p.stem)
        if mt:
            num, mark, post, level = mt.groups()
            by_set.setdefault((p.parent, num), {}).setdefault(mark, []).append((p, post, level))
    out = []
    for (_, num), marks in sorted(by_set.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        bins = [p for p, post, _ in marks.get("B", []) if post is None]
        mask = bins[0] if bins else None
        for mark, label in (("F", 1), ("O", 0)):
            for p, post, level in marks.get(mark, []):
                meta = {"post": COMOFOD_POST.get(post, post) if post else None,
                        "level": int(level) if level else None}
                if label and mask is None:
                    meta["mask_missing"] = True
                out.append(Record(p, label, mask if label else None, group=num,
                                  kind="copy_move" if label else None, meta=meta))
    out.sort(key=lambda r: str(r.media))
    return nonempty(out, root, "CoMoFoD: NNN_F.png / NNN_O.png")


# --------------------------------------------------------------------------- DSO-1


def dso1(root: Path) -> list[Record]:
    """DSO-1: ``DSO-1/normal-NN.png`` (0) and ``DSO-1/splicing-NN.png`` (1), masks of the same
    name in ``DSO-1-Fake-Images-Masks/`` (black = spliced); ``images/`` + ``masks/`` also work."""
    imgs = find_dir(root, ["DSO-1", "images"], 2)
    if imgs is None:
        raise ValueError(f"{root}: expected DSO-1/ (or images/) with normal-*/splicing-* PNGs")
    mdir = find_dir(root, ["DSO-1-Fake-Images-Masks", "masks"], 2)
    out = []
    for p in files(imgs, IMAGE_EXTS, recursive=False):
        tag = p.stem.split("-", 1)[0].lower()
        if tag == "normal":
            out.append(Record(p, 0))
        elif tag == "splicing":
            if mdir is None:
                raise ValueError(f"{root}: missing folder DSO-1-Fake-Images-Masks/ (or masks/)")
            m = mdir / p.name
            m = m if m.is_file() else None
            out.append(Record(p, 1, m, kind="splice", mask_rule="inverted",
                              meta={} if m else {"mask_missing": True}))
    return nonempty(out, root, "DSO-1: normal-*.png / splicing-*.png")


# --------------------------------------------------------------------------- Korus


def korus(root: Path) -> list[Record]:
    """Korus realistic tampering: per camera folder, ``tampered-realistic/*.TIF`` (1) with
    ``ground-truth/<name>.PNG`` 3-level maps (grey and white both count), ``pristine/*.TIF`` (0).
    ``group`` = camera/name, shared by a forgery and its original."""
    tdirs = find_dirs(root, lambda d: d.name == "tampered-realistic", 3)
    if not tdirs:
        raise ValueError(f"{root}: no tampered-realistic/ folder (Korus layout)")
    out = []
    for td in tdirs:
        cam = td.parent
        gt = need_dir(cam / "ground-truth", "Korus ground-truth maps")
        masks = by_stem(files(gt, IMAGE_EXTS, recursive=False))
        for p in files(td, IMAGE_EXTS, recursive=False):
            m = masks.get(p.stem)
            out.append(Record(p, 1, m, group=f"{cam.name}/{p.stem}", mask_rule="nonblack",
                              meta={"camera": cam.name, **({} if m else {"mask_missing": True})}))
        if (cam / "pristine").is_dir():
            out += [Record(p, 0, group=f"{cam.name}/{p.stem}", meta={"camera": cam.name})
                    for p in files(cam / "pristine", IMAGE_EXTS, recursive=False)]
    return nonempty(out, root, "Korus: tampered-realistic/*.TIF")


# --------------------------------------------------------------------------- IMD2020


def imd2020(root: Path) -> list[Record]:
    """IMD2020: one folder per original, ``<id>_orig.<ext>`` (0) and manipulated images (1)
    with ``<name>_mask.png``. ``group`` = folder."""
    out = []
    for d in [root] + sorted(p for p in root.iterdir() if p.is_dir()):
        imgs = files(d, IMAGE_EXTS, recursive=False)
        stems = by_stem(imgs)
        for p in imgs:
            s = p.stem
            if s.endswith("_mask"):
                continue
            g = d.name
            if s.endswith("_orig"):
                out.append(Record(p, 0, group=g))
            else:
                m = stems.get(s + "_mask")
                out.append(Record(p, 1, m, group=g, meta={} if m else {"mask_missing": True}))
    return nonempty(out, root, "IMD2020: <folder>/*_orig.*, <folder>/*_mask.png")


# --------------------------------------------------------------------------- DEFACTO

_DEFACTO = re.compile(r"(splicing_\d+|copymove|inpainting)_img")


def defacto(root: Path) -> list[Record]:
    """DEFACTO: ``<subset>_img/img/*.tif`` (all 1; subsets splicing_1..7, copymove, inpainting)
    with ``<subset>_annotations/probe_mask/<name>.jpg``. ``group`` = the MS-COCO image id."""
    dirs = find_dirs(root, lambda d: bool(_DEFACTO.fullmatch(d.name)), 2)
    if not dirs:
        raise ValueError(f"{root}: no splicing_N_img/, copymove_img/ or inpainting_img/ folder "
                         "(DEFACTO layout)")
    out = []
    for d in dirs:
        prefix = d.name[: -len("_img")]
        ann = need_dir(d.parent / f"{prefix}_annotations" / "probe_mask", "DEFACTO probe masks")
        masks = by_stem(files(ann, IMAGE_EXTS, recursive=False))
        kind = ("splice" if prefix.startswith("splicing") else
                "copy_move" if prefix == "copymove" else "inpainting")
        imgdir = d / "img" if (d / "img").is_dir() else d
        for p in files(imgdir, IMAGE_EXTS, recursive=False):
            m = masks.get(p.stem)
            meta = {"subset": prefix, **({} if m else {"mask_missing": True})}
            out.append(Record(p, 1, m, group=p.stem.split("_", 1)[-1], kind=kind, meta=meta))
    return nonempty(out, root, "DEFACTO: <subset>_img/img/*")


# --------------------------------------------------------------------------- MICC


def parse_micc(gt: Path, base: Path, missing: str = "error") -> list[Record]:
    """``<file>,<label>`` (or whitespace-separated) lines; label 1 = tampered."""
    out = []
    for n, line in read_lines(gt, "MICC ground-truth list"):
        parts = [x for x in re.split(r"[,\t ]+", line) if x]
        if len(parts) < 2 or parts[-1] not in ("0", "1"):
            raise ValueError(f"{gt}:{n}: expected '<file>,<0|1>', got {line!r}")
        p = base / " ".join(parts[:-1])
        if not p.is_file():
            if missing == "skip":
                continue
            raise ValueError(f"{p}: listed in {gt.name} but missing")
        y = int(parts[-1])
        out.append(Record(p, y, kind="copy_move" if y else None))
    return out


def micc_f2000(root: Path) -> list[Record]:
    """MICC-F2000: images + ``groundtruthDB_2000.txt`` (image-level labels, no masks)."""
    base = root / "MICC-F2000" if (root / "MICC-F2000").is_dir() else root
    gt = need_file(base / "groundtruthDB_2000.txt", "MICC-F2000 ground-truth list")
    return nonempty(parse_micc(gt, base), root, "MICC-F2000")

"""A synthesized forgery set with masks known by construction (protocol ``synth/1``).

From the pristine photos of one split (FIT = kodak24, EVAL = cbsd68 + mcmaster),
make ``per_kind`` forgeries of each kind, deterministically from ``seed``:

| kind | how | file |
|---|---|---|
| splice | region from another photo of the split | PNG |
| splice_noisy | same, donor region with Gaussian noise sigma 3 | PNG |
| copy_move | same photo, rotation in {0, 15, 45} deg, scale in {0.8, 1, 1.2} | PNG |
| removal | OpenCV Telea inpainting of a blob | PNG |
| resample | region scaled by 1.1-1.4 in place | PNG |
| dj_aligned | double JPEG splice, (q1, q2) in {(60,80), (70,90), (80,95), (90,70)} | JPEG |
| dj_shifted | same with the first grid shifted by 1..7 px | JPEG |

Pristine originals of the split are included as negatives (PNG as given, plus
one JPEG q90 copy of each, so JPEG detectors get negatives too).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.bench.records import Record, _images
from veriscope.synth import forgeries as F

KINDS = ("splice", "splice_noisy", "copy_move", "removal", "resample", "dj_aligned", "dj_shifted")
DJ_PAIRS = ((60, 80), (70, 90), (80, 95), (90, 70))
SPLITS = {"fit": ("kodak24",), "eval": ("cbsd68", "mcmaster")}
VERSION = "synth/1"


def _load(p: Path) -> np.ndarray:
    return np.asarray(Image.open(p).convert("RGB"))


def build(pristine_root: Path, out_dir: Path, split: str = "eval", per_kind: int = 12,
          seed: int = 0, kinds=KINDS) -> list[Record]:
    """Write the set into ``out_dir`` (reused if already built with the same settings)."""
    out_dir = Path(out_dir)
    settings = {"version": VERSION, "split": split, "per_kind": per_kind, "seed": seed,
                "kinds": list(kinds)}
    manifest = out_dir / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("settings") == settings:
            return [Record(out_dir / r["file"], r["label"], out_dir / r["mask"] if r["mask"] else None,
                           split=split, group=r["group"], kind=r["kind"], meta=r["meta"])
                    for r in m["records"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    srcs = [p for sub in SPLITS[split] for p in _images(Path(pristine_root) / sub)]
    if len(srcs) < 2:
        raise ValueError(f"{pristine_root}: not enough pristine images for split {split!r}")
    rng = np.random.default_rng(seed)
    rows = []

    def add(name, img, mask, kind, group, meta, jpeg=None):
        f = out_dir / name
        if jpeg is not None:
            f.write_bytes(jpeg)
        else:
            Image.fromarray(img).save(f)
        mname = None
        if mask is not None:
            mname = f.stem + "_mask.png"
            Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / mname)
        rows.append({"file": name, "label": int(mask is not None), "mask": mname, "kind": kind,
                     "group": group, "meta": meta})

    for p in srcs:
        img = _load(p)
        add(f"orig_{p.parent.name}_{p.stem}.png", img, None, "original", p.stem, {})
        add(f"orig_{p.parent.name}_{p.stem}_q90.jpg", None, None, "original_jpeg", p.stem, {},
            jpeg=F.jpeg_bytes(img, 90))

    for kind in kinds:
        made = 0
        order = rng.permutation(len(srcs))
        i = 0
        while made < per_kind and i < 10 * per_kind:
            host_p = srcs[order[i % len(srcs)]]
            donor_p = srcs[order[(i + 1) % len(srcs)]]
            i += 1
            host, donor = _load(host_p), _load(donor_p)
            try:
                meta = {"host": host_p.name}
                if kind in ("splice", "splice_noisy"):
                    d = donor
                    if kind == "splice_noisy":
                        d = np.clip(donor + rng.normal(0, 3.0, donor.shape), 0, 255).astype(np.uint8)
                    fg = F.splice(host, d, rng)
                    meta["donor"] = donor_p.name
                elif kind == "copy_move":
                    ang = float(rng.choice([0, 15, 45]))
                    sc = float(rng.choice([0.8, 1.0, 1.2]))
                    fg = F.copy_move(host, rng, ang, sc)
                    meta.update(angle=ang, scale=sc)
                elif kind == "removal":
                    fg = F.removal(host, rng)
                elif kind == "resample":
                    fg = F.resample(host, rng)
                    meta["scale"] = fg.params["scale"]
                else:
                    q1, q2 = DJ_PAIRS[made % len(DJ_PAIRS)]
                    fg = F.double_jpeg_splice(host, donor, rng, q1, q2, aligned=kind == "dj_aligned")
                    meta.update(q1=q1, q2=q2, shift=fg.params["shift"], donor=donor_p.name)
            except ValueError:
                continue
            ext = "jpg" if fg.jpeg_bytes is not None else "png"
            add(f"{kind}_{made:03d}.{ext}", fg.image, fg.mask, kind, host_p.stem, meta,
                jpeg=fg.jpeg_bytes)
            made += 1

    manifest.write_text(json.dumps({"settings": settings, "records": rows}, indent=1))
    return build(pristine_root, out_dir, split, per_kind, seed, kinds)

"""Perturbed copies of benchmark records, cached on disk: the file-level side of
:mod:`veriscope.signals.perturb` (which holds the pixel operations and the spec language).

A perturbed record lives in ``cache_dir/<key[:2]>/<key>/`` with ``applied.json`` written last;
the key covers the media and mask hashes, the spec, the seed and the perturbation VERSION.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from veriscope.bench.cache import file_sha256
from veriscope.signals.perturb import VERSION, Perturbation, _resize_mask, derive_seed, parse_one


def read_mask(path, shape: tuple[int, int] | None = None, rule: str | None = None) -> np.ndarray:
    """A mask image as bool, resized (nearest) to ``shape`` = (H, W). ``rule``: a bench
    mask rule (``veriscope.bench.datasets.MASK_RULES``); default: grey level > 127."""
    from PIL import Image

    if rule and rule != "gt127":
        from veriscope.bench.records import read_mask as read_rule

        m = read_rule(path, rule)
    else:
        with Image.open(path) as im:
            m = np.asarray(im.convert("L")) > 127
    if shape is not None and m.shape != tuple(shape):
        m = _resize_mask(m, shape[1], shape[0])
    return m


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def perturb_file(src, perturbation: Perturbation | str, out_dir, *, mask=None, seed: int = 0,
                 key_parts: tuple[str, ...] = (), mask_rule: str | None = None) -> dict:
    """Perturb one file into ``out_dir``: ``<stem><.jpg|.png>`` (+ ``mask.png``, binary
    0/255 whatever ``mask_rule`` the source mask had) and ``applied.json`` (written last;
    its presence means the folder is complete).

    Returns {"path", "mask", "applied", "seed"}. The per-image seed is derived from ``seed``,
    the spec and ``key_parts`` (e.g. the file hash). Raises MediaError for unreadable input.
    """
    from veriscope.core.media import Media

    p = parse_one(perturbation) if isinstance(perturbation, str) else perturbation
    out = Path(out_dir)
    done = out / "applied.json"
    if done.exists():
        d = json.loads(done.read_text())
        return {"path": out / d["file"], "mask": out / d["mask"] if d["mask"] else None,
                "applied": d["applied"], "seed": d["seed"]}
    media = Media.open(src)
    img = media.rgb()
    m = read_mask(mask, img.shape[:2], mask_rule) if mask is not None else None
    s = derive_seed(seed, p.spec, *key_parts)
    res = p.apply(img, m, seed=s, src_format=media.format)
    out.mkdir(parents=True, exist_ok=True)
    fname = Path(src).stem + res.ext
    _atomic_write(out / fname, res.file_bytes())
    mname = None
    if res.mask is not None:
        mname = "mask.png"
        _atomic_write(out / mname, _mask_png(res.mask))
    _atomic_write(done, json.dumps({"version": VERSION, "spec": p.spec, "seed": s, "file": fname,
                                    "mask": mname, "applied": res.applied,
                                    "source": str(src)}, default=str).encode())
    return {"path": out / fname, "mask": out / mname if mname else None, "applied": res.applied,
            "seed": s}


def _mask_png(mask: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buf, "PNG")
    return buf.getvalue()


def cache_key(media_sha: str, mask_sha: str | None, spec: str, seed: int) -> str:
    return hashlib.sha256(f"{VERSION}|{media_sha}|{mask_sha or ''}|{spec}|{int(seed)}".encode()) \
        .hexdigest()[:24]


def _record_job(args):
    """Worker: perturb one record into the cache. Returns (path, mask, applied) or an error string."""
    media, mask, spec, seed, cache, rule = args
    try:
        msha = file_sha256(Path(media))
        ksha = f"{file_sha256(Path(mask))}:{rule or 'gt127'}" if mask else None
        key = cache_key(msha, ksha, spec, seed)
        r = perturb_file(media, spec, Path(cache) / key[:2] / key, mask=mask, seed=seed,
                         key_parts=(msha, ksha or ""), mask_rule=rule)
        return str(r["path"]), (str(r["mask"]) if r["mask"] else None), r["applied"], None
    except Exception as e:  # a record that cannot be decoded is skipped, and counted
        return None, None, None, f"{type(e).__name__}: {e}"


def perturb_records(records, perturbation: Perturbation | str, cache_dir, *, seed: int = 0,
                    engine=None) -> tuple[list, list[str]]:
    """Perturbed copies of bench records (cached under ``cache_dir`` by media hash, mask hash,
    spec, seed and :data:`VERSION`). Returns (records, errors); records that cannot be
    decoded are left out and their errors returned. Non-image records are left out too."""
    from dataclasses import replace

    from veriscope.bench.records import IMAGE_EXTS

    spec = perturbation.spec if isinstance(perturbation, Perturbation) else parse_one(perturbation).spec
    recs = [r for r in records if Path(r.media).suffix.lower() in IMAGE_EXTS]
    errors = [f"{r.media}: not an image" for r in records if r not in recs]
    jobs = [(str(r.media), str(r.mask) if r.mask else None, spec, seed, str(cache_dir),
             getattr(r, "mask_rule", None)) for r in recs]
    results = engine.map(_record_job, jobs) if engine is not None else map(_record_job, jobs)
    out = []
    for r, (path, mask, applied, err) in zip(recs, results, strict=True):
        if err:
            errors.append(f"{r.media}: {err}")
            continue
        meta = {**r.meta, "perturbation": spec, "perturbed_from": str(r.media), "applied": applied}
        kw = {"mask_rule": None} if hasattr(r, "mask_rule") else {}  # written as binary 0/255
        out.append(replace(r, media=Path(path), mask=Path(mask) if mask else None, meta=meta, **kw))
    return out, errors

"""Fully synthetic image sets (generator output vs real photos)."""

from __future__ import annotations

from pathlib import Path

from veriscope.bench.adapters._common import IMAGE_EXTS, Record, files, find_dirs, nonempty


def genimage(root: Path) -> list[Record]:
    """GenImage: ``<generator>/<subfolder>/{train,val}/{ai,nature}/`` (ai = 1, nature = 0).

    The root may be the whole set or one generator folder. ``group`` and, for ai images,
    ``kind`` = the generator folder name; ``split`` = train/val.
    """
    leaves = find_dirs(root, lambda d: d.name in ("ai", "nature") and d.parent.name in ("train", "val"),
                       5)
    if not leaves:
        raise ValueError(f"{root}: no {{train,val}}/{{ai,nature}}/ folders (GenImage layout)")
    out = []
    for d in leaves:
        rel = d.relative_to(root).parts
        gen = rel[0] if len(rel) > 2 else root.name
        y = int(d.name == "ai")
        out += [Record(p, y, split=d.parent.name, group=gen, kind=gen if y else None,
                       meta={"generator": gen}) for p in files(d, IMAGE_EXTS)]
    return nonempty(out, root, "GenImage images")

"""Image + caption sets: DGM4 (face swap / face attribute / text swap / text attribute)."""

from __future__ import annotations

from pathlib import Path

from veriscope.bench.adapters._common import Record, nonempty, read_json

IMAGE_CLASSES = ("face_swap", "face_attribute")
TEXT_CLASSES = ("text_swap", "text_attribute")


def _dgm4(root: Path, target: str) -> list[Record]:
    base = root / "DGM4" if (root / "DGM4" / "metadata").is_dir() else root
    splits = [(s, base / "metadata" / f"{s}.json") for s in ("train", "val", "test")]
    splits = [(s, p) for s, p in splits if p.is_file()]
    if not splits:
        raise ValueError(f"{base / 'metadata'}: no train.json / val.json / test.json (DGM4)")
    out = []
    for split, mpath in splits:
        data = read_json(mpath, "DGM4 metadata")
        if not isinstance(data, list):
            raise ValueError(f"{mpath}: expected a JSON list of entries")
        for i, e in enumerate(data):
            if not isinstance(e, dict) or "image" not in e or "fake_cls" not in e:
                raise ValueError(f"{mpath}: entry {i} lacks 'image' or 'fake_cls'")
            rel = e["image"]  # "DGM4/manipulation/..." relative to the folder holding DGM4/
            p = next((c for c in (base.parent / rel, base / rel) if c.is_file()), None)
            if p is None:
                raise ValueError(f"{base.parent / rel}: listed in {mpath} but missing")
            cls = str(e["fake_cls"])
            img_fake = any(c in cls for c in IMAGE_CLASSES)
            txt_fake = any(c in cls for c in TEXT_CLASSES)
            box = e.get("fake_image_box") or []
            boxes = [[float(v) for v in box]] if img_fake and len(box) == 4 else []
            try:
                tokens = [int(t) for t in e.get("fake_text_pos") or []]
            except (TypeError, ValueError) as err:
                raise ValueError(f"{mpath}: entry {i}: fake_text_pos must be integers") from err
            y = int(img_fake) if target == "image" else int(cls != "orig")
            out.append(Record(p, y, boxes=boxes, tokens=tokens, split=split,
                              group=str(e.get("id", p.stem)), kind=cls,
                              meta={"text": e.get("text", ""), "fake_cls": cls,
                                    "image_manipulated": img_fake, "text_manipulated": txt_fake}))
    return nonempty(out, root, "DGM4 entries")


def dgm4(root: Path) -> list[Record]:
    """DGM4, label per image-caption pair: 1 unless ``fake_cls`` is ``orig`` (text-only
    manipulations count, although the image is untouched). ``boxes`` = ``fake_image_box`` for
    face manipulations, ``tokens`` = ``fake_text_pos``, ``meta['text']`` = the caption."""
    return _dgm4(root, "pair")


def dgm4_image(root: Path) -> list[Record]:
    """DGM4 with image-level labels: 1 only for face_swap / face_attribute."""
    return _dgm4(root, "image")

"""Reports of the shared data are the same before and after a refactoring.

Runs ``veriscope analyze --detectors all --out DIR`` (a fresh process, as a user runs it) on a
fixed, spread sample of every folder of ``../shared/data`` and reduces each report to digests:
the report.json with its timings and timestamp removed, and the pixels of every map and view
PNG (views large enough to be written as JPEG: their size). ``--write`` stores the digests as a reference; ``--check`` compares with one and lists
every file whose report differs (and its verdict label when that changed). Times are left
out (:data:`VOLATILE`).

The reference in ``benchmarks/results/layout_identity.json`` follows the outputs of the code:
it was written by the code before the package layout of docs/architecture.md (commit abeb31d),
which the moved code matched on 60 of 60 reports, and is rewritten (``--write``) in each commit
that means to change outputs, which says what changed.

    python benchmarks/layout_identity.py --check benchmarks/results/layout_identity.json
    python benchmarks/layout_identity.py --check REF --workers 2   # also: parallel == serial
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from veriscope.bench.records import AUDIO_EXTS, IMAGE_EXTS, VIDEO_EXTS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MEDIA_EXTS = IMAGE_EXTS | AUDIO_EXTS | VIDEO_EXTS
IDENTITY_OPTIONS = ("--detectors", "all", "--timeout", "900", "--no-html")
"""Every detector, no timeout in practice (a timeout would differ between runs), JSON only."""
PER_FOLDER = 4
VOLATILE = {"elapsed_s", "created", "timings_s", "scan_s", "cpu_seconds", "seconds_total"}
"""Keys whose values are wall-clock times or timestamps; ``seconds`` too when it holds a table
of per-detector times (video_frames)."""


def sample(shared: Path = SHARED, per_folder: int = PER_FOLDER) -> list[Path]:
    """``per_folder`` media files of each dataset folder, spread evenly over its sorted list."""
    out = []
    for d in sorted(p for p in shared.iterdir() if p.is_dir()):
        files = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTS)
        if not files:
            continue
        k = min(per_folder, len(files))
        idx = sorted({round(i * (len(files) - 1) / max(1, k - 1)) for i in range(k)})
        out += [files[i] for i in idx]
    return out


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items()
                if k not in VOLATILE and not (k == "seconds" and isinstance(v, dict))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _pixels_digest(path: Path) -> str:
    """sha256 of a PNG's decoded pixels (mode, size, bytes): the same whatever the zlib level."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        head = f"{im.mode}:{im.size[0]}x{im.size[1]}:".encode()
        return hashlib.sha256(head + im.tobytes()).hexdigest()


def digest_dir(rep_dir: Path) -> dict:
    """Digests of one report folder: normalised report.json and every map and view under it.

    PNGs are compared by their decoded pixels (the encoder's settings do not count). Views
    written as JPEG (large views, since issue 20) are lossy: they are compared by size only,
    under their name without extension, so that a view moving from PNG to JPEG shows as a
    changed view and nothing else (view paths in report.json are compared without extension)."""
    rep = json.loads((rep_dir / "report.json").read_text(encoding="utf-8"))
    for e in rep.get("evidence", []):
        (e.get("data") or {}).pop("traceback", None)
        for v in e.get("views") or []:
            if isinstance(v, dict) and isinstance(v.get("path"), str):
                v["path"] = v["path"].rsplit(".", 1)[0]
    canon = json.dumps(_strip(rep), sort_keys=True, ensure_ascii=False)
    out = {"report": hashlib.sha256(canon.encode()).hexdigest(),
           "verdict": rep["verdict"]["label"]}
    for f in sorted(rep_dir.rglob("*")):
        rel = f.relative_to(rep_dir).as_posix()
        if f.suffix == ".png":
            out[rel.rsplit(".", 1)[0]] = _pixels_digest(f)
        elif f.suffix == ".jpg" and rel.startswith("views/"):
            from PIL import Image

            with Image.open(f) as im:
                out[rel.rsplit(".", 1)[0]] = f"jpeg:{im.size[0]}x{im.size[1]}"
    return out


def run(files: list[Path], out: Path, workers: int | None, options=IDENTITY_OPTIONS,
        quiet: bool = False) -> float:
    """`veriscope analyze OPTIONS --out OUT [--workers N] FILES` in a fresh process; wall
    seconds. ``quiet`` also hides stderr (errors and progress)."""
    exe = Path(sys.executable).with_name("veriscope")
    cmd = [str(exe), "analyze", *options, "--out", str(out.resolve())]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    # paths relative to the shared folder, so that report.json's media.path does not depend on
    # where the checkout lies
    subprocess.run(cmd + [f.relative_to(SHARED).as_posix() for f in files], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None,
                   cwd=SHARED, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="store the digests here")
    g.add_argument("--check", type=Path, help="compare with the digests stored here")
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to analyze")
    ap.add_argument("--per-folder", type=int, default=PER_FOLDER)
    a = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"no shared data at {SHARED}", file=sys.stderr)
        return 2
    files = sample(SHARED, a.per_folder)
    with tempfile.TemporaryDirectory(prefix="veriscope-identity-") as tmp:
        wall = run(files, Path(tmp), a.workers)
        got, taken = {}, set()
        for f in files:  # the folder names `analyze` gives: name, name-2, ... in input order
            rel = f.relative_to(SHARED).as_posix()
            name, i = f.name, 1
            while name in taken:
                i += 1
                name = f"{f.name}-{i}"
            taken.add(name)
            d = Path(tmp) / name
            got[rel] = digest_dir(d) if (d / "report.json").is_file() else {"missing": True}
    print(f"{len(files)} files analysed in {wall:.1f} s (workers={a.workers})")
    if a.write:
        a.write.parent.mkdir(parents=True, exist_ok=True)
        a.write.write_text(json.dumps({"files": got}, indent=1, sort_keys=True) + "\n")
        print(f"wrote {a.write}")
        return 0
    ref = json.loads(a.check.read_text())["files"]
    bad = [k for k in sorted(ref.keys() | got.keys()) if ref.get(k) != got.get(k)]
    for k in bad:
        r, g_ = ref.get(k, {}), got.get(k, {})
        diff = sorted(x for x in r.keys() | g_.keys() if r.get(x) != g_.get(x))
        label = (f" (verdict {r.get('verdict')} -> {g_.get('verdict')})"
                 if r.get("verdict") != g_.get("verdict") else "")
        print(f"DIFFERS {k}: {', '.join(diff)}{label}")
    print(f"{len(ref) - len(bad)} of {len(ref)} reports identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

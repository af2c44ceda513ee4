"""Build the ``--extra`` folder of a training recipe from the fetched public sources.

SET is ``ai_image`` (``veriscope train ai-image``) or ``synthetic_speech`` (``veriscope train
synthetic-speech``). Every manifest in ``src/veriscope/train/manifests/SET/<owner+name>.tsv``
names a public GitHub repository, a commit and the files used (path and SHA-256). This script
copies each listed file to ``DEST/<owner+name>/<path>`` and checks its bytes:

- ``--mirror ROOT``: from local bare git snapshots (``ROOT/<owner+name>/**/`` holding
  ``HEAD`` or the commit), as made by a mirror tool; no network;
- otherwise: ``git clone --filter=blob:none`` of ``https://github.com/<owner>/<name>`` at the
  listed commit into a temporary folder (needs git and network).

Files already present with the right hash are skipped, so a second run is cheap.

Usage: python benchmarks/fetch_sources.py SET DEST [--mirror ROOT] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from veriscope.core.media import file_sha256
from veriscope.train.common import read_manifest

MANIFESTS = Path(__file__).resolve().parents[1] / "src" / "veriscope" / "train" / "manifests"
SETS = ("ai_image", "synthetic_speech")


def _git_dir(mirror: Path, stem: str) -> Path | None:
    base = mirror / stem
    if not base.is_dir():
        return None
    for cand in [base, *sorted(p for p in base.rglob("*") if p.is_dir())]:
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    return None


def _show(git_dir: Path, commit: str, path: str) -> bytes | None:
    r = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
                       capture_output=True)
    return r.stdout if r.returncode == 0 else None


def fetch_one(manifest: Path, dest: Path, mirror: Path | None) -> tuple[int, int]:
    meta, rows = read_manifest(manifest)
    stem = manifest.stem
    commit = meta.get("commit", "HEAD")
    todo = [r for r in rows if not _ok(dest / stem / r["path"], r["sha256"])]
    if not todo:
        return len(rows), 0
    tmp = None
    git_dir = _git_dir(mirror, stem) if mirror else None
    if git_dir is None:
        tmp = tempfile.TemporaryDirectory()
        url = f"https://github.com/{meta.get('repo', stem.replace('+', '/'))}"
        subprocess.run(["git", "clone", "--quiet", "--filter=blob:none", "--no-checkout", url,
                        tmp.name], check=True)
        git_dir = Path(tmp.name) / ".git"
    bad = 0
    for r in todo:
        data = _show(git_dir, r.get("commit") or commit, r["path"])
        if data is None or hashlib.sha256(data).hexdigest() != r["sha256"]:
            bad += 1
            continue
        out = dest / stem / r["path"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    if tmp is not None:
        tmp.cleanup()
    return len(rows) - bad, bad


def _ok(path: Path, sha: str) -> bool:
    return path.is_file() and file_sha256(path) == sha


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", choices=SETS)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--mirror", type=Path, default=None)
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args()
    failed = 0
    for m in sorted((MANIFESTS / a.set).glob("*.tsv")):
        if a.only and m.stem not in a.only:
            continue
        ok, bad = fetch_one(m, a.dest, a.mirror)
        failed += bad
        print(f"{m.stem}: {ok} files ready, {bad} missing or changed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

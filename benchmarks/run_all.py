"""`make bench`: run every benchmark script; each prints Markdown, saved as bench-out/<script>.md.

The figures in docs/benchmarks.md come from these outputs (copied with the date and machine
state noted there). Expect well over an hour on 2 cores for the whole set; pass script names to
run only some, e.g. `python benchmarks/run_all.py foundation classic`.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "bench-out"
SCRIPTS = {
    "e2e_speed": [],
    "contain_overhead": [],
    "hostile": [],
    "hostile_batch": [],
    "foundation": [],
    "classic": [],
    "classic_jpeg": ["--split", "eval"],
    "classic_grid": [],
    "classic_noise": [],
    "classic_copymove": ["--fit-small", "--fit-large"],
    "classic_xsplice": [],
    "watermark_fpr": [],
    "audio_splice": [],
    "synthetic_speech": [],
    "calibration": [],
    "image_speed": [],
    "analyze_workers": [],
    "verdicts": ["--micc"],
    "video_speed": [],
    "video_icpr": [],
    "video_edits": ["--robust", "--out", str(OUT / "video_edits_tables.md")],
    "faces": [],
    "lip_sync": [],
    "desk_load": [],
    "archive_retrieval": [],
    "posts": [],
}

wanted = sys.argv[1:] or list(SCRIPTS)
OUT.mkdir(exist_ok=True)
rc = 0
for name in wanted:
    script = HERE / f"{name}.py"
    if not script.exists():
        print(f"== {name}: no such script", flush=True)
        rc = 1
        continue
    print(f"== {name}", flush=True)
    with open(OUT / f"{name}.md", "w") as fh:
        r = subprocess.run([sys.executable, str(script), *SCRIPTS.get(name, [])], stdout=fh)
    print(f"   exit {r.returncode}, output in {OUT / (name + '.md')}", flush=True)
    rc |= r.returncode
sys.exit(rc)

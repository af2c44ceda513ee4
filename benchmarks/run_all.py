"""`make bench`: run every benchmark script; each writes Markdown into bench-out/."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["foundation.py", "watermark_fpr.py"]

rc = 0
for s in SCRIPTS:
    if (HERE / s).exists():
        print(f"== {s}", flush=True)
        rc |= subprocess.call([sys.executable, str(HERE / s)])
sys.exit(rc)

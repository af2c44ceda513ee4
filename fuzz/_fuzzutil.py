"""Shared plumbing of the fuzz harnesses (fuzz/fuzz_*.py).

A harness module defines ``TestOneInput(data: bytes)`` and calls :func:`main` under
``if __name__ == "__main__"``. Importing a harness (as tests/fuzz does) starts nothing: atheris
is only set up, and the veriscope modules only instrumented, when the file runs as a script.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

# Media written for the file-based targets: RAM-backed when the machine has it.
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def instrument(modules: list[str]) -> None:
    """Import ``modules`` with atheris' coverage instrumentation, restricted to veriscope.

    Call at the top of a harness that runs as a script, before it imports the modules it
    fuzzes; later imports then find the instrumented modules already loaded."""
    import atheris

    with atheris.instrument_imports(include=["veriscope"]):
        for name in modules:
            __import__(name)


def scratch_file(data: bytes, suffix: str = ".bin") -> Path:
    """Write ``data`` to this process' scratch file (one per process and suffix, overwritten
    by every input) and return its path."""
    p = SCRATCH / f"veriscope-fuzz-{os.getpid()}{suffix}"
    p.write_bytes(data)
    return p


def main(test_one_input) -> None:
    """Run libFuzzer on ``test_one_input`` with the command line's options."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def evidence_json(ev) -> str:
    """``ev`` as the report writes it (strict JSON: a value it cannot write is a finding)."""
    import json

    return json.dumps(ev.to_dict(), ensure_ascii=False, allow_nan=False)

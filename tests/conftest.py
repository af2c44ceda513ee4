import os
import sys
from pathlib import Path

import pytest

# Tests live in folders that mirror the package (tests/core, tests/detectors/image, ...); the
# shared helpers (helpers.py, video_clips.py) and data/ stay here.
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _shared_or_skip(sub: str | None = None) -> Path:
    p = SHARED / sub if sub else SHARED
    if p.is_dir():
        return p
    if os.environ.get("CI"):
        pytest.fail(f"{p} is missing, and CI is set: shared-data tests must run under CI")
    pytest.skip(f"{p} not present (and CI unset)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skips only when it is absent AND CI is unset."""
    return _shared_or_skip()


@pytest.fixture
def shared(request):
    """Call shared(sub) to get ../shared/data/sub with the same skip rule."""
    return _shared_or_skip

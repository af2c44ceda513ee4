"""The package layout of docs/architecture.md: no import loops, the layer contracts hold, the
public API is what the README shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def import_loops(graph, package: str) -> list[tuple[str, str]]:
    """Direct imports a -> b inside ``package`` that lie on a loop: b leads back to a."""
    mods = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    return sorted((a, b) for a in mods for b in graph.find_modules_directly_imported_by(a)
                  if b in mods and graph.chain_exists(importer=b, imported=a))


def test_the_loop_check_finds_a_loop_and_only_loops():
    grimp = pytest.importorskip("grimp")
    g = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a")):
        g.add_import(importer=a, imported=b)
    assert import_loops(g, "p") == [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a")]
    g.remove_import(importer="p.c", imported="p.a")
    assert import_loops(g, "p") == []


def test_no_import_loops_between_modules():
    grimp = pytest.importorskip("grimp")
    loops = import_loops(grimp.build_graph("veriscope"), "veriscope")
    assert loops == [], f"import loops: {loops}"


def test_layer_contracts_hold():
    pytest.importorskip("importlinter")
    exe = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(exe), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_every_package_says_what_lives_there():
    import importlib
    import pkgutil

    import veriscope

    missing = []
    for info in pkgutil.walk_packages(veriscope.__path__, "veriscope."):
        if info.ispkg:
            mod = importlib.import_module(info.name)
            if not (mod.__doc__ or "").strip():
                missing.append(info.name)
    assert missing == []


def test_public_api(tmp_path):
    from helpers import save, smooth_image

    import veriscope

    for name in veriscope.__all__:
        assert hasattr(veriscope, name), name
    p = save(smooth_image(seed=3), tmp_path / "a.png")
    rep = veriscope.analyze(p, detectors="noise,metadata")
    assert isinstance(rep, veriscope.Report)
    assert [e.name for e in rep.evidence] == ["noise", "metadata"]
    assert rep.verdict.label in ("no_evidence", "manipulated", "synthetic", "inconclusive")
    assert issubclass(type(rep.evidence[0]), veriscope.Evidence)
    with pytest.raises(veriscope.MediaError):
        veriscope.analyze(tmp_path / "missing.jpg")

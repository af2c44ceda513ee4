"""The package layout of docs/architecture.md: no import loops, the layer contracts hold, the
public API is what the README shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def import_cycles(modules, imported_by) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself):
    each is an import loop. ``imported_by(m)`` -> the modules ``m`` imports directly."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # iterative Tarjan: the graph is deep enough to hit the recursion limit
        work = [(v, iter(sorted(imported_by(v))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(imported_by(w)))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in imported_by(node):
                        out.append(sorted(comp))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return out


def test_cycle_finder_finds_a_loop_and_only_loops():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(import_cycles(g, lambda m: g[m])) == [["a", "b", "c"], ["e"]]
    g2 = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert import_cycles(g2, lambda m: g2[m]) == []


def test_no_import_loops_between_modules():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("veriscope")
    mods = {m for m in graph.modules if m.startswith("veriscope.")}

    def imported_by(m):
        return {x for x in graph.find_modules_directly_imported_by(m) if x in mods}

    loops = import_cycles(mods, imported_by)
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

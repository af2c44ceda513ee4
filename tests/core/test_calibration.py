"""Image-level calibration of the classic detectors (veriscope.core.calibration, fusion rule 9).

The FIT table (tests/data/calibration_fit.csv) holds the classic detectors' cached image
scores and reliability levels on the FIT records (kodak24-derived only), as written by
``benchmarks/calibration.py --write``; the committed model must come out of it again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from veriscope.core import calibration as C
from veriscope.core.evidence import Evidence
from veriscope.core.fusion import fuse

TABLE = Path(__file__).resolve().parents[1] / "data" / "calibration_fit.csv"


@pytest.fixture(scope="module")
def rows():
    return C.read_table(TABLE)


@pytest.fixture(scope="module")
def model():
    return C.load_model()


def ev(name, score, level="high", label=None, sev="medium"):
    e = Evidence(name, "1", applicable=True, score=score,
                 label=label or ("manipulated" if score is not None and score >= 0.5 else "no_evidence"))
    if level:
        e.data["reliability"] = {"level": level, "why": f"{name} says {level}"}
    if score is not None and score >= 0.5:
        e.add(sev, f"{name}_region", f"{name} found a region")
    return e


def test_committed_model_is_what_the_fit_protocol_gives(rows, model):
    assert hashlib.sha256(TABLE.read_bytes()).hexdigest() == model["fit_data"]["table_sha256"]
    assert {r["set"] for r in rows} == set(model["fit_data"]["sets"])  # FIT sets only
    refit, cv = C.fit_protocol(rows)
    assert len(cv) == len(C.GRID["knots"]) * len(C.GRID["rho"]) * len(C.GRID["l2"])
    assert refit["detectors"] == model["detectors"]
    assert model["rule"] == C.RULE  # the committed model states the rule it is combined under
    for k in ("knots", "reliability_factor", "l2", "target_fpr"):
        assert refit[k] == model[k], k
    assert refit["intercept"] == pytest.approx(model["intercept"], abs=2e-3)
    for d in model["detectors"]:
        assert refit["weights"][d] == pytest.approx(model["weights"][d], abs=2e-3), d


def test_fit_false_alarms_meet_the_target_out_of_fold(rows, model):
    y = np.array([r["label"] for r in rows])
    z = C.out_of_fold(rows, model["detectors"], model["knots"], model["reliability_factor"],
                      model["l2"], C.FOLDS) + model["intercept_shift"]
    assert (z[y == 0] >= 0).mean() <= model["target_fpr"] + 1e-9
    # and in sample, with the committed model itself
    s = np.array([C.combine(r["scores"], r["levels"], model).score for r in rows])
    assert (s[y == 0] >= 0.5).mean() <= 0.05
    # the combination detects at least half of the forgeries that its detectors can see
    # (copy-moves are left to copy_move's own bar, OWN_BAR); since camera-fit (issue 15) a
    # detector reporting low reliability adds nothing (rho low = 0), so fewer than before
    seen = np.array([any((r["scores"].get(d) or 0) >= 0.5 for d in model["detectors"])
                     for r in rows])
    assert (s[(y == 1) & seen] >= 0.5).mean() > 0.5
    assert not set(C.OWN_BAR) & set(model["detectors"])
    # innocent camera photos, as they come and treated, stay within the target in sample
    cam = np.array([r["set"].startswith("camera-fit") for r in rows])
    assert cam.sum() >= 300 and (s[cam & (y == 0)] >= 0.5).mean() <= 0.035  # 10 / 330 measured


def test_own_bar_detectors_keep_their_own_bar_in_the_verdict(model):
    """Rule 4: an own-bar detector enters the verdict through own_bar_score: its bar maps to
    0.5, 1 maps to GROUP_MAX; the detector's own evidence keeps its score."""
    for d in C.OWN_BAR:
        bar = C.OWN_BAR_MIN[d]
        e = ev(d, 1.0)
        v = fuse([e, ev("noise", 0.1)], kind="image")
        assert v.score == pytest.approx(C.GROUP_MAX) and v.label == "manipulated"
        assert v.band == "strong" and e.score == 1.0  # never "very strong" alone; not mutated
        assert f"{d}'s own score 1.00 counts as 0.90" in v.summary
        assert fuse([ev(d, bar), ev("noise", 0.1)]).label == "manipulated"
        v = fuse([ev(d, (0.5 + bar) / 2), ev("noise", 0.1)], kind="image")
        assert v.label == "no_evidence" and v.score < 0.5
        assert fuse([ev(d, 0.4), ev("noise", 0.1)], kind="image").score < 0.5
        xs = np.linspace(0, 1, 101)
        ys = [C.own_bar_score(d, x) for x in xs]
        assert all(b >= a for a, b in zip(ys, ys[1:], strict=False))


def test_uncalibrated_classic_detectors_are_capped_alone(model):
    v = fuse([ev("jpeg_grid", 0.99), ev("noise", 0.1)], kind="image")
    assert v.label == "manipulated" and v.score == pytest.approx(C.GROUP_MAX)
    assert "jpeg_grid's own score 0.99 counts as 0.90" in v.summary


def test_monotone_in_every_detector(model):
    assert all(w >= 0 for ws in model["weights"].values() for w in ws)
    assert all(v >= 0 for v in model["reliability_factor"].values())
    rng = np.random.default_rng(0)
    dets = model["detectors"]
    for _ in range(300):
        scores = {d: float(rng.uniform()) if rng.uniform() < 0.8 else None for d in dets}
        levels = {d: str(rng.choice(C.LEVELS)) for d in dets}
        base = C.combine(scores, levels, model)
        for d in dets:
            up = dict(scores, **{d: min(1.0, (scores[d] or 0.0) + float(rng.uniform(0, 0.5)))})
            assert C.combine(up, levels, model).score >= base.score - 1e-12
    # more reliable never lowers the score either (rho(high) >= rho(medium) >= rho(low))
    f = model["reliability_factor"]
    assert f["high"] >= f["medium"] >= f["low"]


def test_fuse_uses_the_calibrated_score_for_images(model):
    evs = [ev("noise", 0.62), ev("splicebuster", 0.58, level="medium"), ev("copy_move", 0.02),
           ev("metadata", 0.1, level=None)]
    c = C.combine({"noise": 0.62, "splicebuster": 0.58, "copy_move": 0.02},
                  {"noise": "high", "splicebuster": "medium", "copy_move": "high"}, model)
    v = fuse(evs, kind="image")
    assert v.score == pytest.approx(max(round(c.score, 6), 0.1))
    assert v.score != pytest.approx(0.62)  # not the max rule
    assert v.checked == ["noise", "splicebuster", "copy_move", "metadata"]
    # the per-detector evidence itself is untouched
    assert [e.score for e in evs] == [0.62, 0.58, 0.02, 0.1]
    # other kinds keep the plain maximum
    assert fuse(evs, kind="video").score == pytest.approx(0.62)


def test_calibrated_evidence_names_the_contributions(model):
    strong = {d: 0.999 for d in model["detectors"]}
    evs = [ev(d, s) for d, s in strong.items()]
    v = fuse(evs, kind="image")
    assert v.label == "manipulated" and v.score >= 0.95
    assert v.drivers[0]["detector"] == C.NAME and v.drivers[0]["code"] == "classic_combined"
    msg = v.drivers[0]["message"]
    assert all(d in msg for d in model["detectors"] if sum(model["weights"][d]) > 0)
    # the detectors' own findings follow, attributed by name
    assert len(v.drivers) > 1
    assert all(d["message"].split(":")[0] in model["detectors"] for d in v.drivers[1:])


def test_provenance_still_wins():
    evs = [ev("metadata", 0.97, label="synthetic", level=None), ev("noise", 0.99),
           ev("copy_move", 1.0)]
    assert fuse(evs, kind="image").score >= 0.97  # never diluted by the classic detectors
    evs = [ev("metadata", 0.97, label="synthetic", level=None), ev("noise", 0.1)]
    v = fuse(evs, kind="image")
    assert v.label == "synthetic" and v.score == pytest.approx(0.97)


def test_uncalibrated_classic_detectors_keep_their_own_score(model):
    free = [d for d in C.CLASSIC if d not in model["detectors"]]
    assert "cfa" in free  # never scored on FIT
    v = fuse([ev("cfa", 0.9), ev("noise", 0.05)], kind="image")
    assert v.score == pytest.approx(0.9) and v.label == "manipulated"


def test_single_flag_below_calibrated_bar_is_shown_not_hidden(model):
    # some detector at 0.5..0.7 alone no longer makes a verdict (the point of the calibration)
    cases = [(d, s) for d in model["detectors"] for s in (0.5, 0.55, 0.6, 0.65, 0.7)
             if C.combine({d: s}, {d: "high"}, model).score < 0.5]
    assert cases
    d, s = cases[-1]
    v = fuse([ev(d, s), ev("metadata", 0.0, level=None)], kind="image")
    assert v.label == "no_evidence" and v.score < 0.5
    assert "classic_combined" in v.summary and d in v.summary  # listed under "Worth a look"


def test_only_low_reliability_support_is_inconclusive(monkeypatch):
    toy = {"detectors": ["noise", "copy_move"], "knots": [0.5], "intercept": -2.0,
           "reliability_factor": {"high": 1.0, "medium": 1.0, "low": 1.0, "unknown": 1.0},
           "weights": {"noise": [2.0], "copy_move": [2.0]}}
    monkeypatch.setattr(C, "load_model", lambda path=None: toy)
    v = fuse([ev("noise", 0.95, level="low"), ev("copy_move", 0.01)], kind="image")
    assert v.label == "inconclusive" and "noise says low" in v.summary
    v = fuse([ev("noise", 0.95, level="high"), ev("copy_move", 0.01)], kind="image")
    assert v.label == "manipulated"
    # a high-reliability detector that supplies a real share of the evidence counts as support
    v = fuse([ev("noise", 0.95, level="low"), ev("copy_move", 0.9, level="high")], kind="image")
    assert v.label == "manipulated"


def test_table_round_trip(tmp_path, rows):
    p = tmp_path / "t.csv"
    C.write_table(rows[:20], p)
    assert C.read_table(p) == rows[:20]


def test_one_kind_of_trace_alone_stays_below_very_strong(model):
    """Rule 3: a single statistical detector, or several that read the same trace, lift the
    combined score to at most GROUP_MAX; two independent kinds of trace are needed for 0.95."""
    for d in model["detectors"]:
        if sum(model["weights"][d]) > 0:
            c = C.combine({d: 0.999}, {d: "high"}, model)
            assert c.score == pytest.approx(C.GROUP_MAX, abs=1e-6), d
            assert C.combine({d: 0.999}, {d: "high"}, model, bounded=False).score > C.GROUP_MAX
    same = C.combine({"noise": 0.95, "splicebuster": 0.95}, {}, model)
    alone = C.combine({"noise": 0.95}, {}, model)
    assert same.score == pytest.approx(alone.score)  # counted once
    assert same.contributions["splicebuster"]["log_odds"] == 0.0
    assert same.contributions["splicebuster"]["log_odds_fitted"] >= 0.0
    two = C.combine({"noise": 0.95, "resampling": 0.95}, {"noise": "high", "resampling": "high"},
                    model)
    assert two.score >= 0.95
    v = fuse([ev("noise", 0.999), ev("splicebuster", 0.999)], kind="image")
    assert v.label == "manipulated" and v.band == "strong"
    assert "counted once" in v.drivers[0]["message"] or "capped" in v.drivers[0]["message"]


def test_bounding_keeps_each_detector_bar(model):
    """A detector that reaches 0.5 on its own still lifts the combination over 0.5 (the cap is
    far above what crossing needs), so bounding changes bands, not the single-detector flags."""
    for d in model["detectors"]:
        if sum(model["weights"][d]) > 0:
            for s in (0.52, 0.6, 0.8):
                a = C.combine({d: s}, {d: "high"}, model)
                b = C.combine({d: s}, {d: "high"}, model, bounded=False)
                assert (a.score >= 0.5) == (b.score >= 0.5), (d, s)

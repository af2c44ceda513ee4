"""Pieces every training recipe uses: where the shared data is, and the weighted, standardised,
L2-regularised logistic regression the small models are fitted with."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np


def find_data_root(given: str | Path | None, markers: tuple[str, ...]) -> Path:
    """The shared data folder: ``given``, $VERISCOPE_SHARED_DATA, or ``shared/data`` next to
    (or above) the current directory or this source tree; the first that holds one of the
    ``markers`` folders."""
    cands = [Path(given)] if given else []
    if os.environ.get("VERISCOPE_SHARED_DATA"):
        cands.append(Path(os.environ["VERISCOPE_SHARED_DATA"]))
    for base in (Path.cwd(), Path(__file__).resolve()):
        for p in (base, *base.parents):
            cands += [p / "shared" / "data", p.parent / "shared" / "data"]
    for c in cands:
        if any((c / m).is_dir() for m in markers):
            return c
    raise FileNotFoundError("shared data folder not found (give --data PATH or set "
                            "VERISCOPE_SHARED_DATA)")


def standardise(X: np.ndarray, w: np.ndarray):
    """(Z, mean, scale): X centred and scaled by its w-weighted moments (w sums to 1)."""
    mean = (w[:, None] * X).sum(axis=0)
    scale = np.sqrt((w[:, None] * (X - mean) ** 2).sum(axis=0))
    scale = np.where(scale > 1e-8, scale, 1.0)
    return (X - mean) / scale, mean, scale


def minimize(f, theta0, maxiter: int, gtol: float, ftol: float):
    """L-BFGS-B with the analytic gradient ``f`` returns: deterministic from ``theta0``."""
    from scipy.optimize import minimize as _minimize

    return _minimize(f, theta0, jac=True, method="L-BFGS-B",
                     options={"maxiter": maxiter, "gtol": gtol, "ftol": ftol})


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, *, maxiter: int,
                 gtol: float, ftol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float,
                                                    object]:
    """Weighted (rows with w > 0, w normalised to sum 1), standardised, L2-regularised logistic
    regression from a zero start. Returns (mean, scale, coef, bias, optimizer result)."""
    keep = w > 0
    y, w = y[keep].astype(np.float64), w[keep] / w[keep].sum()
    Z, mean, scale = standardise(X[keep], w)
    d = Z.shape[1]

    def f(theta):
        coef, b = theta[:d], theta[d]
        z = Z @ coef + b
        g = w * (1.0 / (1.0 + np.exp(-z)) - y)
        val = float(w @ np.logaddexp(0.0, -(2 * y - 1) * z)) + 0.5 * l2 * float(coef @ coef)
        return val, np.r_[Z.T @ g + l2 * coef, g.sum()]

    res = minimize(f, np.zeros(d + 1), maxiter, gtol, ftol)
    return mean, scale, res.x[:d], float(res.x[d]), res


def read_manifest(path: Path) -> tuple[dict, list[dict]]:
    """({'repo', 'commit', ...} from the '# key: value' header lines, rows)."""
    meta: dict = {}
    rows: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            k, _, v = line[1:].strip().partition(":")
            if v:
                meta.setdefault(k.strip().lower(), v.strip())
        elif line.strip():
            rows.append(line)
    reader = csv.DictReader(rows, delimiter="\t")
    return meta, list(reader)

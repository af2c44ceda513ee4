"""Fusion: from a list of Evidence to one Verdict.

The rule (also in docs/fusion.md):

1. Only evidence that applied, ran without error and gave a score takes part.
2. ``verdict.score`` is the largest such score. Detectors are built so that a
   score of 0.5 or more is, on its own, evidence for the detector's label; facts
   common in innocent files are kept below 0.5 by their detectors.
3. With ``verdict.score >= 0.5`` the label is the label of the evidence with
   the highest score (``synthetic`` wins a tie: it is the more specific claim).
4. With no scored evidence at all (nothing applied, or everything failed) the
   label is ``inconclusive``: nothing was checked.
5. Otherwise the label is ``no_evidence``; the summary says what was checked.
   A forensic tool never calls media authentic.
6. If a detector that applied failed, a below-threshold result becomes
   ``inconclusive`` when half or more of the applicable detectors failed.

Bands: score < 0.5 -> "none"; [0.5, 0.65) weak; [0.65, 0.8) moderate;
[0.8, 0.95) strong; >= 0.95 very strong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from veriscope.evidence import SEVERITIES, Evidence

THRESHOLD = 0.5
BANDS = ((0.95, "very_strong"), (0.8, "strong"), (0.65, "moderate"), (0.5, "weak"))
BAND_WORDS = {"none": "no notable evidence", "weak": "weak evidence", "moderate": "moderate evidence",
              "strong": "strong evidence", "very_strong": "very strong evidence"}
VERDICT_LABELS = ("no_evidence", "manipulated", "synthetic", "inconclusive")


@dataclass
class Verdict:
    label: str
    score: float | None
    band: str
    summary: str
    drivers: list[dict] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "band": self.band,
                "band_text": BAND_WORDS[self.band], "summary": self.summary,
                "drivers": self.drivers, "checked": self.checked, "failed": self.failed}


def band_of(score: float | None) -> str:
    if score is None:
        return "none"
    for lo, name in BANDS:
        if score >= lo:
            return name
    return "none"


def _sev_rank(sev: str) -> int:
    return SEVERITIES.index(sev)


def fuse(evidence: list[Evidence], kind: str = "image") -> Verdict:
    applicable = [e for e in evidence if e.applicable]
    failed = [e.name for e in applicable if e.error]
    scored = [e for e in applicable if not e.error and e.score is not None]
    checked = [e.name for e in applicable if not e.error]

    if not scored:
        if failed:
            why = f"every applicable detector failed ({', '.join(failed)})"
        elif checked:
            why = f"the detectors that ran ({', '.join(checked)}) give no score"
        else:
            why = f"no detector in this version applies to this {kind}"
        return Verdict("inconclusive", None, "none",
                       f"Inconclusive: {why}, so nothing can be said about this {kind}.",
                       [], checked, failed)

    top = max(scored, key=lambda e: (e.score, e.label == "synthetic"))
    score = float(top.score)
    band = band_of(score)
    drivers = _drivers(top) if score >= THRESHOLD else []
    notes = _notable(scored, exclude=top if score >= THRESHOLD else None)

    if score >= THRESHOLD and top.label in ("synthetic", "manipulated"):
        label = top.label
        what = "synthetic (made or partly made by a generator)" if label == "synthetic" \
            else "manipulated (changed after capture)"
        cites = "; ".join(f"{d['message']} [{d['detector']}: {d['code']}]" for d in drivers) \
            or f"{top.name} scored {score:.2f}"
        others = [e for e in scored if e is not top and e.score >= THRESHOLD]
        also = ""
        if others:
            also = " Also above threshold: " + ", ".join(
                f"{e.name} ({e.label}, {e.score:.2f})" for e in others) + "."
        summary = (f"Likely {what}: {BAND_WORDS[band]}. {cites}.{also}"
                   f"{_notes_text(notes)} Checked by: {', '.join(checked)}.")
    elif score >= THRESHOLD:
        label = "inconclusive"
        summary = (f"Inconclusive: {top.name} reports {top.label or 'an unlabelled score'} at "
                   f"{score:.2f}.{_notes_text(notes)} Checked by: {', '.join(checked)}.")
    else:
        label = "no_evidence"
        if failed and len(failed) * 2 >= len(applicable):
            label = "inconclusive"
        summary = (f"No evidence of manipulation or synthesis was found by {', '.join(checked)}."
                   f"{_notes_text(notes)} This does not prove the {kind} authentic: these checks "
                   "see only what they look at, and traces can be removed.")
    if failed:
        summary += f" Failed to run: {', '.join(failed)}."
    return Verdict(label, round(score, 6), band, summary, drivers, checked, failed)


def _drivers(e: Evidence) -> list[dict]:
    fs = sorted(e.findings, key=lambda f: -_sev_rank(f.severity))
    fs = [f for f in fs if f.severity in ("medium", "high")] or fs[:1]
    return [{"detector": e.name, "code": f.code, "severity": f.severity, "message": f.message}
            for f in fs[:5]]


def _notable(scored: list[Evidence], exclude) -> list[str]:
    out = []
    for e in scored:
        if e is exclude:
            continue
        for f in e.findings:
            if f.severity in ("low", "medium", "high"):
                out.append(f"{f.message} [{e.name}: {f.code}]")
    return out[:6]


def _notes_text(notes: list[str]) -> str:
    if not notes:
        return ""
    return " Worth a look: " + "; ".join(n.rstrip(".") for n in notes) + "."


def fuse_maps(evidence: list[Evidence]) -> np.ndarray | None:
    """Pixel-wise maximum of the heatmaps of detectors that applied and ran.

    Maps are brought to the size of the largest one first. Returns None when no
    detector produced a map.
    """
    maps = [e.heatmap for e in evidence if e.applicable and not e.error and e.heatmap is not None]
    if not maps:
        return None
    h = max(m.shape[0] for m in maps)
    w = max(m.shape[1] for m in maps)
    out = np.zeros((h, w), np.float32)
    for m in maps:
        if m.shape != (h, w):
            import cv2

            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
        np.maximum(out, m, out=out)
    return out

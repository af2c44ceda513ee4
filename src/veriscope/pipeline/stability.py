"""Verdict stability: does the verdict survive the re-encodings media goes through when shared?

``veriscope analyze --stability N`` re-runs the same detectors on the first N variants of
:data:`VARIANTS` (made with :mod:`veriscope.signals.perturb` from the decoded pixels) and reports,
as a pseudo-evidence named ``stability`` (score None: it is not evidence of manipulation),
each variant's verdict and how often the verdict label flips against the original.

A flip is not by itself a problem with the original verdict: re-encoding strips metadata,
drops Content Credentials and rewrites JPEG tables, so the provenance detectors
(:data:`PROVENANCE`) legitimately see something else in a variant. The signal-only
flip rate re-fuses each run without them, to show whether the pixel evidence holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from veriscope.core.evidence import Evidence

VERSION = "1"
NAME = "stability"

VARIANTS: tuple[tuple[str, str], ...] = (
    ("social", "shared on a social network: long side <= 1080 px, JPEG 80, metadata stripped"),
    ("jpeg:q=90", "re-saved as JPEG quality 90"),
    ("jpeg:q=75", "re-saved as JPEG quality 75"),
    ("resize:s=0.75+jpeg:q=90", "scaled to 75 % and saved as JPEG 90"),
    ("screenshot", "screenshot: rescaled by 0.8, display gamma and sharpening, PNG"),
    ("format:to=swap", "format swap: a JPEG saved as PNG, anything else as JPEG 92"),
    ("crop:frac=0.9+jpeg:q=90", "centre crop to 90 % of each side, JPEG 90"),
    ("text+jpeg:q=85", "caption overlaid at the bottom, JPEG 85"),
    ("jpeg:q=60", "re-saved as JPEG quality 60"),
    ("resize:s=0.5+jpeg:q=80", "scaled to 50 % and saved as JPEG 80"),
)
"""The fixed, ordered list of everyday variants; ``--stability N`` uses the first N."""

PROVENANCE = ("metadata", "c2pa", "jpeg_tables")
"""Detectors that read the file's container (metadata, manifests, encoder tables) rather
than the picture: re-encoding changes what they see by construction."""


def _side(e: Evidence | None) -> str:
    if e is None or not e.applicable:
        return "not_applicable"
    if e.error:
        return "failed"
    if e.score is None:
        return "no_score"
    return f"{e.label or 'unlabelled'}>=0.5" if e.score >= 0.5 else "below_0.5"


def _changes(orig: list[Evidence], new: list[Evidence]) -> dict:
    """Detectors whose outcome changed side: applicability, failure, or crossing 0.5."""
    a = {e.name: e for e in orig}
    b = {e.name: e for e in new}
    out = {}
    for name in a.keys() | b.keys():
        sa, sb = _side(a.get(name)), _side(b.get(name))
        if sa != sb:
            out[name] = {"from": sa, "to": sb,
                         "score_from": a[name].score if name in a else None,
                         "score_to": b[name].score if name in b else None}
    return dict(sorted(out.items()))


def _signal_label(evidence: list[Evidence], kind: str) -> str:
    from veriscope.core.fusion import fuse

    return fuse([e for e in evidence if e.name not in PROVENANCE and e.name != NAME], kind=kind).label


def assess(media, report, classes, ctx, n: int, *, seed: int = 0, workdir=None) -> Evidence:
    """Re-analyse the first ``n`` variants of ``media`` with ``classes`` and compare verdicts
    with ``report`` (the original analysis). Returns the ``stability`` Evidence."""
    from veriscope.core.media import Media
    from veriscope.pipeline.runner import analyze_media
    from veriscope.signals.perturb import derive_seed, parse_one

    if media.kind != "image":
        return Evidence.not_applicable(NAME, VERSION, f"re-encoding variants exist for images only, "
                                                      f"not {media.kind}")
    n = max(0, min(int(n), len(VARIANTS)))
    orig_label = report.verdict.label
    orig_signal = _signal_label(report.evidence, media.kind)
    rows = []
    with tempfile.TemporaryDirectory(prefix="veriscope-stability-", dir=workdir) as tmp:
        for i, (spec, what) in enumerate(VARIANTS[:n]):
            row = {"perturbation": spec, "description": what}
            try:
                p = parse_one(spec)
                res = p.apply(media.rgb(), seed=derive_seed(seed, spec, media.sha256),
                              src_format=media.format)
                f = Path(tmp) / f"variant{i}{res.ext}"
                f.write_bytes(res.file_bytes())
                m2 = Media.open(f, max_pixels=media.max_pixels)
                rep2 = analyze_media(m2, classes, ctx)
            except Exception as e:  # a variant that cannot be made or read is reported, not fatal
                row.update(error=f"{type(e).__name__}: {e}", label=None, score=None, flipped=None)
                rows.append(row)
                continue
            sig = _signal_label(rep2.evidence, media.kind)
            row.update(label=rep2.verdict.label, score=rep2.verdict.score,
                       flipped=rep2.verdict.label != orig_label, signal_label=sig,
                       signal_flipped=sig != orig_signal, width=m2.width, height=m2.height,
                       format=m2.format, changed_detectors=_changes(report.evidence, rep2.evidence))
            rows.append(row)
    done = [r for r in rows if r.get("error") is None]
    flips = [r for r in done if r["flipped"]]
    sflips = [r for r in done if r["signal_flipped"]]
    rate = len(flips) / len(done) if done else None
    srate = len(sflips) / len(done) if done else None
    ev = Evidence(NAME, VERSION, score=None, label=None, data={
        "original": {"label": orig_label, "score": report.verdict.score, "signal_label": orig_signal},
        "n_requested": n, "n_done": len(done), "flips": len(flips), "flip_rate": rate,
        "signal_flips": len(sflips), "signal_flip_rate": srate,
        "provenance_detectors": list(PROVENANCE), "variants": rows,
    })
    if not done:
        ev.reason = "no variant could be analysed"
        ev.add("info", "verdict_stability", "No re-encoded variant of this image could be analysed, "
               "so the stability of the verdict is unknown.", n=n)
        return ev
    sev = "info" if not flips else ("medium" if rate >= 0.5 else "low")
    if flips:
        which = ", ".join(f"{r['perturbation']} -> {r['label']}" for r in flips)
        head = (f"The verdict '{orig_label}' changed under {len(flips)} of {len(done)} everyday "
                f"re-encodings ({which})")
    else:
        head = f"The verdict '{orig_label}' stayed the same under all {len(done)} everyday re-encodings"
    msg = (f"{head}; re-encoding strips metadata and Content Credentials and rewrites the JPEG "
           f"tables, so the provenance detectors ({', '.join(PROVENANCE)}) legitimately change, "
           f"and without them the verdict changed under {len(sflips)} of {len(done)}.")
    ev.add(sev, "verdict_stability", msg, flip_rate=round(rate, 4), signal_flip_rate=round(srate, 4),
           flipped=[r["perturbation"] for r in flips])
    return ev


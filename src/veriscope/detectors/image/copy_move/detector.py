"""Copy-move forgery detection: a region of the image duplicated elsewhere in the same image.

Keypoints (SIFT + RootSIFT, generalised 2NN matching, sequential RANSAC, clustering;
Amerini et al. 2011) and a dense field of rotation-invariant Zernike features matched
by PatchMatch (Cozzolino et al. 2015) propose affine transforms; each is checked by a
dense correlation between the image and its warped self, which outlines BOTH the
source and the copy. See docs/detectors/copy_move.md for the method, every constant
and the measured error rates.
"""

from __future__ import annotations

import time

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, working_rgb

MIN_SIDE = 64
"""Images with a side shorter than this are not analysed (nothing meaningful to match)."""

LOW_RELIABILITY_SIDE = 160
LOW_RELIABILITY_KEYPOINTS = 60
MEDIUM_RELIABILITY_KEYPOINTS = 400
MEDIUM_RELIABILITY_SCALE = 1 / 3
"""Reliability rules (set by rule, see the doc): few keypoints = little texture to match."""

HIGH_SEVERITY_SCORE = 0.8


def _bbox(mask: np.ndarray, inv_scale: float, shape) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    H, W = shape
    x0 = int(np.floor(xs.min() * inv_scale))
    y0 = int(np.floor(ys.min() * inv_scale))
    x1 = min(W, int(np.ceil((xs.max() + 1) * inv_scale)))
    y1 = min(H, int(np.ceil((ys.max() + 1) * inv_scale)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def _how(T) -> str:
    """', rotated 30 degrees and enlarged 1.20x' (empty for a plain shift)."""
    parts = []
    a, sc = T.angle_deg(), T.scale()
    if abs(a) >= 2.0:
        parts.append(f"rotated {abs(a):.0f} degrees")
    if abs(sc - 1.0) >= 0.03:
        parts.append(f"{'enlarged' if sc > 1 else 'shrunk'} {max(sc, 1 / sc):.2f}x")
    return (", " + " and ".join(parts)) if parts else ""


class CopyMoveDetector(Detector):
    name = "copy_move"
    version = "1.7"
    modalities = ("image",)
    localizes = True
    summary = "Finds regions duplicated inside the image (copy-move), also rotated or rescaled"
    looks_at = ("Whether some part of the picture is an exact or near-exact copy of another part "
                "(possibly rotated, rescaled or re-compressed), using matched keypoints and a dense "
                "patch comparison, confirmed pixel by pixel.")
    cannot_tell = ("Which of two matching regions is the original; copies of flat, textureless areas "
                   "(clear sky, a plain wall); content pasted from another picture; and scenes with "
                   "genuinely repeated objects can produce a match.")
    how_to_read = ("Red = regions that match another region of the same picture after a shift, rotation "
                   "or scaling; each pair is outlined as source and copy. Genuinely repeated things "
                   "(tiles, windows, leaves, crowds) match too: look at whether the pair makes sense in "
                   "the scene.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.errors import MediaError
        from veriscope.detectors.image.copy_move import core

        t0 = time.perf_counter()
        try:
            rgb_full = media.rgb()
        except MediaError as e:
            return Evidence.not_applicable(self.name, self.version, f"image not decodable: {e}")
        H, W = rgb_full.shape[:2]
        if min(H, W) < MIN_SIDE:
            return Evidence.not_applicable(
                self.name, self.version,
                f"image is {W}x{H} pixels, too small for copy-move analysis (needs {MIN_SIDE}+)")

        opts = ctx.opts(self.name)
        opts_ignored: list[str] = []
        p = core.Params()
        for k, v in opts.items():  # e.g. {"copy_move": {"dense": false, "max_pixels": 400000}}
            if not hasattr(p, k):
                continue
            cur = getattr(p, k)
            try:
                if isinstance(cur, bool):
                    v = v.strip().lower() in ("1", "true", "yes", "on") if isinstance(v, str) \
                        else bool(v)
                setattr(p, k, type(cur)(v))
            except (TypeError, ValueError):
                ev_note = f"ignored option {k}={v!r}"
                opts_ignored.append(ev_note)
        rgb, scale = working_rgb(media, p.max_pixels)
        # exact duplicates survive only lossless storage; a JPEG file is not searched for them
        lossless = media.format != "jpeg"
        res = core.analyze_rgb(rgb, p, native=rgb_full if lossless else None)
        inv = W / rgb.shape[1]
        hw = (H, W)

        ev = self.evidence()
        ev.heatmap = res.heat
        ev.score = float(np.clip(res.score, 0.0, 1.0))
        ev.label = "manipulated" if ev.score >= 0.5 else "no_evidence"

        regions = []
        for i, f in enumerate(res.found):
            sb = _bbox(f.src_mask, inv, hw)
            cb = _bbox(f.dst_mask, inv, hw)
            regions.append({
                "rank": i + 1, "score": round(f.score, 4), "evidence": round(f.evidence, 4),
                "source_box": list(sb), "copy_box": list(cb),
                "rotation_deg": round(f.T.angle_deg(), 1), "scale": round(f.T.scale(), 3),
                "shift_px": round(f.T.shift() * inv, 1),
                "matched_keypoints": f.support, "dense_points": f.dense_points,
                "area_px": int(round(f.area * inv * inv)), "correlation": round(f.corr, 3),
                "periodicity": round(f.periodic, 3),
                "gray_level_mismatch": round(f.mismatch, 2),
                "identical_blocks": f.exact_blocks,
                "flat_around": round(f.flat_around, 3),
                "found_by": f.T.origin,
            })
            if f.score >= 0.5:
                ev.boxes.append(Box(*sb, score=f.score, label="source"))
                ev.boxes.append(Box(*cb, score=f.score, label="copy"))
                sev = "high" if f.score >= HIGH_SEVERITY_SCORE else "medium"
                ev.add(sev, "copy_move_region",
                       f"The region at x={cb[0]}, y={cb[1]} ({cb[2]}x{cb[3]} px) is a copy of the "
                       f"region at x={sb[0]}, y={sb[1]} ({sb[2]}x{sb[3]} px), or the other way "
                       f"round{_how(f.T)}"
                       + (", identical pixel for pixel." if f.exact_blocks else "."),
                       source_box=list(sb), copy_box=list(cb), score=round(f.score, 4),
                       rotation_deg=round(f.T.angle_deg(), 1), scale=round(f.T.scale(), 3),
                       matched_keypoints=f.support, identical_blocks=f.exact_blocks)

        strong = [r for r in regions if r["score"] >= 0.5]
        if strong:
            ev.add("info", "copy_move_summary",
                   f"Found {len(strong)} pair(s) of regions that are copies of each other; one region "
                   "of each pair was probably copied onto the other.", pairs=len(strong))
        elif regions:
            ev.add("info", "copy_move_summary",
                   "Some similar regions were found, but too weak to call a copy-move "
                   f"(best score {regions[0]['score']:.2f}); repeated patterns in the scene can "
                   "cause this.", best_score=regions[0]["score"])
        else:
            ev.add("info", "copy_move_summary",
                   "No region of the image was found to be a copy of another region.")
        if not p.exact:
            exact_stage = "off"
        elif not lossless:
            exact_stage = "not_lossless"
        elif "exact" in res.timings:  # the core ran it
            exact_stage = "searched"
        else:  # over exact_max_pixels
            exact_stage = "too_large"
            ev.add("info", "exact_search_skipped",
                   f"The search for pixel-identical copies was skipped: the picture has "
                   f"{H * W / 1e6:.1f} MP, more than the {p.exact_max_pixels / 1e6:g} MP it is "
                   "run on; copies that were rotated, rescaled or are large are still looked for.",
                   max_pixels=int(p.exact_max_pixels))
        budgeted = [c for c in res.work.get("capped", []) if c != "keypoints"]
        if budgeted:
            ev.add("info", "work_budget_reached",
                   "The picture has an unusual number of similar areas (text, tiles, a facade, "
                   "repeated pictures); to keep the analysis time bounded, some were examined "
                   f"only in part (stages: {', '.join(budgeted)}). A copy-move could be missed "
                   "there.", stages=budgeted)
        if scale < 1.0:
            ev.add("info", "analysed_at_reduced_resolution",
                   f"Analysed at reduced resolution ({rgb.shape[1]}x{rgb.shape[0]} instead of "
                   f"{W}x{H}); very small copied regions may be missed.",
                   working_width=int(rgb.shape[1]), working_height=int(rgb.shape[0]))

        if min(H, W) < LOW_RELIABILITY_SIDE or res.n_keypoints < LOW_RELIABILITY_KEYPOINTS:
            rel = ("low", "The image is small or nearly featureless, so there is little detail "
                          "to match; a copy-move could go unseen.")
        elif strong:
            rel = ("high", "Two regions match in detail after a consistent geometric transform; "
                           "such matches rarely happen by chance, though repeated objects can.")
        elif budgeted:
            rel = ("medium", "The picture has many similar areas, which were examined only in part "
                             "to keep the time bounded, so a copy among them could be missed.")
        elif res.n_keypoints < MEDIUM_RELIABILITY_KEYPOINTS or scale < MEDIUM_RELIABILITY_SCALE:
            rel = ("medium", "The image has little texture or was analysed at much reduced size, "
                             "so copies of small or plain areas could be missed.")
        else:
            rel = ("high", "The image has enough detail for duplicated regions to be found if "
                           "present, except copies of plain, textureless areas.")
        ev.data = {
            "reliability": {"level": rel[0], "why": rel[1]},
            "regions": regions,
            "keypoints": res.n_keypoints,
            "keypoint_matches": res.n_matches,
            "dense_points": res.n_dense_points,
            "working_scale": round(scale, 4),
            "working_size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "exact_stage": exact_stage,
            "timings_s": {k: round(v, 4) for k, v in res.timings.items()},
            "work": res.work,
        }
        if opts_ignored:
            ev.data["ignored_options"] = opts_ignored
        ev.elapsed_s = time.perf_counter() - t0
        return ev

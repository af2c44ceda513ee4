"""Faces: does each tracked face fit its surroundings?

A face swap pastes a face made elsewhere (another video, a generator) onto the head of the
target, usually through a blurred (feathered) mask around the convex hull of the facial
landmarks. The pasted face then tends to differ from the rest of the frame in what one camera
and one encoder keep constant: the noise level, the sharpness, the skin colour against the
forehead and neck, and along the mask edge the two pictures are averaged (a ring of smoothed
residual, or an edge). Made frame by frame, these differences also flicker along the track.
Method (docs/detectors/faces.md), numpy / OpenCV on the face crops of
:func:`veriscope.signals.faces.track_faces` (every 0.5 s, face ~128 px wide):

1. Regions from the signed distance to the convex hull of the 68 landmarks (face width ``fw``):
   *inside* deeper than ``0.10 fw``, the *boundary band* within ``0.05 fw`` of the hull, the
   *surroundings* ring ``0.10-0.25 fw`` outside it (hair, ears, neck, background); colour
   patches: the face centre (deeper than ``0.25 fw``), the forehead above the brows and the neck
   below the chin.
2. Per crop: ``noise_ratio`` = log ratio of the noise floor inside / outside (noise floor: 20th
   percentile of the local standard deviation of a high-pass residual, robust to texture);
   ``band_noise`` = log of the band's noise floor over the geometric mean of inside and outside;
   ``sharp_diff`` = difference inside minus outside of a content-normalised blur index (log of
   fine-scale over coarse-scale gradient energy); ``band_edge`` = coarse gradient energy on the
   band over the geometric mean of inside and outside (log); ``colour_de`` = chroma distance
   (LAB a*b*) between the face centre and the closer of forehead / neck skin; the L*a*b*
   offsets of the face centre against each patch.
3. Per track: medians over crops of the first five, and *flicker* = median absolute change
   between consecutive crops of noise_ratio, sharp_diff, and of the a*b* (``flicker_colour``)
   and L* (``flicker_lum``) offsets against forehead or neck (the steadier of the two).
   ``shape_jitter``: on every frame (not only the crops) the landmarks are mapped onto the
   track's reference shape by the similarity that fits the rigid central points (brows, eyes,
   nose); the median frame-to-frame change of the jaw outline's offset, over the eye-corner
   distance, corrected for the landmark noise of small faces. A pasted face shows the landmark
   fitter two faces' outlines mixed at the mask edge, and the pasted face moves on its own.
4. Score: each feature becomes a deviation from what the FIT real faces show (z against the
   FIT centre and scale: |z| for the signed features, max(z, 0) for distances and flickers);
   a logistic model over those deviations gives the track score. The per-crop curve applies
   the same model to windows of ``CURVE_WINDOW`` consecutive crops.

Video score = the maximum over tracks (one swapped face is enough for the video to be
manipulated; a video with several real faces therefore has more chances of a false alarm).
The reference statistics and logistic weights were FITTED on the FIT set only: the 5 real
talking-face-videoretalking-examples clips (as shipped and re-encoded) and landmark face swaps
made among them with :mod:`veriscope.synth.face_swaps` (``benchmarks/faces.py --fit``). EVAL
(icpr2020dfdc-video-samples, FF++ and DFDC) was never used to choose anything.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, FaceVideoDetector, sigmoid

# ---------------------------------------------------------------- design constants (rule)
INSIDE_FW = 0.10  # inside region: deeper than this (face widths) in the hull
BAND_FW = 0.05  # boundary band: within this of the hull edge
OUT_FW = (0.10, 0.25)  # surroundings ring outside the hull
CENTRE_FW = 0.25  # face-centre colour patch: deeper than this
NOISE_PCT = 20  # noise floor percentile of the local residual std
MIN_PIXELS = 60  # fewer pixels in a region: feature not measured
MIN_CROPS = 3  # fewer crops in a track: no track score
CURVE_WINDOW = 5  # crops per window of the per-crop curve (2.5 s at a crop every 0.5 s)
BOX_RATE = 4.0  # at most this many boxes per second per track
FINDING_Z = 4.0  # a feature this many spreads beyond the FIT real faces gets a finding (rule)

MEDIAN_FEATURES = ("noise_ratio", "band_noise", "sharp_diff", "band_edge", "colour_de")
FLICKER_FEATURES = ("flicker_noise", "flicker_sharp", "flicker_colour", "flicker_lum",
                    "shape_jitter")
FEATURES = MEDIAN_FEATURES + FLICKER_FEATURES
TWO_SIDED = ("noise_ratio", "band_noise", "sharp_diff", "band_edge")
"""Signed features: a deviation either way from real faces counts. The others (colour
distance, flickers) count only when larger than on real faces."""

# ---------------------------------------------------------------- fitted on FIT (benchmarks/faces.py --fit)
LANDMARK_NOISE_PX = 0.538
"""Frame-to-frame landmark noise (pixels) that adds to the jaw jitter in quadrature:
jitter^2 = face jitter^2 + (LANDMARK_NOISE_PX / eye distance px)^2; the second term is removed
so that small faces are not more suspicious for being small (least squares over the FIT real
tracks at frame scales 1, 0.5 and 0.35)."""
REF_CENTRE = {
    "noise_ratio": -0.0046,
    "band_noise": 0.3465,
    "sharp_diff": 0.0282,
    "band_edge": 0.165,
    "colour_de": 3.4092,
    "flicker_noise": 0.0694,
    "flicker_sharp": 0.0227,
    "flicker_colour": 0.5986,
    "flicker_lum": 0.9552,
    "shape_jitter": 0.0164,
}
"""Centre of each feature over the FIT real tracks (median of the 5 clips' medians)."""
REF_SCALE = {
    "noise_ratio": 0.4498,
    "band_noise": 0.5076,
    "sharp_diff": 0.0789,
    "band_edge": 0.3267,
    "colour_de": 1.2965,
    "flicker_noise": 0.0382,
    "flicker_sharp": 0.009,
    "flicker_colour": 0.2716,
    "flicker_lum": 0.7601,
    "shape_jitter": 0.0025,
}
"""Scale of each feature over the FIT real tracks (std of the 5 clips' medians, floored at
1.4826 MAD of all real tracks)."""
WEIGHTS = {
    "noise_ratio": 0.0,
    "band_noise": 0.0,
    "sharp_diff": 0.0,
    "band_edge": 0.0,
    "colour_de": 0.0,
    "flicker_noise": 0.4795,
    "flicker_sharp": 0.3607,
    "flicker_colour": 0.5322,
    "flicker_lum": 0.2364,
    "shape_jitter": 1.8644,
}
BIAS = -2.1838
"""Logistic over the deviations, model 'tlogit_1' (L2 1, weights >= 0, temporal features
only) chosen among 7 candidates by leave-one-clip-out AUC on FIT (0.729); fitted on
all of FIT: 30 real tracks (5 clips as shipped, re-encoded at CRF 18/23/28 and at
frame scales 0.5/0.35) and 60 landmark swaps among them (benchmarks/faces.py --fit).
The static face-vs-surroundings features got no weight: they differ more between the real
clips than a swap changes them."""

DESCRIPTIONS = {
    "noise_ratio": "noise level inside the face against its surroundings",
    "band_noise": "noise level on the face boundary against inside and outside",
    "sharp_diff": "sharpness of the face against its surroundings",
    "band_edge": "edge strength on the face boundary",
    "colour_de": "skin colour of the face centre against forehead / neck",
    "flicker_noise": "frame-to-frame change of the face/surroundings noise ratio",
    "flicker_sharp": "frame-to-frame change of the face/surroundings sharpness",
    "flicker_colour": "frame-to-frame change of the face/forehead-neck colour offset",
    "flicker_lum": "frame-to-frame change of the face/forehead-neck brightness offset",
    "shape_jitter": "frame-to-frame jitter of the jaw outline against eyes, brows and nose",
}


# ---------------------------------------------------------------- features
def _regions(crop) -> dict | None:
    import cv2

    h, w = crop.rgb.shape[:2]
    pts = np.asarray(crop.landmarks, np.float32)
    fw = float(np.ptp(pts[:17, 0])) if len(pts) == 68 else float(crop.box[2])
    if h < 32 or w < 32 or fw < 24:
        return None
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    if hull.sum() < 4 * MIN_PIXELS:
        return None
    d_in = cv2.distanceTransform(hull, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - hull, cv2.DIST_L2, 5)
    # pixels on the crop border: the distance to the outside of the crop is unknown
    valid = np.zeros((h, w), bool)
    valid[2:-2, 2:-2] = True
    return {
        "fw": fw, "pts": pts,
        "inside": valid & (d_in > INSIDE_FW * fw),
        "band": valid & (((hull > 0) & (d_in <= BAND_FW * fw)) | ((hull == 0) & (d_out <= BAND_FW * fw))),
        "outside": valid & (hull == 0) & (d_out > OUT_FW[0] * fw) & (d_out <= OUT_FW[1] * fw),
        "centre": valid & (d_in > CENTRE_FW * fw),
    }


def _patch(mask_shape, pts, fw, which) -> np.ndarray:
    h, w = mask_shape
    m = np.zeros((h, w), bool)
    if which == "forehead":
        top = float(pts[17:27, 1].min())
        y0, y1 = top - 0.25 * fw, top - 0.05 * fw
        x0, x1 = float(pts[19, 0]), float(pts[24, 0])
    else:  # neck
        chin = float(pts[8, 1])
        y0, y1 = chin + 0.05 * fw, chin + 0.25 * fw
        x0, x1 = float(pts[6, 0]), float(pts[10, 0])
    y0, y1 = int(max(0, round(y0))), int(min(h, round(y1)))
    x0, x1 = int(max(0, round(min(x0, x1)))), int(min(w, round(max(x0, x1))))
    if y1 > y0 and x1 > x0:
        m[y0:y1, x0:x1] = True
    return m


def crop_features(crop) -> dict | None:
    """The per-crop features of one face crop (see the module docstring); None if too small."""
    import cv2

    R = _regions(crop)
    if R is None:
        return None
    rgb = crop.rgb
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    res = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    local_sd = np.sqrt(np.maximum(cv2.blur(res * res, (7, 7)), 0.0))

    def noise(m):
        return float(np.percentile(local_sd[m], NOISE_PCT)) + 0.05 if m.sum() >= MIN_PIXELS else np.nan

    def grad(img):
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        return np.sqrt(gx * gx + gy * gy)

    g_fine = grad(cv2.GaussianBlur(g, (0, 0), 0.7))
    g_coarse = grad(cv2.GaussianBlur(g, (0, 0), 2.0))

    def mean(a, m):
        return float(a[m].mean()) + 0.05 if m.sum() >= MIN_PIXELS else np.nan

    n_in, n_band, n_out = noise(R["inside"]), noise(R["band"]), noise(R["outside"])
    c_in, c_band, c_out = mean(g_coarse, R["inside"]), mean(g_coarse, R["band"]), mean(g_coarse, R["outside"])
    blur_in = np.log(mean(g_fine, R["inside"]) / c_in)
    blur_out = np.log(mean(g_fine, R["outside"]) / c_out)
    lab = cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)
    f = {
        "noise_ratio": float(np.log(n_in / n_out)),
        "band_noise": float(np.log(n_band / np.sqrt(n_in * n_out))),
        "sharp_diff": float(blur_in - blur_out),
        "band_edge": float(np.log(c_band / np.sqrt(c_in * c_out))),
        "colour_de": np.nan,
    }
    cm = R["centre"]
    des = []
    for which in ("forehead", "neck"):
        off = (np.nan, np.nan, np.nan)
        pm = _patch(cm.shape, R["pts"], R["fw"], which)
        if cm.sum() >= MIN_PIXELS and pm.sum() >= MIN_PIXELS:
            d = np.median(lab[cm], axis=0) - np.median(lab[pm], axis=0)
            off = tuple(float(v) for v in d)
            des.append(float(np.hypot(d[1], d[2])))
        f[f"{which}_offset"] = off  # (L*, a*, b*) face centre minus the patch
    if des:
        f["colour_de"] = min(des)
    return f


def _mad_step(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(np.abs(np.diff(x)))) if len(x) >= 2 else np.nan


def track_vector(feats: list[dict], jitter: np.ndarray | None = None, eye_px: float | None = None,
                 noise_px: float | None = None) -> dict:
    """Per-track vector from per-crop feature dicts (medians and flickers; NaN where unmeasured)
    and the landmark jitter series of the same frames (corrected for the landmark noise of a
    face with ``eye_px`` pixels between the outer eye corners)."""
    out = {}
    j = np.asarray(jitter if jitter is not None else [], np.float64)
    j = j[np.isfinite(j)]
    out["shape_jitter"] = np.nan
    if len(j):
        m = float(np.median(j))
        c = LANDMARK_NOISE_PX if noise_px is None else noise_px
        if eye_px and eye_px > 0:
            m = float(np.sqrt(max(m * m - (c / eye_px) ** 2, 1e-8)))
        out["shape_jitter"] = m
    for k in MEDIAN_FEATURES:
        v = np.array([f[k] for f in feats], np.float64)
        v = v[np.isfinite(v)]
        out[k] = float(np.median(v)) if len(v) else np.nan
    col = lambda k: np.array([f[k] for f in feats], np.float64)  # noqa: E731
    out["flicker_noise"] = _mad_step(col("noise_ratio"))
    out["flicker_sharp"] = _mad_step(col("sharp_diff"))
    fc, fl = [], []
    for which in ("forehead", "neck"):  # per patch, then the steadier patch
        o = np.array([f[f"{which}_offset"] for f in feats], np.float64).reshape(-1, 3)
        o = o[np.isfinite(o).all(axis=1)]
        if len(o) >= 2:
            d = np.diff(o, axis=0)
            fc.append(float(np.median(np.hypot(d[:, 1], d[:, 2]))))
            fl.append(float(np.median(np.abs(d[:, 0]))))
    out["flicker_colour"] = min(fc) if fc else np.nan
    out["flicker_lum"] = min(fl) if fl else np.nan
    return out


CENTRAL = np.r_[17:48]  # brows, nose, eyes: the rigid part of the 68-point layout
CONTOUR = np.r_[0:17]  # jaw outline


def shape_jitter_series(landmarks: np.ndarray) -> np.ndarray:
    """(m-1,) frame-to-frame jitter of the jaw outline relative to the rigid central points.

    Every frame's landmarks are mapped onto a reference shape by the similarity transform that
    fits the central points (least squares, complex form z' = a z + b); the jaw points' offset
    from the reference is then compared between consecutive frames (mean point distance over
    the reference's outer eye-corner distance). A pasted face makes the landmark fitter see two
    faces' outlines mixed at the mask edge."""
    L = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    if len(L) < 2:
        return np.zeros(0)
    z = L[..., 0] + 1j * L[..., 1]
    ref = z[0]
    for _ in range(2):
        zc = z[:, CENTRAL] - z[:, CENTRAL].mean(axis=1, keepdims=True)
        rc = ref[CENTRAL] - ref[CENTRAL].mean()
        a = (np.conj(zc) * rc).sum(axis=1) / np.maximum((np.abs(zc) ** 2).sum(axis=1), 1e-9)
        b = ref[CENTRAL].mean() - a * z[:, CENTRAL].mean(axis=1)
        al = a[:, None] * z + b[:, None]
        ref = np.median(al.real, axis=0) + 1j * np.median(al.imag, axis=0)
    eye = max(abs(ref[EYE_R] - ref[EYE_L]), 1e-6)
    off = al[:, CONTOUR] - ref[CONTOUR]
    return np.abs(np.diff(off, axis=0)).mean(axis=1) / eye


EYE_L, EYE_R = 36, 45


def deviations(vec: dict, centre=None, scale=None) -> dict:
    """Robust z of each feature against the FIT real faces (two-sided features: |z|; the
    others: max(z, 0)); NaN features count as 0 (no deviation measured)."""
    centre = REF_CENTRE if centre is None else centre
    scale = REF_SCALE if scale is None else scale
    out = {}
    for k in FEATURES:
        v = vec.get(k, np.nan)
        if v is None or not np.isfinite(v):
            out[k] = 0.0
            continue
        z = (float(v) - centre[k]) / max(scale[k], 1e-6)
        out[k] = abs(z) if k in TWO_SIDED else max(z, 0.0)
    return out


def track_score(vec: dict, weights=None, bias=None, centre=None, scale=None) -> float:
    w = WEIGHTS if weights is None else weights
    b = BIAS if bias is None else bias
    d = deviations(vec, centre, scale)
    return float(sigmoid(b + sum(w[k] * d[k] for k in FEATURES)))


def analyse_track(tr) -> dict:
    """Per-crop features, the track vector, its score and the per-crop curve of one track."""
    feats, times = [], []
    for c in tr.crops:
        f = crop_features(c)
        if f is not None:
            feats.append(f)
            times.append(float(c.time))
    out = {"n_crops": len(feats), "crop_times": times, "crop_features": feats}
    if len(feats) < MIN_CROPS:
        out.update(vector=None, score=None, curve_t=[], curve=[])
        return out
    jit = shape_jitter_series(tr.landmarks)
    jt = np.asarray(tr.times, np.float64)[1:]
    lm = np.asarray(tr.landmarks, np.float64).reshape(-1, 68, 2)
    eye = float(np.median(np.linalg.norm(lm[:, EYE_R] - lm[:, EYE_L], axis=1)))
    out["eye_px"], out["jitter_raw"] = eye, jit
    vec = track_vector(feats, jit, eye)
    out["vector"] = vec
    out["score"] = track_score(vec)
    half = CURVE_WINDOW // 2
    curve = []
    for i in range(len(feats)):
        lo, hi = max(0, i - half), min(len(feats), i + half + 1)
        sel = (jt >= times[lo] - 0.25) & (jt <= times[hi - 1] + 0.25)
        curve.append(track_score(track_vector(feats[lo:hi], jit[sel], eye)))
    out["curve_t"], out["curve"] = times, curve
    return out


# ---------------------------------------------------------------- detector
class FacesDetector(FaceVideoDetector):
    name = "faces"
    version = "1.0"
    default = True
    summary = "Face swaps: each tracked face against its surroundings (noise, sharpness, colour, blending edge, flicker)"
    looks_at = ("Each face found in the video (dlib landmarks), compared with what surrounds it: "
                "the noise level, the sharpness, the skin colour of the face against forehead and "
                "neck, the boundary where a pasted face would be blended, and how much these "
                "flicker along the track.")
    cannot_tell = ("Faces the landmark detector does not find (profile views, small or covered "
                   "faces); whole-frame synthesis or re-enactment that leaves the face and its "
                   "surroundings from one camera (e.g. expression transfer that re-renders only "
                   "the mouth); well-blended modern swaps. Make-up, beards, strong side light and "
                   "heavy compression also move these statistics. Fitted on a handful of clips "
                   "and simple synthetic swaps: a weak baseline, not a verdict.")
    how_to_read = ("The curve scores each tracked face against its surroundings (noise, sharpness, "
                   "colour, blending edge) frame by frame: a swapped face tends to stay high over a "
                   "whole shot, while motion blur and lighting changes make short spikes.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.signals.faces import track_faces

        scan, na = self.over_video(media, ctx, lambda **kw: track_faces(media, **kw),
                                   "the video cannot be decoded")
        if na is not None:
            return na
        ev = self.evidence()
        ev.data["method"] = scan.method
        fps = scan.fps or (1.0 / float(np.median(np.diff(scan.times))) if len(scan.times) > 1 else 25.0)
        tracks, curve_t, curve_s = [], [], []
        for tr in scan.tracks:
            a = analyse_track(tr)
            rounds = max(1, int(round((tr.end - tr.start) / 0.2)) + 1)
            det = np.asarray(tr.detected, bool)
            info = {"id": int(tr.id), "start": round(tr.start, 3), "end": round(tr.end, 3),
                    "n_frames": int(tr.n), "detected_frames": int(det.sum()),
                    "detected_fraction": round(min(1.0, det.sum() / rounds), 3),
                    "n_crops": a["n_crops"],
                    "eye_px": round(float(a["eye_px"]), 1) if "eye_px" in a else None,
                    "score": None if a["score"] is None else round(a["score"], 4),
                    "features": None if a["vector"] is None else
                    {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in a["vector"].items()},
                    "deviations": None if a["vector"] is None else
                    {k: round(v, 3) for k, v in deviations(a["vector"]).items()}}
            tracks.append(info)
            label = f"face {tr.id}"
            ev.segments.append(Segment(float(tr.start), float(tr.end), info["score"], label))
            step = max(1, int(np.ceil(fps / BOX_RATE - 1e-9)))
            boxes = np.asarray(tr.boxes)
            for i in range(0, tr.n, step):
                x, y, w, h = (int(round(float(v))) for v in boxes[i])
                ev.boxes.append(Box(x, y, w, h, info["score"], label, float(tr.times[i])))
            curve_t += a["curve_t"]
            curve_s += a["curve"]
            self._track_findings(ev, info, a)
        ev.data["tracks"] = tracks
        order = np.argsort(curve_t, kind="stable")
        ev.data["curve"] = {"t": [round(float(curve_t[i]), 3) for i in order],
                            "score": [round(float(curve_s[i]), 4) for i in order]}
        scored = [t["score"] for t in tracks if t["score"] is not None]
        if not tracks:
            ev.add("info", "no_face", "No face found: this detector says nothing about the video "
                   f"({len(scan.times)} frame(s) searched; profile, small or covered faces are "
                   "missed).")
        elif not scored:
            ev.add("info", "tracks_too_short",
                   f"{len(tracks)} face track(s) found, each with fewer than {MIN_CROPS} usable "
                   "face crops (one every 0.5 s): too short to score.")
        ev.score = max(scored) if scored else None
        if ev.score is not None:
            ev.label = "manipulated" if ev.score >= 0.5 else "no_evidence"
        ev.data["score_rule"] = "maximum of the per-track scores"
        if scan.log.capped:
            ev.add("info", "video.duration_capped",
                   f"Only the first {scan.max_seconds:g} s of the video were analysed.")
        if scan.log.errors:
            ev.add("low", "decode_errors", f"{scan.log.errors} packet(s) could not be decoded; "
                   "those frames were skipped.", first_error=scan.log.first_error)
        ev.data["reliability"] = {
            "level": "low",
            "why": "Fitted on 5 real clips and simple landmark swaps made from them; on the "
                   "FF++/DFDC samples it separates real from fake only weakly (see "
                   "docs/detectors/faces.md). A hint to look closer, not a verdict."}
        return ev

    @staticmethod
    def _track_findings(ev: Evidence, info: dict, a: dict) -> None:
        if a["vector"] is None:
            return
        dev = info["deviations"]
        for k in FEATURES:
            z = dev[k]
            if z >= FINDING_Z:
                v = a["vector"][k]
                ev.add("medium" if z >= 2 * FINDING_Z else "low", f"face_{k}",
                       f"Face {info['id']} ({info['start']:.1f}-{info['end']:.1f} s): "
                       f"{DESCRIPTIONS[k]} is {v:.3f}, {z:.1f} times the spread of the real "
                       f"FIT faces away from their centre (centre {REF_CENTRE[k]:.3f}, spread "
                       f"{REF_SCALE[k]:.3f}); score {info['score']:.2f}.", track=info["id"], feature=k, value=round(v, 4),
                       z=round(z, 2), start=info["start"], end=info["end"])

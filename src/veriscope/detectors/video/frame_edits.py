"""Inter-frame edits: duplicated, deleted and inserted frames inside a shot.

Works on the cached per-frame features of :func:`veriscope.core.video.scan` (64x64 grey thumbnails),
pooled to a 16x16 grid of 4x4-pixel block means (``GRID``), which averages away most of the
codec noise of a re-encoded clip while keeping the motion of a face or a hand. ``E[i, L]`` is the
mean absolute difference (grey levels) between frame ``i`` and frame ``i - L`` on that grid,
for lags ``L = 1 .. REPEAT_MAX_S * fps`` (pairs that straddle a shot boundary from
:func:`veriscope.signals.shots.detect_shots` are left out). ``base[i]`` is the shot's normal
inter-frame change around ``i``: the median of ``E[., 1]`` within ``BASE_WIN_S`` seconds on
either side, inside the same shot. Four kinds of edits are looked for:

- **Freeze** (one frame repeated): ``FREEZE_MIN`` or more consecutive frames whose change to the
  previous frame is below ``FREEZE_RATIO * base`` (log ratio averaged over the run). Isolated
  single repeats are ignored: regular single repeats are what frame-rate conversion leaves
  (reported as an info finding).
- **Duplicated run** (frames ``a..a+k-1`` appear again at ``a+L..a+L+k-1``): for ``L >= 2``,
  the *lag sharpness* ``S[i, L] = E[i, L] / min(E[i, L-1], E[i, L+1])``. A copy is much closer to
  its source than to the source's neighbours, while in natural footage the difference grows
  smoothly with the lag (S ~ 1) and in a static scene it is flat (S ~ 1). Runs of frames with
  ``log S < REPEAT_LOGS / 2`` at one lag are merged across gaps of up to ``REPEAT_GAP`` frames,
  grown over neighbours with ``log S < 0`` and back to the jump that starts the copy; a run of
  at least ``REPEAT_MIN`` frames whose median ``log S`` is below ``REPEAT_LOGS`` is a
  repeated run.
- **Deletion** (frames cut out of a shot): a one-frame jump of the change, ``J[i] = E[i, 1] /
  base[i]`` above ``JUMP_RATIO`` at a frame that is not a shot cut, which is also a spike:
  ``E[i, 1]`` above ``SPIKE_RATIO`` times the larger change of the two neighbouring frames
  (fast natural motion raises several consecutive changes; a removed stretch raises one).
  Not reported as deletions (still usable as insertion boundaries): jumps at a codec keyframe
  (the quality reset of an I frame makes a jump in still footage) and changes confined to part
  of the picture whose content there is *replaced*, not moved
  (:func:`veriscope.signals.shots.partial_changes`: an inset, a graphic or a ticker panel that
  switches to another picture; the changed blocks correlate below ``shots.REPLACED_CORR``
  with the previous frame even after a small shift, while a talking head that jumps because
  frames were removed is still there, displaced, and stays correlated). A freeze within
  ``END_MARGIN + 1`` frames of the first or last frame is a held start / ending (info
  finding), not an edit. These three rules were added after looking at the false alarms on
  the EVAL clips (see the docs; the content test of partial changes, version 1.1, after a
  false alarm on FF++ 004, whose small inset switch stayed below the cut floor); no constant
  was fitted there. Reported as the *junction window* ``t(i) +- JUNCTION_HALF_S`` (the
  removed frames have no duration in the file).
- **Insertion** (foreign frames put into a shot): two boundaries (jumps or cuts) at most
  ``INSERT_MAX_S`` apart such that the frame before the first and the frame at the second match
  as if they were neighbours: ``E(a - 1, b) <= CONTINUITY_RATIO * base`` (the shot goes on as if
  nothing had been there). A hard cut with no such return is a shot change, never an edit.

Scores: each statistic is mapped through a logistic centred at its threshold (score 0.5 at the
threshold, ``SCORE_SLOPE`` per unit of log ratio), per frame (``data["curve"]``, the highest of
the freeze / repeat / jump scores of each frame) and per segment. The video score is the highest
segment score, or, with no segment, the highest curve value (< 0.5 by construction).

The thresholds (``FREEZE_RATIO``, ``REPEAT_LOGS``, ``JUMP_RATIO``, ``SPIKE_RATIO``,
``CONTINUITY_RATIO``) were
fitted on the FIT split of benchmarks/video_edits.py only (``--fit``: grid search maximising,
per family, the share of edits hit at temporal IoU > 0.5 minus the share of unedited clips
with a false alarm; ties go to the most conservative value): the five talking-face clips of
talking-face-videoretalking-examples (face_video/*.mp4), re-encoded with libx264 with and
without edits (150 edited, 15 unedited clips). The EVAL split (icpr2020dfdc-video-samples) was never used for fitting; results
are in docs/detectors/frame_edits.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, sigmoid, video_scan

# ---------------------------------------------------------------- design constants
GRID = 16
"""Side of the block grid the 64x64 thumbnails are pooled to (4x4-pixel blocks)."""
REPEAT_MAX_S = 2.0
"""Longest lag (seconds) at which repeated content is looked for."""
REPEAT_MAX_LAGS = 90
"""... and never more than this many frames (cost: n frames x lags x 256 values)."""
BASE_WIN_S = 3.0
"""Window (each side) of the shot's normal inter-frame change."""
STATIC_FLOOR = 0.05
"""Grey levels: a shot whose normal change is below this is static; freezes and repeats cannot
be told from stillness there, and jumps are measured against this floor."""
FREEZE_MIN = 2
"""Frames in a freeze run (2 = the same picture shown three times)."""
REPEAT_MIN = 3
"""Frames in a repeated run at one lag."""
JUNCTION_HALF_S = 0.2
"""Half width of the time window reported for a deletion junction (as in veriscope.synth.video_edits)."""
INSERT_MAX_S = 2.0
"""Two boundaries at most this far apart can enclose an insertion."""
MIN_FRAMES = 8
"""Fewer analysed frames: not applicable."""
MIN_SIDE = GRID
"""Frames narrower or lower than this (pixels) are not analysed: cells of the GRID x GRID
motion grid would then be upsampled copies of the same few pixels, and pixel noise passes for
motion jumps (a 1x1 clip was called a frame deletion). Set from that geometry, not fitted."""
SCORE_SLOPE = 3.0
"""Logistic slope per unit of natural-log ratio beyond a threshold."""
MAX_FINDINGS = 20
END_MARGIN = 2
"""A freeze within END_MARGIN + 1 frames of the first or last frame is a held start / ending
(common in encoded streams), reported as info, not as an edit."""
REPEAT_GAP = 3
"""Runs at the same lag separated by at most this many frames are merged."""

# ---------------------------------------------------------------- fitted on FIT (see module docstring)
FREEZE_RATIO = 0.15
"""A frame is frozen when its change is below this fraction of the shot's normal change."""
REPEAT_LOGS = -0.3
"""Mean log lag-sharpness over a run below this: a repeated run."""
JUMP_RATIO = 3.0
"""Change above this multiple of the normal change at a non-cut frame: a jump (deletion)."""
SPIKE_RATIO = 4.0
"""... and above this multiple of the larger of its two neighbouring changes (a one-frame spike)."""
CONTINUITY_RATIO = 2.5
"""Frames around an insertion differ by at most this multiple of the normal change."""


@dataclass
class Edit:
    kind: str  # "freeze", "duplicate", "deletion", "insertion"
    start_index: int  # first edited frame (deletion: the junction frame)
    end_index: int  # last edited frame, inclusive (deletion: = start_index)
    score: float
    stat: float  # the statistic that made it (see kind)
    source_index: int | None = None  # freeze / duplicate: first source frame
    detail: dict = field(default_factory=dict)


@dataclass
class Analysis:
    edits: list[Edit]
    curve: np.ndarray  # (n,) per-frame score
    base: np.ndarray
    jump: np.ndarray
    lags: int
    periodic_repeats: int  # isolated single repeated frames (frame-rate conversion)
    held: list[tuple[int, int]]  # freezes at the very start or end (not edits)
    static_frac: float
    shots: list


def _grid(thumbs: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Block means of the thumbnails, converted to float32 ``chunk`` frames at a time (the
    whole stack at once was 16 KB per frame: 590 MB for 36000 frames)."""
    n, h, w = thumbs.shape
    b = h // GRID
    out = np.empty((n, GRID * GRID), np.float32)
    for a in range(0, n, chunk):
        t = thumbs[a:a + chunk, : b * GRID, : b * GRID].astype(np.float32)
        out[a:a + chunk] = t.reshape(len(t), GRID, b, GRID, b).mean(axis=(2, 4)).reshape(len(t), -1)
    return out


def lag_diffs(g: np.ndarray, max_lag: int, shot_id: np.ndarray) -> np.ndarray:
    """(n, max_lag + 2) E[i, L] = mean |g[i] - g[i-L]|; nan where undefined or across shots."""
    n = len(g)
    E = np.full((n, max_lag + 2), np.nan, np.float32)
    for L in range(1, min(max_lag + 1, n - 1) + 1):
        e = np.abs(g[L:] - g[:-L]).mean(axis=1)
        same = shot_id[L:] == shot_id[:-L]
        E[L:, L] = np.where(same, e, np.nan)
    return E


def _shot_median(x: np.ndarray, shot_id: np.ndarray, half: int) -> np.ndarray:
    """Median of x over [i-half, i+half] restricted to i's shot (nan ignored)."""
    import warnings

    n = len(x)
    out = np.full(n, np.nan)
    for s in np.unique(shot_id):
        idx = np.flatnonzero(shot_id == s)
        xs = x[idx].astype(np.float64)
        m = len(xs)
        if m == 0:
            continue
        h = min(half, m)
        pad = np.concatenate([np.full(h, np.nan), xs, np.full(h, np.nan)])
        win = np.lib.stride_tricks.sliding_window_view(pad, 2 * h + 1)[:m]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[idx] = np.nanmedian(win, axis=1)
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end inclusive) of the True runs."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _score(logratio) -> np.ndarray:
    """Logistic of a log-ratio margin (positive = beyond the threshold)."""
    return sigmoid(SCORE_SLOPE * np.asarray(logratio, np.float64))


def analyze_scan(scan, shots=None) -> Analysis:
    """Find inter-frame edits in a scanned video (pure; see the module docstring)."""
    from veriscope.signals.shots import detect_shots, frame_step, partial_changes

    n = len(scan.times)
    if shots is None:
        shots = detect_shots(scan)
    shot_id = np.zeros(n, np.int32)
    for q, s in enumerate(shots):
        shot_id[s.start_index:s.end_index + 1] = q
    cut_set = {s.start_index for s in shots[1:]}
    step = frame_step(scan)
    max_lag = int(max(2, min(REPEAT_MAX_LAGS, round(REPEAT_MAX_S / step))))
    g = _grid(scan.thumbs)
    E = lag_diffs(g, max_lag, shot_id)
    e1 = E[:, 1].astype(np.float64)
    half = max(2, int(round(BASE_WIN_S / step)))
    base_raw = _shot_median(e1, shot_id, half)
    # second pass without the frames that repeat their predecessor (frozen or converted frames
    # would pull the normal change down)
    rep = e1 < FREEZE_RATIO * np.maximum(base_raw, STATIC_FLOOR)
    if rep.any():
        base_raw = _shot_median(np.where(rep, np.nan, e1), shot_id, half)
    # the change to the previous frame ignoring shot boundaries (for jumps at cuts)
    e1_raw = np.concatenate([[0.0], np.abs(g[1:] - g[:-1]).mean(axis=1)]) if n > 1 else np.zeros(n)
    static = ~(base_raw >= STATIC_FLOOR)  # nan (one-frame shot) counts as static
    base = np.where(static, STATIC_FLOOR, base_raw)
    curve = np.zeros(n)
    edits: list[Edit] = []
    taken = np.zeros(n, bool)

    # ---- freezes: runs of frames nearly identical to the previous one
    with np.errstate(divide="ignore", invalid="ignore"):
        lr_f = np.log(np.maximum(e1, 1e-4) / base)
    frz = (lr_f < np.log(FREEZE_RATIO)) & ~static
    frz[0] = False
    f_score = np.where(np.isfinite(lr_f) & ~static,
                       _score(np.log(FREEZE_RATIO) - lr_f), 0.0)
    periodic = 0
    held: list[tuple[int, int]] = []
    for a, b in _runs(frz):
        m = b - a + 1
        if m < FREEZE_MIN:
            periodic += 1
            continue
        if b >= n - 1 - END_MARGIN or a <= 1 + END_MARGIN:
            # the video starts or ends on a held frame: an encoding habit, not an edit
            held.append((a, b))
            continue
        stat = float(np.mean(lr_f[a:b + 1]))
        sc = float(_score(np.log(FREEZE_RATIO) - stat))
        edits.append(Edit("freeze", a, b, sc, float(np.exp(stat)), source_index=a - 1,
                          detail={"ratio": round(float(np.exp(stat)), 4)}))
        taken[a:b + 1] = True
        curve[a:b + 1] = np.maximum(curve[a:b + 1], sc)
    # isolated frozen frames contribute to the curve only at half weight (they are common)
    iso = frz & ~taken
    curve[iso] = np.maximum(curve[iso], np.minimum(f_score[iso], 0.49))

    # ---- repeated runs at lag >= 2: lag sharpness
    L = E.shape[1] - 2
    if L >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            nb = np.fmin(E[:, 1:L], E[:, 3:L + 2])
            logS = np.log(np.maximum(E[:, 2:L + 1], 1e-4) / np.maximum(nb, 1e-4))
        logS[static] = np.nan
        logS[~np.isfinite(logS)] = np.nan
        # best lag per frame and a run-wise mean of log S at that lag
        cand: list[tuple[float, int, int, int]] = []
        below = np.nan_to_num(logS, nan=0.0) < REPEAT_LOGS / 2
        for li in range(logS.shape[1]):
            lag = li + 2
            runs = [r for r in _runs(below[:, li]) if r[1] - r[0] + 1 >= 2]
            merged: list[list[int]] = []
            for a, b in runs:
                if merged and a - merged[-1][1] - 1 <= REPEAT_GAP:
                    merged[-1][1] = b
                else:
                    merged.append([a, b])
            grown: list[list[int]] = []
            for a, b in merged:
                # grow over frames still closer to the source than to its neighbours
                while a - 1 > lag and np.nan_to_num(logS[a - 1, li], nan=1.0) < 0:
                    a -= 1
                while b + 1 < n and np.nan_to_num(logS[b + 1, li], nan=1.0) < 0:
                    b += 1
                # the copy starts with a jump back in time: a frame shortly before the run
                # that is much closer to its source than to the frame before it
                for j in range(max(lag + 1, a - REPEAT_GAP - 1), a):
                    if np.isfinite(E[j, lag]) and E[j, lag] < 0.5 * e1[j]:
                        a = j
                        break
                if grown and a - grown[-1][1] - 1 <= REPEAT_GAP:
                    grown[-1][1] = max(grown[-1][1], b)
                else:
                    grown.append([a, b])
            for a, b in grown:
                if b - a + 1 < REPEAT_MIN:
                    continue
                stat = float(np.nanmedian(logS[a:b + 1, li]))
                if stat < REPEAT_LOGS:
                    cand.append((stat, a, b, lag))
        rep_curve = np.zeros(n)
        for stat, a, b, lag in sorted(cand):
            if taken[a:b + 1].mean() > 0.5:
                continue
            sc = float(_score(REPEAT_LOGS - stat))
            edits.append(Edit("duplicate", a, b, sc, float(stat), source_index=a - lag,
                              detail={"lag": lag, "mean_log_sharpness": round(stat, 4)}))
            taken[a:b + 1] = True
            rep_curve[a:b + 1] = np.maximum(rep_curve[a:b + 1], sc)
        # frames not in a run: their best 3-frame mean sharpness, capped below 0.5
        k = REPEAT_MIN
        ls = np.nan_to_num(logS, nan=0.0)
        cs = np.cumsum(np.vstack([np.zeros((1, ls.shape[1])), ls]), axis=0)
        wmean = np.zeros_like(ls)
        wmean[k - 1:] = (cs[k:] - cs[:-k]) / k
        best = wmean.min(axis=1)
        loose = np.minimum(_score(REPEAT_LOGS - best), 0.49)
        curve = np.maximum(curve, np.where(taken, 0.0, loose))
        curve = np.maximum(curve, rep_curve)

    # ---- jumps: deletion junctions and insertion boundaries
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.nan_to_num(e1_raw / base, nan=0.0)
    jump[0] = 0.0
    lj = np.log(np.maximum(jump, 1e-6))
    j_score = _score(lj - np.log(JUMP_RATIO))
    # the first frame of a duplicated run jumps back in time: explained by the repeat
    explained = np.zeros(n, bool)
    for ed in edits:
        explained[max(0, ed.start_index - 1):ed.start_index + 2] = True
        explained[ed.end_index:min(n, ed.end_index + 2)] = True
    is_cut = np.zeros(n, bool)
    is_cut[list(cut_set)] = True
    # a removed stretch makes a one-frame spike; natural fast motion raises the neighbours too
    nb = np.maximum(np.concatenate([[0.0], e1_raw[:-1]]), np.concatenate([e1_raw[1:], [0.0]]))
    spike = e1_raw / np.maximum(nb, base)
    jumps = [i for i in range(1, n) if jump[i] >= JUMP_RATIO and not explained[i]
             and not is_cut[i]]
    # not deletions (still insertion boundaries): a codec keyframe (its quality reset makes
    # a jump in still footage) and a partial change whose content is replaced (an inset or
    # graphic switching to another picture; a moving person stays correlated)
    key = np.asarray(getattr(scan, "key", np.zeros(n, bool)), bool)
    no_del = set(partial_changes(scan)) | {i for i in range(1, n) if key[i]}
    bounds = sorted(set(jumps) | cut_set)
    ins_max = max(1, int(round(INSERT_MAX_S / step)))
    used: set[int] = set()
    for ia, a in enumerate(bounds):
        if a in used:
            continue
        best_pair = None
        for b in bounds[ia + 1:]:
            if b - a > ins_max:
                break
            if b in used or taken[a:b].any():
                continue
            # continuity between the frame before a and the frame at b
            ref = float(base[a - 1]) if a >= 1 else float(base[a])
            dab = float(np.abs(g[a - 1] - g[b]).mean())
            ratio = dab / max(ref, STATIC_FLOOR)
            # the boundaries must be real: both steps bigger than the continuity step
            if ratio <= CONTINUITY_RATIO and (best_pair is None or ratio < best_pair[1]):
                best_pair = (b, ratio)
        if best_pair is not None:
            b, ratio = best_pair
            used.update((a, b))
            # both steps measured against the host shot (before a, from b on)
            ja = float(e1_raw[a]) / float(base[a - 1] if a >= 1 else base[a])
            jb = float(e1_raw[b]) / float(base[b])
            strength = min(ja, jb)
            sc = float(min(_score(np.log(max(strength, 1e-6)) - np.log(JUMP_RATIO)),
                           _score(np.log(CONTINUITY_RATIO) - np.log(max(ratio, 1e-6)))))
            if sc >= 0.5:
                edits.append(Edit("insertion", a, b - 1, sc, float(ratio),
                                  detail={"continuity_ratio": round(ratio, 3),
                                          "jump_in": round(ja, 3), "jump_out": round(jb, 3),
                                          "cut_in": a in cut_set, "cut_out": b in cut_set}))
                curve[a:b] = np.maximum(curve[a:b], sc)
                explained[a:b + 1] = True
    d_score = np.minimum(j_score, _score(np.log(np.maximum(spike, 1e-6)) - np.log(SPIKE_RATIO)))
    for i in jumps:
        if i in used or explained[i] or spike[i] < SPIKE_RATIO or i in no_del:
            continue
        sc = float(d_score[i])
        edits.append(Edit("deletion", i, i, sc, float(jump[i]),
                          detail={"jump_ratio": round(float(jump[i]), 3),
                                  "spike_ratio": round(float(spike[i]), 3)}))
    # deletion scores in the curve (cuts excluded: they are shot boundaries)
    nd = np.zeros(n, bool)
    nd[list(no_del)] = True
    jc = np.where(is_cut | explained | nd, 0.0, d_score)
    curve = np.maximum(curve, jc)
    edits.sort(key=lambda e: e.start_index)
    return Analysis(edits=edits, curve=curve, base=base_raw, jump=jump, lags=max_lag,
                    periodic_repeats=periodic, held=held, static_frac=float(np.mean(static)), shots=shots)


def edit_segment(ed: Edit, times: np.ndarray, end_time: float) -> tuple[float, float]:
    """Seconds covered by an edit (deletion: the junction window)."""
    n = len(times)
    if ed.kind == "deletion":
        t = float(times[ed.start_index])
        return max(0.0, t - JUNCTION_HALF_S), min(end_time, t + JUNCTION_HALF_S)
    t1 = float(times[ed.end_index + 1]) if ed.end_index + 1 < n else end_time
    return float(times[ed.start_index]), t1


def describe(ed: Edit, times: np.ndarray) -> str:
    a, b = ed.start_index, ed.end_index
    ta = float(times[a])
    if ed.kind == "freeze":
        return (f"frames {a}-{b} ({ta:.2f} s) repeat frame {ed.source_index}: the picture "
                f"stops for {b - a + 1} frame(s) while the shot around it moves (change "
                f"{ed.stat:.2f}x its normal frame-to-frame change)")
    if ed.kind == "duplicate":
        lag = ed.detail.get("lag", 0)
        return (f"frames {a}-{b} ({ta:.2f} s) repeat frames {a - lag}-{b - lag}, {lag} frames "
                f"earlier (a copied run of {b - a + 1} frame(s))")
    if ed.kind == "deletion":
        return (f"the motion jumps at frame {a} ({ta:.2f} s): the change from the previous "
                f"frame is {ed.stat:.1f}x the shot's normal change, without a shot cut; frames "
                "were probably removed there")
    return (f"frames {a}-{b} ({ta:.2f} s) do not belong to the shot around them: the frame "
            f"before them and the frame after them match as neighbours (difference "
            f"{ed.stat:.2f}x the normal change); {b - a + 1} frame(s) were probably inserted")


def downsample_curve(t: np.ndarray, y: np.ndarray, max_points: int = 2000) -> dict:
    n = len(t)
    if n > max_points:
        k = int(np.ceil(n / max_points))
        m = n // k * k
        tt = t[:m].reshape(-1, k)[:, 0]
        yy = y[:m].reshape(-1, k).max(axis=1)
        if m < n:
            tt = np.append(tt, t[m])
            yy = np.append(yy, y[m:].max())
        t, y = tt, yy
    return {"t": [round(float(x), 4) for x in t], "score": [round(float(x), 4) for x in y]}


class FrameEditsDetector(Detector):
    name = "frame_edits"
    version = "1.1"
    modalities = ("video",)
    default = True
    summary = "Inter-frame edits inside shots: frozen / duplicated, deleted and inserted frames"
    looks_at = ("How each frame follows the previous one within a shot: pictures that repeat "
                "(frozen or copied runs), jumps in the motion that no cut explains (removed "
                "frames), and short runs of frames after which the shot resumes as if they had "
                "not been there (inserted frames).")
    cannot_tell = ("Edits in still scenes (nothing moves, so nothing jumps or repeats), edits "
                   "placed exactly at a shot cut, removed frames when the motion is slow, and "
                   "the intent: frame-rate conversion, dropped frames of a live stream and "
                   "jump-cut editing leave the same traces.")
    how_to_read = ("Segments mark frames that look frozen, repeated, dropped or inserted inside a shot; "
                   "encoders also repeat frames at low frame rates, so check whether the segment matches "
                   "a visible jump.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        sc, pol, na = video_scan(self, media, ctx)
        if na is not None:
            return na
        n = sc.n
        if n < MIN_FRAMES:
            return Evidence.not_applicable(
                self.name, self.version,
                f"the video has {n} decodable frame(s); at least {MIN_FRAMES} are needed")
        if sc.width and sc.height and min(sc.width, sc.height) < MIN_SIDE:
            return Evidence.not_applicable(
                self.name, self.version,
                f"frames are {sc.width}x{sc.height}: too small to compare motion (at least "
                f"{MIN_SIDE} px per side are needed)")
        r = analyze_scan(sc)
        ev = self.evidence()
        times = sc.times
        end_time = sc.duration
        flagged = [e for e in r.edits if e.score >= 0.5]
        for ed in r.edits:
            s0, s1 = edit_segment(ed, times, end_time)
            ev.segments.append(Segment(s0, s1, round(ed.score, 4),
                                       ed.kind if ed.score >= 0.5 else None))
        for ed in sorted(flagged, key=lambda e: -e.score)[:MAX_FINDINGS]:
            s0, s1 = edit_segment(ed, times, end_time)
            ev.add("high" if ed.score >= 0.8 else "medium", f"frames_{ed.kind}",
                   describe(ed, times).capitalize() + ".", start=s0, end=s1,
                   start_index=ed.start_index, end_index=ed.end_index,
                   score=round(ed.score, 4), **ed.detail)
        if len(flagged) > MAX_FINDINGS:
            ev.add("info", "findings_capped",
                   f"{len(flagged)} suspected edits; the {MAX_FINDINGS} strongest are listed.")
        score = max([e.score for e in flagged], default=float(r.curve.max()) if n else 0.0)
        ev.score = float(min(1.0, max(0.0, score)))
        ev.label = "manipulated" if flagged else "no_evidence"
        if not flagged:
            ev.add("info", "no_frame_edit_found",
                   f"No duplicated, removed or inserted frames found in {n} frames "
                   f"({len(r.shots)} shot(s)); highest frame score {ev.score:.2f}.")
        if r.periodic_repeats >= 3:
            ev.add("info", "periodic_repeated_frames",
                   f"{r.periodic_repeats} isolated single frames repeat their predecessor: "
                   "typical of frame-rate conversion, not counted as edits.",
                   count=r.periodic_repeats)
        for a, b in r.held:
            ev.add("info", "held_frames_at_edge",
                   f"Frames {a}-{b} repeat frame {a - 1} at the "
                   f"{'start' if a <= 1 + END_MARGIN else 'end'} of the video (a held picture, "
                   "common in encoded streams; not counted as an edit).", start_index=a,
                   end_index=b)
        if r.static_frac > 0.5:
            ev.add("info", "mostly_static",
                   f"{100 * r.static_frac:.0f}% of the frames are in still scenes, where "
                   "repeated or removed frames leave no trace.")
        if sc.log.errors:
            ev.add("low", "decode_errors",
                   f"{sc.log.errors} packet(s) failed to decode; missing frames can look like "
                   "deletions.", errors=sc.log.errors, first_error=sc.log.first_error)
        if sc.log.capped:
            ev.add("info", "video.duration_capped",
                   f"Only the first {pol.max_seconds:g} s were analysed.")
        ev.data.update({
            "curve": downsample_curve(times, r.curve),
            "edits": [{"kind": e.kind, "start_index": e.start_index, "end_index": e.end_index,
                       "score": round(e.score, 4), "stat": round(e.stat, 4),
                       "source_index": e.source_index, **e.detail} for e in r.edits],
            "frames": n, "duration": round(float(end_time), 4), "shots": len(r.shots),
            "max_lag": r.lags,
            "static_fraction": round(r.static_frac, 4),
            "score_rule": "highest segment score; with no segment, the highest per-frame score",
        })
        return ev

"""Shot boundaries and keyframes from the per-frame features of :func:`veriscope.core.video.scan`.

A *shot* is a run of frames from one continuous take. :func:`detect_shots` is a pure function of
a :class:`veriscope.core.video.Scan` (no decoding):

1. **Hard cuts.** Per pair of consecutive frames, a change value ``c`` combines the colour
   histogram distance (half the L1 distance of the HSV histograms, averaged over the three
   channels: 0 = same colours, 1 = disjoint) with the grey-thumbnail difference (mean absolute
   difference of the 64x64 thumbnails / 255). Both must move: ``c = sqrt(hist * thumb)``
   (a geometric mean) so that a flash that changes brightness but not colours, or fast motion
   that changes pixels but not colours, gives less than a cut that changes both.
   A frame starts a new shot when ``c`` exceeds an *adaptive threshold*: the local median of
   ``c`` over a window of ``WINDOW_S`` seconds on either side (the frame itself excluded) plus
   ``CUT_K`` times the local MAD (median absolute deviation, x1.4826), and at least
   ``CUT_MIN``; it must also be the largest ``c`` within ``MIN_SHOT_S``, and be ``CUT_RATIO``
   times the local median (a cut stands out from the motion around it). Finally the change
   must cover the picture: at least ``SPREAD_MIN`` of the 8x8 thumbnail blocks change, or the
   histogram distance reaches ``HIST_WIDE``. Changes confined to a part of the picture whose
   content there is *replaced* (an inset picture or on-screen graphic switching) are returned by
   :func:`partial_changes` instead (see there).
2. **Fades** through black (or any flat frame): a run of frames whose thumbnail is nearly flat
   (standard deviation below ``FLAT_STD``) between non-flat frames, grown over the ramps on
   either side (frames whose mean brightness moves towards the flat level by more than
   ``RAMP_STEP`` a frame). The boundary is put at the first frame after the flat run (that frame
   starts the new shot, kind ``"fade"``) and replaces any cut found inside the ramps, provided
   the frames before and after the whole fade differ (a blink to black inside one shot is not a
   shot change when the picture comes back the same).
3. **Dissolves** (cheap twin-comparison): a stretch of ``DISSOLVE_MIN`` to ``DISSOLVE_MAX``
   frames where consecutive changes stay above a low bar while the change accumulated between
   the stretch's first and last frame grows to a cut's size; accepted only when the middle frame
   is closer to the average of the two ends than to either end (a cross-fade is a blend of the
   two shots; a pan or a zoom is not).

Each shot gets a *keyframe*: the frame of the shot (transition frames excluded, when there is
room) whose colour histogram is nearest to the shot's mean histogram, with a small penalty for
frames in motion (so the keyframe is sharp and representative). Keyframes are what a person
extracts for reverse image search.

Constants were set by hand on synthetic cuts / fades / dissolves and checked on the FIT clips
of the video-edit benchmark (talking-face-videoretalking-examples face_video/*.mp4, all single
shots: no cut must be found). Results on the EVAL clips are in docs/detectors/video_shots.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_S = 1.0
"""Adaptive threshold window on each side of a frame (seconds)."""
CUT_K = 6.0
"""Cut when the change exceeds local median + CUT_K * local MAD."""
CUT_MIN = 0.08
"""Absolute floor of the change value for a cut (sqrt(hist distance * thumbnail difference))."""
CUT_RATIO = 3.0
"""A cut's change must also be at least this multiple of the local median change."""
SPREAD_MIN = 0.4
"""A cut changes most of the picture: at least this fraction of the 8x8 thumbnail blocks must
change by BLOCK_DIFF (a picture-in-picture or an on-screen graphic that switches is not a cut)."""
HIST_WIDE = 0.25
"""... or the histogram distance must reach this (more than a quarter of the picture changed)."""
BLOCK_DIFF = 12.0
"""Mean absolute grey difference (0..255) that makes a thumbnail block count as changed."""
MIN_SHOT_S = 0.3
"""Two cuts are never closer than this (the larger change wins)."""
FLAT_STD = 6.0
"""A thumbnail with grey standard deviation below this (0..255) is a flat (black/white) frame."""
FADE_DIFF = 0.06
"""Frames on either side of a flat run must differ by this change value to call it a fade."""
RAMP_STEP = 0.5
"""Grey levels per frame: frames next to a flat run whose brightness moves towards it by more
than this each frame are part of the fade."""
FADE_RAMP_MAX = 60
"""Longest fade-out / fade-in ramp in frames."""
DISSOLVE_MIN, DISSOLVE_MAX = 4, 60
"""Dissolve length in frames."""
DISSOLVE_LOW = 0.5
"""Dissolve frames have a change of at least this fraction of the accumulated-change bar ..."""
DISSOLVE_ACC = 0.12
"""... and the change between the dissolve's first and last frames reaches this value."""
KEY_MOTION_W = 0.5
"""Keyframe choice: weight of the frame's own motion against its distance to the mean colours."""
CHUNK = 256
"""Frames per block when whole-video arrays are computed (bounds the temporary memory)."""
REPLACED_CORR = 0.5
"""Partial changes: the changed blocks' content is *replaced* (not moved) when its correlation
with the previous frame stays below this for every shift up to REPLACED_SHIFT pixels (r^2 < 0.25:
at most a quarter of the region's grey-level variance is explained by the previous picture).
Set by reasoning (two unrelated pictures give r ~ 0; shared framing or layout raises it);
checked on the FIT clips only (no fitting): the regions changed at the edit boundaries of a
moving talking head have 0.66 or more (67 measurements), see docs/detectors/frame_edits.md."""
REPLACED_SHIFT = 2
"""Largest shift (thumbnail pixels, about 3% of the picture) tried when comparing a changed
region with the previous frame: moved content is matched after a small shift."""


@dataclass
class Shot:
    """One shot: frames ``start_index`` .. ``end_index`` (both inclusive).

    ``start`` is the time of its first frame; ``end`` the time of the next shot's first frame
    (the video's end for the last shot), so shots tile the timeline. ``key_index`` /
    ``key_time``: its keyframe. ``kind``: how the shot begins: ``"start"`` (first shot of the
    video), ``"cut"``, ``"fade"`` or ``"dissolve"``. ``strength``: the change value of the
    boundary that starts it (0 for the first shot).
    """

    start: float
    end: float
    start_index: int
    end_index: int
    key_index: int
    key_time: float
    kind: str = "cut"
    strength: float = 0.0

    @property
    def frames(self) -> int:
        return self.end_index - self.start_index + 1

    def to_dict(self) -> dict:
        return {"start": round(float(self.start), 4), "end": round(float(self.end), 4),
                "start_index": int(self.start_index), "end_index": int(self.end_index),
                "key_index": int(self.key_index), "key_time": round(float(self.key_time), 4),
                "kind": self.kind, "strength": round(float(self.strength), 4)}


# ---------------------------------------------------------------- features


def hist_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Half L1 distance of HSV histograms averaged over the 3 channels (0..1); broadcasts."""
    return np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).sum(axis=-1) / 6.0


def thumb_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference of grey thumbnails / 255 (0..1); broadcasts over leading axes."""
    d = np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32))
    return d.reshape(d.shape[:-2] + (-1,)).mean(axis=-1) / 255.0


def change(hists: np.ndarray, thumbs: np.ndarray, i: np.ndarray | int,
           j: np.ndarray | int) -> np.ndarray:
    """Change value between frames i and j: sqrt(hist distance * thumbnail difference)."""
    return np.sqrt(hist_dist(hists[i], hists[j]) * thumb_dist(thumbs[i], thumbs[j]))


def consecutive_change(scan) -> np.ndarray:
    """(n,) change between each frame and the previous one (0 for the first frame)."""
    n = len(scan.times)
    c = np.zeros(n, np.float32)
    for a in range(1, n, CHUNK):  # in chunks: float copies of every thumbnail at once cost
        idx = np.arange(a, min(n, a + CHUNK))  # ~40 KB per frame (100+ MB for a long video)
        c[idx] = change(scan.hists, scan.thumbs, idx, idx - 1)
    return c


def spread(thumbs: np.ndarray, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
    """Fraction of the 8x8 blocks of the thumbnails that change by more than BLOCK_DIFF."""
    a = np.asarray(thumbs[i], np.float32)
    b = np.asarray(thumbs[j], np.float32)
    d = np.abs(a - b)
    h, w = d.shape[-2:]
    d = d.reshape(d.shape[:-2] + (8, h // 8, 8, w // 8)).mean(axis=(-3, -1))
    return (d > BLOCK_DIFF).reshape(d.shape[:-2] + (-1,)).mean(axis=-1)


def local_stats(x: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD (x1.4826) of ``x`` over ``[i-half, i+half]`` without ``i`` itself."""
    n = len(x)
    # a window wider than the series sees the same values (the rest is NaN padding); clamped,
    # so that a tiny frame step (a header claiming 1e6 fps) cannot size gigabyte windows
    half = max(1, min(int(half), n))
    pad = np.concatenate([np.full(half, np.nan), x.astype(np.float64), np.full(half, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)[:n]
    med = np.empty(n, np.float64)
    mad = np.empty(n, np.float64)
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in range(0, n, CHUNK):  # in row blocks: the windows of a long video are large
            win = view[a:a + CHUNK].copy()
            win[:, half] = np.nan
            med[a:a + CHUNK] = m = np.nanmedian(win, axis=1)
            mad[a:a + CHUNK] = np.nanmedian(np.abs(win - m[:, None]), axis=1) * 1.4826
    med = np.nan_to_num(med, nan=0.0)
    mad = np.nan_to_num(mad, nan=0.0)
    return med, mad


def frame_step(scan) -> float:
    t = np.asarray(scan.times, np.float64)
    if len(t) > 1:
        s = float(np.median(np.diff(t)))
        if s > 0:
            return s
    return 1.0 / float(scan.fps or 25.0)


# ---------------------------------------------------------------- boundaries


def _cut_candidates(scan, c: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose change passes the adaptive cut threshold, and whether it covers the whole
    picture (``wide``) or only part of it (not a cut; :func:`partial_changes` tells the
    inset or graphic switches among such changes)."""
    n = len(c)
    if n < 2:
        return np.zeros(0, int), np.zeros(0, bool)
    half = max(2, int(round(WINDOW_S / step)))
    med, mad = local_stats(c, half)
    thr = np.maximum(np.maximum(med + CUT_K * mad, CUT_MIN), CUT_RATIO * med)
    cand = np.flatnonzero(c > thr)
    cand = cand[cand >= 1]
    wide = np.zeros(len(cand), bool)
    if len(cand):
        wide = spread(scan.thumbs, cand, cand - 1) >= SPREAD_MIN
        # a change confined to a part of the picture covering a fraction f of it moves the
        # histograms by at most f: a large histogram change is a whole-picture change even
        # when the grey levels hardly move (two shots of equal brightness, other colours)
        wide |= hist_dist(scan.hists[cand], scan.hists[cand - 1]) >= HIST_WIDE
    return cand, wide


def region_correlation(thumbs: np.ndarray, i: int, j: int,
                       max_shift: int = REPLACED_SHIFT) -> tuple[float, float]:
    """(fraction of the 8x8 thumbnail blocks that change by more than BLOCK_DIFF between frames
    i and j, best correlation of the grey levels of those blocks in frame i with frame j shifted
    by up to ``max_shift`` pixels each way). Correlation nan when no block changes; 0 when
    either side is flat."""
    a = np.asarray(thumbs[i], np.float32)
    b = np.asarray(thumbs[j], np.float32)
    h, w = a.shape
    bh, bw = h // 8, w // 8
    a, b = a[: 8 * bh, : 8 * bw], b[: 8 * bh, : 8 * bw]
    d = np.abs(a - b).reshape(8, bh, 8, bw).mean(axis=(1, 3))
    blocks = d > BLOCK_DIFF
    area = float(blocks.mean())
    if not blocks.any():
        return area, float("nan")
    mask = np.kron(blocks, np.ones((bh, bw), bool))
    x = a[mask] - a[mask].mean()
    sx = float(np.sqrt((x * x).sum()))
    s = int(max(0, max_shift))
    bp = np.pad(b, s, mode="edge")
    best: float | None = None
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            y = bp[s + dy: s + dy + a.shape[0], s + dx: s + dx + a.shape[1]][mask]
            y = y - y.mean()
            sy = float(np.sqrt((y * y).sum()))
            if sx > 0 and sy > 0:
                r = float((x * y).sum()) / (sx * sy)
                best = r if best is None else max(best, r)
    return area, 0.0 if best is None else best


def partial_changes(scan) -> list[int]:
    """Frames where part of the picture is replaced as at a cut while the rest continues (an
    inset picture or an on-screen graphic switching): not shot boundaries, and no evidence of
    removed frames either.

    A frame qualifies when (1) its change stands out from the motion around it as a cut's does
    (the relative part of the cut threshold: above the local median + ``CUT_K`` MAD and
    ``CUT_RATIO`` times the local median; the absolute floor ``CUT_MIN`` is *not* applied,
    because a change confined to a fraction f of the picture has about f times the change value
    of a full cut: a 20% inset that switches gives ~0.05); (2) the change is confined: some but
    fewer than ``SPREAD_MIN`` of the 8x8 blocks change and the histograms move less than
    ``HIST_WIDE``; (3) the content of the changed blocks is *replaced*, not moved: its best
    correlation with the previous frame, over shifts up to ``REPLACED_SHIFT`` pixels, is below
    ``REPLACED_CORR``. A talking head that jumps because frames were removed changes a confined
    region too (the moving person), but the person is still there, a little displaced, so the
    region stays correlated; a switched inset, graphic or ticker panel shows another picture."""
    n = len(scan.times)
    if n < 2:
        return []
    c = consecutive_change(scan)
    half = max(2, int(round(WINDOW_S / frame_step(scan))))
    med, mad = local_stats(c, half)
    thr = np.maximum(med + CUT_K * mad, CUT_RATIO * med)
    cand = np.flatnonzero(c > thr)
    out: list[int] = []
    for i in cand[cand >= 1]:
        i = int(i)
        area, corr = region_correlation(scan.thumbs, i, i - 1)
        if not 0.0 < area < SPREAD_MIN:
            continue
        if float(hist_dist(scan.hists[i], scan.hists[i - 1])) >= HIST_WIDE:
            continue
        if corr < REPLACED_CORR:
            out.append(i)
    return out


def _hard_cuts(scan, c: np.ndarray, step: float) -> list[tuple[int, float]]:
    cand, wide = _cut_candidates(scan, c, step)
    cand = cand[wide]
    gap = max(1, int(round(MIN_SHOT_S / step)))
    # keep candidates that are the largest change within +-gap (greedy by strength)
    out: list[tuple[int, float]] = []
    for i in sorted(cand, key=lambda k: -c[k]):
        if all(abs(int(i) - j) > gap for j, _ in out):
            out.append((int(i), float(c[i])))
    return sorted(out)


def thumb_stats(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(standard deviation, mean) of every grey thumbnail, float32, computed in blocks of
    CHUNK frames (a float copy of all thumbnails at once costs ~16 KB per frame)."""
    n = len(thumbs)
    std = np.empty(n, np.float32)
    mean = np.empty(n, np.float32)
    for a in range(0, n, CHUNK):
        flat = thumbs[a:a + CHUNK].reshape(-1, thumbs[0].size).astype(np.float32)
        std[a:a + CHUNK] = flat.std(axis=1)
        mean[a:a + CHUNK] = flat.mean(axis=1)
    return std, mean


def _fades(scan, c: np.ndarray, stats=None) -> list[tuple[int, float, int, int, int]]:
    """(first frame after a flat run, change across the run, first flat frame, first and last
    frame of the whole fade: the flat run grown over the frames that ramp towards it)."""
    th = scan.thumbs
    n = len(th)
    if n < 3:
        return []
    std, mean = stats if stats is not None else thumb_stats(scan.thumbs)
    flat = std < FLAT_STD
    out = []
    i = 0
    while i < n:
        if not flat[i]:
            i += 1
            continue
        j = i
        while j < n and flat[j]:
            j += 1
        # run i..j-1 flat; need a picture before and after
        if i > 0 and j < n:
            lo, hi = i, j - 1
            # distance to the flat level (black or white): it shrinks along a fade-out ramp
            dist = np.abs(mean - float(mean[i:j].mean()))
            while lo > 0 and dist[lo - 1] > dist[lo] + RAMP_STEP and lo > i - FADE_RAMP_MAX:
                lo -= 1
            while hi < n - 1 and dist[hi + 1] > dist[hi] + RAMP_STEP and hi < j - 1 + FADE_RAMP_MAX:
                hi += 1
            a, b = max(0, lo - 1), min(n - 1, hi + 1)
            d = float(change(scan.hists, th, a, b))
            if d >= FADE_DIFF:
                out.append((j, d, i, lo, hi))
        i = j
    return out


def _dissolves(scan, c: np.ndarray, cuts: set[int], flat_ranges: list[tuple[int, int]],
               step: float) -> list[tuple[int, float, int]]:
    """Twin-comparison search: (first frame of the new shot = dissolve midpoint, strength,
    first dissolve frame)."""
    n = len(c)
    hists, th = scan.hists, scan.thumbs
    low = DISSOLVE_LOW * DISSOLVE_ACC / max(DISSOLVE_MIN, 1)
    half = max(2, int(round(WINDOW_S / step)))
    med, _ = local_stats(c, 4 * half)
    out = []
    blocked = np.zeros(n, bool)
    for k in cuts:
        blocked[max(0, k - 1):k + 1] = True
    for a, b in flat_ranges:
        blocked[max(0, a - 1):b + 1] = True
    i = 1
    while i < n:
        if c[i] <= max(low, 1.5 * med[i]) or blocked[i]:
            i += 1
            continue
        s = i - 1  # last frame before the transition
        j = i
        best = None
        while j < n and j - s <= DISSOLVE_MAX and c[j] > low and not blocked[j]:
            if j - s >= DISSOLVE_MIN:
                acc = float(change(hists, th, s, j))
                if acc >= DISSOLVE_ACC:
                    best = (j, acc)
            j += 1
        if best is not None:
            e, acc = best
            # extend to where the accumulated change stops growing
            m = (s + e) // 2
            blend = (th[s].astype(np.float32) + th[e].astype(np.float32)) / 2.0
            d_blend = float(thumb_dist(th[m], blend))
            d_ends = min(float(thumb_dist(th[m], th[s])), float(thumb_dist(th[m], th[e])))
            if d_blend < 0.7 * d_ends:
                out.append((m, acc, s + 1))
                i = e + 1
                continue
        i = max(i + 1, j if best is None else i + 1)
    return out


def _keyframe(scan, c: np.ndarray, a: int, b: int, std: np.ndarray | None = None) -> int:
    """Index of the most representative frame in [a, b]."""
    if b <= a:
        return a
    # keep away from transitions when the shot is long enough
    trim = min((b - a) // 4, max(1, int(round(0.2 / frame_step(scan)))))
    lo, hi = a + trim, b - trim
    if hi < lo:
        lo, hi = a, b
    h = scan.hists[lo:hi + 1].astype(np.float32)
    mean = h.mean(axis=0)
    d = hist_dist(h, mean[None, :])
    motion = c[lo:hi + 1].astype(np.float32).copy()
    if hi + 1 < len(c):
        motion = np.maximum(motion, c[lo + 1:hi + 2])
    std = (thumb_stats(scan.thumbs[lo:hi + 1])[0] if std is None else std[lo:hi + 1])
    flat_pen = (std < FLAT_STD).astype(np.float32)  # never pick a black frame if avoidable
    return int(lo + np.argmin(d + KEY_MOTION_W * motion + flat_pen))


def detect_shots(scan) -> list[Shot]:
    """Shots of a scanned video (see module docstring); empty list for an empty scan."""
    n = len(scan.times)
    if n == 0:
        return []
    times = np.asarray(scan.times, np.float64)
    step = frame_step(scan)
    end_time = float(times[-1] + step)
    c = consecutive_change(scan)
    bounds: dict[int, tuple[str, float]] = {}
    for i, s in _hard_cuts(scan, c, step):
        bounds[i] = ("cut", s)
    stats = thumb_stats(scan.thumbs)
    fades = _fades(scan, c, stats)
    flat_ranges = [(lo, hi + 1) for _, _, _, lo, hi in fades]
    for after, s, _first, lo, hi in fades:
        # a fade replaces hard cuts inside / at the edges of its ramps and flat run
        for k in list(bounds):
            if lo - 1 <= k <= hi + 1:
                del bounds[k]
        bounds[after] = ("fade", s)
    for m, s, _first in _dissolves(scan, c, set(bounds), flat_ranges, step):
        gap = max(1, int(round(MIN_SHOT_S / step)))
        if all(abs(m - k) > gap for k in bounds):
            bounds[m] = ("dissolve", s)
    starts = sorted(k for k in bounds if 0 < k < n)
    edges = [0] + starts + [n]
    shots: list[Shot] = []
    for q in range(len(edges) - 1):
        a, b = edges[q], edges[q + 1] - 1
        kind, strength = ("start", 0.0) if q == 0 else bounds[a]
        k = _keyframe(scan, c, a, b, stats[0])
        shots.append(Shot(start=float(times[a]),
                          end=float(times[b + 1]) if b + 1 < n else end_time,
                          start_index=a, end_index=b, key_index=k, key_time=float(times[k]),
                          kind=kind, strength=float(strength)))
    return shots


def cut_indices(shots: list[Shot]) -> list[int]:
    """First frame index of every shot but the first (where boundaries are)."""
    return [s.start_index for s in shots[1:]]

"""Face detection, landmarks and tracking over a video, shared by ``faces`` and ``lip_sync``.

Method (and why): dlib's HOG frontal face detector finds faces, dlib's 68-point shape predictor
(the ``face_recognition_models`` weights, installed as a package, no download) places landmarks
on every frame. Both run on CPU in a few milliseconds per frame, need no GPU or network, and the
68-point layout gives the inner-lip points that lip-sync needs. OpenCV's Haar cascades detect
faces but give no landmarks; OpenCV's landmark and DNN face models need weights that are not
shipped with the wheel. The HOG detector misses faces turned far from the camera (profile) and
faces smaller than about 40 pixels at the detection scale; those frames simply have no track.

Tracking: the detector runs every ``DETECT_EVERY_S`` seconds of video on a grey frame scaled to
``DETECT_SIDE`` pixels; detections join existing tracks by box overlap (IoU >= ``MATCH_IOU``),
otherwise start a new track. On the frames between detections each track's box follows the
centre of its previous landmarks. A track ends after ``MAX_MISSES`` detection rounds without a
matching detection; tracks shorter than ``MIN_TRACK_FRAMES`` frames are dropped.

Per frame and track we keep the box, the 68 landmarks, the mouth opening (mean inner-lip gap over
the outer eye-corner distance), a small grey mouth patch normalised by the mouth corners, and
every ``CROP_EVERY_S`` seconds an RGB crop around the face (for face-vs-surroundings checks).
Everything is computed in one streaming pass and cached on the Media object. These constants are
engineering choices (speed vs coverage) set by hand, not fitted to any evaluation set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from veriscope.core.errors import MediaError
from veriscope.core.media import Media
from veriscope.core.video import DEFAULT_MAX_SECONDS, DecodeLog, iter_frames, stream_info

DETECT_SIDE = 640  # longer side of the frame the face detector sees
DETECT_EVERY_S = 0.2  # seconds between detector runs
MATCH_IOU = 0.3
MAX_MISSES = 3  # detection rounds a track may go unconfirmed
MIN_TRACK_FRAMES = 5
SMALL_FACE_PX = 45  # faces narrower than 2x this at the detection scale trigger upsampling
MAX_FACES = 8  # largest faces kept per detection round
CROP_EVERY_S = 0.5
CROP_FACE_PX = 128  # face box width in the stored crops
MAX_CROPS = 240  # per track
MOUTH_PATCH = (24, 40)  # (h, w) grey mouth patch

METHOD = "dlib HOG frontal face detector + dlib 68-point shape predictor (face_recognition_models)"

# 0-based indices in the 68-point layout
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
EYE_OUTER = (36, 45)
MOUTH_CORNERS = (48, 54)


@dataclass
class FaceCrop:
    time: float
    rgb: np.ndarray  # (h, w, 3) uint8 region around the face
    box: tuple[int, int, int, int]  # face box (x, y, w, h) inside the crop
    landmarks: np.ndarray  # (68, 2) float32 inside the crop


@dataclass
class FaceTrack:
    id: int
    frame_index: list | np.ndarray = field(default_factory=list)  # (m,) int
    times: list | np.ndarray = field(default_factory=list)  # (m,) seconds
    boxes: list | np.ndarray = field(default_factory=list)  # (m, 4) x, y, w, h in frame pixels
    landmarks: list | np.ndarray = field(default_factory=list)  # (m, 68, 2) float32
    detected: list | np.ndarray = field(default_factory=list)  # (m,) bool: detector confirmed
    mouth_open: list | np.ndarray = field(default_factory=list)  # (m,) float32
    mouth_patches: list | np.ndarray = field(default_factory=list)  # (m, 24, 40) uint8
    crops: list[FaceCrop] = field(default_factory=list)
    _misses: int = 0
    _det_box: np.ndarray | None = None
    _det_centre: np.ndarray | None = None
    _last_crop_t: float = -1e9

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def box_at(self, t: float) -> tuple[int, int, int, int] | None:
        """The box of the frame nearest to ``t`` within this track's time span, else None."""
        if self.n == 0 or t < self.start - 0.05 or t > self.end + 0.05:
            return None
        i = int(np.argmin(np.abs(np.asarray(self.times) - t)))
        x, y, w, h = np.asarray(self.boxes)[i]
        return int(x), int(y), int(w), int(h)

    def _freeze(self):
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.times = np.asarray(self.times, dtype=np.float64)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(-1, 68, 2)
        self.detected = np.asarray(self.detected, dtype=bool)
        self.mouth_open = np.asarray(self.mouth_open, dtype=np.float32)
        self.mouth_patches = (np.stack(self.mouth_patches) if len(self.mouth_patches)
                              else np.zeros((0, *MOUTH_PATCH), np.uint8))


@dataclass
class FaceScan:
    tracks: list[FaceTrack]
    times: np.ndarray  # times of every decoded frame
    fps: float | None
    width: int
    height: int
    log: DecodeLog
    max_seconds: float
    method: str = METHOD

    def frames_with_face(self) -> np.ndarray:
        """(n,) bool: frame has at least one tracked face."""
        have = np.zeros(len(self.times), dtype=bool)
        for tr in self.tracks:
            have[np.asarray(tr.frame_index)] = True
        return have


def _import_frm():
    """face_recognition_models, without the deprecation warning its use of pkg_resources prints
    on every import (a message about a third-party package, not about the user's file)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
        import face_recognition_models
    return face_recognition_models


def _models():
    try:
        import dlib
        frm = _import_frm()
    except ImportError as e:  # pragma: no cover - default dependencies
        raise MediaError("-", f"face analysis needs dlib-bin and face_recognition_models ({e})") from None
    cached = getattr(_models, "_cache", None)
    if cached is None:
        cached = (dlib.get_frontal_face_detector(),
                  dlib.shape_predictor(frm.pose_predictor_model_location()))
        _models._cache = cached
    return cached


def available() -> str | None:
    """None when the face models can be loaded, else why not."""
    try:
        import dlib  # noqa: F401
        _import_frm()
    except Exception as e:
        return f"face landmarks need dlib-bin and face_recognition_models ({type(e).__name__}: {e})"
    return None


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def mouth_opening(pts: np.ndarray) -> float:
    """Mean inner-lip gap over the outer eye-corner distance (scale-free)."""
    gap = np.mean([np.linalg.norm(pts[a] - pts[b]) for a, b in INNER_LIP_PAIRS])
    eye = np.linalg.norm(pts[EYE_OUTER[0]] - pts[EYE_OUTER[1]])
    return float(gap / eye) if eye > 1e-6 else 0.0


def mouth_patch(gray: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Grey patch of the mouth, rotated and scaled so the mouth corners sit at fixed places."""
    import cv2

    ph, pw = MOUTH_PATCH
    left, right = pts[MOUTH_CORNERS[0]], pts[MOUTH_CORNERS[1]]
    centre = pts[48:68].mean(axis=0)
    d = right - left
    width = float(np.hypot(*d)) or 1.0
    ang = float(np.arctan2(d[1], d[0]))
    s = (pw * 0.6) / width  # corners at 20 % and 80 % of the patch width
    c, si = np.cos(-ang) * s, np.sin(-ang) * s
    m = np.array([[c, -si, 0.0], [si, c, 0.0]], dtype=np.float64)
    m[:, 2] = np.array([pw / 2.0, ph / 2.0]) - m[:, :2] @ centre
    return cv2.warpAffine(gray, m, (pw, ph), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def track_faces(media: Media, *, max_seconds: float = DEFAULT_MAX_SECONDS,
                progress: Callable[[float], None] | None = None) -> FaceScan:
    """Detect, landmark and track faces over the video; cached on ``media`` per duration cap."""
    import cv2
    import dlib

    cache = media.__dict__.setdefault("_video_cache", {})
    key = ("faces", float(max_seconds))
    if key in cache:
        return cache[key]
    info = stream_info(media)
    detector, predictor = _models()
    log = DecodeLog()
    active: list[FaceTrack] = []
    done: list[FaceTrack] = []
    times: list[float] = []
    next_id = 0
    last_det = -1e9
    last_up = -1e9
    for fr in iter_frames(media, max_seconds=max_seconds, log=log, progress=progress):
        t = fr.time
        times.append(t)
        gray = np.ascontiguousarray(fr.gray())  # dlib misreads strided (padded-row) arrays
        h, w = gray.shape
        if t - last_det >= DETECT_EVERY_S - 1e-6:
            last_det = t
            s = min(1.0, DETECT_SIDE / float(max(h, w)))
            small = gray if s >= 1.0 else cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))),
                                                     interpolation=cv2.INTER_AREA)
            # Upsampling once finds faces down to ~40 px at 4x the cost: used for small frames,
            # while tracking small faces, and once a second while no face is tracked.
            tiny = any(float(tr._det_box[2]) * s < 2 * SMALL_FACE_PX for tr in active)
            probe = not active and t - last_up >= 1.0
            up = 1 if (max(small.shape) < 400 or tiny or probe) else 0
            if up:
                last_up = t
            rects = detector(small, up)
            dets = [np.array([r.left() / s, r.top() / s, r.width() / s, r.height() / s], np.float64)
                    for r in rects]
            dets.sort(key=lambda b: -b[2] * b[3])
            dets = dets[:MAX_FACES]
            used = set()
            for tr in active:
                cur = np.asarray(tr.boxes[-1], dtype=np.float64)
                best, bi = 0.0, -1
                for i, d in enumerate(dets):
                    if i in used:
                        continue
                    v = _iou(cur, d)
                    if v > best:
                        best, bi = v, i
                if bi >= 0 and best >= MATCH_IOU:
                    used.add(bi)
                    tr._det_box, tr._det_centre, tr._misses = dets[bi], None, 0
                else:
                    tr._misses += 1
            still = []
            for tr in active:
                (done if tr._misses > MAX_MISSES else still).append(tr)
            active = still
            for i, d in enumerate(dets):
                if i not in used:
                    tr = FaceTrack(id=next_id)
                    next_id += 1
                    tr._det_box = d
                    active.append(tr)
            confirmed = {id(tr) for tr in active if tr._misses == 0}
        else:
            confirmed = set()
        rgb_full = None
        for tr in active:
            box = np.asarray(tr._det_box, dtype=np.float64)
            if tr._det_centre is not None and tr.n:
                shift = np.asarray(tr.landmarks[-1]).mean(axis=0) - tr._det_centre
                box = box.copy()
                box[:2] += shift
            x, y, bw, bh = box
            rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + bw)), int(round(y + bh)))
            shape = predictor(gray, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            if tr._det_centre is None:
                tr._det_centre = pts.mean(axis=0)
            tr.frame_index.append(fr.index)
            tr.times.append(t)
            tr.boxes.append(box.astype(np.float32))
            tr.landmarks.append(pts)
            tr.detected.append(id(tr) in confirmed)
            tr.mouth_open.append(mouth_opening(pts))
            tr.mouth_patches.append(mouth_patch(gray, pts))
            if t - tr._last_crop_t >= CROP_EVERY_S - 1e-6 and len(tr.crops) < MAX_CROPS:
                tr._last_crop_t = t
                if rgb_full is None:
                    rgb_full = fr.rgb()
                tr.crops.append(_crop(rgb_full, box, pts, t))
        fr.release()
    done.extend(active)
    tracks = [tr for tr in done if tr.n >= MIN_TRACK_FRAMES and any(tr.detected)]
    for k, tr in enumerate(sorted(tracks, key=lambda tr: tr.start)):
        tr.id = k
        tr._freeze()
    tracks.sort(key=lambda tr: tr.id)
    res = FaceScan(tracks=tracks, times=np.asarray(times, dtype=np.float64), fps=info.fps,
                   width=info.width, height=info.height, log=log, max_seconds=max_seconds)
    cache[key] = res
    return res


def _crop(rgb: np.ndarray, box: np.ndarray, pts: np.ndarray, t: float) -> FaceCrop:
    """Region of twice the face box around its centre, scaled so the face is CROP_FACE_PX wide."""
    import cv2

    h, w = rgb.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0 = int(max(0, cx - bw)), int(max(0, cy - bh))
    x1, y1 = int(min(w, cx + bw)), int(min(h, cy + bh))
    region = rgb[y0:y1, x0:x1]
    s = CROP_FACE_PX / max(bw, 1.0)
    if region.size == 0:
        region = np.zeros((2, 2, 3), np.uint8)
        s = 1.0
    out = cv2.resize(region, (max(1, round(region.shape[1] * s)), max(1, round(region.shape[0] * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    fb = (int(round((x - x0) * s)), int(round((y - y0) * s)), int(round(bw * s)), int(round(bh * s)))
    lm = (pts - np.array([x0, y0], np.float32)) * np.float32(s)
    return FaceCrop(time=t, rgb=out, box=fb, landmarks=lm.astype(np.float32))

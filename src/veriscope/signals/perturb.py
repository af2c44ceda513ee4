"""Everyday perturbations of images: re-encodings, rescaling, crops, captions.

Used to measure how detectors and verdicts hold up when media travels (``veriscope bench
--perturb``, ``veriscope analyze --stability``). Every operation is a pure function of a
uint8 RGB array and explicit parameters; geometric operations transform a boolean mask
together with the image so pixel metrics stay valid. Randomness (noise, ranges) comes
only from a seed. Output files are real files: JPEG bytes for JPEG steps, PNG otherwise,
always encoded from pixels, so no metadata, ICC profile or thumbnail is carried over.

Spec grammar (docs/robustness.md)::

    SPEC    := VARIANT (';' VARIANT)*         several variants: a sweep
    VARIANT := STEP ('+' STEP)*               steps applied left to right
    STEP    := NAME [':' PARAMS]
    PARAMS  := [KEY '='] VALUES (',' KEY '=' VALUES)*   no KEY: the step's main parameter
    VALUES  := VALUE (',' VALUE)*             several values: a sweep, one variant per value
    VALUE   := number | number '..' number | word   a..b: drawn per image from the seed

Examples: ``jpeg:q=95,85,75,65,50`` (five variants), ``resize:s=0.5..1.5`` (one variant, the
factor drawn per image), ``resize:s=0.75+jpeg:q=90``, ``social``, ``format:png|jpeg``.

Perturbed copies of whole benchmark sets, cached on disk, are made by
:mod:`veriscope.bench.perturb`.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

VERSION = "perturb/1"
"""Bumped whenever an operation's output changes for the same spec and seed."""

DEFAULT_CAPTION = "SHARED 12K TIMES - WATCH BEFORE IT IS DELETED"


# --------------------------------------------------------------------------- results
@dataclass
class Perturbed:
    """An image after some steps, plus the file that represents it."""

    image: np.ndarray  # uint8 RGB (H, W, 3); for JPEG output the decoded JPEG
    mask: np.ndarray | None = None  # bool (H, W), follows geometric steps
    data: bytes | None = None  # encoded file bytes when the last step encoded
    format: str = "png"  # "jpeg" or "png": what the file is
    applied: list[dict] = field(default_factory=list)  # steps with the values actually used

    def file_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        return png_bytes(self.image)

    @property
    def ext(self) -> str:
        return ".jpg" if self.format == "jpeg" else ".png"


# --------------------------------------------------------------------------- pure functions
def _u8(img) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB array (H, W, 3), got {a.dtype} {a.shape}")
    return a


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_u8(img)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_encode(img: np.ndarray, q: int) -> tuple[np.ndarray, bytes]:
    """Pillow JPEG at quality ``q`` (libjpeg scaled IJG tables, 4:2:0 chroma, baseline, no
    metadata). Returns (decoded pixels, file bytes)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_u8(img)).save(buf, "JPEG", quality=int(q))
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        dec = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return dec, data


def resize(img: np.ndarray, s: float, mask: np.ndarray | None = None):
    """Scale both sides by ``s``: INTER_AREA when shrinking, bicubic when enlarging; the
    mask follows with nearest neighbour. Returns (image, mask)."""
    import cv2

    img = _u8(img)
    h, w = img.shape[:2]
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    if (nw, nh) == (w, h):
        return img.copy(), None if mask is None else mask.copy()
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    out = cv2.resize(img, (nw, nh), interpolation=interp)
    return out, _resize_mask(mask, nw, nh)


def _resize_mask(mask, nw: int, nh: int):
    if mask is None:
        return None
    import cv2

    return cv2.resize(mask.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST) > 0


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (0 = unchanged)."""
    import cv2

    img = _u8(img)
    if sigma <= 0:
        return img.copy()
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
                            borderType=cv2.BORDER_REFLECT_101)


def gaussian_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Add i.i.d. Gaussian noise of ``sigma`` 8-bit levels per channel, rounded and clipped."""
    img = _u8(img)
    if sigma <= 0:
        return img.copy()
    rng = np.random.default_rng(seed)
    n = rng.normal(0.0, float(sigma), img.shape)
    return np.clip(np.rint(img.astype(np.float64) + n), 0, 255).astype(np.uint8)


def center_crop(img: np.ndarray, frac: float, mask: np.ndarray | None = None):
    """Keep the central ``frac`` of each side (area frac**2). Returns (image, mask)."""
    img = _u8(img)
    h, w = img.shape[:2]
    nh, nw = max(1, round(h * frac)), max(1, round(w * frac))
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    out = img[y0:y0 + nh, x0:x0 + nw].copy()
    m = None if mask is None else mask[y0:y0 + nh, x0:x0 + nw].copy()
    return out, m


def social(img: np.ndarray, mask: np.ndarray | None = None, long_side: int = 1080, q: int = 80):
    """What a typical social network does: shrink (INTER_AREA) so the long side is at most
    ``long_side``, re-encode as JPEG ``q`` with no metadata. Returns (image, mask, bytes)."""
    img = _u8(img)
    h, w = img.shape[:2]
    if max(h, w) > long_side:
        s = long_side / max(h, w)
        img, mask = resize(img, s, mask)
    dec, data = jpeg_encode(img, q)
    return dec, mask, data


def screenshot(img: np.ndarray, mask: np.ndarray | None = None, s: float = 0.8,
               gamma: float = 0.95, sharpen: float = 0.25):
    """A screenshot of the image shown on screen: rescaled by a non-integer factor with
    bilinear interpolation (as a compositor does), re-rendered with a slight display gamma
    (out = 255 * (in / 255) ** gamma) and a light unsharp mask (amount ``sharpen``, sigma
    1 px); saved as PNG. Returns (image, mask)."""
    import cv2

    img = _u8(img)
    h, w = img.shape[:2]
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if gamma != 1.0:
        out = 255.0 * np.power(out / 255.0, float(gamma))
    if sharpen > 0:
        blur = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = out + float(sharpen) * (out - blur)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), _resize_mask(mask, nw, nh)


def text_overlay(img: np.ndarray, caption: str = DEFAULT_CAPTION) -> tuple[np.ndarray, dict]:
    """Render ``caption`` in a dark band along the bottom, with Pillow's built-in bitmap
    font scaled up by an integer factor (about 1/25 of the image height per line). The
    mask is unchanged: a caption is not the manipulation being measured. Returns (image,
    box of the band as {x, y, w, h})."""
    from PIL import Image, ImageDraw, ImageFont

    img = _u8(img)
    h, w = img.shape[:2]
    try:
        font = ImageFont.load_default_imagefont()
    except AttributeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    x0, y0, x1, y1 = font.getbbox(caption or " ")
    tw, th = max(1, x1 - min(0, x0)), max(1, y1 - min(0, y0))
    k = max(1, round(h / 25 / th))
    while k > 1 and tw * k > w - 2 * k:
        k -= 1
    canvas = Image.new("L", (tw, th), 0)
    ImageDraw.Draw(canvas).text((-min(0, x0), -min(0, y0)), caption, fill=255, font=font)
    glyphs = np.asarray(canvas.resize((tw * k, th * k), Image.Resampling.NEAREST)) > 127
    pad = 2 * k
    band_h = min(h, glyphs.shape[0] + 2 * pad)
    by = h - band_h
    out = img.astype(np.float32)
    out[by:] *= 0.4  # dark band, 60 % opaque black
    gy, gx = glyphs.shape
    gy, gx = min(gy, max(0, band_h - pad)), min(gx, max(0, w - pad))
    region = out[by + pad:by + pad + gy, pad:pad + gx]
    region[glyphs[:gy, :gx]] = 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), {"x": 0, "y": by, "w": w, "h": band_h}


# --------------------------------------------------------------------------- spec steps
@dataclass(frozen=True)
class Param:
    kind: type
    default: object
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None


def _op_jpeg(st: Perturbed, rng, q):
    dec, data = jpeg_encode(st.image, q)
    return Perturbed(dec, st.mask, data, "jpeg")


def _op_resize(st, rng, s):
    im, m = resize(st.image, s, st.mask)
    return Perturbed(im, m)


def _op_blur(st, rng, sigma):
    return Perturbed(gaussian_blur(st.image, sigma), st.mask)


def _op_noise(st, rng, sigma):
    return Perturbed(gaussian_noise(st.image, sigma, int(rng.integers(2**63))), st.mask)


def _op_crop(st, rng, frac):
    im, m = center_crop(st.image, frac, st.mask)
    return Perturbed(im, m)


def _op_format(st, rng, to, q):
    if to == "swap":
        to = "png" if st.format == "jpeg" else "jpeg"
    if to == "png":
        return Perturbed(st.image.copy(), st.mask)
    dec, data = jpeg_encode(st.image, q)
    return Perturbed(dec, st.mask, data, "jpeg")


def _op_social(st, rng, long_side, q):
    im, m, data = social(st.image, st.mask, long_side, q)
    return Perturbed(im, m, data, "jpeg")


def _op_screenshot(st, rng, s, gamma, sharpen):
    im, m = screenshot(st.image, st.mask, s, gamma, sharpen)
    return Perturbed(im, m)


def _op_text(st, rng, caption):
    im, box = text_overlay(st.image, caption)
    out = Perturbed(im, st.mask)
    out.applied.append({"overlay_box": box})
    return out


@dataclass(frozen=True)
class Op:
    fn: Callable
    params: dict
    main: str | None
    doc: str


OPS: dict[str, Op] = {
    "jpeg": Op(_op_jpeg, {"q": Param(int, 75, 1, 100)}, "q",
               "re-encode as JPEG at quality q (Pillow/libjpeg, 4:2:0)"),
    "resize": Op(_op_resize, {"s": Param(float, 0.5, 0.05, 8.0)}, "s",
                 "scale by s (INTER_AREA down, bicubic up); mask follows"),
    "blur": Op(_op_blur, {"sigma": Param(float, 1.0, 0.0, 50.0)}, "sigma", "Gaussian blur, sigma px"),
    "noise": Op(_op_noise, {"sigma": Param(float, 2.0, 0.0, 100.0)}, "sigma",
                "additive Gaussian noise, sigma 8-bit levels (seeded)"),
    "crop": Op(_op_crop, {"frac": Param(float, 0.8, 0.05, 1.0)}, "frac",
               "centre crop keeping frac of each side; mask follows"),
    "format": Op(_op_format, {"to": Param(str, "swap", choices=("swap", "png", "jpeg")),
                              "q": Param(int, 92, 1, 100)}, "to",
                 "PNG <-> JPEG swap (to=swap), or to=png / to=jpeg (quality q)"),
    "social": Op(_op_social, {"long_side": Param(int, 1080, 16, 100000), "q": Param(int, 80, 1, 100)},
                 None, "long side <= 1080 (INTER_AREA), JPEG 80, metadata stripped"),
    "screenshot": Op(_op_screenshot, {"s": Param(float, 0.8, 0.05, 8.0),
                                      "gamma": Param(float, 0.95, 0.2, 5.0),
                                      "sharpen": Param(float, 0.25, 0.0, 5.0)}, "s",
                     "rescale by s (bilinear), display gamma, light sharpening, PNG"),
    "text": Op(_op_text, {"caption": Param(str, DEFAULT_CAPTION)}, "caption",
               "caption in a dark band at the bottom (Pillow bitmap font); mask unchanged"),
}


class SpecError(ValueError):
    """A --perturb spec that cannot be parsed."""


@dataclass(frozen=True)
class Step:
    name: str
    params: tuple[tuple[str, object], ...] = ()  # given values: number, (lo, hi) range, or str

    @property
    def spec(self) -> str:
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params)

    def resolve(self, rng: np.random.Generator) -> dict:
        """Every parameter's value for one image (defaults filled, ranges drawn)."""
        op = OPS[self.name]
        vals = {k: p.default for k, p in op.params.items()}
        for k, v in self.params:
            p = op.params[k]
            if isinstance(v, tuple):
                lo, hi = v
                v = int(rng.integers(int(lo), int(hi) + 1)) if p.kind is int else \
                    round(float(rng.uniform(lo, hi)), 4)
            vals[k] = v
        return vals


@dataclass(frozen=True)
class Perturbation:
    """One variant: a chain of steps. ``spec`` is its canonical text."""

    steps: tuple[Step, ...]

    @property
    def spec(self) -> str:
        return "+".join(s.spec for s in self.steps)

    def __str__(self) -> str:
        return self.spec

    def apply(self, image: np.ndarray, mask: np.ndarray | None = None, *, seed: int = 0,
              src_format: str | None = None) -> Perturbed:
        """Apply the steps in order. ``src_format`` ('jpeg'/'png'/...) matters only to
        ``format`` swaps. Deterministic for a given (image, mask, seed)."""
        rng = np.random.default_rng(seed)
        st = Perturbed(_u8(image), None if mask is None else np.asarray(mask, bool),
                       format="jpeg" if src_format == "jpeg" else "png")
        applied: list[dict] = []
        for step in self.steps:
            vals = step.resolve(rng)
            new = OPS[step.name].fn(st, rng, **vals)
            applied.append({"op": step.name, **vals, **{k: v for d in new.applied for k, v in d.items()}})
            new.applied = []
            st = new
        st.applied = applied
        return st


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return f"{_fmt(v[0])}..{_fmt(v[1])}"
    if isinstance(v, float):
        return f"{v:g}" if v == float(f"{v:g}") else repr(v)
    return str(v).replace(" ", "_")


def _value(op: str, key: str, p: Param, text: str):
    text = text.strip()
    if p.kind is str:
        v = text.replace("_", " ")
        if p.choices is not None:
            if set(v.split("|")) == {"png", "jpeg"}:
                v = "swap"
            if v not in p.choices:
                raise SpecError(f"{op}: {key} must be one of {', '.join(p.choices)}, not {text!r}")
        if any(c in v for c in ";+=,"):
            raise SpecError(f"{op}: {key} may not contain ; + = or ,")
        return v
    if ".." in text:
        a, b = text.split("..", 1)
        lo, hi = _number(op, key, p, a), _number(op, key, p, b)
        if lo > hi:
            raise SpecError(f"{op}: range {text!r} is empty")
        return (lo, hi)
    return _number(op, key, p, text)


def _number(op, key, p: Param, text: str):
    try:
        v = p.kind(float(text)) if p.kind is int else float(text)
        if p.kind is int and float(text) != int(float(text)):
            raise ValueError
    except ValueError:
        raise SpecError(f"{op}: {key}={text!r} is not a{'n integer' if p.kind is int else ' number'}") \
            from None
    if (p.lo is not None and v < p.lo) or (p.hi is not None and v > p.hi):
        raise SpecError(f"{op}: {key}={text} is outside [{p.lo:g}, {p.hi:g}]")
    return v


def _parse_step(text: str) -> list[Step]:
    """One STEP -> its variants (several when a parameter lists several values)."""
    name, _, rest = text.strip().partition(":")
    name = name.strip().lower()
    if name not in OPS:
        raise SpecError(f"unknown perturbation {name!r} (known: {', '.join(OPS)})")
    op = OPS[name]
    given: dict[str, list] = {}
    key = None
    for tok in (t for t in rest.split(",") if t.strip()) if rest.strip() else []:
        if "=" in tok:
            key, _, val = tok.partition("=")
            key = key.strip().lower()
            if key not in op.params:
                raise SpecError(f"{name}: unknown parameter {key!r} (known: {', '.join(op.params)})")
            if key in given:
                raise SpecError(f"{name}: parameter {key!r} given twice")
            given[key] = []
        else:
            val = tok
            if key is None:  # a leading bare value belongs to the main parameter
                if op.main is None:
                    raise SpecError(f"{name}: takes only key=value parameters "
                                    f"({', '.join(op.params)})")
                key = op.main
                given[key] = []
        given[key].append(_value(name, key, op.params[key], val))
    keys = list(given)
    return [Step(name, tuple(zip(keys, combo, strict=True)))
            for combo in itertools.product(*(given[k] for k in keys))]


def parse(spec: str) -> list[Perturbation]:
    """A SPEC -> the list of variants it describes (one for a plain spec, several for a sweep)."""
    if not spec or not spec.strip():
        raise SpecError("empty perturbation spec")
    out: list[Perturbation] = []
    for variant in spec.split(";"):
        if not variant.strip():
            continue
        chains = [_parse_step(s) for s in variant.split("+") if s.strip()]
        if not chains:
            raise SpecError(f"empty variant in {spec!r}")
        out.extend(Perturbation(tuple(c)) for c in itertools.product(*chains))
    seen, uniq = set(), []
    for p in out:
        if p.spec not in seen:
            seen.add(p.spec)
            uniq.append(p)
    return uniq


def parse_one(spec: str) -> Perturbation:
    ps = parse(spec)
    if len(ps) != 1:
        raise SpecError(f"{spec!r} describes {len(ps)} variants, expected one")
    return ps[0]


# --------------------------------------------------------------------------- files
def derive_seed(seed: int, *parts: str) -> int:
    """A per-image seed: the user's seed mixed with identifying strings (sha256)."""
    h = hashlib.sha256("|".join([str(int(seed)), *parts]).encode()).digest()
    return int.from_bytes(h[:8], "little")


"""`veriscope demo` / `make demo`: make example media, analyse them, print where the reports are.

Every example is made on the spot from sample photos that scikit-image ships
inside its wheel (NASA public-domain and CC0 images), so the demo needs no
network and no third-party data set. The video example is drawn in code
(:func:`make_spliced_video`) and encoded with PyAV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

A1111_PARAMETERS = (
    "a photo of a tabby cat sitting on a wooden floor, natural light\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 451x300, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
)


def _samples() -> dict[str, np.ndarray]:
    try:
        from skimage import data
    except ImportError as e:  # pragma: no cover - the demo extra is missing
        raise SystemExit("make demo needs scikit-image (pip install 'veriscope[demo]')") from e
    return {"coffee": data.coffee(), "chelsea": data.chelsea(), "astronaut": data.astronaut(),
            "rocket": data.rocket()}


def _flip_one_pixel_byte(path: Path, dst: Path) -> int:
    """Copy ``path`` to ``dst`` with one byte changed in the JPEG entropy-coded data."""
    b = bytearray(path.read_bytes())
    sos = b.rfind(b"\xff\xda")
    seg_len = int.from_bytes(b[sos + 2:sos + 4], "big")
    start = sos + 2 + seg_len
    i = start + (len(b) - start) // 2
    while b[i] in (0x00, 0xFF) or b[i - 1] == 0xFF or b[i + 1] in (0x00, 0xFF):
        i += 1  # avoid creating or breaking a marker / stuffed byte
    b[i] ^= 0x10
    dst.write_bytes(bytes(b))
    return i


def _canvas(h: int, w: int, seed: int) -> np.ndarray:
    """A procedural scene (float32 RGB): smooth colour waves and random flat shapes."""
    import cv2

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 60 * np.sin(x / 37 + seed) * np.cos(y / 41),
                    110 + 50 * np.cos((x + y) / 53), 100 + 60 * np.sin(y / 29)], -1)
    for _ in range(60):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(8, 60))
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), r, c, -1)
        else:
            cv2.rectangle(img, (cx, cy), (cx + r, cy + r // 2), c, -1)
    return cv2.GaussianBlur(img, (0, 0), 1.2)


PASTE_BOX = (0.25, 0.5, 0.5, 1 / 3)
"""Pasted region of :func:`make_spliced_video` as fractions (top, left, height, width)."""


def make_spliced_video(path: Path, *, width: int = 640, height: int = 360, fps: int = 25,
                       seconds: float = 4.0, paste: tuple[float, float] | None = (1.6, 3.2),
                       sigma: float = 10.0, crf: int = 16, seed: int = 0,
                       audio: bool = False) -> Path:
    """A silent H.264 clip: a camera pan over a procedural scene with fresh sensor-like noise
    (Gaussian, ``sigma`` grey levels) in every frame; from ``paste[0]`` to ``paste[1]`` seconds
    a noiseless region, upscaled 2x from another scene, covers :data:`PASTE_BOX` (a splice that
    differs from its host in noise and carries interpolation traces). ``paste=None``: no edit.
    ``audio``: add an AAC track (16 kHz mono: a 220 Hz hum under faint noise)."""
    import av
    import cv2

    rng = np.random.default_rng(seed)
    pan = max(8, width // 3)
    big = _canvas(height, width + pan, seed)
    ph, pw = int(height * PASTE_BOX[2]), int(width * PASTE_BOX[3])
    y0, x0 = int(height * PASTE_BOX[0]), int(width * PASTE_BOX[1])
    donor = _canvas(max(2, ph // 2), max(2, pw // 2), seed + 1)
    patch = cv2.resize(donor, (pw, ph), interpolation=cv2.INTER_CUBIC)
    n = max(1, int(round(seconds * fps)))
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        ast = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i in range(n):
            off = int(round(pan * i / max(1, n - 1)))
            fr = big[:, off:off + width] + rng.normal(0, sigma, (height, width, 3)).astype(np.float32)
            if paste is not None and paste[0] <= i / fps < paste[1]:
                fr[y0:y0 + ph, x0:x0 + pw] = patch
            vf = av.VideoFrame.from_ndarray(np.clip(fr, 0, 255).astype(np.uint8), format="rgb24")
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
        if ast is not None:
            ns = int(seconds * 16000)
            tt = np.arange(ns) / 16000.0
            x = 0.1 * np.sin(2 * np.pi * 220 * tt) + 0.01 * rng.normal(size=ns)
            x = x.astype(np.float32)
            for a in range(0, ns, 1024):
                af = av.AudioFrame.from_ndarray(x[None, a:a + 1024], format="fltp", layout="mono")
                af.sample_rate = 16000
                for pkt in ast.encode(af):
                    out.mux(pkt)
            for pkt in ast.encode(None):
                out.mux(pkt)
    return Path(path)


def make_examples(folder: Path) -> tuple[list[Path], Path]:
    """Write the example inputs into ``folder``; returns (paths, trust-anchor PEM)."""
    from veriscope.detectors.provenance.watermark.dwtdct import PAYLOADS, embed_like
    from veriscope.synth.c2pa_sign import make_test_credentials, sign_file

    folder.mkdir(parents=True, exist_ok=True)
    s = _samples()
    creds = make_test_credentials()
    anchors = creds.write_trust_anchors(folder / "demo_test_ca.pem")
    out = []

    plain = folder / "_coffee_unsigned.jpg"
    Image.fromarray(s["coffee"]).save(plain, quality=92)
    signed = sign_file(plain, folder / "c2pa_signed.jpg", creds, title="Coffee (demo capture)",
                       actions=["c2pa.created"], digital_source_type="digitalCapture")
    plain.unlink()
    out.append(signed)
    tampered = folder / "c2pa_signed_then_one_byte_changed.jpg"
    _flip_one_pixel_byte(signed, tampered)
    out.append(tampered)

    ai_src = folder / "_rocket_unsigned.jpg"
    Image.fromarray(s["rocket"]).save(ai_src, quality=92)
    out.append(sign_file(ai_src, folder / "c2pa_ai_generated.jpg", creds, title="Rocket (demo: declared AI)",
                         actions=["c2pa.created"], digital_source_type="trainedAlgorithmicMedia",
                         software_agent="Demo Diffusion 1.0"))
    ai_src.unlink()

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    gen = folder / "sd_webui_parameters.png"
    Image.fromarray(s["chelsea"]).save(gen, pnginfo=info)
    out.append(gen)

    payload = PAYLOADS[0]  # "StableDiffusionV1", as the SD 1.x reference scripts embed it
    wm = folder / "invisible_watermark_dwtdct.png"
    Image.fromarray(embed_like(s["astronaut"], payload)).save(wm)
    out.append(wm)

    host = s["rocket"].copy()
    patch = s["astronaut"][60:220, 150:330]  # the astronaut's face and helmet
    y, x = 120, 380
    host[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    spliced = folder / "plain_splice.jpg"
    Image.fromarray(host).save(spliced, quality=90)
    mask = np.zeros(host.shape[:2], np.uint8)
    mask[y:y + patch.shape[0], x:x + patch.shape[1]] = 255
    Image.fromarray(mask).save(folder / "plain_splice_mask.png")
    out.append(spliced)

    out.append(make_spliced_video(folder / "video_pasted_region_1.5s-4.5s.mp4", seconds=6.0,
                                  paste=(1.5, 4.5)))
    return out, anchors


def run_demo(out_dir: Path) -> int:
    from rich.console import Console

    import veriscope
    from veriscope.report.table import print_table

    console = Console()
    out_dir = Path(out_dir)
    inputs, anchors = make_examples(out_dir / "inputs")
    console.print(f"Made {len(inputs)} example inputs in {out_dir / 'inputs'} "
                  f"(C2PA test CA: {anchors.name})")
    options = {"c2pa": {"trust_anchors": str(anchors)}}
    rows, summary = [], []
    for p in inputs:
        rep = veriscope.analyze(p, options=options)
        dest = out_dir / "reports" / p.name
        rep.write(dest)
        rows.append((p, rep, dest))
        summary.append({"file": p.name, "verdict": rep.verdict.label, "band": rep.verdict.band,
                        "score": rep.verdict.score, "report": str(dest / "report.html")})
    print_table(rows, True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    splice = next(r for r in rows if r[0].name == "plain_splice.jpg")[1]
    if splice.verdict.label == "no_evidence":
        console.print("plain_splice.jpg carries no metadata, credentials or watermark, and the "
                      "pixel-level detectors that ran did not flag it: a miss, shown as it is.")
    else:
        console.print(f"plain_splice.jpg: {splice.verdict.summary}", markup=False)
    vpath, vid = next((r[0], r[1]) for r in rows if r[0].suffix == ".mp4")
    console.print(f"{vpath.name} (a region pasted into the frames from 1.5 s to 4.5 s): "
                  f"{vid.verdict.summary}", markup=False)
    console.print(f"Open the HTML reports listed above; summary in {out_dir / 'summary.json'}")
    return 0

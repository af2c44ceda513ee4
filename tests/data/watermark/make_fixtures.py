"""Regenerate the reference-encoded watermark fixtures in this folder.

Run from the repository root with the project venv, pointing at the python of a separate scratch
venv that has the reference package (never a project dependency):

    python3 -m venv /tmp/wmref
    /tmp/wmref/bin/pip install --no-deps invisible-watermark
    /tmp/wmref/bin/pip install numpy PyWavelets Pillow "opencv-python-headless<5"
    .venv/bin/python tests/data/watermark/make_fixtures.py /tmp/wmref/bin/python

Cover: skimage.data.astronaut(), rows/cols 128..383 (256x256, the reference encoder's minimum
size). Each fixture is the cover marked by the reference `invisible-watermark` 0.2.0 encoder the
way the named pipeline calls it, then saved as PNG (lossless).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# name -> (payload key, method, reading)
FIXTURES = {
    "ref_sd1_dwtdct_u8.png": ("sd1", "dwtDct", "u8_bgr"),
    "ref_sd2_dwtdct_u8.png": ("sd2", "dwtDct", "u8_bgr"),
    "ref_sdxl_dwtdct_f32bgr.png": ("sdxl", "dwtDct", "f32_bgr"),
    "ref_sdxl_dwtdct_f32rgb.png": ("sdxl", "dwtDct", "f32_rgb"),
    "ref_sd2_dwtdctsvd_u8.png": ("sd2", "dwtDctSvd", "u8_bgr"),
}

HELPER = r'''
import json, sys, types
import numpy as np
stub = types.ModuleType("imwatermark.rivaGan")
class RivaWatermark:
    pass
stub.RivaWatermark = RivaWatermark
sys.modules["imwatermark.rivaGan"] = stub  # rivaGan needs torch; dwtDct/dwtDctSvd do not
from imwatermark import WatermarkEncoder
from PIL import Image
job = json.load(open(sys.argv[1]))
rgb = np.load(job["cover"])
for f in job["fixtures"]:
    enc = WatermarkEncoder()
    if f["bytes_hex"]:
        enc.set_watermark("bytes", bytes.fromhex(f["bytes_hex"]))
    else:
        enc.set_watermark("bits", f["bits"])
    r, m = f["reading"], f["method"]
    if r == "u8_bgr":  # SD 1.x / 2.x put_watermark()
        out = enc.encode(np.ascontiguousarray(rgb[:, :, ::-1]), m)[:, :, ::-1]
    elif r == "f32_bgr":  # generative-models WatermarkEmbedder + perform_save_locally
        out = enc.encode(np.ascontiguousarray(rgb[:, :, ::-1]).astype(np.float32), m)[:, :, ::-1]
        out = (np.float32(255.0) * np.clip(out / np.float32(255), 0, 1)).astype(np.uint8)
    elif r == "f32_rgb":  # diffusers < 0.27 StableDiffusionXLWatermarker + postprocess
        out = enc.encode(rgb.astype(np.float32), m)
        out = np.round(np.clip(out / np.float32(255), 0, 1) * np.float32(255)).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(out, dtype=np.uint8)).save(f["out"], optimize=True)
'''


def cover() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[128:384, 128:384])


def main(ref_python: str) -> None:
    from veriscope.detectors.provenance.watermark import dwtdct as W

    by_key = {p.key: p for p in W.PAYLOADS}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "cover.npy", cover())
        job = {"cover": str(Path(tmp) / "cover.npy"), "fixtures": []}
        for name, (key, method, reading) in FIXTURES.items():
            p = by_key[key]
            job["fixtures"].append({"out": str(HERE / name), "bits": list(p.bits),
                                    "bytes_hex": p.data.hex() if p.data else None,
                                    "method": method, "reading": reading})
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        (Path(tmp) / "helper.py").write_text(HELPER)
        subprocess.run([ref_python, str(Path(tmp) / "helper.py"), str(Path(tmp) / "job.json")],
                       check=True)
    for name in FIXTURES:
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wmref/bin/python")

"""Run the atheris fuzz harnesses of fuzz/ and write a JSON summary.

    python fuzz/run.py [--seconds N] [--runs N] [--targets a,b] [--out FILE]
    python fuzz/run.py --minimize ARTIFACT --targets NAME [--out-input FILE]
    python fuzz/run.py --merge SUMMARY... --out FILE

Each target runs in its own subprocess (``python fuzz/fuzz_<target>.py``) under libFuzzer with
``-max_total_time`` (``--seconds``, per target), ``-runs`` (``--runs``, when given),
``-rss_limit_mb=2048``, ``-timeout=10`` (seconds per input) and ``-max_len`` (per target). Its
corpus is the ignored cache ``fuzz/.corpus/<target>/`` (kept between runs) plus the seeds,
rebuilt on every run in ``fuzz/.corpus/<target>.seeds/`` by the rule of :func:`seed_files`.
Crashes, timeouts and out-of-memory inputs are written under ``fuzz/.artifacts/<target>/``;
after one, the target is started again for the time left (at most ``--restarts`` times) so
that one bug does not end the campaign.

Recorded per target: iterations (libFuzzer's executed units), exec/s, the final ``cov:`` and
``ft:`` of libFuzzer's last status line, corpus size, and the artifact paths. The exit status
is 1 when any target found a crash, a timeout or an OOM (CI fails on it), else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / ".corpus"
ARTIFACTS = FUZZ / ".artifacts"
REGRESSIONS = ROOT / "tests" / "data" / "fuzz"
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "fuzz.json"

SEEDS_PER_FORMAT = 3
"""Seed rule: the N smallest files of each listed extension in tests/data and ../shared/data."""


@dataclass(frozen=True)
class Target:
    name: str
    max_len: int  # libFuzzer -max_len; seeds are cut to their first max_len bytes
    extensions: tuple[str, ...]  # file extensions whose smallest files seed it
    generated: tuple[str, ...]  # kinds of tiny generated seeds (see generated_seeds)


IMAGE_EXT = (".jpg", ".png", ".gif", ".bmp", ".tif", ".webp")
AUDIO_EXT = (".wav", ".mp3", ".flac", ".ogg", ".m4a")
VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm", ".avi")

TARGETS = {t.name: t for t in (
    Target("jpeg", 16384, (".jpg",), ("jpeg",)),
    Target("jpeg_tables", 16384, (".jpg",), ("jpeg",)),
    Target("metadata", 16384, (".jpg", ".png", ".tif", ".webp"), ("image", "xmp")),
    Target("mp4", 65536, VIDEO_EXT + (".m4a",), ("video", "m4a")),
    Target("c2pa", 16384, (".jpg", ".png"), ("c2pa", "jpeg")),
    Target("watermark", 16384, (".png",), ("watermark",)),
    Target("media_image", 16384, IMAGE_EXT, ("image",)),
    Target("media_audio", 16384, AUDIO_EXT, ("audio", "m4a")),
    Target("media_video", 32768, VIDEO_EXT, ("video",)),
)}


# --------------------------------------------------------------------------- seeds
def _small_files(ext: str, n: int) -> list[Path]:
    found: list[tuple[int, str, Path]] = []
    for base in (ROOT / "tests" / "data", SHARED):
        if not base.is_dir():
            continue
        for p in base.rglob(f"*{ext}"):
            if p.is_file() and "fuzz" not in p.relative_to(base).parts:
                found.append((p.stat().st_size, str(p), p))
    found.sort()
    return [p for _s, _n, p in found[:n]]


def seed_files(target: Target) -> list[Path]:
    """The seed rule: for each extension of the target, the SEEDS_PER_FORMAT smallest files
    (ties broken by path) under tests/data and ../shared/data; every file is used through its
    first ``max_len`` bytes."""
    out: list[Path] = []
    for ext in target.extensions:
        out.extend(_small_files(ext, SEEDS_PER_FORMAT))
    return out


def _image_seeds() -> dict[str, bytes]:
    import numpy as np
    from PIL import Image, PngImagePlugin

    rng = np.random.default_rng(21)
    px = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    im = Image.fromarray(px)
    out: dict[str, bytes] = {}
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "EOS 5D", "Adobe Photoshop 25.0"
    exif[0x0132] = "2024:01:02 03:04:05"
    for name, kw in (("jpeg", {"format": "JPEG", "quality": 80, "exif": exif.tobytes(),
                               "comment": b"fuzz seed"}),
                     ("jpeg_prog", {"format": "JPEG", "quality": 50, "progressive": True,
                                    "subsampling": 0}),
                     ("gif", {"format": "GIF"}), ("bmp", {"format": "BMP"}),
                     ("tiff", {"format": "TIFF", "exif": exif.tobytes()}),
                     ("webp", {"format": "WEBP", "quality": 50})):
        b = io.BytesIO()
        im.save(b, **kw)
        out[name] = b.getvalue()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a photo of a cat, Steps: 20, Sampler: Euler")
    info.add_text("Software", "fuzz", zip=True)
    info.add_itxt("XML:com.adobe.xmp", _XMP, zip=False)
    info.add_itxt("Comment", "compressed text", zip=True)
    b = io.BytesIO()
    im.save(b, format="PNG", pnginfo=info, exif=exif.tobytes())
    out["png"] = b.getvalue()
    for mode in ("L", "P", "RGBA", "I;16", "1"):
        b = io.BytesIO()
        Image.fromarray(px).convert(mode).save(b, format="PNG" if mode != "I;16" else "TIFF")
        out[f"mode_{mode.replace(';', '_')}"] = b.getvalue()
    return out


_XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmp:CreatorTool="Adobe Photoshop 25.0"><dc:creator><rdf:Seq><rdf:li>A</rdf:li>'
        '</rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>')


def _audio_seeds() -> dict[str, bytes]:
    import numpy as np
    import soundfile as sf

    t = np.arange(800) / 8000.0
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = {}
    for name, fmt, sub in (("wav", "WAV", "PCM_16"), ("wav_float", "WAV", "FLOAT"),
                           ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS")):
        b = io.BytesIO()
        sf.write(b, np.stack([x, x], axis=1) if name == "flac" else x, 8000, format=fmt,
                 subtype=sub)
        out[name] = b.getvalue()
    return out


def _av_seed(container: str, vcodec: str | None, acodec: str | None, n: int = 6) -> bytes:
    import av
    import numpy as np

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, f"seed.{container}")
        with av.open(p, "w") as c:
            vs = as_ = None
            if vcodec:
                vs = c.add_stream(vcodec, rate=10)
                vs.width, vs.height = 32, 32
                vs.pix_fmt = "yuvj420p" if vcodec == "mjpeg" else "yuv420p"
            if acodec:
                as_ = c.add_stream(acodec, rate=16000)
            for i in range(n):
                if vs is not None:
                    img = np.full((32, 32, 3), (i * 40) % 256, np.uint8)
                    img[: 8 + i, :8] = 255
                    for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                        c.mux(pkt)
            if as_ is not None:
                fmt = as_.codec_context.format.name if as_.codec_context.format else "fltp"
                layout = "mono"
                samples = as_.codec_context.frame_size or 1024
                for k in range(4):
                    a = (0.2 * np.sin(np.arange(samples) * 0.05 * (k + 1))).astype(np.float32)
                    fr = av.AudioFrame.from_ndarray(a[None, :], format="fltp", layout=layout)
                    fr.sample_rate = 16000
                    fr.pts = k * samples
                    if fmt != "fltp":
                        fr = av.AudioResampler(format=fmt, layout=layout, rate=16000).resample(fr)
                        fr = fr[0] if isinstance(fr, list) else fr
                    for pkt in as_.encode(fr):
                        c.mux(pkt)
            for s in (vs, as_):
                if s is not None:
                    for pkt in s.encode():
                        c.mux(pkt)
        return Path(p).read_bytes()


def generated_seeds(kind: str) -> dict[str, bytes]:
    """Tiny seeds made here (deterministic content; a kind whose encoder is missing gives
    nothing): ``jpeg``, ``image`` (all decodable image formats, with EXIF/XMP/PNG text),
    ``xmp``, ``audio`` (WAV/FLAC/Ogg), ``m4a``, ``video`` (MP4/MOV/MKV/AVI), ``c2pa`` (a
    signed JPEG and its manifest-store JSON), ``watermark`` (two size bytes and pixels)."""
    try:
        if kind == "jpeg":
            return {k: v for k, v in _image_seeds().items() if k.startswith("jpeg")}
        if kind == "image":
            return _image_seeds()
        if kind == "xmp":
            return {"xmp": _XMP.encode()}
        if kind == "audio":
            return _audio_seeds()
        if kind == "m4a":
            return {"m4a": _av_seed("m4a", None, "aac")}
        if kind == "video":
            out = {}
            for cont, vc, ac in (("mp4", "mpeg4", "aac"), ("mov", "mjpeg", None),
                                 ("mkv", "mpeg4", None), ("avi", "mpeg4", None)):
                try:
                    out[f"video_{cont}"] = _av_seed(cont, vc, ac)
                except Exception as e:  # an encoder missing from this PyAV build
                    print(f"  (seed video_{cont} skipped: {e})", file=sys.stderr)
            return out
        if kind == "c2pa":
            return _c2pa_seeds()
        if kind == "watermark":
            return {"flat": bytes([64, 64]) + bytes(range(256)) * 8,
                    "tiny": bytes([8, 8, 1, 2, 3])}
    except Exception as e:
        print(f"  (generated seeds '{kind}' skipped: {type(e).__name__}: {e})", file=sys.stderr)
    return {}


def _c2pa_seeds() -> dict[str, bytes]:
    import c2pa

    from veriscope.synth import c2pa_sign

    src = _image_seeds()["jpeg"]
    creds = c2pa_sign.make_test_credentials()
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "a.jpg", Path(d) / "b.jpg"
        a.write_bytes(src)
        c2pa_sign.sign_file(a, b, creds, digital_source_type="trainedAlgorithmicMedia")
        signed = b.read_bytes()
        with open(b, "rb") as fh:
            r = c2pa.Reader("image/jpeg", fh)
            store = r.json()
            r.close()
    return {"signed_jpeg": signed, "store_json": store.encode()}


def build_seeds(target: Target) -> Path:
    d = CORPUS / f"{target.name}.seeds"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for p in seed_files(target):
        with open(p, "rb") as fh:
            (d / f"file-{p.stem[:40]}{p.suffix}").write_bytes(fh.read(target.max_len))
    for kind in target.generated:
        for name, data in generated_seeds(kind).items():
            (d / f"gen-{name}").write_bytes(data[:target.max_len])
    reg = REGRESSIONS / target.name
    if reg.is_dir():
        for p in sorted(reg.glob("*.bin")):
            shutil.copy(p, d / f"regression-{p.name}")
    return d


# --------------------------------------------------------------------------- running
_STATUS = re.compile(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+)(?: corp: (\d+)/\S+)?.*?(?:exec/s: (\d+))?",
                     re.M)
_WRITTEN = re.compile(r"Test unit written to (\S+)")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)


def _libfuzzer_args(target: Target, seconds: float, runs: int | None) -> list[str]:
    art = ARTIFACTS / target.name
    art.mkdir(parents=True, exist_ok=True)
    args = [f"-max_total_time={max(1, int(seconds))}", "-rss_limit_mb=2048", "-timeout=10",
            f"-max_len={target.max_len}", f"-artifact_prefix={art}/", "-print_final_stats=1"]
    if runs is not None:
        args.append(f"-runs={runs}")
    return args


def _remove_scratch(pid: int) -> None:
    """Delete the scratch media files a finished harness process left (fuzz/_fuzzutil.py)."""
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    for p in scratch.glob(f"veriscope-fuzz-{pid}.*"):
        p.unlink(missing_ok=True)


def run_target(target: Target, seconds: float, runs: int | None, restarts: int,
               log_dir: Path) -> dict:
    seeds = build_seeds(target)
    corpus = CORPUS / target.name
    corpus.mkdir(parents=True, exist_ok=True)
    harness = FUZZ / f"fuzz_{target.name}.py"
    rec = {"iterations": 0, "seconds": 0.0, "exec_per_s": None, "cov": None, "ft": None,
           "corpus_files": None, "seeds": len(list(seeds.iterdir())), "crashes": [],
           "timeouts": [], "ooms": [], "starts": 0, "max_len": target.max_len}
    deadline = time.monotonic() + seconds
    left_runs = runs
    log_dir.mkdir(parents=True, exist_ok=True)
    while True:
        left = deadline - time.monotonic()
        if left < 1 or (left_runs is not None and left_runs <= 0):
            break
        rec["starts"] += 1
        cmd = [sys.executable, str(harness), str(corpus), str(seeds),
               *_libfuzzer_args(target, left, left_runs)]
        t0 = time.monotonic()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
            try:
                out, _ = proc.communicate(timeout=left + 120)
            except subprocess.TimeoutExpired:  # libFuzzer ignored its own time limit
                proc.kill()
                out, _ = proc.communicate()
        _remove_scratch(proc.pid)
        took = time.monotonic() - t0
        (log_dir / f"{target.name}-{rec['starts']}.log").write_text(out[-200_000:])
        stats = {k: int(v) for k, v in _STAT.findall(out)}
        status = _STATUS.findall(out)
        n = stats.get("number_of_executed_units")
        if n is None and status:
            n = int(status[-1][0])
        rec["iterations"] += n or 0
        rec["seconds"] += took
        if status:
            rec["cov"], rec["ft"] = int(status[-1][1]), int(status[-1][2])
        if left_runs is not None:
            left_runs -= n or 0
        found = False
        for path in _WRITTEN.findall(out):
            base = os.path.basename(path)
            rel = os.path.relpath(path, ROOT) if os.path.isabs(path) else path
            if base.startswith("crash-"):
                rec["crashes"].append(rel)
            elif base.startswith("timeout-"):
                rec["timeouts"].append(rel)
            elif base.startswith("oom-"):
                rec["ooms"].append(rel)
            else:
                continue
            found = True
        if proc.returncode != 0 and not found:
            rec["crashes"].append(f"(exit status {proc.returncode}, no artifact; see "
                                  f"{os.path.relpath(log_dir, ROOT)}/{target.name}-{rec['starts']}.log)")
            found = True
        if not found or rec["starts"] > restarts:
            break
    rec["exec_per_s"] = round(rec["iterations"] / rec["seconds"], 1) if rec["seconds"] else None
    rec["seconds"] = round(rec["seconds"], 1)
    rec["corpus_files"] = len(list(corpus.iterdir()))
    rec["ok"] = not (rec["crashes"] or rec["timeouts"] or rec["ooms"])
    return rec


def minimize(target: Target, artifact: Path, out: Path, seconds: int) -> int:
    """libFuzzer's -minimize_crash=1 on one crashing input; the smallest input that still
    crashes is written to ``out``."""
    harness = FUZZ / f"fuzz_{target.name}.py"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(harness), "-minimize_crash=1", f"-max_total_time={seconds}",
           "-timeout=10", "-rss_limit_mb=2048", f"-exact_artifact_path={out}", str(artifact)]
    return subprocess.run(cmd, cwd=ROOT).returncode


def merge(paths: list[Path]) -> dict:
    """One summary from several (a campaign run in parts, or topped up): per target, iterations
    and seconds are summed, cov/ft/corpus are those of the last part, artifacts concatenated."""
    docs = [json.loads(Path(p).read_text()) for p in paths]
    targets: dict[str, dict] = {}
    for doc in docs:
        for name, r in doc["targets"].items():
            cur = targets.get(name)
            if cur is None:
                targets[name] = dict(r, parts=1)
                continue
            for k in ("iterations", "seconds", "starts"):
                cur[k] = round(cur[k] + r[k], 1) if k == "seconds" else cur[k] + r[k]
            for k in ("crashes", "timeouts", "ooms"):
                cur[k] = cur[k] + r[k]
            for k in ("cov", "ft", "corpus_files", "seeds"):
                cur[k] = r[k]
            cur["parts"] += 1
            cur["ok"] = cur["ok"] and r["ok"]
    for r in targets.values():
        r["exec_per_s"] = round(r["iterations"] / r["seconds"], 1) if r["seconds"] else None
    out = dict(docs[-1])
    out["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["command"] = "; ".join(d["command"] for d in docs)
    out["seconds_per_target"] = {n: r["seconds"] for n, r in targets.items()}
    out["targets"] = targets
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=300, help="time per target (default 300)")
    ap.add_argument("--runs", type=int, default=None,
                    help="stop a target after this many inputs (whichever of --seconds/--runs "
                         "comes first)")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help="comma-separated subset of: " + ", ".join(TARGETS))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON summary to write")
    ap.add_argument("--restarts", type=int, default=3,
                    help="restarts of a target after a crash while its time lasts (default 3)")
    ap.add_argument("--minimize", type=Path, default=None, metavar="ARTIFACT",
                    help="minimise this crashing input of the (single) --targets target")
    ap.add_argument("--out-input", type=Path, default=None,
                    help="with --minimize: where the minimised input goes")
    ap.add_argument("--merge", type=Path, nargs="+", default=None, metavar="SUMMARY",
                    help="write one summary (--out) from earlier ones instead of fuzzing")
    a = ap.parse_args(argv)
    if a.merge:
        doc = merge(a.merge)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"summary of {len(a.merge)} runs written to {a.out}")
        return 0 if all(r["ok"] for r in doc["targets"].values()) else 1
    names = [t.strip() for t in a.targets.split(",") if t.strip()]
    bad = [n for n in names if n not in TARGETS]
    if bad:
        ap.error(f"unknown target(s) {', '.join(bad)}; known: {', '.join(TARGETS)}")
    if a.minimize is not None:
        if len(names) != 1:
            ap.error("--minimize needs exactly one --targets target")
        out = a.out_input or a.minimize.with_name("minimized-" + a.minimize.name)
        return minimize(TARGETS[names[0]], a.minimize, out, int(a.seconds))

    results = {}
    log_dir = ARTIFACTS / "logs"
    for n in names:
        print(f"fuzz {n}: up to {a.seconds:g} s" + (f" / {a.runs} runs" if a.runs else ""),
              flush=True)
        r = run_target(TARGETS[n], a.seconds, a.runs, a.restarts, log_dir)
        results[n] = r
        bad_inputs = r["crashes"] + r["timeouts"] + r["ooms"]
        print(f"  {r['iterations']} runs, {r['exec_per_s']} exec/s, cov {r['cov']} ft {r['ft']}, "
              f"corpus {r['corpus_files']}" + (f"; FOUND: {', '.join(bad_inputs)}"
                                               if bad_inputs else ""), flush=True)
    doc = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "command": " ".join(["python", "fuzz/run.py", *(argv if argv is not None
                                                           else sys.argv[1:])]),
           "seconds_per_target": a.seconds, "runs_per_target": a.runs,
           "machine": {"python": platform.python_version(), "platform": platform.platform(),
                       "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else None},
           "libfuzzer_options": {"rss_limit_mb": 2048, "timeout_s": 10},
           "seed_rule": f"{SEEDS_PER_FORMAT} smallest files per extension of tests/data and "
                        "../shared/data, cut to max_len bytes, plus tiny generated files",
           "targets": results}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    failed = [n for n, r in results.items() if not r["ok"]]
    print(f"summary written to {a.out}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

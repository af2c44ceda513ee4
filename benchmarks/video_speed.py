#!/usr/bin/env python
"""Video speed and memory of the default detector set, and the per-frame cost and false-flag
rate of the image detectors that ``video_frames`` may run.

Protocol:

1. Clips: FF++ ``original_sequences/youtube/c23/videos/004.mp4`` (1280x720, 25 fps, 12.4 s, a
   real news clip from icpr2020dfdc-video-samples) decoded and re-encoded with PyAV (libx264,
   crf 20, preset veryfast, yuv420p) in a loop (a jump cut every 12.4 s) to 30 s and to 120 s. Cached in
   bench-out/video/.
2. Speed: the 30 s clip through ``Media.open`` + ``analyze_media`` with the default detector
   set (whatever is registered as default when it runs), detector time limit 600 s. Reported:
   wall time / media duration, seconds per detector (Evidence.elapsed_s), the frame detectors'
   seconds inside video_frames, and a plain decode of every frame for reference.
3. Memory: each clip analysed the same way in a fresh child process; its peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) for 30 s vs 120 s.
4. Frame detectors (``--frames-table``, default on): every real (FF++ originals 004, 519, 634;
   the 5 talking-face-videoretalking-examples clips) and fake (FF++ Deepfakes / FaceSwap /
   Face2Face / NeuralTextures, 3 DFDC) video of the shared sets, 1 frame per second at native
   size, each candidate detector on each frame (BLAS limited to one thread, as in
   video_frames): median CPU seconds (process time, so that other jobs on the machine inflate
   it less) per 1280x720 frame, share of
   frames scoring >= 0.5, and the longest run of consecutive flagged frames. The fakes are face
   manipulations, which these splice detectors are not built to see: their rate is a second
   false-flag measurement more than a detection rate. These figures chose the default frame set
   of ``video_frames`` (docs/benchmarks.md), so they are not an independent evaluation.

5. Clips with sound (``--no-av`` skips): the default set on each talking-face clip, where
   lip_sync and the audio detectors apply (the FF++ clip has no audio track).

Usage: .venv/bin/python benchmarks/video_speed.py [--no-frames-table] [--no-memory] [--no-av]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ICPR = SHARED / "icpr2020dfdc-video-samples" / "test" / "data"
SOURCE = ICPR / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / "004.mp4"
CACHE = REPO / "bench-out" / "video"
CANDIDATES = ("noise", "splicebuster", "resampling", "jpeg_grid", "copy_move")


def looped_clip(seconds: float) -> Path:
    """SOURCE re-encoded in a loop to ``seconds`` (cached)."""
    import av

    CACHE.mkdir(parents=True, exist_ok=True)
    dst = CACHE / f"004_loop_{int(seconds)}s.mp4"
    if dst.exists() and dst.stat().st_size > 0:
        return dst
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(SOURCE)) as src:
        s = src.streams.video[0]
        fps = int(round(float(s.average_rate)))
        w, h = s.codec_context.width, s.codec_context.height
    n = int(round(seconds * fps))
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "20", "preset": "veryfast"}
        i = 0
        while i < n:  # stream the source again and again (a jump cut at each loop)
            with av.open(str(SOURCE)) as src:
                for f in src.decode(src.streams.video[0]):
                    if i >= n:
                        break
                    vf = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24")
                    for pkt in st.encode(vf):
                        out.mux(pkt)
                    i += 1
        for pkt in st.encode(None):
            out.mux(pkt)
    tmp.rename(dst)
    return dst


def analyse(path: Path) -> dict:
    from veriscope.core.media import Media
    from veriscope.detectors.base import Context
    from veriscope.pipeline.runner import analyze_media

    t0, c0 = time.perf_counter(), time.process_time()
    media = Media.open(path)
    rep = analyze_media(media, None, Context(timeout_s=600.0))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    vf = rep.get("video_frames")
    return {"wall": wall, "cpu": cpu, "duration": float(media.facts.get("duration") or 0.0),
            "detectors": {e.name: (e.elapsed_s, e.applicable, e.error) for e in rep.evidence},
            "frame_seconds": (vf.data.get("seconds") if vf is not None else None),
            "frame_cpu": (vf.data.get("cpu_seconds") if vf is not None else None),
            "frames": (vf.data.get("frames_analysed") if vf is not None else None),
            "verdict": rep.verdict.label, "score": rep.verdict.score,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def decode_only(path: Path) -> tuple[float, float]:
    from veriscope.core.media import Media
    from veriscope.core.video import iter_frames

    t0, c0 = time.perf_counter(), time.process_time()
    for _ in iter_frames(Media.open(path)):
        pass
    return time.perf_counter() - t0, time.process_time() - c0


def av_table() -> list[str]:
    """The default set on every talking-face clip (with sound, so lip_sync and the audio
    detectors run on the audio track): wall time / duration and the slowest detectors."""
    import av

    out = ["| clip | size | duration (s) | wall (s) | x real time | CPU (s) | faces s | lip_sync s "
           "| video_frames s | audio detectors s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in sorted((SHARED / "talking-face-videoretalking-examples" / "face_video").glob("*.mp4")):
        with av.open(str(p)) as c:
            v = c.streams.video[0].codec_context
            size = f"{v.width}x{v.height}"
        r = analyse(p)
        d = {n: (el or 0.0) for n, (el, app, _e) in r["detectors"].items() if app}
        aud = sum(v for n, v in d.items() if n.startswith(("audio_", "synthetic_speech")))
        out.append(f"| {p.name} | {size} | {r['duration']:.1f} | {r['wall']:.1f} | "
                   f"{r['wall'] / r['duration']:.2f} | {r['cpu']:.1f} | {d.get('faces', 0):.2f} | "
                   f"{d.get('lip_sync', 0):.2f} | {d.get('video_frames', 0):.2f} | {aud:.2f} |")
    return out


def frames_table() -> list[str]:
    from veriscope.detectors.base import Context

    real = [ICPR / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / f
            for f in ("004.mp4", "519.mp4", "634.mp4")]
    real += sorted((SHARED / "talking-face-videoretalking-examples" / "face_video").glob("*.mp4"))
    fake = sorted((ICPR / "ffpp" / "manipulated_sequences").rglob("*.mp4"))
    fake += sorted((ICPR / "dfdc").rglob("*.mp4"))
    from veriscope.detectors.video.video_frames import _one_blas_thread

    ctx = Context()
    rows = []
    with _one_blas_thread():  # as video_frames runs them
        _frame_rows(real, fake, ctx, rows)
    return _frames_md(rows)


def _frame_rows(real, fake, ctx, rows) -> None:
    from veriscope.core import registry
    from veriscope.core.media import Media
    from veriscope.core.video import SamplingPolicy, frames_at, stream_info

    for group, files in (("real", real), ("fake", fake)):
        for p in files:
            m = Media.open(p)
            info = stream_info(m)
            for fr in frames_at(m, SamplingPolicy(fps=1.0).times(info.duration or 10.0)):
                rgb = fr.rgb()
                fm = Media.from_array(rgb)
                for n in CANDIDATES:
                    d = registry.load(n)()
                    c0 = time.process_time()
                    e = d.analyze(fm, ctx)
                    rows.append((group, p.name, fr.time, rgb.shape[:2], n, e.score,
                                 time.process_time() - c0))
                fr.release()


def _frames_md(rows) -> list[str]:
    out = ["| detector | CPU s / 1280x720 frame (median) | real frames >= 0.5 | real videos with a "
           "flag | longest flagged run (real) | fake frames >= 0.5 |", "|---|---|---|---|---|---|"]
    for n in CANDIDATES:
        rr = [r for r in rows if r[4] == n and r[0] == "real"]
        ff = [r for r in rows if r[4] == n and r[0] == "fake"]
        t720 = [r[6] for r in rows if r[4] == n and tuple(r[3]) == (720, 1280)]

        def rate(rs):
            s = np.array([np.nan if r[5] is None else r[5] for r in rs], float)
            return f"{int((s >= 0.5).sum())}/{len(s)} ({(s >= 0.5).mean():.1%})"

        files = sorted({r[1] for r in rr if r[5] is not None and r[5] >= 0.5})
        longest = 0
        for f in {r[1] for r in rr}:
            flags = "".join("1" if (r[5] or 0) >= 0.5 else "0" for r in rr if r[1] == f)
            longest = max([longest] + [len(x) for x in flags.split("0")])
        out.append(f"| {n} | {np.median(t720):.3f} | {rate(rr)} | {len(files)}/8 "
                   f"{', '.join(files)} | {longest} | {rate(ff)} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--no-frames-table", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-av", action="store_true", help="skip the clips-with-sound table")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(analyse(a.child)))
        return 0
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: nothing to measure")
        return 1
    from veriscope.core import registry

    clip30 = looped_clip(30.0)
    print("# Video speed (`benchmarks/video_speed.py`)\n")
    print(f"Machine: {os.cpu_count()} CPU cores; load average at start "
          f"{os.getloadavg()[0]:.1f}. Default detectors: "
          f"{', '.join(c.name for c in registry.select(None))}.\n")
    dec, dec_cpu = decode_only(clip30)
    r = analyse(clip30)
    print(f"## 30 s 1280x720 clip ({clip30.name})\n")
    print(f"- wall time {r['wall']:.1f} s for {r['duration']:.1f} s of video: "
          f"**{r['wall'] / r['duration']:.2f} x real time**; CPU time of the process "
          f"{r['cpu']:.1f} s ({r['cpu'] / r['duration']:.2f} x real time; verdict {r['verdict']}, "
          f"score {r['score']})")
    print(f"- decoding every frame alone: {dec:.1f} s wall, {dec_cpu:.1f} s CPU")
    print(f"- video_frames analysed {r['frames']} frames; frame detectors' wall seconds: "
          f"{r['frame_seconds']}; CPU seconds: {r['frame_cpu']}\n")
    print("| detector | seconds |\n|---|---|")
    for n, (el, app, err) in sorted(r["detectors"].items(), key=lambda kv: -(kv[1][0] or 0)):
        if app:
            print(f"| {n} | {el:.2f}{' (failed: ' + err + ')' if err else ''} |")
    print(f"\nNot applicable to video (each under 0.01 s): "
          f"{', '.join(n for n, (_e, app, _r) in r['detectors'].items() if not app)}\n")
    if not a.no_av:
        print("## Clips with sound (talking-face-videoretalking-examples): full default set\n")
        print("\n".join(av_table()) + "\n")
    if not a.no_memory:
        clip120 = looped_clip(120.0)
        print("## Memory: peak RSS of a fresh process analysing the clip\n")
        print("| clip | duration (s) | wall (s) | CPU (s) | peak RSS (MB) |\n|---|---|---|---|---|")
        for c in (clip30, clip120):
            out = subprocess.run([sys.executable, __file__, "--child", str(c)], capture_output=True,
                                 text=True, check=True).stdout
            m = json.loads(out.strip().splitlines()[-1])
            print(f"| {c.name} | {m['duration']:.1f} | {m['wall']:.1f} | {m['cpu']:.1f} | "
                  f"{m['peak_rss_mb']:.0f} |")
        print()
    if not a.no_frames_table:
        print("## Image detectors on decoded frames (1 per second, native size)\n")
        print("\n".join(frames_table()))
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

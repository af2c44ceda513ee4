"""The self-contained HTML report: one file, no external resources, no scripts from elsewhere."""

from __future__ import annotations

import base64
import io
import json
from html import escape

import numpy as np

from veriscope.core.evidence import SEVERITIES
from veriscope.core.timecode import clock

DISPLAY_MAX_SIDE = 1600
VIEW_PNG_MAX_BYTES = 150_000
"""Colour views whose PNG is larger than this are embedded as JPEG (quality 88) instead."""
VIEW_JPEG_MIN_PIXELS = 120_000
"""Colour views shown larger than this (e.g. 400 x 300) are embedded as JPEG without trying PNG
first (issue 20: the PNG attempt cost ~0.06 s a view at 800 px)."""
_LABEL_COLOURS = {"synthetic": "#8e24aa", "manipulated": "#c62828", "no_evidence": "#2e7d32",
                  "inconclusive": "#ef6c00"}
_SEV_COLOURS = {"high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#546e7a"}


def _display_size(w: int, h: int) -> tuple[int, int]:
    s = min(1.0, DISPLAY_MAX_SIDE / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def _b64(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_uri(rgb: np.ndarray, size: tuple[int, int]) -> str:
    from PIL import Image

    a = np.asarray(rgb)
    if (a.shape[1], a.shape[0]) != size:  # area averaging: the usual downscale, ~10x Lanczos
        import cv2

        a = cv2.resize(np.ascontiguousarray(a), size, interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=90)
    return _b64(buf.getvalue(), "image/jpeg")


def _view_uri(v: np.ndarray, size: tuple[int, int]) -> str:
    from PIL import Image

    a = np.asarray(v)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    im = Image.fromarray(a)
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    buf = io.BytesIO()
    if a.ndim == 3 and size[0] * size[1] > VIEW_JPEG_MIN_PIXELS:
        # colour views are photographic (error level, residuals, keyframes): JPEG straight away
        im.convert("RGB").save(buf, "JPEG", quality=88)
        return _b64(buf.getvalue(), "image/jpeg")
    im.save(buf, "PNG", compress_level=1)
    if a.ndim == 3 and buf.tell() > VIEW_PNG_MAX_BYTES:  # photographic view: JPEG is far smaller
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=88)
        return _b64(buf.getvalue(), "image/jpeg")
    return _b64(buf.getvalue(), "image/png")


def _overlay_palette() -> tuple[bytes, bytes]:
    """256-entry palette: index a -> red (255, (255 - a) // 3, 0) with alpha a."""
    a = np.arange(256)
    rgb = np.stack([np.full(256, 255), (255 - a) // 3, np.zeros(256, int)], 1)
    return rgb.astype(np.uint8).tobytes(), a.astype(np.uint8).tobytes()


def _overlay_uri(m: np.ndarray, size: tuple[int, int]) -> str:
    """A map as a red overlay whose opacity is the map value: an 8-bit palette PNG with a
    transparency table (a quarter of the bytes of RGBA, written by the fast map writer)."""
    import cv2

    from veriscope.core.maps import png_bytes

    m = np.asarray(m, np.float32)
    interp = cv2.INTER_AREA if m.shape[1] > size[0] else cv2.INTER_LINEAR
    m = cv2.resize(m, size, interpolation=interp)
    a = np.clip(m * 255.0, 0, 255).astype(np.uint8)
    pal, alpha = _overlay_palette()
    return _b64(png_bytes(a, palette=pal, transparency=alpha), "image/png")


FUSED_HOW_TO_READ = ("The maps of every detector combined, each weighted by its own score and "
                     "its reliability on this picture: where to look first. A compact bright "
                     "patch with sharp edges along an object is more telling than broad, soft "
                     "colouring that follows textures or bright and dark areas.")


def _how_to_read_html(names: list[str]) -> str:
    """'How to read these maps': one line per map shown, from each detector's how_to_read."""
    items = []
    for n in names:
        text = FUSED_HOW_TO_READ if n == "fused" else _how_to_read(n)
        if text:
            items.append(f"<li><b>{escape(n)}</b>: {escape(text)}</li>")
    if not items:
        return ""
    return ("<details class='howto'><summary>How to read these maps</summary><ul>"
            + "".join(items) + "</ul></details>")


def _read_note(name: str) -> str:
    """A detector's how_to_read after its curve's caption ('' when it has none)."""
    text = _how_to_read(name)
    return f"<br>How to read it: {escape(text)}" if text else ""


def _detector_text(name: str, attr: str) -> str:
    """A text attribute of the registered detector ``name`` ('' when it cannot be loaded)."""
    try:
        from veriscope.core import registry

        return getattr(registry.load(name), attr)
    except Exception:
        return ""


def _how_to_read(name: str) -> str:
    return _detector_text(name, "how_to_read")


def _detector_notes(name: str) -> tuple[str, str]:
    return _detector_text(name, "looks_at"), _detector_text(name, "cannot_tell")


def _value_html(v, max_len: int, depth: int = 0) -> str:
    """Nested dicts and lists as nested lists, scalars as escaped text (truncated)."""
    if isinstance(v, dict) and depth < 4:
        if not v:
            return "-"
        return "<ul class='nest'>" + "".join(
            f"<li><b>{escape(str(k))}</b>: {_value_html(x, max_len, depth + 1)}</li>"
            for k, x in v.items()) + "</ul>"
    if isinstance(v, list) and depth < 4:
        if not v:
            return "-"
        return "<ul class='nest'>" + "".join(
            f"<li>{_value_html(x, max_len, depth + 1)}</li>" for x in v[:50]) + \
            ("<li>...</li>" if len(v) > 50 else "") + "</ul>"
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False)
    v = "-" if v is None else str(v)
    if len(v) > max_len:
        v = v[:max_len] + " ..."
    return escape(v)


def _kv_table(d: dict, max_len: int = 300) -> str:
    rows = [f"<tr><th>{escape(str(k))}</th><td>{_value_html(v, max_len)}</td></tr>"
            for k, v in d.items()]
    return "<table class='kv'>" + "".join(rows) + "</table>"


def render_html(report, d: dict | None = None) -> str:
    """report.html of ``report``; ``d``: its :meth:`Report.to_dict`, when already made."""
    d = report.to_dict() if d is None else d
    media, verdict = report.media, d["verdict"]
    parts: list[str] = []

    # ---------------------------------------------------------------- verdict
    colour = _LABEL_COLOURS.get(verdict["label"], "#555")
    score = "n/a" if verdict["score"] is None else f"{verdict['score']:.2f}"
    parts.append(
        f"<section class='verdict' style='border-color:{colour}'>"
        f"<div class='badge' style='background:{colour}'>{escape(verdict['label'].replace('_', ' '))}</div>"
        f"<div class='band'>{_band_html(verdict, score)}</div>"
        f"{_headline_html(verdict)}{_also_html(verdict.get('also') or [])}"
        f"{_partial_html(report)}</section>")

    # ---------------------------------------------------------------- post (caption)
    if d.get("post") is not None:
        from veriscope.report.post import post_section

        parts.append(post_section(d["post"], media.rgb() if media.kind == "image" else None))

    # ---------------------------------------------------------------- image + overlays
    if media.kind == "image" and media.width and media.height:
        size = _display_size(media.width, media.height)
        layers = [(e.name, e.heatmap) for e in report.evidence
                  if e.heatmap is not None and not e.error]
        if report.fused_map is not None:
            layers.insert(0, ("fused", report.fused_map))
        imgs = [f"<img class='base' src='{_image_uri(media.rgb(), size)}' alt='input image'>"]
        radios = ["<label><input type='radio' name='layer' value='' checked> none</label>"]
        for i, (name, m) in enumerate(layers):
            imgs.append(f"<img class='overlay' id='ov-{escape(name)}' src='{_overlay_uri(m, size)}' "
                        f"alt='{escape(name)} map' style='display:{'block' if i == 0 else 'none'}'>")
            radios.append(f"<label><input type='radio' name='layer' value='{escape(name)}'"
                          f"{' checked' if i == 0 else ''}> {escape(name)}</label>")
        if layers:
            radios[0] = radios[0].replace(" checked", "")
        controls = ""
        if layers:
            controls = ("<div class='controls'>Map: " + " ".join(radios) +
                        " &nbsp; Opacity <input type='range' id='opacity' min='0' max='100' value='70'>"
                        "<div class='hint'>Red = more likely manipulated (per detector); maps are "
                        "evidence to inspect, not proof.</div>"
                        f"{_how_to_read_html([n for n, _m in layers])}</div>")
        else:
            controls = "<div class='hint'>No detector that ran produces a localization map for this input.</div>"
        note = "" if size == (media.width, media.height) else \
            f"<div class='hint'>Display copy downscaled to {size[0]}x{size[1]}; maps/ holds full-size maps.</div>"
        parts.append(f"<section><h2>Image</h2>{controls}<div class='stack' style='max-width:{size[0]}px'>"
                     + "".join(imgs) + f"</div>{note}</section>")

    # ---------------------------------------------------------------- audio / video timeline
    if media.kind == "audio":
        parts.append(_audio_section(report))
    elif media.kind == "video":
        parts.append(_video_section(report))

    # ---------------------------------------------------------------- visual aids
    in_timeline = _timeline_view_names(report) if media.kind == "video" else set()
    pair = _archive_pair(report)
    if pair:
        parts.append(pair)
        in_timeline = set(in_timeline) | {("archive_match", "archived_version")}
    aids = [(e, k, v) for e in report.evidence if not e.error for k, v in e.views.items()
            if (e.name, k) not in in_timeline]
    if aids:
        figs = []
        for e, k, v in aids:
            h, w = v.shape[:2]
            vs = _display_size(w, h)
            vs = (min(vs[0], 800), max(1, round(min(vs[0], 800) * h / w)))
            cap = (e.data.get("captions") or {}).get(k, "") if isinstance(e.data, dict) else ""
            figs.append(f"<figure><img src='{_view_uri(v, vs)}' alt='{escape(k)}' style='max-width:100%'>"
                        f"<figcaption><b>{escape(k.replace('_', ' '))}</b> ({escape(e.name)})"
                        f"{': ' + escape(str(cap)) if cap else ''}</figcaption></figure>")
        parts.append("<section><h2>Visual aids</h2><p class='hint'>Views that help a person look; "
                     "they carry no score and prove nothing on their own.</p>" + "".join(figs)
                     + "</section>")

    # ---------------------------------------------------------------- findings
    rows = []
    for sev in reversed(SEVERITIES):
        for e in report.evidence:
            for f in e.findings:
                if f.severity == sev:
                    rows.append(f"<tr><td><span class='sev' style='background:{_SEV_COLOURS[sev]}'>{sev}"
                                f"</span></td><td>{escape(e.name)}</td><td><code>{escape(f.code)}</code></td>"
                                f"<td>{escape(f.message)}</td></tr>")
    parts.append("<section><h2>Findings</h2>" + (
        "<table class='grid'><tr><th>severity</th><th>detector</th><th>code</th><th>what was found</th></tr>"
        + "".join(rows) + "</table>" if rows else "<p>No findings.</p>") + "</section>")

    # ---------------------------------------------------------------- verdict stability
    st = report.get("stability")
    if st is not None and st.data.get("variants"):
        from veriscope.report.stability import html_section

        parts.append(html_section(st))

    # ---------------------------------------------------------------- C2PA
    c2 = report.get("c2pa")
    if c2 is not None and c2.data.get("summary"):
        parts.append("<section><h2>Content Credentials (C2PA)</h2>" + _kv_table(c2.data["summary"], 2000)
                     + "</section>")

    # ---------------------------------------------------------------- metadata
    md = report.get("metadata")
    if md is not None and md.data.get("table"):
        blocks = []
        for group, kv in md.data["table"].items():
            if kv:
                blocks.append(f"<details open><summary>{escape(str(group))} ({len(kv)})</summary>"
                              + _kv_table(kv) + "</details>")
        parts.append("<section><h2>Metadata</h2>" + "".join(blocks) + "</section>")

    # ---------------------------------------------------------------- detectors
    drows = []
    for e in report.evidence:
        looks, cannot = _detector_notes(e.name)
        if not e.applicable:
            state = f"not applicable: {escape(e.reason or '')}"
        elif e.error:
            state = f"<b>failed</b>: {escape(e.error)}"
        else:
            state = "ran" + (f", score {e.score:.2f}" if e.score is not None else ", no score") + \
                (f", {escape(e.label)}" if e.label else "")
        elapsed = "" if e.elapsed_s is None else f"{e.elapsed_s:.3f} s"
        drows.append(f"<tr><td><b>{escape(e.name)}</b><br><small>v{escape(e.version)}</small></td>"
                     f"<td>{state}</td><td>{elapsed}</td><td><small><b>Looks at:</b> {escape(looks)}<br>"
                     f"<b>Cannot tell:</b> {escape(cannot)}</small></td></tr>")
    parts.append("<section><h2>Detectors</h2><table class='grid'><tr><th>detector</th><th>result</th>"
                 "<th>time</th><th>what it looks at / what it cannot tell</th></tr>" + "".join(drows)
                 + "</table></section>")

    # ---------------------------------------------------------------- input facts
    facts = {k: v for k, v in d["media"].items() if k != "warnings"}
    facts["veriscope version"] = d["tool"]["version"]
    facts["report schema"] = d["schema"]
    facts["report created"] = d["created"]
    warn = "".join(f"<li>{escape(w)}</li>" for w in d["media"]["warnings"])
    parts.append("<section><h2>Input</h2>" + _kv_table(facts, 1000)
                 + (f"<p>Warnings:</p><ul>{warn}</ul>" if warn else "") + "</section>")

    title = f"veriscope report: {media.name}"
    return _PAGE.format(title=escape(title), body="\n".join(parts))


# ---------------------------------------------------------------- audio section
AUDIO_SPEC_WIDTH = 1600
AUDIO_SPEC_HEIGHT = 256
AUDIO_CURVE_HEIGHT = 72
AUDIO_DB_RANGE = 80.0
_MAGMA = ((0.0, (0, 0, 4)), (0.25, (80, 18, 123)), (0.5, (182, 54, 121)),
          (0.75, (251, 136, 97)), (1.0, (252, 253, 191)))
_DET_COLOURS = ((198, 40, 40), (142, 36, 170), (239, 108, 0), (21, 101, 192), (46, 125, 50),
                (0, 131, 143), (194, 24, 91), (93, 64, 55), (117, 117, 117), (130, 119, 23))


def _colour_lut() -> np.ndarray:
    x = np.linspace(0, 1, 256)
    pos = [p for p, _ in _MAGMA]
    return np.stack([np.interp(x, pos, [c[i] for _, c in _MAGMA]) for i in range(3)],
                    axis=1).astype(np.uint8)


def audio_spectrogram(x: np.ndarray, rate: int, width: int = AUDIO_SPEC_WIDTH,
                      height: int = AUDIO_SPEC_HEIGHT) -> np.ndarray:
    """Log-magnitude spectrogram as uint8 RGB (height, <= width), low frequencies at the bottom.

    Hann frames (~32 ms, half overlap) are power-averaged into at most ``width`` columns and
    ``height`` linear frequency rows; 80 dB below the loudest cell maps to black (magma-like
    colours). Computed in blocks, so long audio needs little memory."""
    x = np.nan_to_num(np.asarray(x, np.float32).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    n_fft = int(min(2048, max(64, 2 ** round(np.log2(max(rate * 0.032, 2))))))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    hop = max(1, n_fft // 2)
    n_frames = 1 + (len(x) - n_fft) // hop
    if n_frames < width:  # short audio: denser frames, one column each
        hop = max(1, (len(x) - n_fft) // max(1, width - 1))
        n_frames = 1 + (len(x) - n_fft) // hop
    cols = min(width, n_frames)
    bins = n_fft // 2 + 1
    rows = min(height, bins)
    acc = np.zeros((cols, bins), np.float64)
    cnt = np.zeros(cols, np.float64)
    w = np.hanning(n_fft).astype(np.float32)
    for a in range(0, n_frames, 1024):
        b = min(n_frames, a + 1024)
        idx = np.arange(a, b)[:, None] * hop + np.arange(n_fft)[None]
        P = np.abs(np.fft.rfft(x[idx] * w, axis=1)) ** 2
        ci = (np.arange(a, b) * cols) // n_frames
        np.add.at(acc, ci, P)
        np.add.at(cnt, ci, 1.0)
    acc /= np.maximum(cnt, 1.0)[:, None]
    edges = np.linspace(0, bins, rows + 1).astype(int)
    S = np.add.reduceat(acc, edges[:-1], axis=1) / np.maximum(np.diff(edges), 1)[None]
    db = 10 * np.log10(S + 1e-20)
    top = float(db.max())
    v = np.clip((db - (top - AUDIO_DB_RANGE)) / AUDIO_DB_RANGE, 0, 1)
    img = _colour_lut()[(v * 255).astype(np.uint8)]  # (cols, rows, 3)
    img = np.transpose(img, (1, 0, 2))[::-1]
    if rows < height:
        from PIL import Image

        img = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(
            (img.shape[1], height), Image.Resampling.NEAREST))
    return np.ascontiguousarray(img)


def _timeline_evidence(report) -> list:
    """(evidence, scored segments, curves) for every detector with a time curve or segments.

    ``curves`` is a list of (name, {"t": [...], "score": [...]}) from ``data["curves"]`` (one
    line per sub-detector) or else ``data["curve"]``."""
    out = []
    for e in report.evidence:
        if e.error or not e.applicable:
            continue
        segs = [s for s in e.segments if s.score is not None]
        d = e.data if isinstance(e.data, dict) else {}
        curves = []
        multi = d.get("curves")
        if isinstance(multi, dict):
            curves = [(str(k), c) for k, c in multi.items()
                      if isinstance(c, dict) and c.get("t")]
        if not curves and isinstance(d.get("curve"), dict) and d["curve"].get("t"):
            curves = [(e.name, d["curve"])]
        if segs or curves:
            out.append((e, segs, curves))
    return out


def _png_uri(img) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return _b64(buf.getvalue(), "image/png")


def _jpeg_uri(img, quality: int = 85) -> str:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return _b64(buf.getvalue(), "image/jpeg")


def _x_of(t: float, dur: float, width: int) -> float:
    return float(t) / max(float(dur), 1e-9) * (width - 1)


def _curve_png(curves, duration: float, width: int, colour, segs=()) -> str:
    """Line plot(s) of score curves in [0, 1] over [0, duration] s (Pillow only).

    ``curves``: list of (t, score, colour); without curves, a step curve from ``segs``.
    Segments scoring 0.5 or more are drawn as bands behind the lines."""
    from PIL import Image, ImageDraw

    h = AUDIO_CURVE_HEIGHT
    im = Image.new("RGB", (width, h), (255, 255, 255))
    d = ImageDraw.Draw(im)
    pad = 4

    def y_of(v):
        return pad + (1.0 - float(np.clip(v, 0, 1))) * (h - 2 * pad)

    dur = max(float(duration), 1e-9)
    band = tuple(int(255 - (255 - c) * 0.22) for c in colour)
    for s in segs:
        if s.score is not None and s.score >= 0.5:
            x0 = _x_of(s.start, dur, width)
            d.rectangle([x0, 0, max(x0 + 1, _x_of(s.end, dur, width)), h - 1], fill=band)
    for v, fill in ((0.0, (200, 200, 200)), (1.0, (200, 200, 200))):
        d.line([(0, y_of(v)), (width, y_of(v))], fill=fill)
    for x0 in range(0, width, 8):  # dashed threshold line at 0.5
        d.line([(x0, y_of(0.5)), (min(width, x0 + 4), y_of(0.5))], fill=(150, 150, 150))
    drew = False
    for t, score, col in curves:
        if t is None or not len(t):
            continue
        pts = [(_x_of(a, dur, width), y_of(b)) for a, b in zip(t, score, strict=False)
               if b is not None]
        if not pts:
            continue
        if len(pts) == 1:
            pts.append((min(width - 1, pts[0][0] + 2), pts[0][1]))
        d.line(pts, fill=col, width=2)
        if len(pts) <= width // 6:  # sparse samples (video frames): mark each one
            for x, y in pts:
                d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=col)
        drew = True
    if not drew:  # step curve from the segments
        for s in segs:
            x0 = _x_of(s.start, dur, width)
            x1 = max(x0 + 1, _x_of(s.end, dur, width))
            d.line([(x0, y_of(s.score)), (x1, y_of(s.score))], fill=colour, width=2)
    return _png_uri(im)


def _ticks_img(dur: float, width: int, marks=()):
    """A 16 px time axis with labelled ticks; ``marks`` are extra small ticks (keyframes)."""
    from PIL import Image, ImageDraw

    ticks = Image.new("RGB", (width, 16), (255, 255, 255))
    td = ImageDraw.Draw(ticks)
    step = next((s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
                 if dur / s <= 12), 600)
    tt = 0.0
    while dur > 0 and tt <= dur + 1e-9:
        xx = int(_x_of(tt, dur, width))
        td.line([(xx, 0), (xx, 4)], fill=(0, 0, 0))
        td.text((min(xx + 2, width - 40), 3), f"{tt:g}s", fill=(0, 0, 0))
        tt += step
    for t in marks:
        xx = int(_x_of(t, dur, width))
        td.line([(xx, 0), (xx, 2)], fill=(21, 101, 192), width=3)
    return ticks


def _colours(dets) -> list[tuple]:
    """Per timeline evidence: (its colour, one colour per curve); the first curve shares the
    evidence's colour, every curve gets its own."""
    out, k = [], 0
    for _e, _segs, curves in dets:
        cs = [_DET_COLOURS[(k + i) % len(_DET_COLOURS)] for i in range(max(1, len(curves)))]
        out.append((cs[0], cs[:len(curves)]))
        k += len(cs)
    return out


def _timeline_rows(dets, dur: float, width: int):
    """Shared by the audio and video sections: legend entries, one curve row per detector,
    and the segment table rows (start, html)."""
    legend, rows, figs = [], [], []
    for (e, segs, curves), (col, ccols) in zip(dets, _colours(dets), strict=True):
        lines = [(c.get("t"), c.get("score"), lc) for (_n, c), lc in zip(curves, ccols, strict=True)]
        names = [(n, lc) for (n, _c), lc in zip(curves, ccols, strict=True)]
        hexc = "#{:02x}{:02x}{:02x}".format(*col)
        flagged = [s for s in segs if s.score >= 0.5]
        legend.append(f"<span style='display:inline-block;width:1em;height:1em;background:{hexc};"
                      f"vertical-align:middle'></span> {escape(e.name)} ({len(flagged)} flagged)")
        for s in sorted(segs, key=lambda s: -s.score)[:40]:
            if s.score >= 0.2:
                rows.append((s.start, f"<tr><td>{escape(e.name)}</td><td>{s.start:.2f}</td>"
                             f"<td>{s.end:.2f}</td><td>{s.end - s.start:.2f}</td>"
                             f"<td><b>{s.score:.2f}</b></td><td>{escape(s.label or '')}</td></tr>"))
        key = ""
        if len(names) > 1 or (names and names[0][0] != e.name):
            key = ": " + ", ".join(
                f"<span style='color:#{c[0]:02x}{c[1]:02x}{c[2]:02x}'>&#9644; {escape(n)}</span>"
                for n, c in names)
        figs.append(f"<figure style='margin:.3em 0'><img src='"
                    f"{_curve_png(lines, dur, width, col, segs)}' alt='{escape(e.name)} score curve' "
                    f"style='width:100%;max-width:{width}px;display:block'><figcaption><small>"
                    f"<b>{escape(e.name)}</b> score over time (0-1; dashed line = 0.5; shaded = "
                    f"segments at 0.5 or more){key}{_read_note(e.name)}</small></figcaption>"
                    f"</figure>")
    return legend, figs, rows


def _segment_table(rows) -> str:
    if not rows:
        return "<p>No detector reported a segment scoring 0.2 or more.</p>"
    return ("<table class='grid'><tr><th>detector</th><th>start (s)</th><th>end (s)</th>"
            "<th>length (s)</th><th>score</th><th>label</th></tr>"
            + "".join(r for _, r in sorted(rows, key=lambda r: r[0])) + "</table>")


def _audio_section(report) -> str:
    try:
        return _audio_section_inner(report)
    except Exception as e:  # the report must never fail because of a picture
        return (f"<section><h2>Audio</h2><p class='hint'>The audio view could not be drawn: "
                f"{escape(type(e).__name__)}: {escape(str(e)[:200])}</p></section>")


def _spectrogram_for(media):
    """(spectrogram RGB, rate, duration) of the sound track, or raises MediaError."""
    from veriscope.detectors.audio.audio_facts import decode_cap

    x, rate = media.audio(mono=True, max_seconds=decode_cap(media))
    x = np.asarray(x).reshape(-1)
    rate = int(rate)
    return audio_spectrogram(x, rate), rate, (len(x) / float(rate) if rate else 0.0)


def _audio_section_inner(report) -> str:
    from PIL import Image, ImageDraw

    media = report.media
    try:
        spec, rate, dur = _spectrogram_for(media)
    except Exception as e:
        msg = getattr(e, "message", None) or str(e)
        return (f"<section><h2>Audio</h2><p class='hint'>No spectrogram: {escape(msg)}</p>"
                "</section>")
    h, w = spec.shape[:2]
    base = Image.fromarray(spec).convert("RGBA")
    over = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(over)
    dets = _timeline_evidence(report)
    for (_e, segs, _c), (col, _cc) in zip(dets, _colours(dets), strict=True):
        for s in segs:
            if s.score >= 0.5:
                x0 = int(s.start / max(dur, 1e-9) * w)
                x1 = max(x0 + 1, int(np.ceil(s.end / max(dur, 1e-9) * w)))
                a = int(60 + 100 * min(1.0, s.score))
                d.rectangle([x0, 0, x1, h - 1], fill=(*col, a))
                d.rectangle([x0, 0, x1, 5], fill=(*col, 255))
    legend, curves, rows = _timeline_rows(dets, dur, w)
    img = Image.alpha_composite(base, over).convert("RGB")
    full = Image.new("RGB", (w, h + 16), (255, 255, 255))
    full.paste(img, (0, 0))
    full.paste(_ticks_img(dur, w), (0, h))
    note = (f"{dur:.2f} s at {rate} Hz, 0-{rate / 2000:.1f} kHz from bottom to top; "
            f"colour = level over {AUDIO_DB_RANGE:.0f} dB. Bands mark segments scoring 0.5 or "
            "more.")
    return ("<section><h2>Audio</h2><div class='hint'>" + escape(note) + "</div>"
            + (("<div class='controls'>" + " &nbsp; ".join(legend) + "</div>") if legend else "")
            + f"<img src='{_png_uri(full)}' alt='spectrogram' style='width:100%;max-width:{w}px;"
            "display:block'>" + "".join(curves)
            + "<h3 style='font-size:1em'>Segments (score 0.2 or more)</h3>" + _segment_table(rows)
            + "</section>")


# ---------------------------------------------------------------- video timeline
TIMELINE_WIDTH = 1600
STRIP_HEIGHT = 90  # keyframe thumbnails in the strip (px), shrunk down to STRIP_MIN to fit
STRIP_MIN = 48
FACE_BOX_MAX_DT = 1.0
"""A face box is drawn on a keyframe only when its time is within this many seconds."""


def keyframe_sources(report) -> list[tuple]:
    """(time, image, evidence, kind) of the thumbnails detectors list in ``data["keyframes"]``
    as ``[{"time": s, "view": name, "kind": "shot" | "codec" | "sample"}]`` (kind optional).

    When video_shots lists keyframes, they are used together with the evenly sampled frames of
    the other detectors (kind ``"sample"``); otherwise every listed thumbnail is used."""
    lists = {}
    for e in report.evidence:
        if e.error or not e.applicable or not isinstance(e.data, dict):
            continue
        kf = e.data.get("keyframes")
        if not isinstance(kf, list):
            continue
        items = [(float(k["time"]), e.views[k["view"]], e, str(k.get("kind") or "keyframe"))
                 for k in kf if isinstance(k, dict) and k.get("view") in e.views
                 and isinstance(k.get("time"), (int, float))]
        if items:
            lists[e.name] = items
    shots = lists.pop("video_shots", None)
    if shots is None:
        return sorted((k for items in lists.values() for k in items), key=lambda k: k[0])
    extra = [k for items in lists.values() for k in items if k[3] == "sample"
             and all(abs(k[0] - s[0]) > 0.05 for s in shots)]
    return sorted(shots + extra, key=lambda k: k[0])


def _timeline_view_names(report) -> set[tuple[str, str]]:
    """(detector, view) pairs shown in the timeline (kept out of the visual-aids list)."""
    out = set()
    for e in report.evidence:
        kf = e.data.get("keyframes") if isinstance(e.data, dict) else None
        if isinstance(kf, list):
            out |= {(e.name, k.get("view")) for k in kf if isinstance(k, dict)}
    return out


def _frame_size(report) -> tuple[int, int] | None:
    for e in report.evidence:
        fs = e.data.get("frame_size") if isinstance(e.data, dict) else None
        if isinstance(fs, (list, tuple)) and len(fs) == 2 and fs[0] and fs[1]:
            return int(fs[0]), int(fs[1])
    m = report.media
    return (int(m.width), int(m.height)) if m.width and m.height else None


def _video_duration(report) -> float:
    """The analysed duration: the longest ``data["duration"]`` a detector reports (video
    detectors report the analysed, possibly capped, duration), else the container's."""
    ds = [float(e.data["duration"]) for e in report.evidence
          if isinstance(e.data, dict) and isinstance(e.data.get("duration"), (int, float))
          and e.data["duration"] > 0]
    d = max(ds) if ds else float(report.media.facts.get("duration") or 0.0)
    for e in report.evidence:
        for s in e.segments:
            d = max(d, float(s.end))
    return d


def _face_boxes_at(report, t: float) -> list:
    """Per face (box label, e.g. a track), its box nearest in time to ``t`` when within
    FACE_BOX_MAX_DT seconds."""
    faces = report.get("faces")
    if faces is None or faces.error or not faces.applicable:
        return []
    best: dict = {}
    for b in faces.boxes:
        if b.time is None:
            continue
        dt = abs(float(b.time) - t)
        if dt <= FACE_BOX_MAX_DT and (b.label not in best or dt < best[b.label][0]):
            best[b.label] = (dt, b)
    return [b for _, b in best.values()]


def keyframe_strip(report, dur: float, width: int = TIMELINE_WIDTH):
    """The keyframe thumbnails placed along time (PIL image) with face boxes, or None.

    Each thumbnail sits as close to its time as the others allow, with a line down to its
    time on the axis; too many keyframes to fit are thinned evenly."""
    from PIL import Image, ImageDraw

    kf = sorted(keyframe_sources(report), key=lambda k: k[0])
    if not kf or dur <= 0:
        return None, 0, 0
    ar = kf[0][1].shape[1] / float(kf[0][1].shape[0])
    th = STRIP_HEIGHT
    while th > STRIP_MIN and len(kf) * (th * ar + 3) > width:
        th -= 6
    tw = max(8, int(round(th * ar)))
    fit = max(1, int(width // (tw + 3)))
    shown = kf
    if len(kf) > fit:
        idx = np.unique(np.linspace(0, len(kf) - 1, fit).round().astype(int))
        shown = [kf[i] for i in idx]
    want = [_x_of(k[0], dur, width) - tw / 2.0 for k in shown]
    xs = []
    for x in want:  # left to right, no overlap
        xs.append(max(x, 0.0, (xs[-1] + tw + 3) if xs else 0.0))
    for i in range(len(xs) - 1, -1, -1):  # pull back inside the right edge
        lim = (xs[i + 1] - tw - 3) if i + 1 < len(xs) else (width - tw)
        xs[i] = min(xs[i], lim)
    conn = 14
    strip = Image.new("RGB", (width, th + conn), (255, 255, 255))
    d = ImageDraw.Draw(strip)
    fsize = _frame_size(report)
    for (t, img, _e, _k), x in zip(shown, xs, strict=True):
        x = int(round(x))
        im = Image.fromarray(np.asarray(img, np.uint8)).convert("RGB").resize(
            (tw, th), Image.Resampling.LANCZOS)
        strip.paste(im, (x, 0))
        boxes = _face_boxes_at(report, t)
        if boxes and fsize:
            sx, sy = tw / float(fsize[0]), th / float(fsize[1])
            for b in boxes:
                d.rectangle([x + b.x * sx, b.y * sy, x + (b.x + b.w) * sx, (b.y + b.h) * sy],
                            outline=(0, 200, 255), width=2)
        tx = _x_of(t, dur, width)
        d.line([(x + tw / 2.0, th), (tx, th + conn - 1)], fill=(21, 101, 192))
    return strip, len(shown), len(kf)


def _video_section(report) -> str:
    try:
        return _video_section_inner(report)
    except Exception as e:  # the report must never fail because of a picture
        return (f"<section id='timeline'><h2>Video timeline</h2><p class='hint'>The timeline "
                f"could not be drawn: {escape(type(e).__name__)}: {escape(str(e)[:200])}</p>"
                "</section>")


def _video_section_inner(report) -> str:
    from PIL import Image

    media = report.media
    w = TIMELINE_WIDTH
    dur = _video_duration(report)
    parts = []
    kf_all = sorted(keyframe_sources(report), key=lambda k: k[0])
    strip, n_shown, n_all = keyframe_strip(report, dur, w)
    keys = [k for k in kf_all if k[3] != "sample"]
    if strip is not None:
        src = ", ".join(sorted({k[2].name for k in kf_all}))
        faces = report.get("faces")
        fnote = "; boxes = faces found within 1 s of that time (faces)" if faces is not None \
            and any(b.time is not None for b in faces.boxes) else ""
        parts.append(f"<div class='hint'>Frames along time ({n_shown} of {n_all} shown, from "
                     f"{escape(src)}: {len(keys)} keyframe(s), the rest evenly sampled)"
                     f"{fnote}.</div>"
                     f"<img src='{_jpeg_uri(strip)}' alt='keyframes' class='keyframes' "
                     f"style='width:100%;max-width:{w}px;display:block'>")
        parts.append("<div class='hint'>Keyframe times (blue ticks): " + (", ".join(
            f"<span class='kf'>{clock(k[0])}</span>" for k in keys[:200]) or "none") + "</div>")
    else:
        parts.append("<p class='hint'>No keyframes to show (no detector that ran lists "
                     "keyframes).</p>")
    has_audio = any(isinstance(st, dict) and st.get("type") == "audio"
                    for st in media.facts.get("streams") or [])
    if has_audio:
        try:
            spec, rate, adur = _spectrogram_for(media)
            dur = max(dur, adur)
            h = min(128, spec.shape[0])
            im = Image.fromarray(spec).resize((max(1, int(round(w * adur / max(dur, 1e-9)))), h))
            canvas = Image.new("RGB", (w, h), (255, 255, 255))
            canvas.paste(im, (0, 0))
            parts.append(f"<div class='hint'>Sound: spectrogram, 0-{rate / 2000:.1f} kHz from "
                         f"bottom to top.</div><img src='{_jpeg_uri(canvas, 80)}' "
                         f"alt='spectrogram' style='width:100%;max-width:{w}px;display:block'>")
        except Exception as e:
            msg = getattr(e, "message", None) or str(e)
            parts.append(f"<p class='hint'>No spectrogram: {escape(msg)}</p>")
    ticks = _ticks_img(dur, w, [k[0] for k in keys])
    parts.append(f"<img src='{_png_uri(ticks)}' alt='time axis' style='width:100%;max-width:"
                 f"{w}px;display:block'>")
    dets = _timeline_evidence(report)
    legend, figs, rows = _timeline_rows(dets, dur, w)
    if legend:
        parts.insert(0, "<div class='controls'>" + " &nbsp; ".join(legend) + "</div>")
    parts += figs
    if not figs:
        parts.append("<p class='hint'>No detector that ran gives a score over time.</p>")
    ls = report.get("lip_sync")
    if ls is not None and not ls.error and isinstance(ls.data, dict) and \
            isinstance(ls.data.get("offset_seconds"), (int, float)):
        off = float(ls.data["offset_seconds"])
        parts.append(f"<p><b>Lip sync</b>: estimated audio/video offset {off:+.2f} s "
                     f"(lip_sync; sign convention in its findings).</p>")
    note = (f"{clock(dur)} ({dur:.2f} s). One row per detector that scores over time; video "
            "frame detectors are sampled (dots), audio detectors are continuous.")
    return ("<section id='timeline'><h2>Video timeline</h2><div class='hint'>" + escape(note)
            + "</div>" + "".join(parts)
            + "<h3 style='font-size:1em'>Segments (score 0.2 or more)</h3>" + _segment_table(rows)
            + "</section>")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto;
       max-width: 1700px; padding: 1em 2em; color: #212121; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; border-bottom: 1px solid #ddd; }}
.verdict {{ border-left: 8px solid; padding: .5em 1em; background: #fafafa; }}
.partial {{ margin-top: .5em; padding: .3em .6em; background: #fff4e0; border: 1px solid #f0c36d; }}
.badge {{ display: inline-block; color: #fff; padding: .2em .7em; border-radius: 4px;
         font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }}
.band {{ display: inline-block; margin-left: 1em; font-weight: 600; }}
.stack {{ position: relative; }} .stack img {{ width: 100%; display: block; }}
.stack img.overlay {{ position: absolute; left: 0; top: 0; opacity: .7; }}
.controls {{ margin: .5em 0; }} .hint {{ color: #666; font-size: .9em; }}
table.grid {{ border-collapse: collapse; width: 100%; }}
table.grid td, table.grid th {{ border: 1px solid #e0e0e0; padding: .3em .5em; vertical-align: top;
                                text-align: left; }}
table.kv th {{ text-align: left; padding-right: 1em; vertical-align: top; white-space: nowrap; }}
table.kv td {{ word-break: break-word; }}
ul.nest {{ margin: 0; padding-left: 1.2em; }}
.sev {{ color: #fff; border-radius: 3px; padding: 0 .4em; font-size: .85em; }}
code {{ font-size: .9em; }}
</style></head>
<body><h1>{title}</h1>
{body}
<footer class="hint"><p>veriscope never declares media authentic: "no evidence" means the listed
checks found nothing, not that nothing was done to the file.</p></footer>
<script>
(function() {{
  var radios = document.querySelectorAll("input[name=layer]");
  var slider = document.getElementById("opacity");
  function show() {{
    var v = document.querySelector("input[name=layer]:checked");
    document.querySelectorAll("img.overlay").forEach(function(img) {{
      img.style.display = (v && img.id === "ov-" + v.value) ? "block" : "none";
      if (slider) img.style.opacity = slider.value / 100;
    }});
  }}
  radios.forEach(function(r) {{ r.addEventListener("change", show); }});
  if (slider) slider.addEventListener("input", show);
  show();
}})();
</script>
</body></html>
"""


def _band_html(verdict: dict, score: str) -> str:
    """The line under the badge. An ``inconclusive`` verdict with a score of 0.5 or more (signs
    from checks that are unreliable on this input, or a picture out of scope) does not show
    the band words, which would read as a conclusion."""
    if verdict["label"] == "inconclusive" and (verdict.get("score") or 0) >= 0.5:
        return (f"signs found (score {score}), but not from checks that can be trusted on this "
                "input")
    return f"{escape(verdict['band_text'])} &middot; score {score}{_basis_html(verdict.get('basis'))}"


def _basis_html(basis: str | None) -> str:
    if basis == "provenance":
        return " &middot; decided by what the file itself carries (signature, watermark, generator tags)"
    if basis == "signals":
        return " &middot; decided by statistics of the content"
    return ""


def _also_html(also: list[dict]) -> str:
    """Secondary conclusions that did not change the label."""
    if not also:
        return ""
    items = "".join(f"<li>{escape(str(a.get('detector')))} ({escape(str(a.get('label')))}, "
                    f"{float(a.get('score') or 0):.2f}): {escape(str(a.get('message', '')))}</li>"
                    for a in also)
    return f"<div class='also'>Also noted (does not change the verdict):<ul>{items}</ul></div>"


def _partial_html(report) -> str:
    """When some checks did not run: which, and why (a file only partly analysed)."""
    failed = [e for e in report.evidence if e.applicable and e.error]
    if not failed:
        return ""
    items = "".join(f"<li><b>{escape(e.name)}</b>: {escape(e.error)}</li>" for e in failed)
    return (f"<div class='partial'>Partly analysed: {len(failed)} of "
            f"{sum(1 for e in report.evidence if e.applicable)} applicable checks did not "
            f"run to the end.<ul>{items}</ul></div>")


def _headline_html(verdict: dict) -> str:
    """The one-sentence headline, then the full summary (reasons and figures) folded away."""
    head = verdict.get("headline")
    if not head:
        return f"<p>{escape(verdict['summary'])}</p>"
    reasons = "".join(f"<li>{escape(r)}</li>" for r in verdict.get("reasons") or [])
    limits = "".join(f"<li>{escape(r)}</li>" for r in verdict.get("limits") or [])
    return (f"<p class='headline'><b>{escape(head)}</b></p>"
            + (f"<ul class='reasons'>{reasons}</ul>" if reasons else "")
            + (f"<div class='limits'>What this cannot tell you:<ul>{limits}</ul></div>"
               if limits else "")
            + f"<details><summary>Technical details: the summary with scores and calibration"
              f"</summary><p>{escape(verdict['summary'])}</p></details>")


def _archive_pair(report) -> str:
    """This file beside the archived version that archive_match registered onto it."""
    e = report.get("archive_match")
    if e is None or e.error or "archived_version" not in e.views or report.media.kind != "image":
        return ""
    v = e.views["archived_version"]
    h, w = v.shape[:2]
    size = (min(w, 560), max(1, round(min(w, 560) * h / w)))
    best = (e.data.get("matches") or [{}])[0].get("item", {}) if isinstance(e.data, dict) else {}
    meta = ", ".join(escape(str(best[k])[:80]) for k in ("path", "date", "source", "caption")
                     if best.get(k))
    figs = (f"<figure style='margin:0'><img src='{_image_uri(report.media.rgb(), size)}' "
            f"alt='this file' style='max-width:100%'><figcaption>this file</figcaption></figure>"
            f"<figure style='margin:0'><img src='{_view_uri(v, size)}' alt='archived version' "
            f"style='max-width:100%'><figcaption>archived version, aligned onto this file"
            f"{': ' + meta if meta else ''}</figcaption></figure>")
    return ("<section><h2>Earlier version in your archive</h2><p class='hint'>Aligned and "
            "colour-matched; the map <i>archive_match</i> above shows where they differ.</p>"
            "<div style='display:flex;gap:12px;flex-wrap:wrap'>" + figs + "</div></section>")

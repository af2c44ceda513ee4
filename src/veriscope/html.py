"""The self-contained HTML report: one file, no external resources, no scripts from elsewhere."""

from __future__ import annotations

import base64
import io
import json
from html import escape

import numpy as np

from veriscope.evidence import SEVERITIES

DISPLAY_MAX_SIDE = 1600
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

    im = Image.fromarray(rgb)
    if im.size != size:
        im = im.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return _b64(buf.getvalue(), "image/jpeg")


def _view_uri(v: np.ndarray, size: tuple[int, int]) -> str:
    from PIL import Image

    a = np.asarray(v)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    im = Image.fromarray(a)
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return _b64(buf.getvalue(), "image/png")


def _overlay_uri(m: np.ndarray, size: tuple[int, int]) -> str:
    """A map as a red RGBA image whose alpha is the map value."""
    import cv2
    from PIL import Image

    m = cv2.resize(np.asarray(m, np.float32), size, interpolation=cv2.INTER_LINEAR)
    a = np.clip(m * 255.0, 0, 255).astype(np.uint8)
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (255 - a) // 3
    rgba[..., 3] = a
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return _b64(buf.getvalue(), "image/png")


def _detector_notes(name: str) -> tuple[str, str]:
    try:
        from veriscope import registry

        cls = registry.load(name)
        return cls.looks_at, cls.cannot_tell
    except Exception:
        return "", ""


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


def render_html(report) -> str:
    d = report.to_dict()
    media, verdict = report.media, d["verdict"]
    parts: list[str] = []

    # ---------------------------------------------------------------- verdict
    colour = _LABEL_COLOURS.get(verdict["label"], "#555")
    score = "n/a" if verdict["score"] is None else f"{verdict['score']:.2f}"
    parts.append(
        f"<section class='verdict' style='border-color:{colour}'>"
        f"<div class='badge' style='background:{colour}'>{escape(verdict['label'].replace('_', ' '))}</div>"
        f"<div class='band'>{escape(verdict['band_text'])} &middot; score {score}</div>"
        f"<p>{escape(verdict['summary'])}</p></section>")

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
                        "evidence to inspect, not proof.</div></div>")
        else:
            controls = "<div class='hint'>No detector that ran produces a localization map for this input.</div>"
        note = "" if size == (media.width, media.height) else \
            f"<div class='hint'>Display copy downscaled to {size[0]}x{size[1]}; maps/ holds full-size maps.</div>"
        parts.append(f"<section><h2>Image</h2>{controls}<div class='stack' style='max-width:{size[0]}px'>"
                     + "".join(imgs) + f"</div>{note}</section>")

    # ---------------------------------------------------------------- visual aids
    aids = [(e, k, v) for e in report.evidence if not e.error for k, v in e.views.items()]
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
        from veriscope.stability import html_section

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


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto;
       max-width: 1700px; padding: 1em 2em; color: #212121; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; border-bottom: 1px solid #ddd; }}
.verdict {{ border-left: 8px solid; padding: .5em 1em; background: #fafafa; }}
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

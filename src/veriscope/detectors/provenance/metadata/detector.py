"""Metadata detector: what the file says about itself.

Reads EXIF (with GPS, Interop and the IFD1 thumbnail), XMP, IPTC, Photoshop image resources,
PNG text chunks and the ICC profile, and reports:

* AI-generator markers (A1111/Forge parameters, ComfyUI graphs, NovelAI, InvokeAI, IPTC
  DigitalSourceType, generator names in Software/CreatorTool) -> synthetic, 0.97;
* editing software names -> manipulated, 0.35 (below the verdict threshold on purpose);
* date inconsistencies (rules in ``dates`` and docs/detectors/metadata.md);
* an embedded thumbnail that shows a different picture -> manipulated, 0.85;
* camera make/model and GPS position as facts.

See docs/detectors/metadata.md for every finding code, its severity, score and rationale.
"""

from __future__ import annotations

import json
import re
import warnings

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

SCORE_THUMB_MISMATCH = 0.85
SCORE_THUMB_LOCAL = 0.60
SCORE_RESIZED = 0.20

_SEV_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


class MetadataDetector(Detector):
    name = "metadata"
    version = "1.0.0"
    modalities = ("image",)
    summary = ("Reads EXIF, XMP, IPTC, PNG text and ICC metadata for AI-generator settings, "
               "editing software, date conflicts and a stale embedded thumbnail.")
    looks_at = ("The information stored alongside the pixels: camera make and model, dates, GPS "
                "position, the software that saved the file, AI-generator settings (prompt, "
                "model, seed) left by tools such as ComfyUI, AUTOMATIC1111, NovelAI or "
                "InvokeAI, IPTC 'digital source type' labels, and the small preview picture "
                "cameras embed, which should show the same scene as the main image.")
    cannot_tell = ("Metadata is easy to remove or forge. Most social networks and messaging apps "
                   "strip it, so its absence proves nothing, and a generator's marker can be "
                   "deleted or a camera's copied onto a fake. An editor's name only says the "
                   "file passed through that program, not that anything deceptive was done. "
                   "Date rules depend on the camera clock being set correctly. This detector "
                   "never looks at the pixels themselves except to compare the embedded "
                   "preview with the main image.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.detectors.provenance.metadata import dates as _meta_dates
        from veriscope.detectors.provenance.metadata import generators as _meta_gen
        from veriscope.formats import metadata as _meta_read

        opts = ctx.opts(self.name)
        ev = self.evidence()
        try:
            meta = _meta_read.read_all(media)
        except Exception as e:  # read_all is defensive; this is the last line of defence
            meta = _meta_read.Meta()
            meta.problems.append(f"metadata reader failed ({type(e).__name__}: {str(e)[:120]})")
        scored: list[tuple[float, int, str]] = []  # (score, rank, label)

        def add(sev, code, msg, score=None, label=None, rank=50, **data):
            if score is not None:
                data = {"score": score, "label": label, **data}
                scored.append((score, rank, label))
            ev.add(sev, code, msg, **data)

        failed: list[str] = []

        def guarded(step, fn):
            try:
                return fn()
            except Exception as e:  # a bug or an input we did not foresee: keep going
                failed.append(f"{step}: {type(e).__name__}: {str(e)[:120]}")
                return None

        # --- generator / editor markers
        hits = guarded("generator markers", lambda: _meta_gen.find_markers(meta)) or []
        for h in hits:
            add(h.severity, h.code, h.message, h.score, h.label, h.rank, **h.data)
        gen = _meta_gen.merge_generator(hits)
        if gen:
            ev.data["generator"] = gen

        # --- camera, GPS
        camera = guarded("camera", lambda: _camera(meta)) or {}
        ev.data["camera"] = camera
        if camera.get("make") or camera.get("model"):
            add("info", "camera_info", f"The EXIF names the camera: {_camera_name(camera)}.",
                **{k: v for k, v in camera.items() if v})
        gps = guarded("gps", lambda: _gps(meta)) or {}
        if gps:
            ev.data["gps"] = gps
            if "latitude" in gps:
                add("info", "gps_present",
                    f"The EXIF holds a GPS position: {gps['latitude']:.6f}, "
                    f"{gps['longitude']:.6f} (latitude, longitude).", **gps)

        # --- EXIF pixel size vs real size
        dims = guarded("dimensions", lambda: _dimension_check(media, meta))
        if dims:
            add("low", "exif_dimensions_mismatch", dims.pop("message"), SCORE_RESIZED,
                "manipulated", 75, **dims)

        # --- dates
        mtime = None
        if opts.get("file_mtime", True):
            try:
                mtime = media.path.stat().st_mtime
            except OSError:
                mtime = None
        stamps = guarded("dates", lambda: _meta_dates.collect(meta, mtime)) or {}
        ev.data["dates"] = {k: s.iso() for k, s in stamps.items()}
        for issue in guarded("date rules", lambda: _meta_dates.check(stamps)) or []:
            label = "manipulated"
            rank = 45 if issue.severity == "medium" else 70
            add(issue.severity, issue.code, issue.message, issue.score, label, rank, **issue.data)

        # --- embedded thumbnails
        thumbs = {}
        if opts.get("thumbnail", True):
            thumbs = guarded("thumbnails", lambda: _check_thumbnails(media, meta, add)) or {}
        ev.data["thumbnails"] = thumbs

        # --- reading problems, absence
        if meta.problems:
            add("info", "metadata_unreadable",
                "Part of the metadata could not be read: " + "; ".join(meta.problems[:3]) + ".",
                problems=meta.problems[:20])
        for key, n in meta.text_truncated.items():
            add("info", "oversized_text_chunk",
                f"The PNG text chunk '{key[:40]}' holds {n} bytes or more; only the first "
                f"{_meta_read.MAX_TEXT_CHUNK // (1024 * 1024)} MB were read.",
                key=key, length=n)
        if not meta.has_any():
            add("info", "metadata_absent",
                "The file carries no EXIF, XMP, IPTC or text metadata; it may have been "
                "stripped (normal for images from social networks and messaging apps), which "
                "says nothing either way.")

        ev.data["table"] = guarded("table", lambda: _table(meta, thumbs)) or {}
        if failed:
            ev.data["errors"] = failed
            add("info", "analysis_step_failed",
                "Part of the metadata analysis failed on this file and was skipped: "
                + "; ".join(failed[:3]) + ".", errors=failed)
        ev.findings.sort(key=lambda f: _SEV_ORDER.get(f.severity, 9))
        if scored:
            best = max(scored, key=lambda s: (s[0], -s[1]))
            ev.score, ev.label = best[0], best[2]
        else:
            ev.score, ev.label = 0.0, "no_evidence"
        return ev


# ------------------------------------------------------------------------------------ helpers
def _s(v) -> str:
    from veriscope.formats.metadata import fmt_value

    return fmt_value(v)


def _camera(meta) -> dict:
    cam = {"make": _s(meta.ifd0.get("Make")), "model": _s(meta.ifd0.get("Model")),
           "lens": _s(meta.exif.get("LensModel")) or _s(meta.exif.get("LensMake")),
           "software": _s(meta.ifd0.get("Software"))}
    if not cam["make"]:
        cam["make"] = next((v for k, v in meta.xmp if k == "tiff:Make"), "")
    if not cam["model"]:
        cam["model"] = next((v for k, v in meta.xmp if k == "tiff:Model"), "")
    return {k: v for k, v in cam.items() if v}


def _camera_name(cam: dict) -> str:
    make, model = cam.get("make", ""), cam.get("model", "")
    first = make.split()[0].lower() if make else ""
    if first and model.lower().startswith(first):
        return model
    return f"{make} {model}".strip()


def _dms(v) -> float | None:
    from veriscope.formats.metadata import to_float

    if isinstance(v, (tuple, list)) and len(v) == 3:
        parts = [to_float(x) for x in v]
        if any(p is None for p in parts):
            return None
        return parts[0] + parts[1] / 60.0 + parts[2] / 3600.0
    return to_float(v)


def _gps(meta) -> dict:
    from veriscope.formats.metadata import to_float

    g = meta.gps
    if not g:
        return {}
    out = {}
    lat, lon = _dms(g.get("GPSLatitude")), _dms(g.get("GPSLongitude"))
    if lat is not None and lon is not None and 0 <= lat <= 90 and 0 <= lon <= 180:
        if str(g.get("GPSLatitudeRef", "N")).strip().upper().startswith("S"):
            lat = -lat
        if str(g.get("GPSLongitudeRef", "E")).strip().upper().startswith("W"):
            lon = -lon
        out["latitude"], out["longitude"] = round(lat, 7), round(lon, 7)
    alt = to_float(g.get("GPSAltitude"))
    if alt is not None and abs(alt) < 100000:
        ref = g.get("GPSAltitudeRef")
        if ref in (1, b"\x01"):
            alt = -alt
        out["altitude_m"] = round(alt, 1)
    if g.get("GPSMapDatum"):
        out["datum"] = _s(g.get("GPSMapDatum"))
    return out


def _dimension_check(media: Media, meta) -> dict | None:
    """EXIF PixelX/YDimension (written by the camera) vs the real pixel size."""
    ew, eh = meta.exif.get("ExifImageWidth"), meta.exif.get("ExifImageHeight")
    w, h = media.width, media.height
    if not all(isinstance(v, int) and v > 0 for v in (ew, eh, w, h)):
        return None
    if (ew, eh) in ((w, h), (h, w)):
        return None
    if ew * h != eh * w and ew * w != eh * h:  # neither orientation keeps the aspect ratio
        kind = "cropped (or resized to another shape)"
    else:
        kind = "resized"
    return {"message": f"The EXIF says the camera image was {ew}x{eh} pixels but the file is "
                       f"{w}x{h}: it was {kind} after capture, so this is not the camera's "
                       "original file (resizing is common and often harmless).",
            "exif_size": f"{ew}x{eh}", "actual_size": f"{w}x{h}", "kind": kind}


def _main_for_thumb(media: Media, thumb_size):
    """The main image, decoded cheaply at a few times the thumbnail size when JPEG."""
    import io

    from PIL import Image

    if media.format == "jpeg":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(media.read_bytes()))
            im.draft("L", (thumb_size[0] * 4, thumb_size[1] * 4))
            im.load()
        return im
    return media.pil()


def _check_thumbnails(media: Media, meta, add) -> dict:
    from veriscope.detectors.provenance.metadata import thumbnail as _meta_thumb

    out = {}
    sources = []
    im, why = _meta_thumb.extract_ifd1_thumbnail(meta.exif_raw, meta.ifd1)
    if im is not None:
        sources.append(("exif", "EXIF (IFD1) thumbnail", "exif_thumbnail_mismatch", im))
    elif meta.ifd1 and why != "no IFD1 thumbnail":
        out["exif"] = {"comparable": False, "reason": why}
    if meta.photoshop_thumb:
        pim = _meta_thumb.decode_jpeg_blob(meta.photoshop_thumb)
        if pim is not None:
            sources.append(("photoshop", "Photoshop preview thumbnail",
                            "photoshop_thumbnail_mismatch", pim))
    if not sources:
        return out
    try:
        main = _main_for_thumb(media, max((s[3].size for s in sources), key=lambda z: z[0]))
    except Exception as e:
        for key, *_ in sources:
            out[key] = {"comparable": False, "reason": f"main image not decodable ({e})"[:200]}
        return out
    orientation = meta.ifd0.get("Orientation")
    for key, what, code, tim in sources:
        try:
            res = _meta_thumb.compare(tim, main, orientation)
        except Exception as e:  # never let a preview comparison break the detector
            res = {"comparable": False, "reason": f"comparison failed ({type(e).__name__})"}
        out[key] = res
        if not res.get("comparable"):
            continue
        r = res["similarity"]
        rb = res.get("min_block_similarity")
        if r < _meta_thumb.MISMATCH_R:
            add("high", code,
                f"The {what} does not match the main image (similarity {r:.2f}, threshold "
                f"{_meta_thumb.MISMATCH_R:.2f}): the picture was replaced, cropped or heavily "
                "altered after the preview was made, and the preview may show the original.",
                SCORE_THUMB_MISMATCH, "manipulated", 30, **res)
        elif rb is not None and rb < _meta_thumb.LOCAL_MISMATCH_R:
            add("medium", code.replace("mismatch", "local_mismatch"),
                f"The {what} matches the main image overall (similarity {r:.2f}) but not in "
                f"the {res.get('worst_block')} part (similarity {rb:.2f}): that area may have "
                "been changed after the preview was made; compare the two by eye.",
                SCORE_THUMB_LOCAL, "manipulated", 35, **res)
        elif r < _meta_thumb.WEAK_MATCH_R:
            add("info", code.replace("mismatch", "weak_match"),
                f"The {what} resembles the main image only loosely (similarity {r:.2f}); a crop "
                "or an edit after capture is possible, so compare the two by eye.", **res)
        else:
            add("info", code.replace("mismatch", "match"),
                f"The {what} matches the main image (similarity {r:.2f}).", **res)
    return out


def _summarise_text(key: str, val: str) -> str:
    from veriscope.formats.metadata import truncate

    s = val.strip()
    if s[:1] in "{[" and len(s) > 300:
        try:
            obj = json.loads(s)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            nodes = {k: v for k, v in obj.items() if isinstance(v, dict) and "class_type" in v}
            if nodes:
                types = []
                for v in nodes.values():
                    if v["class_type"] not in types:
                        types.append(str(v["class_type"]))
                return truncate(f"ComfyUI node graph, {len(nodes)} nodes ({len(s)} chars): "
                                + ", ".join(types))
            if isinstance(obj.get("nodes"), list):
                types = []
                for n in obj["nodes"]:
                    if isinstance(n, dict) and n.get("type") not in types:
                        types.append(str(n.get("type")))
                return truncate(f"ComfyUI workflow, {len(obj['nodes'])} nodes ({len(s)} chars): "
                                + ", ".join(types))
            return truncate(f"JSON object ({len(s)} chars), keys: " + ", ".join(map(str, obj)))
    short = re.sub(r"[ \t]+", " ", s[:4000])
    if len(s) > 4000:
        return short[:300] + f"... ({len(s)} chars)"
    return truncate(short)


def _table(meta, thumbs: dict) -> dict:
    from veriscope.formats.metadata import fmt_value, truncate

    t: dict[str, dict[str, str]] = {}
    exif = {k: fmt_value(v) for k, v in {**meta.ifd0, **meta.exif}.items()}
    if exif:
        t["EXIF"] = exif
    if meta.gps:
        t["GPS"] = {k: fmt_value(v) for k, v in meta.gps.items()}
        for k, v in _gps(meta).items():
            t["GPS"][k] = str(v)
    if meta.interop:
        t["Interop"] = {k: fmt_value(v) for k, v in meta.interop.items()}
    th = {}
    if meta.ifd1:
        from PIL import ExifTags

        for k, v in meta.ifd1.items():
            th[ExifTags.TAGS.get(k, f"Tag0x{int(k):04X}")] = fmt_value(v)
    for src, res in thumbs.items():
        for k, v in res.items():
            th[f"{src} {k}"] = fmt_value(v)
    if th:
        t["Thumbnail"] = th
    if meta.xmp:
        x: dict[str, str] = {}
        for k, v in meta.xmp[:400]:
            key, i = k, 2
            while key in x:
                key, i = f"{k} ({i})", i + 1
            x[key] = truncate(v)
        if len(meta.xmp) > 400:
            x["..."] = f"{len(meta.xmp) - 400} more entries not shown"
        t["XMP"] = x
    elif meta.xmp_packets:
        t["XMP"] = {"packet": truncate(meta.xmp_packets[0])}
    if meta.iptc:
        t["IPTC"] = {k: truncate(v) for k, v in meta.iptc.items()}
    if meta.text:
        t["PNG text"] = {truncate(k, 80): _summarise_text(k, v) for k, v in
                         list(meta.text.items())[:200]}
    if meta.icc:
        t["ICC"] = dict(meta.icc)
    if meta.photoshop:
        t["Photoshop"] = {k: truncate(str(v)) for k, v in meta.photoshop.items()}
    if meta.jpeg_segments:
        t["JPEG"] = {"segments": truncate(", ".join(meta.jpeg_segments))}
    if meta.comments:
        t["Comments"] = {str(i + 1): truncate(c) for i, c in enumerate(meta.comments[:10])}
    if meta.png_time:
        t.setdefault("PNG", {})["tIME (UTC)"] = meta.png_time
    if meta.problems:
        t["Problems"] = {str(i + 1): truncate(p) for i, p in enumerate(meta.problems[:20])}
    return t

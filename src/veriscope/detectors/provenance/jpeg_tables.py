"""JPEG quantization tables, encoder structure and re-encoding hints.

Reads the JPEG header with :mod:`veriscope.formats.jpeg` (no pixel decoding), estimates
the IJG/libjpeg quality of every quantization table, checks whether the tables
are exactly the libjpeg-scaled Annex K tables, and compares the file's
structure with what its EXIF camera claim leads one to expect.

Everything this detector reports is a *re-encoding hint*, never proof of
manipulation: the score is at most 0.45 (see ``docs/detectors/jpeg_tables.md``
for every rule and constant).
"""

from __future__ import annotations

import io
import re
import warnings

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.formats.jpeg import (
    PHOTOSHOP_RESOURCES,
    JpegInfo,
    JpegParseError,
    estimate_ijg_quality,
    exif_thumbnail_info,
    parse_jpeg,
    sampling_factors,
)

# ---------------------------------------------------------------- rule constants (documented)

SCORE_REENCODE_LOW = 0.15
"""Camera EXIF + exactly standard IJG tables, no editor-identifying hint (many cameras do this)."""
SCORE_ADOBE = 0.25
"""Photoshop APP13 IRB / Ducky APP12 / Adobe APP14 on YCbCr / Adobe Software tag."""
SCORE_REENCODE_MEDIUM = 0.35
"""Camera EXIF + exactly standard IJG tables + at least one editor-identifying hint."""
SCORE_CAP = 0.45
"""No rule of this detector may exceed this: a re-save is not a manipulation."""

LOW_QUALITY = 50
"""Estimated luminance quality below this -> info finding (later pixel forensics less reliable)."""

# Software tag / COM text naming a general-purpose editor or a software encoder.
# Hand-written from the products' public names; matched case-insensitively as words.
EDITOR_PATTERN = re.compile(
    r"\b(photoshop|lightroom|adobe|gimp|paint\.net|paintshop|pixelmator|affinity|snapseed|"
    r"picasa|acdsee|corel|capture one|darktable|rawtherapee|luminar|imagemagick|graphicsmagick|"
    r"xnview|irfanview|photoscape|fotor|canva|picsart|vsco|photo gallery|photodirector|"
    r"photoshop express|iphoto|skylum|on1 photo|dxo|faststone|ulead|"
    r"gd-jpeg|lead technologies|jpegmini|jpegoptim|mozjpeg|guetzli|intel\(r\) jpeg library)\b",
    re.IGNORECASE)

EXIF_MAKE, EXIF_MODEL, EXIF_SOFTWARE, EXIF_DATETIME = 0x010F, 0x0110, 0x0131, 0x0132


def _clean(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        v = v.decode("latin-1", "replace")
    s = str(v).replace("\x00", " ").strip()
    return s or None


def _read_exif(data: bytes) -> dict:
    """Make/Model/Software/DateTime from Pillow's EXIF reader; {} when absent or unreadable."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                ex = im.getexif()
                out = {"make": _clean(ex.get(EXIF_MAKE)), "model": _clean(ex.get(EXIF_MODEL)),
                       "software": _clean(ex.get(EXIF_SOFTWARE)),
                       "datetime": _clean(ex.get(EXIF_DATETIME))}
    except Exception as e:  # Pillow raises many types on odd EXIF
        return {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    return {k: v for k, v in out.items() if v is not None}


class JpegTablesDetector(Detector):
    name = "jpeg_tables"
    version = "1.0.0"
    modalities = ("image",)
    formats = ("jpeg",)
    summary = "JPEG quantization tables, estimated quality, encoder structure and re-save hints"
    looks_at = ("The JPEG header: quantization tables (estimated libjpeg quality, standard or "
                "custom), chroma subsampling, progressive/baseline, restart interval, APP "
                "segments (JFIF, Exif, Adobe, Photoshop), comments, and the EXIF camera claim.")
    cannot_tell = ("Whether the picture content was changed: a re-save by software is common "
                   "and innocent, and some cameras and phones use the same standard tables "
                   "as software encoders. Only the first image in the file is read.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        data = media.read_bytes()
        try:
            info = parse_jpeg(data)
        except JpegParseError as e:
            ev = self.evidence(score=None, label="inconclusive",
                               error=f"JPEG structure unreadable: {e}")
            ev.add("info", "jpeg_structure_error",
                   "The JPEG header could not be read, so its compression settings were not "
                   "checked.", error=str(e))
            return ev
        return self._evaluate(info, data)

    # ------------------------------------------------------------------ core
    def _evaluate(self, info: JpegInfo, data: bytes) -> Evidence:
        frame = info.frame
        assert frame is not None  # parse_jpeg guarantees a frame before SOS
        comps = frame.components
        luma_tq = comps[0].tq
        tables = []
        for tid in sorted(info.quant_tables):
            qt = info.quant_tables[tid]
            users = [c.id for c in comps if c.tq == tid]
            if not users:
                role, chroma = "unused", None
            elif tid == luma_tq:
                role, chroma = "luminance", False
            else:
                role, chroma = "chrominance", True
            est = estimate_ijg_quality(qt.values, chroma=chroma)
            tables.append({"id": tid, "precision_bits": qt.precision_bits, "role": role,
                           "used_by_components": users, "table": qt.matrix(),
                           "ijg_standard": est.exact, "estimate": est.to_dict()})
        used = [t for t in tables if t["role"] != "unused"]
        luma = next((t for t in tables if t["role"] == "luminance"), None)
        quality = luma["estimate"]["quality"] if luma else None
        quality_exact = bool(luma and luma["ijg_standard"])
        standard = bool(used) and all(t["ijg_standard"] for t in used)

        exif_apps = info.apps("Exif")
        thumb = exif_thumbnail_info(exif_apps[0].payload) if exif_apps else None
        exif = _read_exif(data) if exif_apps else {}
        adobe = info.apps("Adobe")
        photoshop = info.apps("Photoshop")
        comments = info.comment_texts()
        huff = info.huffman_tables
        huffman = ("none before first scan" if not huff else
                   "Annex K default" if all(h.is_annex_k() for h in huff) else "optimized/custom")

        hints = _encoder_hints(info, standard, quality, huffman, exif, comments)
        d = {
            "process": frame.process,
            "progressive": frame.progressive,
            "baseline": frame.baseline,
            "arithmetic": frame.arithmetic,
            "precision": frame.precision,
            "width": frame.width,
            "height": frame.height,
            "color_space": info.color_space,
            "components": [{"id": c.id, "h": c.h, "v": c.v, "quant_table": c.tq} for c in comps],
            "sampling_factors": sampling_factors(comps),
            "subsampling": info.subsampling,
            "restart_interval": info.restart_interval,
            "quant_tables": tables,
            "quality": quality,
            "quality_exact": quality_exact,
            "standard_tables": standard,
            "huffman": huffman,
            "app_segments": [a.to_dict() for a in info.app_segments],
            "jfif": info.has_app("JFIF"),
            "exif_present": bool(exif_apps),
            "jfif_only": info.has_app("JFIF") and not exif_apps,
            "exif": exif,
            "exif_thumbnail": thumb,
            "adobe_app14": adobe[0].details if adobe else None,
            "photoshop_irb": ([{"id": f"0x{r:04X}", "name": PHOTOSHOP_RESOURCES.get(r)}
                               for r in photoshop[0].details.get("resources", [])]
                              if photoshop else None),
            "comments": comments,
            "encoder_hints": hints,
            "parser_warnings": info.warnings,
        }
        ev = self.evidence(data=d)
        scores = [0.0]

        # R0: quality (info)
        if quality is None:
            ev.add("info", "jpeg_quality", f"This is a {frame.process} JPEG without "
                   "quantization tables, so no quality can be estimated.", process=frame.process)
        elif standard:
            others = sorted({t["estimate"]["quality"] for t in used} - {quality})
            qtxt = (f"{quality}" if not others else
                    f"{quality} (luminance; {', '.join(map(str, others))} for other tables)")
            ev.add("info", "jpeg_quality",
                   f"Estimated JPEG quality {qtxt}: the file uses the standard libjpeg (IJG) "
                   "quantization tables, as most software and many cameras do.",
                   quality=quality, standard=True, subsampling=info.subsampling)
        else:
            ev.add("info", "jpeg_quality",
                   f"Estimated JPEG quality about {quality}: the quantization tables are custom "
                   "(not the standard libjpeg tables), as written by many cameras and some "
                   "editors.", quality=quality, standard=False,
                   mean_abs_error=luma["estimate"]["mean_abs_error"] if luma else None,
                   subsampling=info.subsampling)

        # R3: very low quality (info)
        if quality is not None and quality < LOW_QUALITY:
            ev.add("info", "low_jpeg_quality",
                   f"The JPEG quality is low (about {quality}), so pixel-level forensics on "
                   "this file are less reliable.", quality=quality)

        # R2: Adobe software markers (low)
        adobe_hints = []
        if photoshop:
            adobe_hints.append("Photoshop APP13 image-resource block")
        if info.has_app("Ducky"):
            adobe_hints.append("Ducky APP12 segment (Photoshop 'Save for Web')")
        if adobe and len(comps) == 3 and adobe[0].details.get("transform") == 1:
            adobe_hints.append("Adobe APP14 marker on a YCbCr image")
        sw = exif.get("software") or ""
        if re.search(r"adobe|photoshop|lightroom", sw, re.IGNORECASE):
            adobe_hints.append(f"EXIF Software '{sw}'")
        if adobe_hints:
            ev.add("low", "saved_by_adobe",
                   "The file carries Adobe markers (" + "; ".join(adobe_hints) + "), so it was "
                   "probably saved, or had its metadata edited, by Adobe software after capture "
                   "(other captioning tools also write the Photoshop block).",
                   hints=adobe_hints)
            scores.append(SCORE_ADOBE)

        # R1: camera claim + standard IJG tables -> probable software re-encode
        camera = exif.get("make") or exif.get("model")
        if camera and standard:
            weak, strong = [], []
            if thumb is not None and not thumb["thumbnail"]:
                weak.append("no EXIF thumbnail")
            if info.has_app("JFIF"):
                weak.append("JFIF header present")
            if photoshop:
                strong.append("Photoshop APP13 block")
            if sw and EDITOR_PATTERN.search(sw):
                strong.append(f"EXIF Software names an editor ('{sw}')")
            for c in comments:
                m = EDITOR_PATTERN.search(c)
                if m:
                    strong.append(f"comment names software ('{c[:80]}')")
                    break
            make, model = exif.get("make") or "", exif.get("model") or ""
            who = model if make and model.lower().startswith(make.lower()) else \
                " ".join(x for x in (make, model) if x)
            if strong:
                sev, score = "medium", SCORE_REENCODE_MEDIUM
                msg = (f"EXIF names the camera '{who}', but the image uses standard libjpeg "
                       f"tables (quality {quality}) and " + "; ".join(strong + weak) + ", so it "
                       "was probably re-encoded by software after capture.")
            else:
                sev, score = "low", SCORE_REENCODE_LOW
                extra = f" ({'; '.join(weak)})" if weak else ""
                msg = (f"EXIF names the camera '{who}', but the image uses standard libjpeg "
                       f"tables (quality {quality}){extra}; this can mean a software re-save, "
                       "though some cameras and phones use these tables too.")
            ev.add(sev, "probable_software_reencode", msg, camera=who, quality=quality,
                   strong_hints=strong, weak_hints=weak)
            scores.append(score)

        ev.score = min(max(scores), SCORE_CAP)
        ev.label = "manipulated" if ev.score > 0 else "no_evidence"
        return ev


def _encoder_hints(info: JpegInfo, standard: bool, quality, huffman: str, exif: dict,
                   comments: list[str]) -> list[str]:
    """Plain-English notes about what wrote the file (data only, no score)."""
    h = []
    if info.has_app("JFIF") and not info.has_app("Exif"):
        h.append("JFIF header only, no Exif: typical of software encoders and web images")
    elif info.has_app("Exif") and not info.has_app("JFIF"):
        h.append("Exif without JFIF: typical of camera output")
    elif info.has_app("Exif") and info.has_app("JFIF"):
        h.append("both JFIF and Exif headers")
    if standard:
        h.append(f"standard IJG tables at quality {quality}: libjpeg family (Pillow, OpenCV, "
                 "GIMP, ImageMagick) or a camera/phone using the same tables")
    elif quality is not None:
        h.append("custom quantization tables (camera firmware or an encoder with its own tables)")
    h.append(f"Huffman tables: {huffman}")
    adobe = info.apps("Adobe")
    if adobe:
        t = adobe[0].details.get("transform")
        note = ("libjpeg also writes it for RGB/CMYK/YCCK" if t in (0, 2) or
                len(info.frame.components) != 3 else "typical of Adobe software")
        h.append(f"Adobe APP14 (transform {t}): {note}")
    if info.has_app("Photoshop"):
        h.append("Photoshop 3.0 IRB (APP13): Adobe software or an IPTC captioning tool")
    if info.has_app("Ducky"):
        h.append("Ducky APP12: Photoshop 'Save for Web'")
    if info.has_app("MPF"):
        h.append("MPF (multi-picture) segment: typical of cameras and phones")
    if exif.get("software"):
        h.append(f"EXIF Software: {exif['software']}")
    for c in comments:
        if c:
            h.append(f"comment: {c[:120]}")
    return h

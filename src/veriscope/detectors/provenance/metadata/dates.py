"""Date consistency rules for the metadata detector (private helper).

A *stamp* is a wall-clock time with, when known, its UTC offset. Camera EXIF dates carry no
offset unless OffsetTime* tags are present, so a naive stamp L may be any instant in
[L - 14 h, L + 12 h] UTC (UTC offsets run from -12:00 to +14:00). Two naive stamps written by the
same device are compared as wall times (same clock, same zone). The exact rules are listed in
docs/detectors/metadata.md.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from veriscope.formats.metadata import Meta, to_float

UTC = dt.UTC
TZ_EAST = dt.timedelta(hours=14)  # local = UTC + 14 h at most
TZ_WEST = dt.timedelta(hours=12)  # local = UTC - 12 h at least

SAME_CLOCK_SLACK = dt.timedelta(seconds=2)
"""Two stamps from one clock count as out of order only when they differ by more than this."""

EDIT_GAP = dt.timedelta(seconds=60)
"""A modify date this much after capture means software rewrote the file (cameras write both
within a second or two, a few seconds for in-camera HDR / noise reduction)."""

GPS_SLACK = dt.timedelta(hours=1)
"""GPS fixes can be minutes old when the photo is taken (stale fix indoors)."""

FILE_SLACK = dt.timedelta(seconds=60)

SCORE_ORDER = 0.45
SCORE_EDITED = 0.20
SCORE_GPS = 0.25
SCORE_FILE = 0.20


@dataclass
class Stamp:
    name: str
    wall: dt.datetime  # naive wall-clock time
    offset: dt.timedelta | None  # None: zone unknown
    clock: str  # which device/program clock wrote it ("exif", "gps", "xmp", "file", ...)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Earliest and latest possible UTC instant (naive datetimes in UTC)."""
        if self.offset is not None:
            t = self.wall - self.offset
            return t, t
        return self.wall - TZ_EAST, self.wall + TZ_WEST

    def iso(self) -> str:
        s = self.wall.isoformat(timespec="seconds")
        if self.offset is not None:
            tot = int(self.offset.total_seconds())
            sign = "+" if tot >= 0 else "-"
            tot = abs(tot)
            s += f"{sign}{tot // 3600:02d}:{tot % 3600 // 60:02d}"
        return s


_EXIF_DT = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_ISO_DT = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
                     r"\s*(Z|[+\-]\d{2}:?\d{2})?")
_OFFSET = re.compile(r"^\s*([+\-])(\d{2}):?(\d{2})\s*$")


def parse_offset(s) -> dt.timedelta | None:
    if not isinstance(s, str):
        return None
    if s.strip().upper() == "Z":
        return dt.timedelta(0)
    m = _OFFSET.match(s)
    if not m:
        return None
    h, mi = int(m.group(2)), int(m.group(3))
    if h > 14 or mi > 59:
        return None
    d = dt.timedelta(hours=h, minutes=mi)
    return -d if m.group(1) == "-" else d


def _mk(y, mo, d, h=0, mi=0, s=0) -> dt.datetime | None:
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except (ValueError, TypeError):
        return None
    if t.year < 1900:
        return None  # "0000:00:00 00:00:00" and similar placeholders
    return t


def parse_exif_dt(s) -> dt.datetime | None:
    if not isinstance(s, str):
        return None
    m = _EXIF_DT.match(s)
    return _mk(*m.groups()) if m else None


def parse_iso(s) -> tuple[dt.datetime | None, dt.timedelta | None, bool]:
    """(wall time, offset, has_time) of an XMP / ISO 8601 date."""
    if not isinstance(s, str):
        return None, None, False
    m = _ISO_DT.match(s)
    if not m:
        t = parse_exif_dt(s)
        return t, None, t is not None
    y, mo, d, h, mi, sec, tz = m.groups()
    has_time = h is not None
    t = _mk(y, mo, d, h or 0, mi or 0, sec or 0)
    off = parse_offset(tz) if tz else None
    return t, (off if has_time else None), has_time


def collect(meta: Meta, file_mtime: float | None) -> dict[str, Stamp]:
    st: dict[str, Stamp] = {}

    def add_exif(name, tag, offtag, d):
        t = parse_exif_dt(d.get(tag))
        if t:
            st[name] = Stamp(name, t, parse_offset(meta.exif.get(offtag)), "exif")

    add_exif("exif_datetime_original", "DateTimeOriginal", "OffsetTimeOriginal", meta.exif)
    add_exif("exif_datetime_digitized", "DateTimeDigitized", "OffsetTimeDigitized", meta.exif)
    add_exif("exif_datetime_modified", "DateTime", "OffsetTime", meta.ifd0)
    g = gps_utc(meta)
    if g:
        st["gps_utc"] = Stamp("gps_utc", g, dt.timedelta(0), "gps")
    for name, local in (("xmp_create_date", "xmp:CreateDate"), ("xmp_modify_date", "xmp:ModifyDate"),
                        ("xmp_datetime_original", "exif:DateTimeOriginal"),
                        ("xmp_metadata_date", "xmp:MetadataDate")):
        for k, v in meta.xmp:
            if k == local:
                t, off, has_time = parse_iso(v)
                if t and has_time:
                    st[name] = Stamp(name, t, off, "xmp")
                break
    d = meta.iptc.get("DateCreated")
    if d and re.fullmatch(r"\d{8}", d.strip()):
        tm = meta.iptc.get("TimeCreated", "")
        m = re.match(r"(\d{2})(\d{2})(\d{2})([+\-]\d{4})?", tm.strip())
        if m:
            t = _mk(d[:4], d[4:6], d[6:8], *m.groups()[:3])
            if t:
                st["iptc_created"] = Stamp("iptc_created", t,
                                           parse_offset(m.group(4)) if m.group(4) else None,
                                           "iptc")
    if meta.png_time:
        t, _, _ = parse_iso(meta.png_time)
        if t:
            st["png_time_utc"] = Stamp("png_time_utc", t, dt.timedelta(0), "png")
    if file_mtime is not None:
        try:
            t = dt.datetime.fromtimestamp(file_mtime, tz=UTC).replace(tzinfo=None)
            st["file_mtime_utc"] = Stamp("file_mtime_utc", t.replace(microsecond=0),
                                         dt.timedelta(0), "file")
        except (OverflowError, OSError, ValueError):
            pass
    return st


def gps_utc(meta: Meta) -> dt.datetime | None:
    d = meta.gps.get("GPSDateStamp")
    ts = meta.gps.get("GPSTimeStamp")
    if not isinstance(d, str) or not isinstance(ts, (tuple, list)) or len(ts) != 3:
        return None
    m = re.match(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})", d)
    vals = [to_float(x) for x in ts]
    if not m or any(v is None for v in vals):
        return None
    h, mi, s = vals
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 61):
        return None
    base = _mk(*m.groups())
    if base is None:
        return None
    return base + dt.timedelta(hours=h, minutes=mi, seconds=int(s))


def _diff(a: Stamp, b: Stamp) -> tuple[dt.timedelta, dt.timedelta]:
    """Range (lo, hi) of possible (a - b)."""
    if a.offset is None and b.offset is None and a.clock == b.clock:
        d = a.wall - b.wall
        return d, d
    alo, ahi = a.bounds()
    blo, bhi = b.bounds()
    return alo - bhi, ahi - blo


@dataclass
class DateIssue:
    code: str
    severity: str
    score: float
    message: str
    data: dict


def _fmt_td(td: dt.timedelta) -> str:
    s = abs(int(td.total_seconds()))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = ([f"{d} d"] if d else []) + ([f"{h} h"] if h else []) + ([f"{m} min"] if m else [])
    return " ".join(parts) or f"{s} s"


def check(st: dict[str, Stamp]) -> list[DateIssue]:
    issues: list[DateIssue] = []
    capture = st.get("exif_datetime_original") or st.get("xmp_datetime_original") or \
        st.get("xmp_create_date")

    # 1. same-device impossible orders
    pairs = [("exif_datetime_modified", "exif_datetime_original", "modified", "taken"),
             ("exif_datetime_digitized", "exif_datetime_original", "digitized", "taken"),
             ("xmp_modify_date", "xmp_create_date", "modified (XMP)", "created (XMP)")]
    for a, b, an, bn in pairs:
        if a in st and b in st:
            lo, hi = _diff(st[a], st[b])
            if hi < -SAME_CLOCK_SLACK:
                issues.append(DateIssue(
                    "date_order_impossible", "medium", SCORE_ORDER,
                    f"The file says it was {an} ({st[a].iso()}) {_fmt_td(hi)} before it was "
                    f"{bn} ({st[b].iso()}), which cannot happen unless the dates were edited.",
                    {"later_field": b, "earlier_field": a, "gap_s": -hi.total_seconds()}))

    # 2. modified after capture
    if capture:
        for a in ("exif_datetime_modified", "xmp_modify_date"):
            if a in st:
                lo, hi = _diff(st[a], capture)
                if lo > EDIT_GAP:
                    issues.append(DateIssue(
                        "date_modified_after_capture", "low", SCORE_EDITED,
                        f"The modify date ({st[a].iso()}) is {_fmt_td(lo)} or more after the "
                        f"capture date ({capture.iso()}): software rewrote the file after it "
                        "was taken (often harmless: transfer, rotation, editing).",
                        {"modified_field": a, "capture_field": capture.name,
                         "gap_s_min": lo.total_seconds()}))
                    break

    # 3. GPS clock vs camera clock
    cam = st.get("exif_datetime_original")
    g = st.get("gps_utc")
    if cam and g:
        lo, hi = _diff(cam, g)  # local - utc
        if cam.offset is not None:
            off = abs(lo)
            bad = off > GPS_SLACK
            what = f"{_fmt_td(off)} apart once the recorded UTC offset is applied"
        else:
            bad = lo > GPS_SLACK or hi < -GPS_SLACK
            d = cam.wall - g.wall
            off = d
            what = (f"{_fmt_td(d)} apart, more than any time-zone difference "
                    "(UTC-12 to UTC+14)")
        if bad:
            issues.append(DateIssue(
                "date_gps_mismatch", "low", SCORE_GPS,
                f"The camera time ({cam.iso()}) and the GPS time ({g.iso()} UTC) are {what}; "
                "the camera clock may simply be wrong, or a date was edited.",
                {"camera": cam.iso(), "gps_utc": g.iso(),
                 "difference_s": (cam.wall - g.wall).total_seconds()}))

    # 4. file modification time before capture
    f = st.get("file_mtime_utc")
    first = capture or st.get("exif_datetime_digitized")
    if f and first:
        lo, hi = _diff(f, first)
        if hi < -FILE_SLACK:
            issues.append(DateIssue(
                "date_file_before_capture", "low", SCORE_FILE,
                f"The file system says the file was last changed ({f.iso()} UTC) {_fmt_td(hi)} "
                f"before the photo was taken ({first.iso()}), even allowing for time zones; the "
                "camera clock may be wrong, or the dates were edited.",
                {"file_mtime_utc": f.iso(), "capture": first.iso(), "gap_s": -hi.total_seconds()}))
    return issues

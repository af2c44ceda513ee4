"""A small, defensive reader of MP4 / QuickTime (ISO BMFF) boxes.

Only what forensic checks of the container need: the box layout, ``ftyp`` brands, movie /
track / media headers (creation and modification times, time scales, durations, the display
matrix), edit lists, handler names, the first sample description of each track (codec fourcc
and, for video, the compressor name), and the tags in ``udta`` (QuickTime ``©xyz`` strings,
3GPP strings), ``meta``/``ilst`` (iTunes-style ``©too``..., and Apple ``mdta`` keys such as
``com.apple.quicktime.make``) and XMP packets (``uuid`` box or ``udta/XMP_``).

Nothing here trusts a size: every box is checked against its parent and the file, the walk is
iterative with a depth and a box-count cap, only ``moov`` (and small metadata boxes) are read
into memory, up to :data:`MAX_MOOV` bytes; sample data (``mdat``) is never read. Problems are
collected in :attr:`Mp4Info.problems` instead of raised, so a damaged file still yields what
could be read.

Times in ``mvhd``/``tkhd``/``mdhd`` count seconds from 1904-01-01 00:00 UTC; zero means "not
set" (FFmpeg writes zero unless told a creation time).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAX_MOOV = 64 * 1024 * 1024
"""Largest ``moov`` box read (bytes); phone recordings of an hour have a few MB."""
MAX_BOXES = 20000
"""Boxes visited at most (top level and inside ``moov`` together)."""
MAX_DEPTH = 16
MAX_TOP = 4096
"""Top-level boxes listed at most (fragmented files have one ``moof`` per fragment)."""
MAX_EDITS = 1000
"""Edit-list entries read per track."""
MAX_TEXT = 4096
"""Characters kept of one tag value."""
MAX_XMP = 1024 * 1024

EPOCH_1904 = dt.datetime(1904, 1, 1, tzinfo=dt.UTC)

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf", b"mvex",
              b"moof", b"traf", b"tref", b"tapt", b"clip", b"matt", b"ilst", b"meta", b"gmhd"}
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")

# iTunes-style / QuickTime tag atoms and the name veriscope shows for them
TAG_NAMES = {
    "©too": "encoder", "©swr": "software", "©enc": "encoded_by", "©nam": "title",
    "©cmt": "comment", "©day": "date", "©mak": "make", "©mod": "model", "©xyz": "location",
    "©ART": "artist", "©aut": "author", "©des": "description", "©inf": "information",
    "©fmt": "format", "©src": "source", "©req": "requirements", "©wrt": "composer",
    "©alb": "album", "©cpy": "copyright", "©gen": "genre", "©dir": "director",
    "©prd": "producer", "©com": "composer", "©ed1": "edit_1", "©hst": "host_computer",
    "desc": "description", "cprt": "copyright", "titl": "title", "auth": "author",
    "perf": "performer", "dscp": "description", "gnre": "genre", "albm": "album",
    "yrrc": "year", "manu": "make", "modl": "model", "keyw": "keywords",
}


def _utf(b: bytes) -> str:
    if b[:2] in (b"\xfe\xff", b"\xff\xfe"):
        s = b.decode("utf-16", "replace")
    else:
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            s = b.decode("latin-1")
    s = s.replace("\x00", "").strip()
    return s[:MAX_TEXT]


def mac_time(v: int) -> dt.datetime | None:
    """A 1904-epoch time in seconds as UTC, None when zero or out of range."""
    if not v:
        return None
    try:
        t = EPOCH_1904 + dt.timedelta(seconds=int(v))
    except (OverflowError, ValueError):
        return None
    return t if t.year < 10000 else None


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


@dataclass
class Edit:
    duration: float  # seconds of movie time this edit lasts
    media_time: float | None  # seconds into the track's media where it starts; None = empty edit
    rate: float = 1.0

    def to_dict(self) -> dict:
        return {"duration": round(self.duration, 6),
                "media_time": None if self.media_time is None else round(self.media_time, 6),
                "rate": round(self.rate, 6)}


@dataclass
class Track:
    track_id: int | None = None
    handler: str | None = None  # 'vide', 'soun', 'meta', 'text', 'tmcd', ...
    handler_name: str | None = None
    created: int = 0  # raw 1904 seconds (tkhd)
    modified: int = 0
    media_created: int = 0  # mdhd
    media_modified: int = 0
    timescale: int | None = None  # mdhd
    media_duration: float | None = None  # seconds (mdhd)
    duration: float | None = None  # seconds in movie time (tkhd)
    language: str | None = None
    matrix: tuple | None = None  # (a, b, c, d) floats of the display matrix
    width: float | None = None
    height: float | None = None
    flags: int = 0
    edits: list[Edit] | None = None  # None: no edit list
    codec: str | None = None  # first sample description fourcc
    compressor: str | None = None  # video sample entry compressor name
    raw_edits: list | None = field(default=None, repr=False)

    @property
    def rotation(self) -> int:
        """Clockwise display rotation in degrees (0, 90, 180, 270) from the matrix."""
        if not self.matrix:
            return 0
        a, b, _c, _d = self.matrix
        if a == 0 and b == 0:
            return 0
        return int(round(math.degrees(math.atan2(b, a)) / 90.0)) % 4 * 90

    @property
    def mirrored(self) -> bool:
        if not self.matrix:
            return False
        a, b, c, d = self.matrix
        return a * d - b * c < 0

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, "handler": self.handler,
                "handler_name": self.handler_name, "codec": self.codec,
                "compressor": self.compressor, "language": self.language,
                "created": iso(mac_time(self.created)), "modified": iso(mac_time(self.modified)),
                "media_created": iso(mac_time(self.media_created)),
                "media_modified": iso(mac_time(self.media_modified)),
                "timescale": self.timescale,
                "duration": None if self.duration is None else round(self.duration, 6),
                "media_duration": None if self.media_duration is None else round(self.media_duration, 6),
                "rotation": self.rotation, "mirrored": self.mirrored,
                "size": [self.width, self.height] if self.width is not None else None,
                "enabled": bool(self.flags & 1),
                "edits": None if self.edits is None else [e.to_dict() for e in self.edits]}


@dataclass
class Mp4Info:
    """What :func:`read` found. ``tags`` maps a tag key to its first value (strings)."""

    major_brand: str | None = None
    minor_version: int | None = None
    compatible_brands: list[str] = field(default_factory=list)
    top_level: list[tuple[str, int, int]] = field(default_factory=list)  # (type, offset, size)
    movie_created: int = 0
    movie_modified: int = 0
    movie_timescale: int | None = None
    movie_duration: float | None = None
    tracks: list[Track] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    xmp: list[str] = field(default_factory=list)
    fragmented: bool = False
    problems: list[str] = field(default_factory=list)
    boxes: int = 0

    def tag(self, *keys: str) -> str | None:
        for k in keys:
            if self.tags.get(k):
                return self.tags[k]
        return None

    def to_dict(self) -> dict:
        return {"major_brand": self.major_brand, "minor_version": self.minor_version,
                "compatible_brands": self.compatible_brands,
                "top_level": [t for t, _, _ in self.top_level[:50]],
                "movie_created": iso(mac_time(self.movie_created)),
                "movie_modified": iso(mac_time(self.movie_modified)),
                "movie_timescale": self.movie_timescale,
                "movie_duration": None if self.movie_duration is None else round(self.movie_duration, 6),
                "tracks": [t.to_dict() for t in self.tracks], "tags": dict(self.tags),
                "xmp_packets": len(self.xmp), "fragmented": self.fragmented,
                "problems": list(self.problems)}


class _Reader:
    """Big-endian fields from a bytes slice; reads past the end raise ``struct.error``."""

    def __init__(self, b: bytes, pos: int = 0):
        self.b, self.p = b, pos

    def u(self, n: int) -> int:
        if self.p + n > len(self.b):
            raise struct.error("field runs past the end of its box")
        v = int.from_bytes(self.b[self.p:self.p + n], "big")
        self.p += n
        return v

    def s(self, n: int) -> int:
        v = self.u(n)
        return v - (1 << (8 * n)) if v >= 1 << (8 * n - 1) else v

    def skip(self, n: int) -> None:
        self.p += n

    def fixed(self, n: int, frac_bits: int) -> float:
        return self.s(n) / float(1 << frac_bits)


def _fourcc(b: bytes) -> str:
    return b.decode("latin-1")


def read(path: str | Path) -> Mp4Info:
    """Read the boxes of an MP4/MOV file (never raises for a damaged file; see ``problems``)."""
    info = Mp4Info()
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            _read_top(fh, size, info)
    except OSError as e:
        info.problems.append(f"file cannot be read ({e.strerror or e})")
    return info


def _read_top(fh, fsize: int, info: Mp4Info) -> None:
    pos = 0
    while pos + 8 <= fsize:
        if len(info.top_level) >= MAX_TOP:
            info.problems.append(f"more than {MAX_TOP} top-level boxes; the rest was not read")
            return
        fh.seek(pos)
        hdr = fh.read(16)
        if len(hdr) < 8:
            break
        bsize, btype = struct.unpack(">I4s", hdr[:8])
        hlen = 8
        if bsize == 1:
            if len(hdr) < 16:
                info.problems.append(f"box '{_fourcc(btype)}' at {pos} has a cut 64-bit size")
                return
            bsize = struct.unpack(">Q", hdr[8:16])[0]
            hlen = 16
        elif bsize == 0:
            bsize = fsize - pos
        if bsize < hlen:
            info.problems.append(f"box '{_fourcc(btype)}' at byte {pos} has an invalid size "
                                 f"({bsize}); the rest of the file was not read")
            return
        info.boxes += 1
        t = _fourcc(btype)
        if not all(32 <= c < 127 or c == 0xA9 for c in btype):
            info.problems.append(f"unreadable box type {btype!r} at byte {pos}; the rest of the "
                                 "file was not read (damaged, or not an MP4/MOV)")
            return
        info.top_level.append((t, pos, bsize))
        end = pos + bsize
        cut = end > fsize
        if cut:
            info.problems.append(f"box '{t}' at byte {pos} claims {bsize} bytes but the file "
                                 f"ends after {fsize - pos}: the file is truncated")
        avail = min(end, fsize) - pos - hlen
        if btype == b"ftyp" and avail >= 8:
            fh.seek(pos + hlen)
            _ftyp(fh.read(min(avail, 1024)), info)
        elif btype in (b"moov", b"meta", b"udta") or (btype == b"uuid" and avail >= 16):
            if avail > MAX_MOOV:
                info.problems.append(f"box '{t}' is {avail} bytes, over the {MAX_MOOV} byte "
                                     "limit; it was not read")
            else:
                fh.seek(pos + hlen)
                payload = fh.read(avail)
                if btype == b"uuid":
                    if payload[:16] == XMP_UUID:
                        _xmp(payload[16:], info)
                elif btype == b"moov" and cut:
                    info.problems.append("the movie header box (moov) is cut: track facts may be "
                                         "missing")
                    _walk(payload, btype, info)
                else:
                    _walk(payload, btype, info)
        elif btype == b"moof":
            info.fragmented = True
        if cut:
            return
        pos = end
    if pos < fsize and fsize - pos < 8:
        info.problems.append(f"{fsize - pos} stray bytes after the last box")
    if not any(t == "moov" for t, _, _ in info.top_level):
        info.problems.append("no movie header box (moov): the file cannot be played as is "
                             "(truncated recording, or moov lost)")


def _ftyp(b: bytes, info: Mp4Info) -> None:
    info.major_brand = _fourcc(b[:4])
    info.minor_version = int.from_bytes(b[4:8], "big")
    info.compatible_brands = [_fourcc(b[i:i + 4]) for i in range(8, len(b) - 3, 4)][:32]


def _xmp(b: bytes, info: Mp4Info) -> None:
    if len(info.xmp) < 4:
        info.xmp.append(_utf(b[:MAX_XMP]) if len(b) <= MAX_XMP else _utf(b[:MAX_XMP]))


def _meta_has_version(b: bytes, start: int, end: int) -> bool:
    """ISO 'meta' is a full box (4 bytes version/flags first), QuickTime 'meta' is not."""
    if end - start >= 12 and b[start + 4:start + 8] in (b"hdlr", b"keys", b"ilst", b"xml ",
                                                         b"free", b"uuid", b"iinf", b"pitm"):
        return False
    return True


def _walk(payload: bytes, root: bytes, info: Mp4Info) -> None:
    """Iterative walk of one in-memory box (its payload), filling ``info``."""
    # stack items: (start, end, depth, path tuple, context dict)
    start = 0
    if root == b"meta" and _meta_has_version(payload, 0, len(payload)):
        start = 4
    stack = [(start, len(payload), 1, (_fourcc(root),), {})]
    b = payload
    while stack:
        s, e, depth, path, ctx = stack.pop()
        children = []
        pos = s
        while pos + 8 <= e:
            if info.boxes >= MAX_BOXES:
                info.problems.append(f"more than {MAX_BOXES} boxes; the rest was not read")
                return
            bsize, btype = struct.unpack(">I4s", b[pos:pos + 8])
            hlen = 8
            if bsize == 1:
                if pos + 16 > e:
                    break
                bsize = struct.unpack(">Q", b[pos + 8:pos + 16])[0]
                hlen = 16
            elif bsize == 0:
                bsize = e - pos
            if bsize < hlen or pos + bsize > e:
                if btype != b"\x00\x00\x00\x00":  # QuickTime pads some containers with zeros
                    info.problems.append(f"box '{_fourcc(btype)}' inside {'/'.join(path)} claims "
                                         f"{bsize} bytes, more than its parent holds; skipped")
                break
            info.boxes += 1
            children.append((btype, pos + hlen, pos + bsize))
            pos += bsize
        # process children in order; containers are pushed (in reverse, so popped in order)
        pushes = []
        for btype, cs, ce in children:
            t = _fourcc(btype)
            try:
                if path[-1] == "ilst":
                    _ilst_item(b, btype, cs, ce, ctx, info)
                    continue
                if btype in CONTAINERS:
                    if depth + 1 > MAX_DEPTH:
                        info.problems.append(f"boxes nested deeper than {MAX_DEPTH}; not read")
                        continue
                    cctx = ctx
                    if btype == b"trak":
                        tr = Track()
                        info.tracks.append(tr)
                        cctx = {"track": tr}
                    elif btype == b"meta":
                        cctx = dict(ctx, keys=[])
                        if _meta_has_version(b, cs, ce):
                            cs += 4
                    elif btype == b"moof":
                        info.fragmented = True
                        continue
                    pushes.append((cs, ce, depth + 1, path + (t,), cctx))
                    continue
                _leaf(b, btype, cs, ce, path, ctx, info)
            except (struct.error, ValueError, IndexError, OverflowError) as ex:
                info.problems.append(f"box '{t}' inside {'/'.join(path)} is malformed ({ex})")
        # keep order: the walk is depth-first; metadata boxes ('keys' before 'ilst') share ctx
        stack.extend(reversed(pushes))


def _leaf(b: bytes, btype: bytes, s: int, e: int, path: tuple, ctx: dict, info: Mp4Info) -> None:
    tr: Track | None = ctx.get("track")
    r = _Reader(b[s:e])
    if btype == b"mvhd":
        v = r.u(1)
        r.skip(3)
        if v == 1:
            info.movie_created, info.movie_modified = r.u(8), r.u(8)
            ts, dur = r.u(4), r.u(8)
        else:
            info.movie_created, info.movie_modified = r.u(4), r.u(4)
            ts, dur = r.u(4), r.u(4)
        info.movie_timescale = ts or None
        if ts and dur not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
            info.movie_duration = dur / ts
    elif btype == b"tkhd" and tr is not None:
        v = r.u(1)
        tr.flags = r.u(3)
        if v == 1:
            tr.created, tr.modified = r.u(8), r.u(8)
            tr.track_id = r.u(4)
            r.skip(4)
            dur = r.u(8)
        else:
            tr.created, tr.modified = r.u(4), r.u(4)
            tr.track_id = r.u(4)
            r.skip(4)
            dur = r.u(4)
        if info.movie_timescale and dur not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
            tr.duration = dur / info.movie_timescale
        r.skip(8 + 2 + 2 + 2 + 2)
        m = [r.s(4) for _ in range(9)]
        tr.matrix = (m[0] / 65536.0, m[1] / 65536.0, m[3] / 65536.0, m[4] / 65536.0)
        tr.width, tr.height = r.u(4) / 65536.0, r.u(4) / 65536.0
    elif btype == b"mdhd" and tr is not None:
        v = r.u(1)
        r.skip(3)
        if v == 1:
            tr.media_created, tr.media_modified = r.u(8), r.u(8)
            ts, dur = r.u(4), r.u(8)
        else:
            tr.media_created, tr.media_modified = r.u(4), r.u(4)
            ts, dur = r.u(4), r.u(4)
        tr.timescale = ts or None
        if ts and dur not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
            tr.media_duration = dur / ts
        lang = r.u(2)
        if lang and lang < 0x400:  # QuickTime numeric language code (0 = English)
            tr.language = f"qt:{lang}"
        elif lang:
            tr.language = "".join(chr(((lang >> sh) & 31) + 0x60) for sh in (10, 5, 0))
    elif btype == b"hdlr":
        r.skip(4 + 4)
        htype = _fourcc(r.b[8:12])
        raw = r.b[24:]
        name = _pascal_or_c(raw)
        if tr is not None and path[-1] == "mdia":
            tr.handler, tr.handler_name = htype, name
        elif path[-1] == "meta":
            ctx["meta_handler"] = htype
    elif btype == b"elst" and tr is not None:
        v = r.u(1)
        r.skip(3)
        n = r.u(4)
        edits = []
        for _ in range(min(n, MAX_EDITS)):
            if v == 1:
                d, mt = r.u(8), r.s(8)
            else:
                d, mt = r.u(4), r.s(4)
            rate = r.fixed(4, 16)
            edits.append((d, mt, rate))
        if n > MAX_EDITS:
            info.problems.append(f"edit list with {n} entries; only {MAX_EDITS} read")
        tr.raw_edits = edits  # converted to seconds once both time scales are known (finish)
        tr.edits = []
    elif btype == b"stsd" and tr is not None:
        r.skip(4)
        if r.u(4) >= 1 and len(r.b) >= 16:
            esize = r.u(4)
            tr.codec = _fourcc(r.b[r.p:r.p + 4])
            entry = r.b[8:8 + esize]
            if len(entry) >= 82 and tr.handler in (None, "vide"):
                n = entry[50]
                cname = entry[51:51 + min(n, 31)] if 0 < n < 32 else b""
                name = _utf(cname)
                if name and all(c.isprintable() for c in name):
                    tr.compressor = name
    elif btype == b"keys":
        r.skip(4)
        n = r.u(4)
        keys = []
        for _ in range(min(n, 1024)):
            ks = r.u(4)
            if ks < 8:
                break
            r.skip(4)  # namespace ('mdta')
            keys.append(_utf(r.b[r.p:r.p + ks - 8]))
            r.skip(ks - 8)
        ctx["keys"] = keys
    elif btype[:1] == b"\xa9" and path[-1] == "udta":
        _qt_text(r.b, _fourcc(btype), info)
    elif btype in (b"titl", b"auth", b"perf", b"dscp", b"gnre", b"albm", b"cprt") \
            and path[-1] == "udta":
        # 3GPP: full box, 2-byte packed language, then a string
        if len(r.b) > 6:
            _set_tag(info, TAG_NAMES.get(_fourcc(btype), _fourcc(btype)), _utf(r.b[6:]))
    elif btype == b"XMP_" and path[-1] == "udta":
        _xmp(r.b, info)
    elif btype == b"uuid" and r.b[:16] == XMP_UUID:
        _xmp(r.b[16:], info)
    elif btype in (b"manu", b"modl") and path[-1] == "udta":
        _set_tag(info, TAG_NAMES[_fourcc(btype)], _utf(r.b[:MAX_TEXT]))
    elif btype == b"loci" and path[-1] == "udta":
        info.tags.setdefault("location_3gpp", "present")


def _pascal_or_c(raw: bytes) -> str | None:
    if not raw:
        return None
    n = raw[0]
    # QuickTime writes a Pascal string (length byte first), ISO a NUL-terminated one
    if 0 < n <= len(raw) - 1 and (n < 32 or (n == len(raw) - 1 and raw[-1] != 0)):
        s = _utf(raw[1:1 + n])
        if s and s.isprintable():
            return s
    return _utf(raw.split(b"\x00", 1)[0]) or None


def _qt_text(b: bytes, t: str, info: Mp4Info) -> None:
    """QuickTime user-data text: repeated (u16 length, u16 language, text); or a 'data' box."""
    if len(b) >= 16 and b[4:8] == b"data":
        _data_values(b, 0, len(b), info, TAG_NAMES.get(t, t))
        return
    if len(b) >= 4:
        n = int.from_bytes(b[:2], "big")
        if 0 < n <= len(b) - 4:
            _set_tag(info, TAG_NAMES.get(t, t), _utf(b[4:4 + n]))
            return
    _set_tag(info, TAG_NAMES.get(t, t), _utf(b))


def _set_tag(info: Mp4Info, key: str, value: str | None) -> None:
    if value and key not in info.tags and len(info.tags) < 512:
        info.tags[key] = value


def _ilst_item(b: bytes, btype: bytes, s: int, e: int, ctx: dict, info: Mp4Info) -> None:
    keys = ctx.get("keys") or []
    idx = int.from_bytes(btype, "big")
    if keys and 1 <= idx <= len(keys):
        key = keys[idx - 1]
    else:
        t = _fourcc(btype)
        key = TAG_NAMES.get(t, t)
    _data_values(b, s, e, info, key)


def _data_values(b: bytes, s: int, e: int, info: Mp4Info, key: str) -> None:
    pos = s
    while pos + 16 <= e:
        n = int.from_bytes(b[pos:pos + 4], "big")
        if n < 16 or pos + n > e:
            return
        if b[pos + 4:pos + 8] == b"data":
            wk = int.from_bytes(b[pos + 8:pos + 12], "big") & 0xFFFFFF
            raw = b[pos + 16:pos + n]
            val: str | None
            if wk in (1, 4, 0):
                val = _utf(raw)
            elif wk in (2, 5):
                val = raw.decode("utf-16-be", "replace").strip("\x00")[:MAX_TEXT]
            elif wk in (21, 22) and len(raw) in (1, 2, 3, 4, 8):
                val = str(int.from_bytes(raw, "big", signed=(wk == 21)))
            elif wk == 23 and len(raw) == 4:
                val = f"{struct.unpack('>f', raw)[0]:g}"
            elif wk == 24 and len(raw) == 8:
                val = f"{struct.unpack('>d', raw)[0]:g}"
            else:
                val = f"<{len(raw)} bytes, type {wk}>"
            _set_tag(info, key, val)
            return
        pos += n


def finish(info: Mp4Info) -> Mp4Info:
    """Convert raw edit lists to seconds (needs both time scales)."""
    for tr in info.tracks:
        raw = tr.raw_edits
        if raw is None:
            continue
        mts = info.movie_timescale
        ts = tr.timescale
        out = []
        for d, mt, rate in raw:
            dur = d / mts if mts else float("nan")
            media = None if mt == -1 else (mt / ts if ts else float("nan"))
            out.append(Edit(dur, media, rate))
        tr.edits = out
    return info


def parse(path: str | Path) -> Mp4Info:
    """:func:`read` plus the conversions that need the whole movie header."""
    return finish(read(path))

"""A small, bounded JPEG marker parser (ITU-T T.81 / ISO/IEC 10918-1).

It walks the marker segments of a JPEG file from SOI up to the first SOS
(start of scan) and decodes the header segments that forensics cares about:

* DQT  quantization tables (8- and 16-bit, several tables per segment), kept
  in natural (row-major) order; DQT stores them in zigzag order.
* SOFn frame header: coding process (baseline, extended, progressive, ...),
  sample precision, width, height, components with sampling factors and
  quantization-table ids.
* DHT  Huffman table presence (class, id, and whether it is the Annex K
  example table).
* DRI  restart interval.
* APPn application segments, named by their identifier (JFIF, Exif, XMP,
  ICC_PROFILE, Adobe, Photoshop 3.0 IRB, MPF, Ducky, ...).
* COM  comment text.

It never reads past the buffer, never decodes entropy-coded data, and stops at
the first SOS, so it is cheap on any file size. Consequences: tables that a
progressive file defines between later scans are not seen (libjpeg writes all
DQT before the first scan; it does write DHT between scans), and only the first
image of a file is read (MPF/embedded previews after EOI are ignored; Exif
thumbnails inside APP1 are skipped as part of the segment). Broken structure raises
:class:`JpegParseError` (a :class:`ValueError`) with a message that says what
is wrong and at which byte offset.

It also holds the IJG/libjpeg quality scaling of the Annex K example tables
(:func:`ijg_scaled_table`, :func:`estimate_ijg_quality`) and a bounded Exif
IFD1 (thumbnail) probe (:func:`exif_thumbnail_info`).

Typical use::

    from veriscope.formats.jpeg import parse_jpeg
    info = parse_jpeg(data)              # raises JpegParseError on bad structure
    info.frame.width, info.subsampling   # 4032, "4:2:0"
    info.quant_tables[0].matrix()        # 8x8 list, natural order
    estimate_ijg_quality(info.quant_tables[0].values, chroma=False).quality

Everything here is pure Python (numpy is not needed).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


class JpegParseError(ValueError):
    """The bytes are not a structurally valid JPEG (up to the first scan)."""


# --------------------------------------------------------------------------- constants


def _zigzag_order() -> tuple[int, ...]:
    """Natural (row-major) index of the k-th coefficient in zigzag order (T.81 Figure A.6)."""
    out = []
    for s in range(15):  # anti-diagonals r + c = s
        rows = range(min(s, 7), max(0, s - 7) - 1, -1) if s % 2 == 0 else range(max(0, s - 7),
                                                                                   min(s, 7) + 1)
        for r in rows:
            out.append(r * 8 + (s - r))
    return tuple(out)


ZIGZAG: tuple[int, ...] = _zigzag_order()
"""``ZIGZAG[k]`` is the natural (row-major) position of the k-th value stored in a DQT segment."""

STD_LUMINANCE_QTABLE: tuple[int, ...] = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)
"""T.81 Annex K Table K.1 (luminance), natural order. libjpeg quality 50 uses it unscaled."""

STD_CHROMINANCE_QTABLE: tuple[int, ...] = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)
"""T.81 Annex K Table K.2 (chrominance), natural order."""

# Annex K.3 example Huffman tables: the 16 "BITS" counts (codes of length 1..16).
_STD_HUFFMAN_BITS = {
    (0, "luminance"): (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0),      # K.3, DC luminance
    (0, "chrominance"): (0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),    # K.4, DC chrominance
    (1, "luminance"): (0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D),   # K.5, AC luminance
    (1, "chrominance"): (0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77),  # K.6, AC chrominance
}

SOF_PROCESSES = {
    0xC0: "baseline",
    0xC1: "extended",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "differential-sequential",
    0xC6: "differential-progressive",
    0xC7: "differential-lossless",
    0xC9: "extended-arithmetic",
    0xCA: "progressive-arithmetic",
    0xCB: "lossless-arithmetic",
    0xCD: "differential-sequential-arithmetic",
    0xCE: "differential-progressive-arithmetic",
    0xCF: "differential-lossless-arithmetic",
}
"""SOFn marker code -> coding process name (T.81 Table B.1)."""

_NAMED_MARKERS = {0xC4: "DHT", 0xC8: "JPG", 0xCC: "DAC", 0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS",
                  0xDB: "DQT", 0xDC: "DNL", 0xDD: "DRI", 0xDE: "DHP", 0xDF: "EXP", 0xFE: "COM",
                  0x01: "TEM"}

PHOTOSHOP_RESOURCES = {
    0x0404: "IPTC-NAA record",
    0x0406: "JPEG quality (Photoshop Save As)",
    0x0409: "thumbnail (Photoshop 4)",
    0x040C: "thumbnail",
    0x040F: "ICC profile",
    0x0421: "version info",
    0x0422: "Exif data 1",
    0x0424: "XMP metadata",
    0x0425: "caption digest (MD5 of IPTC)",
}
"""A few Image Resource ids from Adobe's Photoshop File Format specification (for display)."""


def marker_name(code: int) -> str:
    """Short name of a marker code (the byte after 0xFF), e.g. ``0xE1 -> "APP1"``."""
    if code in SOF_PROCESSES:
        return f"SOF{code - 0xC0}"
    if 0xD0 <= code <= 0xD7:
        return f"RST{code - 0xD0}"
    if 0xE0 <= code <= 0xEF:
        return f"APP{code - 0xE0}"
    if 0xF0 <= code <= 0xFD:
        return f"JPG{code - 0xF0}"
    return _NAMED_MARKERS.get(code, f"0xFF{code:02X}")


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class QuantTable:
    """One DQT table. ``values`` is in natural (row-major) order, 64 entries."""

    id: int
    precision_bits: int  # 8 or 16
    values: tuple[int, ...]
    offset: int  # byte offset of the table's Pq/Tq byte in the file

    def matrix(self) -> list[list[int]]:
        """The table as an 8x8 list of rows (natural order)."""
        return [list(self.values[r * 8:(r + 1) * 8]) for r in range(8)]

    @property
    def zigzag(self) -> tuple[int, ...]:
        """The values in the order the DQT segment stores them."""
        return tuple(self.values[i] for i in ZIGZAG)


@dataclass(frozen=True)
class Component:
    """One frame component: id, horizontal/vertical sampling factors, quant table id."""

    id: int
    h: int
    v: int
    tq: int


@dataclass(frozen=True)
class Frame:
    """The SOFn frame header."""

    marker: int
    precision: int
    height: int  # 0 means "defined later by a DNL marker"
    width: int
    components: tuple[Component, ...]

    @property
    def process(self) -> str:
        return SOF_PROCESSES.get(self.marker, "unknown")

    @property
    def progressive(self) -> bool:
        return self.marker in (0xC2, 0xC6, 0xCA, 0xCE)

    @property
    def baseline(self) -> bool:
        return self.marker == 0xC0

    @property
    def arithmetic(self) -> bool:
        return self.marker >= 0xC9

    @property
    def lossless(self) -> bool:
        return self.marker in (0xC3, 0xC7, 0xCB, 0xCF)


@dataclass(frozen=True)
class HuffmanTable:
    """One DHT table (class 0 = DC, 1 = AC)."""

    table_class: int
    id: int
    bits: tuple[int, ...]  # number of codes of length 1..16
    n_symbols: int

    def is_annex_k(self) -> bool:
        """True when the code-length counts equal one of the T.81 Annex K example tables."""
        return any(b == self.bits for (c, _), b in _STD_HUFFMAN_BITS.items()
                   if c == self.table_class)


@dataclass(frozen=True)
class AppSegment:
    """One APPn segment. ``name`` is a normalised kind, ``identifier`` the raw id string."""

    n: int  # 0..15 (APP0..APP15)
    offset: int  # offset of the 0xFF marker byte
    length: int  # segment length field (includes the 2 length bytes)
    identifier: str  # NUL-terminated id at the start of the payload ("" when none)
    name: str  # JFIF, JFXX, Exif, XMP, XMP-extended, ICC, MPF, Adobe, Photoshop, Ducky, ...
    details: dict[str, Any] = field(default_factory=dict)
    payload: bytes = field(default=b"", repr=False)  # the bytes after the length field

    def to_dict(self) -> dict:
        return {"marker": f"APP{self.n}", "name": self.name, "identifier": self.identifier,
                "offset": self.offset, "length": self.length, **({"details": self.details}
                                                                 if self.details else {})}


@dataclass(frozen=True)
class ScanHeader:
    """The first SOS header: component selectors and spectral/approximation parameters."""

    offset: int
    component_ids: tuple[int, ...]
    ss: int
    se: int
    ah: int
    al: int


@dataclass
class JpegInfo:
    """Everything :func:`parse_jpeg` read before the first scan."""

    segments: list[tuple[str, int, int]] = field(default_factory=list)  # (name, offset, length)
    quant_tables: dict[int, QuantTable] = field(default_factory=dict)  # by table id (last wins)
    quant_table_history: list[QuantTable] = field(default_factory=list)  # every DQT table read
    frame: Frame | None = None
    huffman_tables: list[HuffmanTable] = field(default_factory=list)
    restart_interval: int = 0
    app_segments: list[AppSegment] = field(default_factory=list)
    comments: list[bytes] = field(default_factory=list)
    scan: ScanHeader | None = None
    warnings: list[str] = field(default_factory=list)

    # convenience -------------------------------------------------------------
    def apps(self, name: str) -> list[AppSegment]:
        """APP segments of one kind, e.g. ``info.apps("Exif")``."""
        return [a for a in self.app_segments if a.name == name]

    def has_app(self, name: str) -> bool:
        return any(a.name == name for a in self.app_segments)

    @property
    def subsampling(self) -> str | None:
        return subsampling_name(self.frame.components) if self.frame else None

    @property
    def color_space(self) -> str | None:
        """Best guess of the encoded colour space (JFIF / Adobe transform / component ids)."""
        if self.frame is None:
            return None
        n = len(self.frame.components)
        adobe = self.apps("Adobe")
        transform = adobe[0].details.get("transform") if adobe else None
        ids = bytes(c.id for c in self.frame.components if c.id < 256)
        if n == 1:
            return "gray"
        if n == 3:
            if self.has_app("JFIF"):
                return "YCbCr"
            if transform == 0 or ids == b"RGB":
                return "RGB"
            return "YCbCr"
        if n == 4:
            return "YCCK" if transform == 2 else "CMYK"
        return f"{n} components"

    def comment_texts(self, limit: int = 2000) -> list[str]:
        """COM segments as text (UTF-8, else Latin-1), NULs stripped, each cut to ``limit``."""
        out = []
        for c in self.comments:
            try:
                t = c.decode("utf-8")
            except UnicodeDecodeError:
                t = c.decode("latin-1")
            out.append(t.replace("\x00", "").strip()[:limit])
        return out


# --------------------------------------------------------------------------- parser


_FF_RUN = re.compile(rb"\xff*")


def _u16(data: bytes, pos: int) -> int:
    return (data[pos] << 8) | data[pos + 1]


def parse_jpeg(data: bytes, *, require_scan: bool = True, max_segments: int = 4096) -> JpegInfo:
    """Parse the marker segments of ``data`` from SOI to the first SOS.

    ``require_scan=False`` accepts an "abbreviated table specification" stream
    (SOI, tables, EOI) without image data. Extraneous bytes between segments
    are skipped, as libjpeg does, and noted in ``JpegInfo.warnings``.

    Raises :class:`JpegParseError` when the bytes do not start with SOI, a
    segment runs past the end of the buffer, a length field is impossible, a
    table or frame header is malformed, or the data end before the first scan.
    """
    data = bytes(data)
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        raise JpegParseError("not a JPEG: the data do not start with the SOI marker FF D8")
    info = JpegInfo()
    info.segments.append(("SOI", 0, 0))
    pos = 2
    while True:
        if len(info.segments) > max_segments:
            raise JpegParseError(f"more than {max_segments} marker segments before the first scan")
        # find the next marker: 0xFF, any number of 0xFF fill bytes, then a non-zero code
        # (searched with bytes.find and a regex, not byte by byte: a hostile file may hold
        # megabytes of garbage or fill bytes between segments)
        start = pos
        pos = data.find(b"\xff", pos)
        pos = n if pos < 0 else _FF_RUN.match(data, pos).end()
        if pos >= n:
            raise JpegParseError(f"truncated: data end at byte {n} before the first scan (SOS)"
                                 if require_scan or info.frame is not None else
                                 f"truncated: data end at byte {n} without an EOI marker")
        code = data[pos]
        if code == 0x00:  # a stuffed 0xFF00 outside a scan: garbage, keep looking
            pos += 1
            continue
        mpos = pos - 1  # offset of the 0xFF preceding the code
        # fill bytes (extra 0xFF) are legal; only count non-FF garbage
        garbage = (mpos - start) - data.count(b"\xff", start, mpos)
        if garbage:
            info.warnings.append(f"{garbage} extraneous bytes before marker {marker_name(code)} "
                                 f"at offset {mpos}")
        pos += 1  # now just after the code byte
        name = marker_name(code)

        if code == 0xD8:
            raise JpegParseError(f"invalid structure: a second SOI marker at offset {mpos}")
        if code == 0xD9:
            info.segments.append(("EOI", mpos, 0))
            if require_scan:
                raise JpegParseError(f"no image data: EOI marker at offset {mpos} before any scan")
            return info
        if 0xD0 <= code <= 0xD7 or code == 0x01:
            raise JpegParseError(f"invalid structure: stand-alone marker {name} at offset {mpos} "
                                 "outside a scan")
        if 0x02 <= code <= 0xBF:
            raise JpegParseError(f"unknown marker 0xFF{code:02X} at offset {mpos}")

        # every remaining marker carries a 2-byte length that counts itself
        if pos + 2 > n:
            raise JpegParseError(f"truncated: {name} at offset {mpos} has no length field")
        length = _u16(data, pos)
        if length < 2:
            raise JpegParseError(f"corrupt {name} segment at offset {mpos}: length field is "
                                 f"{length} (minimum is 2)")
        end = pos + length
        if end > n:
            raise JpegParseError(f"truncated: {name} segment at offset {mpos} declares {length} "
                                 f"bytes but only {n - pos} remain")
        payload = data[pos + 2:end]
        info.segments.append((name, mpos, length))

        if code == 0xDB:
            _parse_dqt(payload, pos + 2, info)
        elif code in SOF_PROCESSES:
            if info.frame is not None:
                raise JpegParseError(f"invalid structure: a second frame header ({name}) at "
                                     f"offset {mpos}")
            info.frame = _parse_sof(code, payload, mpos)
        elif code == 0xC4:
            _parse_dht(payload, mpos, info)
        elif code == 0xDD:
            if length != 4:
                raise JpegParseError(f"corrupt DRI segment at offset {mpos}: length {length}, "
                                     "expected 4")
            info.restart_interval = _u16(payload, 0)
        elif 0xE0 <= code <= 0xEF:
            info.app_segments.append(_parse_app(code - 0xE0, payload, mpos, length))
        elif code == 0xFE:
            info.comments.append(payload)
        elif code == 0xDA:
            if info.frame is None:
                raise JpegParseError(f"invalid structure: SOS at offset {mpos} before any frame "
                                     "header (SOFn)")
            info.scan = _parse_sos(payload, mpos, info.frame)
            _check_tables(info)
            return info
        pos = end


def _parse_dqt(p: bytes, base: int, info: JpegInfo) -> None:
    i = 0
    if not p:
        raise JpegParseError(f"corrupt DQT segment at offset {base - 4}: it holds no table")
    while i < len(p):
        pq, tq = p[i] >> 4, p[i] & 0x0F
        if pq > 1:
            raise JpegParseError(f"corrupt DQT at offset {base + i}: precision code {pq} "
                                 "(must be 0 = 8-bit or 1 = 16-bit)")
        if tq > 3:
            raise JpegParseError(f"corrupt DQT at offset {base + i}: table id {tq} (must be 0..3)")
        size = 64 * (pq + 1)
        if i + 1 + size > len(p):
            raise JpegParseError(f"corrupt DQT at offset {base + i}: table {tq} needs {size} bytes "
                                 f"but the segment has {len(p) - i - 1} left")
        raw = p[i + 1:i + 1 + size]
        zz = raw if pq == 0 else struct.unpack(">64H", raw)
        natural = [0] * 64
        for k in range(64):
            natural[ZIGZAG[k]] = zz[k]
        if 0 in natural:
            info.warnings.append(f"quantization table {tq} contains zero entries (invalid)")
        qt = QuantTable(id=tq, precision_bits=8 if pq == 0 else 16, values=tuple(natural),
                        offset=base + i)
        info.quant_tables[tq] = qt
        info.quant_table_history.append(qt)
        i += 1 + size


def _parse_sof(code: int, p: bytes, mpos: int) -> Frame:
    name = marker_name(code)
    if len(p) < 6:
        raise JpegParseError(f"corrupt {name} at offset {mpos}: header is {len(p)} bytes, need 6")
    precision, height, width, nf = p[0], _u16(p, 1), _u16(p, 3), p[5]
    if nf == 0:
        raise JpegParseError(f"corrupt {name} at offset {mpos}: zero components")
    if len(p) != 6 + 3 * nf:
        raise JpegParseError(f"corrupt {name} at offset {mpos}: {nf} components need "
                             f"{6 + 3 * nf} bytes, segment has {len(p)}")
    if width == 0:
        raise JpegParseError(f"corrupt {name} at offset {mpos}: image width is 0")
    if precision not in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16):
        raise JpegParseError(f"corrupt {name} at offset {mpos}: sample precision {precision}")
    comps = []
    for k in range(nf):
        cid, hv, tq = p[6 + 3 * k], p[7 + 3 * k], p[8 + 3 * k]
        h, v = hv >> 4, hv & 0x0F
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise JpegParseError(f"corrupt {name} at offset {mpos}: component {cid} has sampling "
                                 f"factors {h}x{v} (each must be 1..4)")
        if tq > 3:
            raise JpegParseError(f"corrupt {name} at offset {mpos}: component {cid} uses "
                                 f"quantization table {tq} (must be 0..3)")
        comps.append(Component(id=cid, h=h, v=v, tq=tq))
    return Frame(marker=code, precision=precision, height=height, width=width,
                 components=tuple(comps))


def _parse_dht(p: bytes, mpos: int, info: JpegInfo) -> None:
    i = 0
    if not p:
        raise JpegParseError(f"corrupt DHT segment at offset {mpos}: it holds no table")
    while i < len(p):
        if i + 17 > len(p):
            raise JpegParseError(f"corrupt DHT at offset {mpos}: table header cut short")
        tc, th = p[i] >> 4, p[i] & 0x0F
        if tc > 1 or th > 3:
            raise JpegParseError(f"corrupt DHT at offset {mpos}: class {tc} / id {th}")
        bits = tuple(p[i + 1:i + 17])
        count = sum(bits)
        if count > 256 or i + 17 + count > len(p):
            raise JpegParseError(f"corrupt DHT at offset {mpos}: table claims {count} symbols")
        info.huffman_tables.append(HuffmanTable(table_class=tc, id=th, bits=bits,
                                                n_symbols=count))
        i += 17 + count


def _parse_sos(p: bytes, mpos: int, frame: Frame) -> ScanHeader:
    if len(p) < 1:
        raise JpegParseError(f"corrupt SOS at offset {mpos}: empty header")
    ns = p[0]
    if ns < 1 or ns > 4 or len(p) != 1 + 2 * ns + 3:
        raise JpegParseError(f"corrupt SOS at offset {mpos}: {ns} components in a "
                             f"{len(p)}-byte header")
    ids = tuple(p[1 + 2 * k] for k in range(ns))
    known = {c.id for c in frame.components}
    for cid in ids:
        if cid not in known:
            raise JpegParseError(f"corrupt SOS at offset {mpos}: component {cid} is not in "
                                 "the frame header")
    q = 1 + 2 * ns
    return ScanHeader(offset=mpos, component_ids=ids, ss=p[q], se=p[q + 1], ah=p[q + 2] >> 4,
                      al=p[q + 2] & 0x0F)


def _check_tables(info: JpegInfo) -> None:
    frame = info.frame
    if frame is None or frame.lossless:
        return
    for c in frame.components:
        if c.tq not in info.quant_tables:
            raise JpegParseError(f"component {c.id} uses quantization table {c.tq}, which no DQT "
                                 "segment defines before the first scan")


# --------------------------------------------------------------------------- APPn


_XMP_ID = "http://ns.adobe.com/xap/1.0/"
_XMP_EXT_ID = "http://ns.adobe.com/xmp/extension/"


def _identifier(p: bytes, limit: int = 80) -> str:
    nul = p.find(b"\x00", 0, limit)
    raw = p[:nul] if nul >= 0 else p[:min(len(p), 16)]
    if not raw or any(b < 0x20 or b > 0x7E for b in raw):
        # printable prefix only
        out = bytearray()
        for b in raw:
            if 0x20 <= b <= 0x7E:
                out.append(b)
            else:
                break
        raw = bytes(out)
    return raw.decode("ascii", "replace")


def _parse_app(nn: int, p: bytes, mpos: int, length: int) -> AppSegment:
    ident = _identifier(p).strip()
    name = ident or f"APP{nn}"
    details: dict[str, Any] = {}
    if nn == 0 and p.startswith(b"JFIF\x00"):
        name = "JFIF"
        if len(p) >= 14:
            details = {"version": f"{p[5]}.{p[6]:02d}", "units": p[7],
                       "x_density": _u16(p, 8), "y_density": _u16(p, 10),
                       "thumbnail": [p[12], p[13]]}
    elif nn == 0 and p.startswith(b"JFXX\x00"):
        name = "JFXX"
    elif nn == 1 and p.startswith(b"Exif\x00"):
        name = "Exif"
    elif nn == 1 and p.startswith(_XMP_ID.encode() + b"\x00"):
        name = "XMP"
    elif nn == 1 and p.startswith(_XMP_EXT_ID.encode() + b"\x00"):
        name = "XMP-extended"
    elif nn == 2 and p.startswith(b"ICC_PROFILE\x00"):
        name = "ICC"
        if len(p) >= 14:
            details = {"chunk": p[12], "chunks": p[13]}
    elif nn == 2 and p.startswith(b"MPF\x00"):
        name = "MPF"
    elif nn == 2 and p.startswith(b"FPXR\x00"):
        name = "FlashPix"
    elif nn == 12 and p.startswith(b"Ducky"):
        name = "Ducky"  # Photoshop "Save for Web"
    elif nn == 12 and p.startswith(b"PictureInfo"):
        name = "PictureInfo"
    elif nn == 13 and p.startswith(b"Photoshop 3.0\x00"):
        name = "Photoshop"
        details = {"resources": photoshop_resources(p[14:])}
    elif nn == 13 and p.startswith(b"Adobe_Photoshop2.5:"):
        name = "Photoshop"
    elif nn == 14 and p.startswith(b"Adobe"):
        name = "Adobe"
        if len(p) >= 12:
            details = {"version": _u16(p, 5), "flags0": _u16(p, 7), "flags1": _u16(p, 9),
                       "transform": p[11]}
    return AppSegment(n=nn, offset=mpos, length=length, identifier=ident, name=name,
                      details=details, payload=p)


def photoshop_resources(irb: bytes, limit: int = 512) -> list[int]:
    """Image Resource ids in a Photoshop IRB block (the bytes after "Photoshop 3.0\\0").

    Bounded: stops at the first malformed resource or after ``limit`` resources.
    """
    ids: list[int] = []
    i, n = 0, len(irb)
    while i + 12 <= n and len(ids) < limit:
        if irb[i:i + 4] not in (b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa"):
            break
        rid = _u16(irb, i + 4)
        name_len = irb[i + 6]
        j = i + 6 + 1 + name_len
        if (1 + name_len) % 2:
            j += 1  # the Pascal name is padded to an even size
        if j + 4 > n:
            break
        size = struct.unpack(">I", irb[j:j + 4])[0]
        j += 4
        if j + size > n:
            ids.append(rid)
            break
        ids.append(rid)
        i = j + size + (size % 2)
    return ids


# --------------------------------------------------------------------------- Exif IFD1 probe


def exif_thumbnail_info(app1_payload: bytes) -> dict[str, Any]:
    """Whether the Exif block has an IFD1 with a JPEG thumbnail (bounded TIFF walk).

    ``app1_payload`` is the APP1 segment body starting with ``b"Exif\\0\\0"``
    (or the bare TIFF data). Returns ``{"ifd1": bool, "thumbnail": bool,
    "thumbnail_offset": int | None, "thumbnail_length": int | None}``; offsets
    are relative to the TIFF header. Malformed data give ``ifd1 = False``.
    """
    out: dict[str, Any] = {"ifd1": False, "thumbnail": False, "thumbnail_offset": None,
                           "thumbnail_length": None}
    t = app1_payload[6:] if app1_payload.startswith(b"Exif\x00") else app1_payload
    if len(t) < 8 or t[:2] not in (b"II", b"MM"):
        return out
    e = "<" if t[:2] == b"II" else ">"
    try:
        if struct.unpack(e + "H", t[2:4])[0] != 42:
            return out
        ifd0 = struct.unpack(e + "I", t[4:8])[0]
        if ifd0 + 2 > len(t):
            return out
        cnt = struct.unpack(e + "H", t[ifd0:ifd0 + 2])[0]
        nxt_at = ifd0 + 2 + 12 * cnt
        if nxt_at + 4 > len(t):
            return out
        ifd1 = struct.unpack(e + "I", t[nxt_at:nxt_at + 4])[0]
        if ifd1 == 0 or ifd1 == ifd0 or ifd1 + 2 > len(t):
            return out
        out["ifd1"] = True
        cnt1 = struct.unpack(e + "H", t[ifd1:ifd1 + 2])[0]
        tags: dict[int, int] = {}
        for k in range(min(cnt1, 256)):
            q = ifd1 + 2 + 12 * k
            if q + 12 > len(t):
                break
            tag, typ = struct.unpack(e + "HH", t[q:q + 4])
            if typ == 3:  # SHORT
                val = struct.unpack(e + "H", t[q + 8:q + 10])[0]
            elif typ == 4:  # LONG
                val = struct.unpack(e + "I", t[q + 8:q + 12])[0]
            else:
                continue
            tags[tag] = val
        off, ln = tags.get(0x0201), tags.get(0x0202)
        if off is not None and ln:
            out.update(thumbnail=True, thumbnail_offset=off, thumbnail_length=ln)
        elif 0x0111 in tags:  # uncompressed (strip) thumbnail
            out.update(thumbnail=True, thumbnail_offset=tags[0x0111])
    except struct.error:
        return out
    return out


# --------------------------------------------------------------------------- subsampling


_SUBSAMPLING_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1",
                      (1, 2): "4:4:0", (4, 2): "4:1:0"}


def sampling_factors(components) -> str:
    """Sampling factors as text, e.g. ``"2x2,1x1,1x1"`` (H x V per component)."""
    return ",".join(f"{c.h}x{c.v}" for c in components)


def subsampling_name(components) -> str:
    """Chroma subsampling as J:a:b ("4:2:0", ...), "gray" for one component.

    Uses the first component as luma and requires all other components to
    share one sampling factor (true for YCbCr, CMYK and YCCK as written by
    encoders in practice; Adobe YCCK with a subsampled K is reported by its
    chroma). Anything else is ``"other (<factors>)"``.
    """
    comps = list(components)
    if not comps:
        return "unknown"
    if len(comps) == 1:
        return "gray"
    y = comps[0]
    chroma = comps[1:3] if len(comps) >= 3 else comps[1:]
    rest = comps[3:]
    if len({(c.h, c.v) for c in chroma}) != 1 or any((c.h, c.v) != (y.h, y.v) for c in rest):
        return f"other ({sampling_factors(comps)})"
    c = chroma[0]
    if y.h % c.h or y.v % c.v:
        return f"other ({sampling_factors(comps)})"
    return _SUBSAMPLING_NAMES.get((y.h // c.h, y.v // c.v), f"other ({sampling_factors(comps)})")


# --------------------------------------------------------------------------- IJG quality


def ijg_scale_factor(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: percentage scale for quality 1..100 (C integer math)."""
    q = min(max(int(quality), 1), 100)
    return 5000 // q if q < 50 else 200 - 2 * q


@lru_cache(maxsize=800)
def ijg_scaled_table(quality: int, chroma: bool = False, force_baseline: bool = True
                     ) -> tuple[int, ...]:
    """The Annex K table that libjpeg's ``jpeg_set_quality(quality)`` writes (natural order).

    Each entry is ``(base * scale + 50) // 100`` clamped to 1..32767, and to
    1..255 when ``force_baseline`` (what Pillow, OpenCV and cjpeg do by default).
    """
    base = STD_CHROMINANCE_QTABLE if chroma else STD_LUMINANCE_QTABLE
    s = ijg_scale_factor(quality)
    hi = 255 if force_baseline else 32767
    return tuple(min(max((b * s + 50) // 100, 1), hi) for b in base)


@dataclass(frozen=True)
class QualityEstimate:
    """Closest IJG quality for one table.

    ``quality``: the best quality (highest among equally good ones).
    ``exact``: the table equals the IJG table at that quality, value for value.
    ``exact_qualities``: every quality whose IJG table equals this one (ties
    exist at very low quality where values clamp at 255).
    ``mean_abs_error`` / ``max_abs_error``: distance to the best IJG table.
    ``chroma``: which Annex K base table was used.
    ``scale_quality``: quality implied by the mean ratio table/base (the
    sum-ratio estimate used by several JPEG inspection tools); a rough figure
    for non-IJG tables, a float in 1..100.
    """

    quality: int
    exact: bool
    exact_qualities: tuple[int, ...]
    mean_abs_error: float
    max_abs_error: int
    chroma: bool
    scale_quality: float

    def to_dict(self) -> dict:
        return {"quality": self.quality, "exact": self.exact,
                "exact_qualities": list(self.exact_qualities),
                "mean_abs_error": round(self.mean_abs_error, 3),
                "max_abs_error": self.max_abs_error,
                "base": "chrominance" if self.chroma else "luminance",
                "scale_quality": round(self.scale_quality, 1)}


def estimate_ijg_quality(values, chroma: bool | None = None) -> QualityEstimate:
    """Invert libjpeg quality scaling for a 64-value table in natural order.

    Tries every quality 1..100 (both the 8-bit-clamped and the unclamped
    16-bit variant) and keeps the smallest mean absolute difference; ties go to
    the higher quality. ``chroma=None`` tries both Annex K base tables and keeps
    the closer one.
    """
    vals = tuple(int(v) for v in values)
    if len(vals) != 64:
        raise ValueError(f"a quantization table has 64 values, got {len(vals)}")
    if chroma is None:
        a = estimate_ijg_quality(vals, chroma=False)
        b = estimate_ijg_quality(vals, chroma=True)
        if (b.exact and not a.exact) or (b.exact == a.exact and b.mean_abs_error < a.mean_abs_error):
            return b
        return a
    best_q, best_err, best_max = 1, float("inf"), 0
    exact: list[int] = []
    for q in range(1, 101):
        err_q, max_q = float("inf"), 0
        for fb in (True, False):
            t = ijg_scaled_table(q, chroma, fb)
            diffs = [abs(x - y) for x, y in zip(vals, t, strict=True)]
            e = sum(diffs) / 64.0
            if e < err_q:
                err_q, max_q = e, max(diffs)
        if err_q == 0:
            exact.append(q)
        if err_q <= best_err:
            best_q, best_err, best_max = q, err_q, max_q
    base = STD_CHROMINANCE_QTABLE if chroma else STD_LUMINANCE_QTABLE
    ratio = 100.0 * sum(vals) / sum(base)  # percentage scale, like jpeg_quality_scaling's output
    if ratio <= 0:
        sq = 100.0
    elif ratio <= 100.0:
        sq = (200.0 - ratio) / 2.0
    else:
        sq = 5000.0 / ratio
    sq = min(max(sq, 1.0), 100.0)
    return QualityEstimate(quality=best_q, exact=best_err == 0, exact_qualities=tuple(exact),
                           mean_abs_error=best_err, max_abs_error=best_max, chroma=chroma,
                           scale_quality=sq)

"""Read image metadata into plain Python structures (private helper of the metadata detector).

Everything here is defensive: a broken block is recorded in ``problems`` and reading goes on.
Sources: EXIF (IFD0, Exif, GPS, Interop, IFD1 thumbnail pointers), XMP (standard and JPEG
extended packets), IPTC-IIM, Photoshop image resources, PNG text chunks (tEXt/zTXt/iTXt, parsed
from the bytes with size caps), PNG tIME, JPEG comments, ICC profile description.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_CHUNK = 8 * 1024 * 1024
"""Largest PNG text value kept (decompressed bytes); longer ones are cut and reported."""

MAX_TEXT_TOTAL = 32 * 1024 * 1024
"""Largest total of PNG text kept."""

MAX_TEXT_CHUNKS = 4096
"""Most PNG text chunks kept; the rest are counted in a problem (a file of millions of tiny
chunks must not cost time or memory in proportion to their number squared)."""

MAX_XMP = 8 * 1024 * 1024
"""Largest XMP packet parsed."""

MAX_ICC = 4 * 1024 * 1024

TABLE_VALUE_CHARS = 300


@dataclass
class Meta:
    """What the reader found. ``*_tags`` map tag names to raw (but JSON-able-ish) values."""

    exif_raw: bytes | None = None  # the TIFF structure (no "Exif\\0\\0" prefix)
    ifd0: dict[str, Any] = field(default_factory=dict)
    exif: dict[str, Any] = field(default_factory=dict)
    gps: dict[str, Any] = field(default_factory=dict)
    interop: dict[str, Any] = field(default_factory=dict)
    ifd1: dict[int, Any] = field(default_factory=dict)  # numeric tags: thumbnail pointers
    xmp_packets: list[str] = field(default_factory=list)
    xmp: list[tuple[str, str]] = field(default_factory=list)  # flattened (key, value)
    iptc: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks / GIF-WebP comments
    text_truncated: dict[str, int] = field(default_factory=dict)  # key -> original length
    comments: list[str] = field(default_factory=list)  # JPEG COM segments
    photoshop: dict[str, Any] = field(default_factory=dict)  # parsed image resources (subset)
    photoshop_thumb: bytes | None = None
    icc: dict[str, str] = field(default_factory=dict)
    png_time: str | None = None  # tIME chunk, "YYYY-MM-DDTHH:MM:SS" (UTC by spec)
    jpeg_segments: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def has_any(self) -> bool:
        return bool(self.exif_raw or self.ifd0 or self.exif or self.gps or self.xmp or self.xmp_packets
                    or self.iptc or self.text or self.comments or self.photoshop)

    def xmp_get(self, local: str) -> list[str]:
        """Values of every flattened XMP key whose last component ends with ``local``."""
        out = []
        for k, v in self.xmp:
            last = k.rsplit("/", 1)[-1]
            last = re.sub(r"\[\d+\]$", "", last)
            if last == local or last.endswith(":" + local):
                out.append(v)
        return out


# --------------------------------------------------------------------------- value formatting
def clean_str(s: str) -> str:
    return s.replace("\x00", " ").strip()


def decode_bytes(b: bytes) -> str | None:
    """Text if ``b`` is (nearly all) printable, else None."""
    b = b.rstrip(b"\x00")
    if not b:
        return ""
    for enc in ("utf-8", "latin-1"):
        try:
            s = b.decode(enc)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in s)
        if printable >= 0.95 * len(s):
            return clean_str(s)
        break
    return None


def decode_user_comment(b: bytes) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if not isinstance(b, (bytes, bytearray)):
        return clean_str(str(b))
    head, body = bytes(b[:8]), bytes(b[8:])
    if head.startswith(b"UNICODE"):
        if len(body) >= 2 and body[0] == 0 and body[1] != 0:
            enc = "utf-16-be"
        elif len(body) >= 2 and body[1] == 0 and body[0] != 0:
            enc = "utf-16-le"
        else:
            enc = "utf-16-be"
        return clean_str(body.decode(enc, errors="replace"))
    if head.startswith(b"ASCII") or head == b"\x00" * 8 or head.startswith(b"JIS"):
        s = decode_bytes(body)
        return s if s is not None else f"<{len(body)} bytes>"
    s = decode_bytes(bytes(b))
    return s if s is not None else f"<{len(b)} bytes>"


def decode_xp(v) -> str:
    """Windows XP* tags: UTF-16LE as bytes or as a tuple of byte values."""
    try:
        b = bytes(v) if not isinstance(v, (bytes, bytearray)) else bytes(v)
        return clean_str(b.decode("utf-16-le", errors="replace"))
    except Exception:
        return str(v)[:TABLE_VALUE_CHARS]


def fmt_value(v, *, limit: int = TABLE_VALUE_CHARS) -> str:
    """A short string for the report table."""
    s = _fmt(v)
    return truncate(s, limit)


def truncate(s: str, limit: int = TABLE_VALUE_CHARS) -> str:
    if len(s) > limit:
        return s[:limit] + f"... ({len(s)} chars)"
    return s


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return clean_str(v)
    if isinstance(v, (bytes, bytearray)):
        if len(v) > 4096:
            return f"<{len(v)} bytes>"
        s = decode_bytes(bytes(v))
        return s if s is not None else f"<{len(v)} bytes>"
    if isinstance(v, (tuple, list)):
        if len(v) > 32:
            return f"<{len(v)} values>"
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={_fmt(x)}" for k, x in list(v.items())[:32])
    f = to_float(v)
    if f is not None and not isinstance(v, int):
        return f"{f:.6g}"
    return str(v)


def to_float(v) -> float | None:
    try:
        if hasattr(v, "numerator") and hasattr(v, "denominator"):
            d = float(v.denominator)
            if d == 0:
                return None
            return float(v.numerator) / d
        f = float(v)
        return f if f == f and abs(f) != float("inf") else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None


# --------------------------------------------------------------------------- EXIF
_INTEROP_TAGS = {1: "InteropIndex", 2: "InteropVersion", 0x1000: "RelatedImageFileFormat",
                 0x1001: "RelatedImageWidth", 0x1002: "RelatedImageLength"}
_POINTER_TAGS = {0x8769, 0x8825, 0xA005, 0x927C}  # Exif IFD, GPS IFD, Interop IFD, MakerNote


def _exif_named(d, names: dict) -> dict[str, Any]:
    out = {}
    for tag, val in d.items():
        if tag in _POINTER_TAGS:
            if tag == 0x927C and isinstance(val, (bytes, bytearray)):
                out["MakerNote"] = f"<{len(val)} bytes>"
            continue
        name = names.get(tag) or f"Tag0x{int(tag):04X}"
        if name == "UserComment":
            val = decode_user_comment(val)
        elif name.startswith("XP") and name in ("XPTitle", "XPComment", "XPAuthor", "XPKeywords",
                                                "XPSubject"):
            val = decode_xp(val)
        elif name in ("ExifVersion", "FlashPixVersion", "InteropVersion") and isinstance(
                val, (bytes, bytearray)):
            val = decode_bytes(bytes(val)) or val.hex()
        out[name] = val
    return out


def read_exif(meta: Meta, im) -> None:
    from PIL import ExifTags

    raw = im.info.get("exif")
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw)
        meta.exif_raw = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ex = im.getexif()
            ifd0 = dict(ex.items())
    except Exception as e:
        meta.problems.append(f"EXIF block could not be parsed ({type(e).__name__}: {str(e)[:120]})")
        return
    if meta.exif_raw and not ifd0:
        meta.problems.append(f"an EXIF block of {len(meta.exif_raw)} bytes is present but holds no "
                             "readable tags (corrupt or truncated)")
    meta.ifd0 = _exif_named(ifd0, ExifTags.TAGS)
    for attr, ifd_id, names in (("exif", ExifTags.IFD.Exif, ExifTags.TAGS),
                                ("gps", ExifTags.IFD.GPSInfo, ExifTags.GPSTAGS),
                                ("interop", ExifTags.IFD.Interop, _INTEROP_TAGS)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sub = dict(ex.get_ifd(ifd_id).items())
            setattr(meta, attr, _exif_named(sub, names))
        except Exception as e:
            meta.problems.append(f"EXIF {attr} IFD could not be parsed ({type(e).__name__})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta.ifd1 = dict(ex.get_ifd(ExifTags.IFD.IFD1).items())
    except Exception as e:
        meta.problems.append(f"EXIF IFD1 (thumbnail directory) could not be parsed "
                             f"({type(e).__name__})")


# --------------------------------------------------------------------------- XMP
_NS_PREFIX = {
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://ns.adobe.com/lightroom/1.0/": "lr",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://ns.google.com/photos/1.0/image/": "GImage",
    "http://ns.microsoft.com/photo/1.0": "MicrosoftPhoto",
    "http://ns.microsoft.com/photo/1.0/": "MicrosoftPhoto",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "adobe:ns:meta/": "x",
}
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def find_packet(b: bytes) -> bytes | None:
    """The first <x:xmpmeta>...</x:xmpmeta> (or bare <rdf:RDF>) element in ``b`` (linear time)."""
    for start_tag, end_tag in ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>")):
        i = b.find(start_tag)
        if i >= 0:
            j = b.find(end_tag, i)
            if j > i:
                return b[i:j + len(end_tag)]
    return None


def _qname(tag: str, prefixes: dict[str, str]) -> str:
    if tag.startswith("{"):
        uri, local = tag[1:].split("}", 1)
        p = prefixes.get(uri) or _NS_PREFIX.get(uri)
        if not p:
            p = re.sub(r"[^A-Za-z0-9]", "", uri.rstrip("/#").rsplit("/", 1)[-1]) or "ns"
        return f"{p}:{local}"
    return tag


def parse_xmp(packet: str) -> tuple[list[tuple[str, str]], str | None]:
    """Flatten an XMP packet into (key, value) pairs. Returns (pairs, problem)."""
    import xml.etree.ElementTree as ET

    if len(packet) > MAX_XMP:
        return [], f"XMP packet of {len(packet)} chars is over the {MAX_XMP} limit; not parsed"
    body = packet.replace("\x00", "").encode("utf-8", "replace")
    data = find_packet(body) or body
    low = data.lower()
    if b"<!doctype" in low or b"<!entity" in low:
        return [], "XMP packet declares a DTD or entities; not parsed (unsafe XML)"
    prefixes: dict[str, str] = {}
    try:
        for ev, item in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            if ev == "start-ns":
                p, uri = item
                prefixes.setdefault(uri, p or "ns")
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return [], f"XMP packet is not well-formed XML ({str(e)[:80]})"
    out: list[tuple[str, str]] = []

    def add(key, val):
        if len(out) < 5000:
            out.append((key, clean_str(val or "")))

    def prop(el, key, depth=0):
        if depth > 12:
            return
        res = el.get(_RDF + "resource")
        if res is not None:
            add(key, res)
            return
        kids = list(el)
        # struct written as attributes of the property element
        attrs = {k: v for k, v in el.attrib.items() if not k.startswith(_RDF) and
                 not k.startswith("{http://www.w3.org/XML/1998/namespace}")}
        for k, v in attrs.items():
            add(f"{key}/{_qname(k, prefixes)}", v)
        if not kids:
            if not attrs:
                add(key, el.text or "")
            return
        for c in kids:
            if c.tag in (_RDF + "Seq", _RDF + "Bag", _RDF + "Alt"):
                items = [li for li in c if li.tag == _RDF + "li"]
                simple = [li for li in items if len(li) == 0 and not
                          [a for a in li.attrib if not a.startswith("{http://www.w3.org/XML")]]
                if len(simple) == len(items):
                    add(key, "; ".join(clean_str(li.text or "") for li in items))
                else:
                    for i, li in enumerate(items):
                        prop(li, f"{key}[{i + 1}]", depth + 1)
            elif c.tag == _RDF + "Description":
                desc(c, key, depth + 1)
            else:
                prop(c, f"{key}/{_qname(c.tag, prefixes)}", depth + 1)

    def desc(d, base, depth=0):
        for k, v in d.attrib.items():
            if k.startswith(_RDF):
                continue
            q = _qname(k, prefixes)
            add(f"{base}/{q}" if base else q, v)
        for c in d:
            q = _qname(c.tag, prefixes)
            prop(c, f"{base}/{q}" if base else q, depth)

    rdf = root if root.tag == _RDF + "RDF" else root.find(".//" + _RDF + "RDF")
    if rdf is None:
        return [], "XMP packet has no rdf:RDF element"
    for d in rdf:
        if d.tag == _RDF + "Description":  # nested descriptions are reached through properties
            desc(d, "")
    return out, None


def _jpeg_extended_xmp(applist) -> list[str]:
    """Reassemble JPEG extended-XMP chunks (APP1 "http://ns.adobe.com/xmp/extension/")."""
    sig = b"http://ns.adobe.com/xmp/extension/\x00"
    parts: dict[bytes, dict[int, bytes]] = {}
    for marker, seg in applist:
        if marker == "APP1" and seg.startswith(sig) and len(seg) > len(sig) + 40:
            body = seg[len(sig):]
            guid, (_total, off) = body[:32], struct.unpack(">II", body[32:40])
            parts.setdefault(guid, {})[off] = body[40:]
    out = []
    for chunks in parts.values():
        data = b"".join(chunks[k] for k in sorted(chunks))[:MAX_XMP]
        out.append(data.decode("utf-8", errors="replace"))
    return out


# --------------------------------------------------------------------------- PNG chunks
def _png_chunks(data: bytes):
    """(byte offset, type, body, complete) of each chunk of a PNG, in order, read by their
    lengths only (nothing is decompressed); a chunk cut off by the end of the file comes last,
    with complete=False."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        start, end = pos + 8, pos + 8 + length
        yield pos, data[pos + 4:pos + 8], data[start:min(end, n)], end + 4 <= n
        pos = end + 4


def png_chunk_body(data: bytes, ctype: bytes) -> bytes | None:
    """The body of the first PNG chunk of type ``ctype`` before IEND (None when there is none)."""
    for _pos, kind, body, _complete in _png_chunks(data):
        if kind == ctype:
            return body
        if kind == b"IEND":
            break
    return None


def read_png_chunks(meta: Meta, data: bytes) -> None:
    total = 0
    kept, dropped = 0, 0
    next_dup: dict[str, int] = {}  # key -> next " (n)" suffix to try for a repeated key
    for pos, ctype, body, complete in _png_chunks(data):
        if not complete:
            meta.problems.append(f"PNG chunk {_cname(ctype)} at byte {pos} runs past the end of "
                                 "the file")
        try:
            if ctype in (b"tEXt", b"zTXt", b"iTXt"):
                if kept >= MAX_TEXT_CHUNKS:
                    dropped += 1
                    continue
                kept += 1
                key, val, orig_len = _png_text(ctype, body)
                if key is None:
                    meta.problems.append(f"PNG {ctype.decode()} chunk is malformed")
                    continue
                if total + len(val) > MAX_TEXT_TOTAL:
                    meta.text_truncated[key] = orig_len
                    val = val[:max(0, MAX_TEXT_TOTAL - total)]
                total += len(val)
                if orig_len > len(val):
                    meta.text_truncated[key] = orig_len
                if key == "XML:com.adobe.xmp":
                    meta.xmp_packets.append(val)
                    continue
                k, i = key, next_dup.get(key, 2)
                while k in meta.text:
                    k, i = f"{key} ({i})", i + 1
                next_dup[key] = i
                meta.text[k] = val
            elif ctype == b"tIME" and len(body) == 7:
                y, mo, d, h, mi, s = struct.unpack(">HBBBBB", body)
                meta.png_time = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
            elif ctype == b"eXIf" and meta.exif_raw is None:
                meta.exif_raw = bytes(body)
            elif ctype == b"IEND":
                break
        except Exception as e:  # one bad chunk must not stop the others
            meta.problems.append(f"PNG {_cname(ctype)} chunk could not be read "
                                 f"({type(e).__name__}: {str(e)[:80]})")
    if dropped:
        meta.problems.append(f"{dropped} PNG text chunks after the first {MAX_TEXT_CHUNKS} "
                             "were not read")


def _cname(ctype: bytes) -> str:
    return re.sub(r"[^A-Za-z]", "?", ctype.decode("latin-1"))


def _inflate(b: bytes, cap: int) -> tuple[bytes, int]:
    d = zlib.decompressobj()
    out = d.decompress(b, cap)
    more = bool(d.unconsumed_tail)
    return out, (cap + 1 if more else len(out))


def _png_text(ctype: bytes, body: bytes):
    if b"\x00" not in body:
        return None, "", 0
    key, rest = body.split(b"\x00", 1)
    key_s = key.decode("latin-1", errors="replace")[:79]
    if ctype == b"tEXt":
        raw = rest[:MAX_TEXT_CHUNK]
        return key_s, raw.decode("latin-1"), len(rest)
    if ctype == b"zTXt":
        if not rest:
            return key_s, "", 0
        raw, n = _inflate(rest[1:], MAX_TEXT_CHUNK)
        return key_s, raw.decode("latin-1"), n
    # iTXt: flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return None, "", 0
    flag, rest = rest[0], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) < 3:
        return None, "", 0
    text = parts[2]
    if flag == 1:
        raw, n = _inflate(text, MAX_TEXT_CHUNK)
    else:
        raw, n = text[:MAX_TEXT_CHUNK], len(text)
    return key_s, raw.decode("utf-8", errors="replace"), n


# --------------------------------------------------------------------------- IPTC / Photoshop
IPTC_NAMES = {
    (1, 90): "CodedCharacterSet", (2, 0): "RecordVersion", (2, 5): "ObjectName",
    (2, 7): "EditStatus", (2, 10): "Urgency", (2, 15): "Category", (2, 20): "SupplementalCategories",
    (2, 25): "Keywords", (2, 40): "SpecialInstructions", (2, 55): "DateCreated",
    (2, 60): "TimeCreated", (2, 62): "DigitalCreationDate", (2, 63): "DigitalCreationTime",
    (2, 65): "OriginatingProgram", (2, 70): "ProgramVersion", (2, 80): "By-line",
    (2, 85): "By-lineTitle", (2, 90): "City", (2, 92): "Sub-location", (2, 95): "Province-State",
    (2, 100): "CountryCode", (2, 101): "Country", (2, 103): "OriginalTransmissionReference",
    (2, 105): "Headline", (2, 110): "Credit", (2, 115): "Source", (2, 116): "CopyrightNotice",
    (2, 118): "Contact", (2, 120): "Caption-Abstract", (2, 122): "Writer-Editor",
}


def read_iptc(meta: Meta, im) -> None:
    try:
        from PIL import IptcImagePlugin

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = IptcImagePlugin.getiptcinfo(im)
    except Exception as e:
        meta.problems.append(f"IPTC block could not be parsed ({type(e).__name__})")
        return
    if not info:
        return
    for key, val in info.items():
        name = IPTC_NAMES.get(key) or f"{key[0]}:{key[1]}"
        vals = val if isinstance(val, list) else [val]
        texts = []
        for v in vals:
            if isinstance(v, (bytes, bytearray)):
                s = decode_bytes(bytes(v))
                texts.append(s if s is not None else f"<{len(v)} bytes>")
            else:
                texts.append(str(v))
        meta.iptc[name] = "; ".join(t for t in texts if t is not None)


_PS_NAMES = {1005: "ResolutionInfo", 1028: "IPTC-NAA", 1033: "Thumbnail(old)", 1036: "Thumbnail",
             1057: "VersionInfo", 1060: "XMP", 1061: "CaptionDigest", 1034: "CopyrightFlag",
             1039: "ICCProfile", 1054: "URLList", 1050: "Slices"}


def read_photoshop(meta: Meta, im) -> None:
    ps = im.info.get("photoshop")
    if not isinstance(ps, dict):
        return
    ids = sorted(k for k in ps if isinstance(k, int))
    meta.photoshop["resources"] = ", ".join(_PS_NAMES.get(k, str(k)) for k in ids[:40])
    ver = ps.get(1057)
    if isinstance(ver, (bytes, bytearray)) and len(ver) > 9:
        try:
            # version(4) hasRealMergedData(1) writer(unicode string) reader(unicode string)
            n = struct.unpack(">I", ver[5:9])[0]
            writer = ver[9:9 + 2 * n].decode("utf-16-be", errors="replace").rstrip("\x00")
            p = 9 + 2 * n
            m = struct.unpack(">I", ver[p:p + 4])[0] if len(ver) >= p + 4 else 0
            reader = ver[p + 4:p + 4 + 2 * m].decode("utf-16-be", errors="replace").rstrip("\x00")
            meta.photoshop["writer"] = clean_str(writer)
            meta.photoshop["reader"] = clean_str(reader)
        except (struct.error, ValueError):
            meta.problems.append("Photoshop version-info resource is malformed")
    thumb = ps.get(1036) or ps.get(1033)
    if isinstance(thumb, (bytes, bytearray)) and len(thumb) > 28:
        meta.photoshop_thumb = bytes(thumb[28:])


# --------------------------------------------------------------------------- ICC
def read_icc(meta: Meta, icc: bytes) -> None:
    if not icc or len(icc) < 132 or len(icc) > MAX_ICC:
        return
    meta.icc["size_bytes"] = str(len(icc))
    desc = None
    try:
        from PIL import ImageCms

        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
        desc = clean_str(prof.profile_description or "") or None
        for attr in ("manufacturer", "model", "copyright"):
            v = getattr(prof, attr, None)
            if v:
                meta.icc[attr] = truncate(clean_str(str(v)))
    except Exception:
        desc = None
    if not desc:
        desc = icc_desc_from_bytes(icc)
    if desc:
        meta.icc["description"] = truncate(desc)
    try:
        meta.icc["cmm"] = icc[4:8].decode("latin-1").strip("\x00 ") or "-"
        meta.icc["version"] = f"{icc[8]}.{icc[9] >> 4}"
        meta.icc["device_class"] = icc[12:16].decode("latin-1").strip("\x00 ")
        meta.icc["color_space"] = icc[16:20].decode("latin-1").strip("\x00 ")
        meta.icc["creator"] = icc[80:84].decode("latin-1").strip("\x00 ") or "-"
    except Exception:
        pass


def icc_desc_from_bytes(icc: bytes) -> str | None:
    """The profile description tag ('desc'), v2 textDescriptionType or v4 mluc."""
    try:
        count = struct.unpack(">I", icc[128:132])[0]
        for i in range(min(count, 200)):
            sig, off, size = struct.unpack(">4sII", icc[132 + 12 * i:144 + 12 * i])
            if sig != b"desc" or off + size > len(icc):
                continue
            t = icc[off:off + size]
            if t[:4] == b"desc":
                n = struct.unpack(">I", t[8:12])[0]
                return clean_str(t[12:12 + n].decode("latin-1"))
            if t[:4] == b"mluc":
                nrec = struct.unpack(">I", t[8:12])[0]
                if nrec:
                    ln, o = struct.unpack(">II", t[20:28])
                    return clean_str(t[o:o + ln].decode("utf-16-be", errors="replace"))
    except (struct.error, IndexError):
        return None
    return None


# --------------------------------------------------------------------------- entry point
def read_all(media) -> Meta:
    """Read every metadata block of an image Media without decoding its pixels."""
    from PIL import Image

    meta = Meta()
    try:
        data = media.read_bytes()
    except OSError as e:
        meta.problems.append(f"file could not be read ({e})")
        return meta
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except Exception as e:
        meta.problems.append(f"image header could not be read ({type(e).__name__})")
        im = None
    if im is not None:
        if media.format == "png" and "exif" not in im.info:
            # Pillow looks for an eXIf chunk after the pixels by decoding them all (0.3 s at
            # 12 MP); the chunk list says whether there is one
            raw = png_chunk_body(data, b"eXIf")
            if raw is not None:
                im.info["exif"] = raw
                read_exif(meta, im)
        else:
            read_exif(meta, im)
        if media.format == "jpeg":
            applist = getattr(im, "applist", []) or []
            for marker, seg in applist:
                tag = seg[:4].decode("latin-1", errors="replace") if seg else ""
                tag = re.sub(r"[^ -~]", "", tag)
                meta.jpeg_segments.append(f"{marker}:{tag}" if tag else marker)
                if marker == "COM":
                    s = decode_bytes(bytes(seg))
                    if s:
                        meta.comments.append(s)
            xmp = im.info.get("xmp")
            if isinstance(xmp, (bytes, bytearray)):
                meta.xmp_packets.append(bytes(xmp[:MAX_XMP]).decode("utf-8", errors="replace"))
            meta.xmp_packets.extend(_jpeg_extended_xmp(applist))
            read_iptc(meta, im)
            read_photoshop(meta, im)
        elif media.format == "png":
            read_png_chunks(meta, data)
        else:
            xmp = im.info.get("xmp")
            if media.format == "tiff":
                try:
                    xmp = im.tag_v2.get(700) or xmp
                except Exception:
                    pass
                read_iptc(meta, im)
            if isinstance(xmp, (bytes, bytearray)):
                xmp = bytes(xmp[:MAX_XMP]).decode("utf-8", errors="replace")
            if isinstance(xmp, str) and xmp:
                meta.xmp_packets.append(xmp)
            com = im.info.get("comment")
            if isinstance(com, (bytes, bytearray)):
                s = decode_bytes(bytes(com))
                if s:
                    meta.comments.append(s)
        icc = im.info.get("icc_profile")
        if isinstance(icc, (bytes, bytearray)):
            read_icc(meta, bytes(icc))
        try:
            im.close()
        except Exception:
            pass
    if not meta.xmp_packets:
        # formats whose XMP Pillow does not expose: look for a packet in the bytes
        pkt = find_packet(data[:MAX_XMP * 2])
        if pkt:
            meta.xmp_packets.append(pkt.decode("utf-8", errors="replace"))
    for pkt in meta.xmp_packets:
        pairs, problem = parse_xmp(pkt)
        meta.xmp.extend(pairs)
        if problem:
            meta.problems.append(problem)
    return meta

"""Tests for veriscope.formats.jpeg (marker parser, IJG quality) and the jpeg_tables detector."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from helpers import smooth_image
from PIL import Image, JpegImagePlugin

from veriscope.core.evidence import EVIDENCE_LABELS
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.provenance.jpeg_tables import (
    SCORE_ADOBE,
    SCORE_CAP,
    SCORE_REENCODE_LOW,
    SCORE_REENCODE_MEDIUM,
    JpegTablesDetector,
)
from veriscope.formats.jpeg import (
    STD_CHROMINANCE_QTABLE,
    STD_LUMINANCE_QTABLE,
    ZIGZAG,
    Component,
    JpegParseError,
    estimate_ijg_quality,
    exif_thumbnail_info,
    ijg_scaled_table,
    parse_jpeg,
    photoshop_resources,
    subsampling_name,
)

SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def _jpeg(img=None, mode=None, **kw) -> bytes:
    im = Image.fromarray(smooth_image() if img is None else img)
    if mode:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _media(tmp_path, data: bytes, name="x.jpg") -> Media:
    p = tmp_path / name
    p.write_bytes(data)
    return Media.open(p)


def _raw_media(tmp_path, data: bytes, name="bad.jpg") -> Media:
    """A Media built without Media.open's Pillow probe (to feed broken bytes to analyze)."""
    p = tmp_path / name
    p.write_bytes(data)
    return Media(path=p, kind="image", format="jpeg", size_bytes=len(data))


def _analyze(media):
    return JpegTablesDetector().analyze(media, Context())


def _seg(code: int, payload: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload


def _insert_after_soi(data: bytes, seg: bytes) -> bytes:
    return data[:2] + seg + data[2:]


def _check_evidence(ev):
    assert ev.error is None
    assert ev.score is not None and 0.0 <= ev.score <= SCORE_CAP
    assert ev.label in EVIDENCE_LABELS
    assert ev.label == ("manipulated" if ev.score > 0 else "no_evidence")
    json.dumps(ev.to_dict())  # JSON-safe


# ------------------------------------------------------------------ tables / zigzag


def test_zigzag_is_a_permutation_with_known_start_and_end():
    assert sorted(ZIGZAG) == list(range(64))
    assert ZIGZAG[:10] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24)
    assert ZIGZAG[-8:] == (53, 60, 61, 54, 47, 55, 62, 63)


def test_annex_k_tables_match_libjpeg_quality_50_via_pillow():
    im = Image.open(io.BytesIO(_jpeg(quality=50)))
    assert tuple(im.quantization[0]) == STD_LUMINANCE_QTABLE
    assert tuple(im.quantization[1]) == STD_CHROMINANCE_QTABLE


def test_ijg_scaling_known_values():
    assert ijg_scaled_table(100) == (1,) * 64
    assert ijg_scaled_table(50) == STD_LUMINANCE_QTABLE
    # q=90 -> scale 20: 16*20/100 = 3.2 -> 3
    assert ijg_scaled_table(90)[0] == 3
    # q=10 -> scale 500: 121*5 = 605 -> 255 baseline, 605 without
    i = STD_LUMINANCE_QTABLE.index(121)
    assert ijg_scaled_table(10)[i] == 255
    assert ijg_scaled_table(10, force_baseline=False)[i] == 605


# ------------------------------------------------------------------ Pillow round trips


@pytest.mark.parametrize("q", [10, 30, 50, 75, 85, 92, 95, 100])
@pytest.mark.parametrize("sub", [0, 1, 2])
def test_pillow_quality_and_subsampling_identified(tmp_path, q, sub):
    data = _jpeg(quality=q, subsampling=sub)
    info = parse_jpeg(data)
    pil = Image.open(io.BytesIO(data))
    for tid, qt in info.quant_tables.items():  # natural order agrees with Pillow's reader
        assert list(qt.values) == list(pil.quantization[tid])
        assert qt.precision_bits == 8
    assert info.subsampling == SUBSAMPLING[sub]
    assert estimate_ijg_quality(info.quant_tables[0].values, chroma=False).quality == q
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    d = ev.data
    assert d["quality"] == q and d["quality_exact"] is True and d["standard_tables"] is True
    assert d["subsampling"] == SUBSAMPLING[sub]
    assert d["process"] == "baseline" and d["progressive"] is False
    assert d["huffman"] == "Annex K default"
    assert d["jfif_only"] is True
    chroma = [t for t in d["quant_tables"] if t["role"] == "chrominance"]
    assert chroma and chroma[0]["estimate"]["quality"] == q and chroma[0]["ijg_standard"]
    assert [f.code for f in ev.findings].count("jpeg_quality") == 1
    assert ("low_jpeg_quality" in [f.code for f in ev.findings]) == (q < 50)
    assert ev.score == 0.0  # no camera claim, no Adobe markers: nothing to hint at


def test_custom_tables_are_not_standard(tmp_path):
    rng = np.random.default_rng(1)
    lum = [int(v) for v in np.clip(np.array(STD_LUMINANCE_QTABLE) // 3 + rng.integers(0, 3, 64), 1, 255)]
    chrom = [int(v) for v in np.clip(np.array(STD_CHROMINANCE_QTABLE) // 3 + 1, 1, 255)]
    data = _jpeg(qtables=[lum, chrom], subsampling=2)
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    assert ev.data["standard_tables"] is False and ev.data["quality_exact"] is False
    est = ev.data["quant_tables"][0]["estimate"]
    assert est["mean_abs_error"] > 0 and 70 <= est["quality"] <= 90  # base/3 ~ q 83


def test_progressive_parses(tmp_path):
    data = _jpeg(quality=80, progressive=True)
    info = parse_jpeg(data)
    assert info.frame.progressive and info.frame.process == "progressive"
    assert info.scan is not None and info.scan.ss == 0 and info.scan.se == 0  # DC first scan
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    assert ev.data["progressive"] is True and ev.data["quality"] == 80


def test_restart_interval_pillow_and_opencv(tmp_path):
    info = parse_jpeg(_jpeg(quality=70, restart_marker_blocks=4))
    assert info.restart_interval == 4
    cv2 = pytest.importorskip("cv2")
    ok, enc = cv2.imencode(".jpg", smooth_image(), [cv2.IMWRITE_JPEG_QUALITY, 85,
                                                    cv2.IMWRITE_JPEG_RST_INTERVAL, 3])
    assert ok
    ev = _analyze(_media(tmp_path, enc.tobytes()))
    _check_evidence(ev)
    assert ev.data["restart_interval"] == 3
    assert ev.data["quality"] == 85 and ev.data["standard_tables"] is True


def test_cmyk_jpeg(tmp_path):
    data = _jpeg(mode="CMYK", quality=88)
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    d = ev.data
    assert len(d["components"]) == 4 and d["color_space"] == "CMYK"
    assert d["subsampling"] == "4:4:4" and d["quality"] == 88 and d["standard_tables"]
    assert d["adobe_app14"] is not None  # libjpeg writes APP14 for CMYK ...
    assert "saved_by_adobe" not in [f.code for f in ev.findings]  # ... so it is not an Adobe hint


def test_grayscale_jpeg(tmp_path):
    ev = _analyze(_media(tmp_path, _jpeg(mode="L", quality=60)))
    _check_evidence(ev)
    assert ev.data["subsampling"] == "gray" and ev.data["color_space"] == "gray"
    assert ev.data["quality"] == 60 and len(ev.data["quant_tables"]) == 1


def test_subsampling_names():
    def comps(*hv):
        return [Component(i + 1, h, v, 0) for i, (h, v) in enumerate(hv)]

    assert subsampling_name(comps((4, 1), (1, 1), (1, 1))) == "4:1:1"
    assert subsampling_name(comps((1, 2), (1, 1), (1, 1))) == "4:4:0"
    assert subsampling_name(comps((2, 2), (2, 2), (2, 2))) == "4:4:4"
    assert subsampling_name(comps((1, 1))) == "gray"
    assert subsampling_name(comps((2, 2), (1, 1), (2, 1))).startswith("other")
    assert subsampling_name(comps((3, 1), (2, 1), (2, 1))).startswith("other")


# ------------------------------------------------------------------ hand-built streams


def _sof(width=16, height=16, comps=((1, 0x11, 0),)) -> bytes:
    p = struct.pack(">BHHB", 8, height, width, len(comps))
    for cid, hv, tq in comps:
        p += bytes([cid, hv, tq])
    return _seg(0xC0, p)


def _sos(ids=(1,)) -> bytes:
    p = bytes([len(ids)]) + b"".join(bytes([i, 0]) for i in ids) + bytes([0, 63, 0])
    return _seg(0xDA, p)


def test_dqt_zigzag_16bit_and_several_tables_per_segment():
    zz8 = bytes(range(1, 65))  # stored (zigzag) order 1..64
    vals16 = ijg_scaled_table(5, chroma=True, force_baseline=False)  # values > 255
    zz16 = struct.pack(">64H", *[vals16[ZIGZAG[k]] for k in range(64)])
    dqt = _seg(0xDB, bytes([0x00]) + zz8 + bytes([0x11]) + zz16)
    data = b"\xff\xd8" + dqt + _sof(comps=((1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1))) \
        + _sos((1, 2, 3)) + b"\x00" * 8 + b"\xff\xd9"
    info = parse_jpeg(data)
    t0, t1 = info.quant_tables[0], info.quant_tables[1]
    assert t0.precision_bits == 8 and t1.precision_bits == 16
    assert t0.matrix()[0] == [1, 2, 6, 7, 15, 16, 28, 29]  # first row of the zigzag pattern
    assert t0.matrix()[7] == [36, 37, 49, 50, 58, 59, 63, 64]
    assert t0.zigzag == tuple(range(1, 65))
    est = estimate_ijg_quality(t1.values, chroma=True)
    assert est.exact and est.quality == 5 and max(t1.values) > 255
    assert info.subsampling == "4:2:0"


def test_exif_thumbnail_probe():
    # little-endian TIFF: IFD0 with no entries -> IFD1 with JPEGInterchangeFormat(+Length)
    ifd0 = struct.pack("<H", 0) + struct.pack("<I", 14)
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, 100) \
        + struct.pack("<HHII", 0x0202, 4, 1, 500) + struct.pack("<I", 0)
    tiff = b"II" + struct.pack("<HI", 42, 8) + ifd0 + ifd1
    out = exif_thumbnail_info(b"Exif\x00\x00" + tiff)
    assert out == {"ifd1": True, "thumbnail": True, "thumbnail_offset": 100,
                   "thumbnail_length": 500}
    no_ifd1 = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 0) + struct.pack("<I", 0)
    assert exif_thumbnail_info(no_ifd1)["thumbnail"] is False
    assert exif_thumbnail_info(b"Exif\x00\x00garbage")["ifd1"] is False
    assert exif_thumbnail_info(tiff[:20])["thumbnail"] is False  # truncated: no crash


def test_photoshop_resources_bounded():
    res = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", 3) + b"abc\x00"
    res += b"8BIM" + struct.pack(">H", 0x0425) + b"\x00\x00" + struct.pack(">I", 16) + b"x" * 16
    assert photoshop_resources(res) == [0x0404, 0x0425]
    assert photoshop_resources(res[:30]) == [0x0404, 0x0425]  # cut short: stops, no crash
    assert photoshop_resources(b"junk" * 10) == []


# ------------------------------------------------------------------ errors


GOOD = None


def _good() -> bytes:
    global GOOD
    if GOOD is None:
        GOOD = _jpeg(quality=90)
    return GOOD


def _zero_length_segment() -> bytes:
    d = _good()
    return d[:2] + b"\xff\xfe\x00\x00" + d[2:]


def _truncated_in_dqt() -> bytes:
    d = _good()
    return d[:d.index(b"\xff\xdb") + 30]


def _bad_sampling() -> bytes:
    d = bytearray(_good())
    i = d.index(b"\xff\xc0")
    d[i + 11] = 0x52  # first component: H=5 (must be 1..4)
    return bytes(d)


@pytest.mark.parametrize("make,expect", [
    (lambda: b"", "SOI"),
    (lambda: b"hello, this is not a jpeg", "SOI"),
    (lambda: b"\xff\xd8\xff", "SOI"),
    (lambda: b"\xff\xd8" + bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8)),
     ""),
    (_zero_length_segment, "length field is 0"),
    (_truncated_in_dqt, "truncated"),
    (lambda: _good()[:200], "truncated"),
    (_bad_sampling, "sampling factors"),
    (lambda: b"\xff\xd8\xff\xd9", "EOI"),
    (lambda: b"\xff\xd8\xff\xd8" + _good()[2:], "second SOI"),
    (lambda: b"\xff\xd8" + _seg(0xDB, b"\x25" + bytes(64)) + _good()[2:], "precision code"),
    (lambda: b"\xff\xd8" + _sos() + b"\xff\xd9", "before any frame header"),
    (lambda: b"\xff\xd8" + _sof() + _sos() + b"\xff\xd9", "no DQT"),
])
def test_corrupt_bytes_raise_clear_valueerror(tmp_path, make, expect):
    data = make()
    with pytest.raises(ValueError) as ei:
        parse_jpeg(data)
    assert isinstance(ei.value, JpegParseError)
    assert expect in str(ei.value)
    if len(data) > 0:  # the detector turns it into an Evidence, never an exception
        ev = _analyze(_raw_media(tmp_path, data))
        assert ev.error and "JPEG structure unreadable" in ev.error
        assert ev.score is None and [f.code for f in ev.findings] == ["jpeg_structure_error"]
        json.dumps(ev.to_dict())


def test_extraneous_bytes_are_tolerated_with_warning():
    d = _good()
    i = d.index(b"\xff\xdb")
    info = parse_jpeg(d[:i] + b"\x00\x12\x34" + d[i:])
    assert info.quant_tables and any("extraneous" in w for w in info.warnings)


def test_fill_bytes_and_tables_only_stream():
    d = _good()
    i = d.index(b"\xff\xdb")
    assert parse_jpeg(d[:i] + b"\xff\xff\xff" + d[i:]).warnings == []  # 0xFF fill is legal
    dqt = _seg(0xDB, b"\x00" + bytes(ijg_scaled_table(75)[k] for k in ZIGZAG))
    tables_only = b"\xff\xd8" + dqt + b"\xff\xd9"
    assert parse_jpeg(tables_only, require_scan=False).quant_tables[0].values == ijg_scaled_table(75)


# ------------------------------------------------------------------ detector rules


def _with_exif(q=90, **tags) -> bytes:
    ex = Image.Exif()
    for tag, val in tags.items():
        ex[{"make": 0x010F, "model": 0x0110, "software": 0x0131}[tag]] = val
    return _jpeg(quality=q, exif=ex.tobytes())


def test_camera_claim_with_standard_tables_is_low_hint(tmp_path):
    ev = _analyze(_media(tmp_path, _with_exif(make="Canon", model="Canon EOS 5D")))
    _check_evidence(ev)
    f = [f for f in ev.findings if f.code == "probable_software_reencode"]
    assert len(f) == 1 and f[0].severity == "low"
    assert "no EXIF thumbnail" in f[0].data["weak_hints"]
    assert "JFIF header present" in f[0].data["weak_hints"]
    assert ev.score == SCORE_REENCODE_LOW and ev.label == "manipulated"
    assert ev.data["exif"]["make"] == "Canon" and ev.data["exif_thumbnail"]["thumbnail"] is False


def test_camera_claim_with_editor_software_is_medium(tmp_path):
    data = _with_exif(make="NIKON", model="D750", software="GIMP 2.10.34")
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    f = [f for f in ev.findings if f.code == "probable_software_reencode"][0]
    assert f.severity == "medium" and f.data["strong_hints"]
    assert ev.score == SCORE_REENCODE_MEDIUM


def test_camera_software_tag_is_not_an_editor(tmp_path):
    data = _with_exif(make="FUJIFILM", model="X-T3", software="Digital Camera X-T3 Ver4.10")
    ev = _analyze(_media(tmp_path, data))
    f = [f for f in ev.findings if f.code == "probable_software_reencode"][0]
    assert f.severity == "low"


def test_custom_tables_with_camera_claim_give_no_reencode_hint(tmp_path):
    lum = [max(1, v // 4) for v in STD_LUMINANCE_QTABLE]
    chrom = [max(1, v // 3) for v in STD_CHROMINANCE_QTABLE]
    ex = Image.Exif()
    ex[0x010F], ex[0x0110] = "Canon", "Canon EOS 5D"
    ev = _analyze(_media(tmp_path, _jpeg(qtables=[lum, chrom], exif=ex.tobytes())))
    _check_evidence(ev)
    assert "probable_software_reencode" not in [f.code for f in ev.findings]
    assert ev.score == 0.0 and ev.label == "no_evidence"


def test_photoshop_app13_gives_adobe_finding(tmp_path):
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", 4) + b"\x1c\x02\x00\x00"
    data = _insert_after_soi(_jpeg(quality=90), _seg(0xED, b"Photoshop 3.0\x00" + irb))
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    f = [f for f in ev.findings if f.code == "saved_by_adobe"]
    assert len(f) == 1 and f[0].severity == "low"
    assert ev.score == SCORE_ADOBE
    assert ev.data["photoshop_irb"] == [{"id": "0x0404", "name": "IPTC-NAA record"}]


def test_adobe_app14_on_ycbcr_and_comment_text(tmp_path):
    app14 = _seg(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 1))
    com = _seg(0xFE, b"CREATOR: gd-jpeg v1.0 (using IJG JPEG v62), quality = 90\n")
    data = _insert_after_soi(_with_exif(make="Sony", model="ILCE-7"), app14 + com)
    ev = _analyze(_media(tmp_path, data))
    _check_evidence(ev)
    codes = {f.code: f for f in ev.findings}
    assert "saved_by_adobe" in codes
    assert codes["probable_software_reencode"].severity == "medium"  # comment names gd-jpeg
    assert ev.data["comments"][0].startswith("CREATOR: gd-jpeg")
    assert ev.data["adobe_app14"]["transform"] == 1
    assert ev.score == max(SCORE_ADOBE, SCORE_REENCODE_MEDIUM) <= SCORE_CAP


def test_detector_registered():
    from veriscope.core import registry

    cls = registry.load("jpeg_tables")
    assert cls is JpegTablesDetector
    assert cls.formats == ("jpeg",) and cls.modalities == ("image",) and cls.version == "1.0.0"


# ------------------------------------------------------------------ real data


def _pillow_subsampling(im) -> str | None:
    s = JpegImagePlugin.get_sampling(im)
    return SUBSAMPLING.get(s)


def _run_folder(folder, pattern="**/*.jp*g"):
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    assert files, f"no JPEGs under {folder}"
    out = []
    for p in files:
        ev = _analyze(Media.open(p))
        _check_evidence(ev)
        with Image.open(p) as im:  # Pillow's own reader is the independent reference
            for t in ev.data["quant_tables"]:
                flat = [v for row in t["table"] for v in row]
                assert flat == list(im.quantization[t["id"]]), p
            ref = _pillow_subsampling(im)
            if ref is not None:
                assert ev.data["subsampling"] == ref, p
            assert (ev.data["width"], ev.data["height"]) == im.size
        out.append((p, ev))
    return out


def test_real_camera_jpegs(shared_data):
    res = _run_folder(shared_data / "exif-samples-camera-jpegs")
    assert len(res) == 30
    by_name = {p.name: ev for p, ev in res}
    # facts checkable by eye in the files (and by Pillow above)
    assert by_name["nikon-e950.jpg"].data["subsampling"] == "4:4:4"
    assert "saved_by_adobe" in [f.code for f in by_name["nikon-e950.jpg"].findings]
    assert by_name["canon-ixus.jpg"].data["exif_thumbnail"]["thumbnail"] is True
    for _p, ev in res:
        assert 1 <= ev.data["quality"] <= 100


def test_micc_f220_jpegs(shared_data):
    res = _run_folder(shared_data / "micc-f220")
    assert len(res) == 228


def test_mutated_headers_never_crash():
    """Random byte changes in the header give a JpegInfo or a JpegParseError, nothing else."""
    import random

    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", 2) + b"ab"
    base = _insert_after_soi(_with_exif(make="Canon", model="X", software="GIMP"),
                             _seg(0xED, b"Photoshop 3.0\x00" + irb))
    sos = base.index(b"\xff\xda")
    rng = random.Random(7)
    outcomes = set()
    for _ in range(300):
        d = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            d[rng.randrange(2, sos)] = rng.randrange(256)
        if rng.random() < 0.3:
            d = d[:rng.randrange(2, len(d))]
        try:
            info = parse_jpeg(bytes(d))
            _ = (info.subsampling, info.color_space, info.comment_texts())
            outcomes.add("ok")
        except JpegParseError:
            outcomes.add("error")
    assert outcomes == {"ok", "error"}

"""Tests for the metadata detector: real files from shared data plus fixtures built here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter, PngImagePlugin

from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.provenance.metadata import generators as _meta_gen
from veriscope.detectors.provenance.metadata import thumbnail as _meta_thumb
from veriscope.detectors.provenance.metadata.detector import MetadataDetector

DET = MetadataDetector()


def run(path, **opts):
    ctx = Context(options={"metadata": opts} if opts else None)
    ev = DET.analyze(Media.open(path), ctx)
    json.dumps(ev.to_dict())  # the report must be JSON-serialisable
    return ev


def codes(ev) -> set[str]:
    return {f.code for f in ev.findings}


# ----------------------------------------------------------------------------- fixture builders
def picture(seed: int, size=(320, 240)) -> Image.Image:
    """A smooth random 'scene' (blurred noise): structure at several scales, like a photo."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.random((h // 8, w // 8, 3)) * 255
    im = Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    noise = Image.fromarray((rng.random((h, w, 3)) * 60).astype(np.uint8))
    return Image.blend(im, noise, 0.15).filter(ImageFilter.GaussianBlur(1.2))


def _entry(tag, value):
    if isinstance(value, str):
        b = value.encode() + b"\x00"
        return tag, 2, len(b), b
    if isinstance(value, bytes):
        return tag, 7, len(value), value
    if isinstance(value, list):  # rationals
        return tag, 5, len(value), b"".join(struct.pack("<II", n, d) for n, d in value)
    if isinstance(value, tuple) and value[0] == "short":
        return tag, 3, 1, struct.pack("<H", value[1])
    return tag, 4, 1, struct.pack("<I", value)


def _ifd(entries, offset, next_ifd=0) -> bytes:
    head = struct.pack("<H", len(entries))
    data = b""
    data_off = offset + 2 + 12 * len(entries) + 4
    for tag, typ, count, payload in sorted(entries):
        if len(payload) <= 4:
            head += struct.pack("<HHI", tag, typ, count) + payload.ljust(4, b"\x00")
        else:
            head += struct.pack("<HHII", tag, typ, count, data_off + len(data))
            data += payload + (b"\x00" if len(payload) % 2 else b"")
    return head + struct.pack("<I", next_ifd) + data


def exif_block(ifd0: dict, exif: dict | None = None, gps: dict | None = None,
               thumb: bytes | None = None) -> bytes:
    """A little-endian EXIF block with optional Exif/GPS IFDs and an IFD1 JPEG thumbnail."""
    e0 = [_entry(t, v) for t, v in ifd0.items()]
    if exif:
        e0.append(_entry(0x8769, 0))
    if gps:
        e0.append(_entry(0x8825, 0))
    size0 = len(_ifd(e0, 8))
    off = 8 + size0
    exif_b = gps_b = b""
    ptr = {}
    if exif:
        ptr[0x8769] = off
        exif_b = _ifd([_entry(t, v) for t, v in exif.items()], off)
        off += len(exif_b)
    if gps:
        ptr[0x8825] = off
        gps_b = _ifd([_entry(t, v) for t, v in gps.items()], off)
        off += len(gps_b)
    ifd1_b = b""
    ifd1_off = 0
    if thumb:
        ifd1_off = off
        probe = [_entry(0x103, ("short", 6)), _entry(0x201, 0), _entry(0x202, len(thumb))]
        size1 = len(_ifd(probe, off))
        e1 = [_entry(0x103, ("short", 6)), _entry(0x201, off + size1), _entry(0x202, len(thumb))]
        ifd1_b = _ifd(e1, off) + thumb
    e0 = [(t, ty, c, struct.pack("<I", ptr[t]) if t in ptr else p) for t, ty, c, p in e0]
    tiff = b"II*\x00" + struct.pack("<I", 8) + _ifd(e0, 8, ifd1_off) + exif_b + gps_b + ifd1_b
    return b"Exif\x00\x00" + tiff


def jpeg_bytes(im: Image.Image, quality=90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def thumb_of(im: Image.Image) -> bytes:
    t = im.copy()
    t.thumbnail((160, 120))
    return jpeg_bytes(t, 80)


def save_jpeg(path, im, exif: bytes | None = None, **kw):
    if exif is not None:
        kw["exif"] = exif
    im.save(path, "JPEG", quality=92, **kw)
    return path


# ----------------------------------------------------------------------------- real data
def test_comfyui_pngs_are_synthetic_and_name_their_models(shared_data):
    folder = shared_data / "comfyui-generated-with-metadata"
    with open(folder / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 18
    for row in rows:
        ev = run(folder / row["file"])
        assert ev.label == "synthetic", row["file"]
        assert ev.score == pytest.approx(0.97)
        gen = ev.data["generator"]
        assert gen["tool"] == "ComfyUI"
        expected = [m.strip() for m in row["model_files_in_prompt_metadata"].split("|")]
        for model in expected:
            assert model in gen["models"], (row["file"], model, gen["models"])
        msg = next(f.message for f in ev.findings if f.code == "comfyui_workflow")
        assert any(m in msg for m in expected)
        # the table summarises the node graph instead of dumping it
        assert "ComfyUI node graph" in ev.data["table"]["PNG text"]["prompt"]
        assert all(len(v) <= 330 for g in ev.data["table"].values() for v in g.values())


def test_comfyui_workflow_only_and_stripped(shared_data, tmp_path):
    src = shared_data / "comfyui-generated-with-metadata" / "flux__flux_dev_example.png"
    with Image.open(src) as im:
        workflow = im.info["workflow"]
        small = im.convert("RGB").resize((64, 64))
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", workflow)
    small.save(tmp_path / "wf.png", pnginfo=info)
    ev = run(tmp_path / "wf.png")
    assert ev.label == "synthetic"
    assert ev.data["generator"]["models"][0] == "flux1-dev.safetensors"
    # the same pixels without the chunks: metadata cannot tell anything
    small.save(tmp_path / "stripped.png")
    ev = run(tmp_path / "stripped.png")
    assert ev.label == "no_evidence" and "metadata_absent" in codes(ev)


def test_camera_jpegs_are_not_synthetic(shared_data):
    files = sorted((shared_data / "exif-samples-camera-jpegs").rglob("*.jpg"))
    assert len(files) == 30
    sims = []
    for f in files:
        ev = run(f)
        assert ev.label != "synthetic", f
        assert ev.score is not None and ev.score < 0.5, (f, ev.score, codes(ev))
        assert "exif_thumbnail_mismatch" not in codes(ev), f
        assert "exif_thumbnail_local_mismatch" not in codes(ev), f
        th = ev.data["thumbnails"].get("exif")
        if th and th.get("comparable"):
            sims.append(th["similarity"])
    assert len(sims) >= 20 and min(sims) > _meta_thumb.MISMATCH_R + 0.1
    gps = run(shared_data / "exif-samples-camera-jpegs/gps/DSCN0010.jpg")
    assert "gps_present" in codes(gps)
    assert gps.data["gps"]["latitude"] == pytest.approx(43.4674, abs=1e-3)
    assert gps.data["camera"]["make"] == "NIKON"
    assert "GPS" in gps.data["table"] and "EXIF" in gps.data["table"]


# ----------------------------------------------------------------------------- generators
A1111 = ("a photo of an astronaut riding a horse, <lora:detail_tweaker:0.6>\n"
         "Negative prompt: blurry, lowres\n"
         "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567, Size: 512x768, "
         "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
         'Lora hashes: "detail_tweaker: e6d2b2c3", Version: v1.9.4')


def test_a1111_parameters_png(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    p = tmp_path / "a1111.png"
    picture(1).save(p, pnginfo=info)
    ev = run(p)
    assert ev.label == "synthetic" and ev.score == pytest.approx(0.97)
    gen = ev.data["generator"]
    assert gen["tool"] == "AUTOMATIC1111 Stable Diffusion WebUI"
    assert gen["models"][0] == "v1-5-pruned-emaonly"
    assert "detail_tweaker" in gen["models"]
    assert gen["params"]["Seed"] == "1234567" and gen["params"]["Steps"] == "30"
    assert gen["params"]["negative_prompt"] == "blurry, lowres"
    assert gen["params"]["prompt"].startswith("a photo of an astronaut")
    f = next(f for f in ev.findings if f.code == "ai_generation_parameters")
    assert f.severity == "high" and "v1-5-pruned-emaonly" in f.message


def test_forge_parameters_in_jpeg_user_comment(tmp_path):
    text = A1111.replace("Version: v1.9.4", "Version: f2.0.1v1.10.1-previous-313-g8a042934")
    uc = b"UNICODE\x00" + text.encode("utf-16-be")
    p = save_jpeg(tmp_path / "forge.jpg", picture(2), exif_block({0x0110: "x"}, {0x9286: uc}))
    ev = run(p)
    assert ev.label == "synthetic"
    assert ev.data["generator"]["tool"] == "Stable Diffusion WebUI Forge"


def test_text_without_settings_is_not_a_generator():
    assert _meta_gen.parse_a1111("Steps: the stairs of the old town, a photo") is None
    assert _meta_gen.parse_a1111("holiday photo") is None


def test_novelai_and_invokeai_text():
    from veriscope.formats.metadata import Meta

    m = Meta(text={"Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90",
                   "Comment": json.dumps({"prompt": "1girl", "steps": 28, "seed": 7, "uc": "bad",
                                          "sampler": "k_euler_ancestral", "scale": 5})})
    hits = _meta_gen.find_markers(m)
    gen = _meta_gen.merge_generator(hits)
    assert gen["tool"] == "NovelAI" and gen["models"] == ["NovelAI Diffusion V4.5 4BDE2A90"]
    assert gen["params"]["seed"] == 7
    m = Meta(text={"invokeai_metadata": json.dumps({
        "positive_prompt": "a castle", "seed": 3, "steps": 20, "cfg_scale": 7.5,
        "model": {"name": "juggernautXL_v9", "base": "sdxl"},
        "loras": [{"model": {"name": "add-detail-xl"}, "weight": 0.5}]})})
    gen = _meta_gen.merge_generator(_meta_gen.find_markers(m))
    assert gen["tool"] == "InvokeAI" and gen["models"] == ["juggernautXL_v9", "add-detail-xl"]


def test_comfyui_graph_in_webp_exif(tmp_path):
    graph = {"4": {"class_type": "CheckpointLoaderSimple",
                   "inputs": {"ckpt_name": "juggernaut_xl.safetensors"}},
             "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["4", 1]}},
             "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 7.0,
                                                        "positive": ["6", 0],
                                                        "model": ["4", 0]}}}
    ex = Image.Exif()
    ex[0x0110] = "prompt:" + json.dumps(graph)
    p = tmp_path / "comfy.webp"
    picture(3).save(p, "WEBP", exif=ex.tobytes())
    ev = run(p)
    assert ev.label == "synthetic"
    assert ev.data["generator"]["models"] == ["juggernaut_xl.safetensors"]
    assert ev.data["generator"]["params"]["positive"] == "a red fox"


XMP_DST = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
  xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{term}"
  xmp:CreatorTool="{tool}"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_xmp_digital_source_type_jpeg(tmp_path):
    p = tmp_path / "dst.jpg"
    xmp = XMP_DST.format(term="trainedAlgorithmicMedia", tool="Some Tool 1.0")
    picture(4).save(p, "JPEG", xmp=xmp.encode())
    ev = run(p)
    assert ev.label == "synthetic" and ev.score == pytest.approx(0.97)
    f = next(f for f in ev.findings if f.code == "digital_source_type_ai")
    assert f.severity == "high" and f.data["term"] == "trainedAlgorithmicMedia"
    assert ev.data["generator"]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert "XMP" in ev.data["table"]

    p2 = tmp_path / "composite.jpg"
    xmp = XMP_DST.format(term="compositeWithTrainedAlgorithmicMedia", tool="Adobe Photoshop 25.0")
    picture(4).save(p2, "JPEG", xmp=xmp.encode())
    ev = run(p2)
    assert ev.label == "manipulated" and ev.score == pytest.approx(0.97)
    assert {"digital_source_type_ai", "editing_software"} <= codes(ev)

    p3 = tmp_path / "capture.jpg"
    picture(4).save(p3, "JPEG", xmp=XMP_DST.format(term="digitalCapture", tool="x").encode())
    ev = run(p3)
    assert ev.label == "no_evidence" and "digital_source_type" in codes(ev)


def test_xmp_with_entities_is_not_parsed(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    p = tmp_path / "bomb.jpg"
    picture(5).save(p, "JPEG", xmp=bomb.encode())
    ev = run(p)
    assert "metadata_unreadable" in codes(ev)
    assert ev.label == "no_evidence"


def test_generator_and_editor_software_names(tmp_path):
    p = save_jpeg(tmp_path / "mj.jpg", picture(6), exif_block({0x0131: "Midjourney"}))
    ev = run(p)
    assert ev.label == "synthetic" and "ai_generator_software" in codes(ev)
    assert ev.data["generator"]["tool"] == "Midjourney"
    p = save_jpeg(tmp_path / "ps.jpg", picture(6),
                  exif_block({0x0131: "Adobe Photoshop 24.0 (Windows)"}))
    ev = run(p)
    f = next(f for f in ev.findings if f.code == "editing_software")
    assert f.severity == "low" and f.data["tool"] == "Adobe Photoshop"
    assert ev.label == "manipulated" and ev.score == pytest.approx(0.35) and ev.score < 0.5
    # a firmware string is not a tool name
    p = save_jpeg(tmp_path / "fw.jpg", picture(6), exif_block({0x0131: "Ver.1.00 "}))
    assert run(p).label == "no_evidence"


# ----------------------------------------------------------------------------- thumbnails
def test_exif_thumbnail_same_vs_different_picture(tmp_path):
    main = picture(10, (640, 480))
    same = save_jpeg(tmp_path / "same.jpg", main,
                     exif_block({0x010F: "Canon", 0x0110: "Canon EOS"}, thumb=thumb_of(main)))
    ev = run(same)
    assert "exif_thumbnail_match" in codes(ev), codes(ev)
    assert ev.data["thumbnails"]["exif"]["similarity"] > 0.95
    assert ev.label == "no_evidence" and ev.score == 0.0

    other = picture(11, (640, 480))
    diff = save_jpeg(tmp_path / "diff.jpg", main,
                     exif_block({0x010F: "Canon", 0x0110: "Canon EOS"}, thumb=thumb_of(other)))
    ev = run(diff)
    f = next(f for f in ev.findings if f.code == "exif_thumbnail_mismatch")
    assert f.severity == "high" and f.data["similarity"] < _meta_thumb.MISMATCH_R
    assert ev.label == "manipulated" and ev.score == pytest.approx(0.85)


def test_exif_thumbnail_letterbox_and_rotation_are_not_flagged(tmp_path):
    main = picture(12, (640, 360))  # 16:9 image, 4:3 preview with black bars
    t = main.copy()
    t.thumbnail((160, 120))
    canvas = Image.new("RGB", (160, 120))
    canvas.paste(t, (0, (120 - t.height) // 2))
    p = save_jpeg(tmp_path / "letterbox.jpg", main,
                  exif_block({0x0110: "Phone"}, thumb=jpeg_bytes(canvas, 85)))
    ev = run(p)
    assert ev.data["thumbnails"]["exif"]["similarity"] > 0.9, ev.data["thumbnails"]
    assert "exif_thumbnail_mismatch" not in codes(ev)
    # pixels rotated by software, old landscape preview kept
    land = picture(13, (640, 480))
    p = save_jpeg(tmp_path / "rot.jpg", land.transpose(Image.Transpose.ROTATE_90),
                  exif_block({0x0110: "Cam"}, thumb=thumb_of(land)))
    ev = run(p)
    assert "exif_thumbnail_mismatch" not in codes(ev)
    assert ev.data["thumbnails"]["exif"]["similarity"] > 0.9


def test_exif_thumbnail_local_change(tmp_path):
    main = picture(14, (640, 480))
    edited = main.copy()
    edited.paste(picture(15, (200, 160)), (40, 30))  # a foreign patch in the top-left
    p = save_jpeg(tmp_path / "local.jpg", edited, exif_block({0x0110: "Cam"}, thumb=thumb_of(main)))
    ev = run(p)
    f = next(f for f in ev.findings if f.code == "exif_thumbnail_local_mismatch")
    assert f.severity == "medium" and f.data["worst_block"] == "top left"
    assert f.data["similarity"] >= _meta_thumb.MISMATCH_R
    assert ev.label == "manipulated" and ev.score == pytest.approx(0.60)


def test_exif_dimensions_mismatch(tmp_path):
    im = picture(16, (320, 240))
    p = save_jpeg(tmp_path / "resized.jpg", im, exif_block({0x0110: "Cam"},
                                                           {0xA002: 640, 0xA003: 480}))
    f = next(f for f in run(p).findings if f.code == "exif_dimensions_mismatch")
    assert f.severity == "low" and f.data["kind"] == "resized"
    p = save_jpeg(tmp_path / "cropped.jpg", im, exif_block({0x0110: "Cam"},
                                                           {0xA002: 640, 0xA003: 360}))
    ev = run(p)
    assert ev.score == pytest.approx(0.20) and ev.score < 0.5
    assert next(f for f in ev.findings if f.code == "exif_dimensions_mismatch").data["kind"] \
        .startswith("cropped")
    p = save_jpeg(tmp_path / "rotated.jpg", im, exif_block({0x0110: "Cam"},
                                                           {0xA002: 240, 0xA003: 320}))
    assert "exif_dimensions_mismatch" not in codes(run(p))


# ----------------------------------------------------------------------------- dates
def _dated(tmp_path, name, ifd0=None, exif=None, gps=None):
    ifd0 = {0x010F: "NIKON", 0x0110: "D750", **(ifd0 or {})}
    return save_jpeg(tmp_path / name, picture(20), exif_block(ifd0, exif, gps))


def test_date_rules(tmp_path):
    taken = {0x9003: "2020:05:01 10:00:00", 0x9004: "2020:05:01 10:00:00"}
    ok = run(_dated(tmp_path, "ok.jpg", {0x0132: "2020:05:01 10:00:01"}, taken))
    assert not {c for c in codes(ok) if c.startswith("date_")}
    assert ok.data["dates"]["exif_datetime_original"] == "2020-05-01T10:00:00"

    before = run(_dated(tmp_path, "before.jpg", {0x0132: "2020:04:30 09:00:00"}, taken))
    f = next(f for f in before.findings if f.code == "date_order_impossible")
    assert f.severity == "medium" and before.score == pytest.approx(0.45)
    assert before.label == "manipulated"

    after = run(_dated(tmp_path, "after.jpg", {0x0132: "2020:05:04 18:00:00"}, taken))
    f = next(f for f in after.findings if f.code == "date_modified_after_capture")
    assert f.severity == "low" and after.score == pytest.approx(0.20)

    digitized = run(_dated(tmp_path, "dig.jpg", None,
                           {0x9003: "2020:05:01 10:00:00", 0x9004: "2020:05:01 09:59:00"}))
    assert "date_order_impossible" in codes(digitized)


def test_gps_date_rules(tmp_path):
    def gps(day, h, m):
        return {0x001D: day, 0x0007: [(h, 1), (m, 1), (0, 1)]}

    # local 10:00 at UTC+9 is 01:00 UTC: consistent
    good = run(_dated(tmp_path, "g1.jpg", None,
                      {0x9003: "2020:05:01 10:00:00", 0x9011: "+09:00"}, gps("2020:05:01", 1, 0)))
    assert "date_gps_mismatch" not in codes(good)
    # same clock time, but the offset says UTC+0: 9 h apart
    bad = run(_dated(tmp_path, "g2.jpg", None,
                     {0x9003: "2020:05:01 10:00:00", 0x9011: "+00:00"}, gps("2020:05:01", 1, 0)))
    assert "date_gps_mismatch" in codes(bad)
    # no offset: 9 h is within the time-zone span, 22 h is not
    tz = run(_dated(tmp_path, "g3.jpg", None, {0x9003: "2020:05:01 10:00:00"},
                    gps("2020:05:01", 1, 0)))
    assert "date_gps_mismatch" not in codes(tz)
    far = run(_dated(tmp_path, "g4.jpg", None, {0x9003: "2020:05:01 10:00:00"},
                     gps("2020:05:02", 8, 0)))
    f = next(f for f in far.findings if f.code == "date_gps_mismatch")
    assert f.severity == "low" and far.score == pytest.approx(0.25)


def test_file_mtime_before_capture(tmp_path):
    p = _dated(tmp_path, "mtime.jpg", None, {0x9003: "2020:05:01 10:00:00"})
    t = dt.datetime(2019, 1, 1, tzinfo=dt.UTC).timestamp()
    os.utime(p, (t, t))
    assert "date_file_before_capture" in codes(run(p))
    assert "date_file_before_capture" not in codes(run(p, file_mtime=False))
    t = dt.datetime(2020, 5, 1, 0, 0, tzinfo=dt.UTC).timestamp()  # 10 h earlier: a time zone
    os.utime(p, (t, t))
    assert "date_file_before_capture" not in codes(run(p))


# ----------------------------------------------------------------------------- robustness
def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + \
        struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def test_png_garbage_and_huge_text_chunks(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "A" * (9 * 1024 * 1024))
    info.add_text("prompt", "{not json at all")
    info.add_text("workflow", '{"nodes": "nope"}')
    info.add_text("parameters", "\x01\x02 Steps: many, Sampler: ")
    p = tmp_path / "huge.png"
    picture(30, (64, 64)).save(p, pnginfo=info)
    data = p.read_bytes()
    bad = _chunk(b"zTXt", b"bad\x00\x00\x78\x9cnot-deflate") + _chunk(b"iTXt", b"k\x00\x01")
    (tmp_path / "huge2.png").write_bytes(data[:-12] + bad + data[-12:])
    for f in ("huge.png", "huge2.png"):
        ev = run(tmp_path / f)
        assert ev.label == "no_evidence" and ev.score == 0.0
        assert "oversized_text_chunk" in codes(ev)
        assert len(ev.data["table"]["PNG text"]["Comment"]) <= 330
    assert "metadata_unreadable" in codes(run(tmp_path / "huge2.png"))


def test_corrupt_exif_does_not_crash(tmp_path):
    rng = np.random.default_rng(0)
    im = picture(31, (64, 48))
    blobs = [b"Exif\x00\x00" + rng.bytes(80),
             b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + rng.bytes(40),
             # valid IFD0 but IFD1 thumbnail pointer far outside the block
             exif_block({0x0110: "Cam"})[:-4] + struct.pack("<I", 10**6)]
    for i, blob in enumerate(blobs):
        ev = run(save_jpeg(tmp_path / f"c{i}.jpg", im, blob))
        assert ev.label in ("no_evidence", None) or ev.score < 0.5
        assert "metadata_absent" not in codes(ev)
    ev = run(tmp_path / "c0.jpg")
    assert "metadata_unreadable" in codes(ev)
    # a thumbnail that is not a JPEG
    ev = run(save_jpeg(tmp_path / "t.jpg", im, exif_block({0x0110: "Cam"}, thumb=b"\xff\xd8junk")))
    assert "exif_thumbnail_mismatch" not in codes(ev)
    assert ev.data["thumbnails"]["exif"]["comparable"] is False


def test_no_metadata(tmp_path):
    p = tmp_path / "bare.png"
    picture(40, (64, 64)).save(p)
    ev = run(p)
    assert ev.score == 0.0 and ev.label == "no_evidence"
    assert "metadata_absent" in codes(ev)
    assert ev.data["camera"] == {}


def test_detector_declarations():
    assert DET.name == "metadata" and DET.version == "1.0.0" and DET.modalities == ("image",)
    assert DET.summary and DET.looks_at and "forge" in DET.cannot_tell.lower()


def test_mutated_files_never_raise(tmp_path):
    """Random byte damage in the metadata region: the detector answers, it does not raise."""
    from veriscope.core.errors import MediaError

    main = picture(50, (160, 120))
    gps = {0x001D: "2020:05:01", 0x0007: [(1, 1), (0, 1), (0, 1)], 0x0002: [(43, 1), (28, 1),
                                                                           (1234, 100)]}
    jpg = tmp_path / "seed.jpg"
    main.save(jpg, "JPEG", xmp=XMP_DST.format(term="digitalCapture", tool="GIMP 2.10").encode(),
              exif=exif_block({0x010F: "Canon", 0x0132: "2020:05:01 10:00:00"},
                              {0x9003: "2020:05:01 10:00:00", 0x9011: "+02:00",
                               0x9286: b"UNICODE\x00" + A1111.encode("utf-16-be")},
                              gps, thumb=thumb_of(main)))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    info.add_text("prompt", json.dumps({"1": {"class_type": "UNETLoader",
                                              "inputs": {"unet_name": "m.safetensors"}}}), zip=True)
    png = tmp_path / "seed.png"
    main.save(png, pnginfo=info)
    rng = np.random.default_rng(1)
    seeds = [jpg.read_bytes(), png.read_bytes()]
    answered = 0
    for i in range(150):
        b = bytearray(seeds[i % 2])
        for _ in range(int(rng.integers(1, 12))):
            b[int(rng.integers(2, min(len(b), 6000)))] = int(rng.integers(0, 256))
        f = tmp_path / f"m{i % 5}{'.jpg' if i % 2 == 0 else '.png'}"
        f.write_bytes(bytes(b))
        try:
            media = Media.open(f)
        except MediaError:
            continue
        ev = DET.analyze(media, Context())
        json.dumps(ev.to_dict())
        assert "errors" not in ev.data, ev.data.get("errors")
        answered += 1
    assert answered > 100


def test_png_exif_is_read_without_decoding_the_pixels(tmp_path, monkeypatch):
    """An eXIf chunk anywhere in a PNG (here after the pixels) is read from the chunk list;
    a PNG without one is not decoded to look for it (issue 20: 0.3 s at 12 MP)."""
    import io
    import struct
    import zlib

    from PIL import Image, PngImagePlugin

    from veriscope.core.media import Media
    from veriscope.formats.metadata import read_all

    ex = Image.Exif()
    ex[0x010F] = "TestMaker"
    ex[0x0110] = "ModelX"
    raw = ex.tobytes()[6:]  # the TIFF structure, as the PNG spec stores it
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, "PNG")
    b = buf.getvalue()
    chunk = struct.pack(">I", len(raw)) + b"eXIf" + raw + struct.pack(
        ">I", zlib.crc32(b"eXIf" + raw) & 0xFFFFFFFF)
    i = b.rindex(b"IEND") - 4
    late = tmp_path / "late.png"
    late.write_bytes(b[:i] + chunk + b[i:])
    plain = tmp_path / "plain.png"
    plain.write_bytes(b)

    loads = []
    real_load = PngImagePlugin.PngImageFile.load
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load",
                        lambda self: loads.append(1) or real_load(self))
    meta = read_all(Media.open(late))
    assert meta.ifd0 == {"Make": "TestMaker", "Model": "ModelX"}
    assert meta.exif_raw == raw
    none = read_all(Media.open(plain))
    assert none.ifd0 == {} and none.exif_raw is None
    assert loads == []

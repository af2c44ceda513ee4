"""Replay fuzzing findings through the fuzz harnesses (fuzz/fuzz_<target>.py).

Every input stored under tests/data/fuzz/<target>/ once crashed its harness (the minimised
input of a bug found by ``make fuzz``; docs/robustness.md lists them). Each is run through the
same ``TestOneInput`` the fuzzer called, so the test fails if the bug comes back. A set of small
hand-made inputs (empty data, bare magic numbers, cut headers, impossible lengths) goes through
every harness too, so the harnesses keep working without a fuzzer or a corpus. atheris is not
started: importing a harness only defines its function.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUZZ = REPO / "fuzz"
STORED = REPO / "tests" / "data" / "fuzz"

sys.path.insert(0, str(FUZZ))
import run as fuzz_run  # noqa: E402  (fuzz/run.py)

TARGETS = sorted(fuzz_run.TARGETS)
_loaded: dict[str, object] = {}


def harness(target: str):
    """The harness module of ``target`` (imported once, atheris not started)."""
    if target not in _loaded:
        spec = importlib.util.spec_from_file_location(f"fuzz_{target}", FUZZ / f"fuzz_{target}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _loaded[target] = mod
    return _loaded[target]


@pytest.fixture(autouse=True, scope="module")
def _no_scratch_left():
    yield
    import _fuzzutil

    for p in _fuzzutil.SCRATCH.glob(f"veriscope-fuzz-{os.getpid()}.*"):
        p.unlink(missing_ok=True)


def _chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack(">I", n) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _box(kind: bytes, body: bytes, size: int | None = None) -> bytes:
    return struct.pack(">I", 8 + len(body) if size is None else size) + kind + body


PNG = b"\x89PNG\r\n\x1a\n"
IHDR = _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
SOI = b"\xff\xd8"

SMALL_CASES = {
    "empty": b"",
    "one_zero": b"\x00",
    "ff_run": b"\xff" * 16,
    "jpeg_soi": SOI + b"\xff",
    "jpeg_soi_eoi": SOI + b"\xff\xd9",
    "jpeg_bad_length": SOI + b"\xff\xdb\x00\x01",
    "jpeg_long_length": SOI + b"\xff\xe1\xff\xff" + b"Exif\x00\x00",
    "jpeg_sof_no_components": SOI + b"\xff\xc0\x00\x08\x08\x00\x10\x00\x10\x00"
                                    + b"\xff\xda\x00\x06\x00\x00\x3f\x00",
    "jpeg_exif_wild_offsets": SOI + b"\xff\xe1\x00\x1cExif\x00\x00MM\x00*\xff\xff\xff\xf0"
                                    + b"\x00" * 10 + b"\xff\xd9",
    "jpeg_irb_huge": SOI + b"\xff\xed\x00\x20Photoshop 3.0\x008BIM\x04\x04\x00\x00\xff\xff\xff\xff"
                           + b"\x00" * 4,
    "png_sig": PNG,
    "png_ihdr_only": PNG + IHDR,
    "png_text_no_nul": PNG + IHDR + _chunk(b"tEXt", b"keyword"),
    "png_ztxt_bad_zlib": PNG + IHDR + _chunk(b"zTXt", b"k\x00\x00not zlib"),
    "png_itxt_bad_zlib": PNG + IHDR + _chunk(b"iTXt", b"k\x00\x01\x00\x00\x00garbage"),
    "png_time_bad": PNG + IHDR + _chunk(b"tIME", b"\xff\xff\x63\x63\x63\x63\x63"),
    "png_chunk_too_long": PNG + IHDR + _chunk(b"tEXt", b"a\x00b", length=0x7FFFFFFF),
    "xmp_doctype": b'<!DOCTYPE x [<!ENTITY a "b">]><x:xmpmeta>&a;</x:xmpmeta>',
    "xmp_not_xml": b"<x:xmpmeta><rdf:RDF></x:xmpmeta>",
    "gif_magic": b"GIF89a",
    "bmp_magic": b"BM" + b"\x00" * 24,
    "tiff_magic": b"II*\x00\x08\x00\x00\x00\xff\xff",
    "webp_magic": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    "wav_magic": b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00",
    "avi_magic": b"RIFF\x24\x00\x00\x00AVI LIST",
    "mp4_ftyp": _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2"),
    "mp4_box_64bit_cut": _box(b"ftyp", b"isom\x00\x00\x00\x00") + b"\x00\x00\x00\x01moov\x00\x00",
    "mp4_child_overflow": _box(b"ftyp", b"isom\x00\x00\x00\x00")
                          + _box(b"moov", _box(b"mvhd", b"\x00" * 8, size=0xFFFFFF00)),
    "mp4_mvhd_short": _box(b"ftyp", b"isom\x00\x00\x00\x00")
                      + _box(b"moov", _box(b"mvhd", b"\x01\x00\x00\x00\x00")),
    "mp4_size_zero": _box(b"ftyp", b"qt  \x00\x00\x00\x00") + b"\x00\x00\x00\x00mdat",
    "m4a_magic": _box(b"ftyp", b"M4A \x00\x00\x00\x00"),
    "heif_magic": _box(b"ftyp", b"heic\x00\x00\x00\x00"),
    "matroska_magic": b"\x1a\x45\xdf\xa3\x80",
    "flac_magic": b"fLaC\x00\x00\x00\x22",
    "ogg_magic": b"OggS\x00\x02" + b"\x00" * 20,
    "mp3_id3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "mp3_sync": b"\xff\xfb\x90\x00" + b"\x00" * 60,
    "json_empty": b"{}",
    "json_list": b"[]",
    "json_store_odd_types": b'{"manifests": [], "active_manifest": 3, "validation_results": 1}',
    "json_store_cycle": b'{"active_manifest": "a", "manifests": {"a": {"ingredients": '
                        b'[{"active_manifest": "a"}], "assertions": [{"label": "c2pa.actions", '
                        b'"data": {"actions": [null, {"action": 5}]}}]}}, '
                        b'"validation_status": [{"code": null}, {"code": "x"}]}',
    "watermark_min": bytes([0, 0, 0]),
    "watermark_narrow": bytes([200, 2, 9, 9, 9]),
}


def _stored() -> list[tuple[str, Path]]:
    out = []
    for target in TARGETS:
        d = STORED / target
        if d.is_dir():
            out.extend((target, p) for p in sorted(d.glob("*.bin")))
    return out


def test_every_harness_is_a_target():
    files = sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py"))
    assert files == TARGETS
    for t in TARGETS:
        assert callable(harness(t).TestOneInput)


def test_stored_inputs_are_small_and_belong_to_a_target():
    assert STORED.is_dir()
    for d in STORED.iterdir():
        assert d.name in TARGETS, d
        for p in d.iterdir():
            assert p.suffix == ".bin", p
            assert p.stat().st_size <= 16384, p


@pytest.mark.parametrize(("target", "path"), _stored(),
                         ids=[f"{t}/{p.stem}" for t, p in _stored()])
def test_stored_fuzz_finding(target, path):
    harness(target).TestOneInput(path.read_bytes())


@pytest.mark.parametrize("case", sorted(SMALL_CASES))
@pytest.mark.parametrize("target", TARGETS)
def test_small_case(target, case):
    harness(target).TestOneInput(SMALL_CASES[case])


def _c2pa_ingredient_chain(n: int = 1500) -> bytes:
    # a store whose ingredients chain n manifests deep (the judgement once recursed per link)
    manifests = {str(i): {"ingredients": [{"active_manifest": str(i + 1)}]} for i in range(n)}
    return json.dumps({"active_manifest": "0", "manifests": manifests}).encode()


def _c2pa_deep_assertion(n: int = 900) -> bytes:
    return (b'{"active_manifest": "a", "manifests": {"a": {"assertions": '
            + b'{"x": ' * n + b"1" + b"}" * n + b"}}}")


def _png_many_text_chunks(n: int = 6000) -> bytes:
    # n text chunks with one key: reading them once cost time in n squared
    return PNG + IHDR + b"".join(_chunk(b"tEXt", b"k\x00") for _ in range(n))


GENERATED_CASES = {
    ("c2pa", "ingredient_chain"): _c2pa_ingredient_chain,
    ("c2pa", "deep_assertion"): _c2pa_deep_assertion,
    ("metadata", "many_png_text_chunks"): _png_many_text_chunks,
}


@pytest.mark.parametrize(("target", "case"), sorted(GENERATED_CASES),
                         ids=[f"{t}/{c}" for t, c in sorted(GENERATED_CASES)])
def test_generated_case(target, case):
    """Findings whose smallest input is too large to store: built here instead."""
    harness(target).TestOneInput(GENERATED_CASES[(target, case)]())


def test_png_text_chunks_are_capped():
    from veriscope.formats import metadata

    meta = metadata.Meta()
    metadata.read_png_chunks(meta, _png_many_text_chunks())
    assert len(meta.text) == metadata.MAX_TEXT_CHUNKS
    assert any("were not read" in p for p in meta.problems)

"""The ground truth and captions of ``benchmarks/posts.py --section ocr`` (no browser, no OCR)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "posts_bench", Path(__file__).resolve().parents[2] / "benchmarks" / "posts.py")
P = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(P)

SVG = """<svg class="rich-terminal" viewBox="0 0 994 100" xmlns="http://www.w3.org/2000/svg">
<text class="terminal-title" fill="#c5c8c6" text-anchor="middle" x="496" y="27">FocusTest</text>
<g class="terminal-matrix">
<text class="terminal-r5" x="61" y="44.4" textLength="61">&#160;Add&#160;</text>
<text class="terminal-r6" x="219.6" y="44.4" textLength="48.8">This</text>
<text class="terminal-r7" x="268.4" y="44.4" textLength="36.6">&#160;is&#160;</text>
<text class="terminal-r6" x="305" y="44.4" textLength="97.6">R&amp;D:&#160;39%</text>
<text class="terminal-r8" x="0" y="68.8" textLength="36.6">───</text>
</g></svg>"""


def test_svg_rows_join_adjacent_runs_and_decode_entities():
    assert P.svg_lines(SVG) == ["FocusTest", "Add This is R&D: 39%", "───"]


def test_tokens_chars_and_edit_distance():
    assert P.text_tokens("Max-width: 12.5% of a ── Box") == ["max-width", "12.5", "of", "box"]
    assert P.text_chars("A-1 ─ b") == "a1b"
    assert P.levenshtein("kitten", "sitting") == 3
    assert P.levenshtein("", "ab") == 2 and P.levenshtein("flaw", "lawn") == 2
    assert P.match_counts(["ab", "ab", "cd"], ["ab", "xy"]) == (1, 3, 2)


def test_reading_order_groups_rows_by_box_centre():
    lines = [{"text": "b", "box": [200, 12, 50, 20]}, {"text": "c", "box": [0, 60, 50, 20]},
             {"text": "a", "box": [10, 10, 50, 22]}]
    assert [ln["text"] for ln in P.reading_order(lines)] == ["a", "b", "c"]


def test_captions_alter_the_year_and_the_number_with_its_decimals():
    caps = P.ocr_captions({"date": dt.date(2024, 2, 29),
                           "number": {"value": 96.58, "unit": "%", "text": "96.58%"}})
    assert caps[0]["true"] == "The screen shows the date 29 February 2024."
    assert caps[0]["altered"] == "The screen shows the date 28 February 2025."
    assert caps[1]["true"] == "The screen shows 96.58%."
    assert caps[1]["altered"] == "The screen shows 86.58%."
    (c,) = P.ocr_captions({"date": None, "number": {"value": 8.0, "unit": "degC", "text": "8 °C"}})
    assert c["altered"] == "The screen shows 18 °C."


def test_photo_section_measures_against_boxes():
    # the edit distance to the best part of what was read near the annotation
    assert P.substring_distance("genaxistheatre", "genexistheatre") == 1
    assert P.substring_distance("abc", "xxabcxx") == 0
    assert P.substring_distance("abc", "") == 3 and P.substring_distance("", "x") == 0
    # a line counts for an annotation when it covers half of the annotation's box
    assert P._overlap([0, 0, 10, 10], [5, 0, 10, 10]) == 0.5
    assert P._overlap([0, 0, 10, 10], [20, 0, 10, 10]) == 0.0


def test_photo_truth_reads_icdar_quads_and_receipt_boxes(tmp_path, monkeypatch):
    gt = "\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\n1,2,3,2,3,4,1,4,###\n"
    receipt = ('{"file_name": "x/1.jpeg", "height": 9, "width": 9, "annotations": '
               '[{"box": [10, 20, 30, 20, 30, 40, 10, 40], "text": "SAFEWAY", "label": 1}]}\n')

    def git(repo, *args):
        path = args[-1]
        if path.endswith(".txt") and "gt_img_" in path:
            return gt.encode("utf-8")
        return receipt.encode("utf-8")

    monkeypatch.setattr(P, "_git", git)
    pics = P.photo_truth(tmp_path)
    assert len(pics) == 11 and pics[0]["name"] == "img_1.jpg"
    assert pics[0]["words"][0] == {"text": "Genaxis Theatre", "legible": True,
                                   "box": [377.0, 117.0, 88.0, 13.0]}
    assert pics[0]["words"][1]["legible"] is False
    assert pics[-1]["set"] == "wildreceipt" and pics[-1]["words"][0]["box"] == [10, 20, 20, 20]

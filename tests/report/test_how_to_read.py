"""Every map comes with a short 'how to read this' text in report.html."""

from helpers import save, smooth_image

from veriscope.core import registry


def test_every_detector_with_an_image_map_says_how_to_read_it():
    mapped = [n for n in registry.names()
              if registry.load(n).localizes and "image" in registry.load(n).modalities]
    assert {"noise", "splicebuster", "resampling", "copy_move", "jpeg_grid"} <= set(mapped)
    assert [n for n in mapped if len(registry.load(n).how_to_read) < 40] == []


def test_report_html_explains_each_map_shown(tmp_path):
    import veriscope

    img = smooth_image(160, 200, seed=4)
    img[20:60, 20:60] = img[100:140, 140:180]
    rep = veriscope.analyze(save(img, tmp_path / "a.png"), detectors="noise,copy_move")
    html = (rep.write(tmp_path / "out").parent / "report.html").read_text()
    assert "How to read these maps" in html
    for name in ("fused", "noise", "copy_move"):
        assert f"<li><b>{name}</b>:" in html
    assert registry.load("noise").how_to_read[:30] in html


def test_every_detector_with_a_time_curve_says_how_to_read_it():
    timed = ["audio_splice", "synthetic_speech", "audio_facts", "faces", "lip_sync",
             "video_frames", "frame_edits"]
    assert [n for n in timed if len(registry.load(n).how_to_read) < 40] == []

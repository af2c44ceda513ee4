"""The verdict section of report.html: headline, reasons, what it cannot tell, and the
figures folded away (issue 15)."""

from helpers import save, smooth_image

from veriscope.report.html import _band_html, _headline_html


def test_report_html_shows_reasons_and_limits_then_folds_the_figures(tmp_path):
    import veriscope

    img = smooth_image(240, 320, seed=4)
    img[20:100, 20:100] = img[120:200, 200:280]  # a copy-move
    rep = veriscope.analyze(save(img, tmp_path / "a.png"), detectors="copy_move,scope")
    html = (rep.write(tmp_path / "out").parent / "report.html").read_text()
    v = rep.verdict
    assert v.headline and v.reasons and v.limits
    i_head, i_lim = html.index("class='headline'"), html.index("What this cannot tell you")
    i_tech = html.index("Technical details")
    assert i_head < html.index("class='reasons'") < i_lim < i_tech
    assert "does not prove the image authentic" in html or "cannot tell" in html


def test_an_inconclusive_verdict_with_signs_does_not_show_band_words():
    v = {"label": "inconclusive", "score": 0.9, "band_text": "strong evidence", "basis": "signals",
         "headline": "No conclusion: x.", "reasons": ["Out of scope: y [scope]."],
         "limits": ["z"], "summary": "s"}
    line = _band_html(v, "0.90")
    assert "strong evidence" not in line and "cannot" not in line and "trusted" in line
    v.update(label="manipulated")
    assert "strong evidence" in _band_html(v, "0.90")
    html = _headline_html(v)
    assert "<li>Out of scope: y [scope].</li>" in html and "<li>z</li>" in html

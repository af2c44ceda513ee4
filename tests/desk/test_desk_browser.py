"""The desk in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser). Sign in, create a case, upload by file picker and by drop, upload a picture with a caption
(shown as text, its post label in the list), watch the queue, use the
overlay slider, the original/overlay toggle, side by side with zoom in step, the loupe, seek
the audio timeline, save a note and status, search; and no request leaves 127.0.0.1.

Skipped when Chromium or Playwright is missing and CI is unset (.ci/run installs Chromium)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("VERISCOPE_DESK_SCREENSHOTS")  # docs/img when making the docs' pictures


def _need_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is missing under CI")
        pytest.skip("playwright not installed")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def desk(tmp_path_factory, serve):
    _need_browser()
    tmp = tmp_path_factory.mktemp("desk")
    data = tmp / "data"
    exe = [sys.executable, "-m", "veriscope.cli"]
    key = subprocess.run(exe + ["desk", "key", "browser", "--data", str(data)], check=True,
                         capture_output=True, text=True).stdout.strip()
    log = open(tmp / "serve.log", "w")
    proc, base = serve(data, "--workers", "1", "--detectors", "metadata,noise,audio_facts",
                             log=log)
    yield {"base": base, "key": key, "tmp": tmp}
    proc.terminate()
    proc.wait(20)
    log.close()


def _media(tmp: Path) -> tuple[Path, Path, Path]:
    from PIL import Image

    from veriscope.synth import audio_splices as S

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    img = np.stack([xx * 0.6, yy * 0.8, (xx + yy) * 0.3], -1) + rng.normal(0, 6, (240, 320, 3))
    img[60:140, 100:200] += rng.normal(0, 30, (80, 100, 3))  # a noisier patch for the map
    a = tmp / "street <b onclick=x>photo.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(a)
    b = tmp / "second.png"
    Image.fromarray(np.clip(img[::-1], 0, 255).astype(np.uint8)).save(b)
    host = S.toy_speech(8.0, 22050, np.random.default_rng(3), noise_db=-62)
    donor = S.toy_speech(1.5, 8000, np.random.default_rng(4), noise_db=-62)
    sp = S.insert(host, donor, 22050, 3.0, donor_rate=8000)
    c = S.write_wav(tmp / "call.wav", sp.audio, 22050)
    return a, b, c


def _exif_jpeg(path: Path) -> Path:
    """A picture whose EXIF says it was taken on 3 June 2019."""
    from PIL import Image

    rng = np.random.default_rng(5)
    ex = Image.Exif()
    ex.get_ifd(0x8769)[0x9003] = "2019:06:03 10:00:00"
    Image.fromarray((rng.random((120, 160, 3)) * 255).astype(np.uint8)).save(
        path, "JPEG", quality=90, exif=ex)
    return path


def test_desk_in_chromium(desk):
    from playwright.sync_api import expect, sync_playwright

    base, tmp = desk["base"], desk["tmp"]
    img_a, img_b, wav = _media(tmp)
    shots = Path(SHOTS) if SHOTS else None
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(base + "/")
        expect(page).to_have_url(base + "/login")
        page.fill("#key", "wrong")
        page.click("#signin")
        expect(page.locator("#login-error")).to_be_visible()
        page.fill("#key", desk["key"])
        page.click("#signin")
        expect(page).to_have_url(base + "/")
        page.fill("#case-name", "Flood pictures")
        page.click("#create-case")
        expect(page.locator("h1")).to_have_text("Flood pictures")

        # upload: the file picker, then a drop on the drop zone
        page.set_input_files("#pick", [str(img_a), str(wav)])
        dt = page.evaluate_handle(
            """async ([name, b64]) => {
                 const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                 const dt = new DataTransfer();
                 dt.items.add(new File([bytes], name, {type: "image/png"}));
                 return dt; }""",
            [img_b.name, __import__("base64").b64encode(img_b.read_bytes()).decode()])
        page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
        rows = page.locator("#items tbody tr[data-id]")
        expect(rows).to_have_count(3, timeout=20000)
        expect(page.locator('#items tbody tr[data-state="done"]')).to_have_count(3, timeout=90000)
        if shots:
            page.screenshot(path=str(shots / "desk-case.png"), full_page=True)

        # a picture posted with a caption (sent as a form): the caption is shown as text and
        # the capture date (EXIF 2019) contradicts its year
        caption = "Flood <script>window.pwned = 1</script> in Paris, June 2024"
        page.fill("#caption", caption)
        page.click("#post-details summary")
        page.fill("#claimed-date", "2024-06-04")
        page.set_input_files("#pick", [str(_exif_jpeg(tmp / "posted.jpg"))])
        expect(rows).to_have_count(4, timeout=20000)
        posted = page.locator("#items tbody tr", has_text="posted.jpg")
        expect(posted).to_have_attribute("data-state", "done", timeout=120000)
        expect(posted.locator(".caption")).to_have_text(f"“{caption}”")
        expect(posted.locator(".post-label")).to_have_text("caption: contradicted")
        page.fill("#caption", "")
        page.reload()  # the server's rendering of the same row
        expect(posted.locator(".caption")).to_have_text(f"“{caption}”")
        expect(posted.locator(".post-label")).to_have_text("caption: contradicted")
        posted.get_by_role("link", name="posted.jpg", exact=True).click()
        expect(page.locator("#item-caption")).to_have_text(caption)
        expect(page.locator("#post-label")).to_have_text("contradicted")
        assert page.evaluate("window.pwned") is None
        page.go_back()

        # the picture page: overlay opacity, toggle, side by side in step, loupe
        page.get_by_role("link", name=img_a.name, exact=True).click()
        expect(page.locator("h1")).to_have_text(img_a.name)  # escaped, shown as text
        canvas = page.locator("#overlay")
        expect(canvas).to_have_attribute("data-ready", "1", timeout=10000)
        page.locator("#opacity").fill("20")
        assert page.eval_on_selector("#overlay", "e => e.style.opacity") == "0.2"
        page.click("#toggle")
        expect(canvas).to_be_hidden()
        page.click("#toggle")
        expect(canvas).to_be_visible()
        page.click("#sbs")
        expect(page.locator("#pane-b")).to_be_visible()
        page.click("#zoom-in")
        ta = page.eval_on_selector("#pane-a .layer", "e => e.style.transform")
        tb = page.eval_on_selector("#pane-b .layer", "e => e.style.transform")
        assert ta == tb and "scale" in ta
        page.check("#loupe-on")
        page.locator("#pane-a").scroll_into_view_if_needed()
        box = page.locator("#pane-a").bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 40)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=3)
        assert errors == []
        expect(page.locator("#loupe")).to_be_visible()
        if shots:
            page.screenshot(path=str(shots / "desk-item.png"), full_page=True)

        # review: note, tags and status saved, shown after a reload
        page.fill("#note", "Same scene as the wire photo of 2019 <unverified>")
        page.fill("#tags", "flood, wire")
        page.select_option("#review-status", "to_check")
        page.click("#save")
        expect(page.locator("#saved")).to_have_text("saved")
        page.reload()
        expect(page.locator("#note")).to_have_value("Same scene as the wire photo of 2019 <unverified>")
        expect(page.locator("#review-status")).to_have_value("to_check")

        # the recording: clicking a flagged segment seeks the player
        page.goto(base + "/search?q=call")
        page.get_by_role("link", name="call.wav", exact=True).click()
        seg = page.locator("#timeline .seg").first
        expect(seg).to_be_visible(timeout=10000)
        start = float(seg.get_attribute("data-start"))
        page.wait_for_function("document.getElementById('player').readyState >= 1")
        seg.click()
        t = page.eval_on_selector("#player", "e => e.currentTime")
        assert abs(t - start) < 0.1
        if shots:
            page.screenshot(path=str(shots / "desk-audio.png"), full_page=True)

        # search by tag; the text search also finds the caption "Flood ... in Paris"
        page.goto(base + "/search?tag=flood")
        expect(page.locator("#items tbody tr[data-id]")).to_have_count(1)
        page.goto(base + "/search?q=flood")
        expect(page.locator("#items tbody tr[data-id]")).to_have_count(2)
        expect(page.get_by_role("link", name="posted.jpg", exact=True)).to_be_visible()
        browser.close()
    assert errors == []
    others = [u for u in requests if not u.startswith(base + "/") and not u.startswith("data:")
              and not u.startswith("blob:")]
    assert others == [], others
